"""Accruals for finance, per period, currency and (optionally) component: earned, approved,
paid and outstanding (earned not yet paid); and the journal of balanced entries that books
them (expense / accrued commissions / cash) as CSV shaped for SAP's journal entry upload.

A period with statements reads their lines in force (what approval and payment move); a
period without any yet reads what it has earned so far: its results' payable amounts, its
rewards and its adjustments.
"""

from __future__ import annotations

import hashlib
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tortoise import connections

from domain.kit.errors import DomainError, Forbidden
from domain.kit.money import ZERO, round_money
from domain.kit.periods import parse_period
from domain.kit.text import csv_writer
from domain.org.viewer import Viewer
from payments.invoices.service import OWED, OWES
from payments.methods.sap import COLUMNS, MAX_DOCUMENT_LINES  # one layout for both journals


class JournalError(DomainError):
    code = "invalid_journal"


@dataclass(frozen=True, slots=True)
class Accrual:
    period: str
    currency: str
    component: str | None  # None: every component together
    earned: Decimal
    approved: Decimal
    paid: Decimal

    @property
    def outstanding(self) -> Decimal:
        return self.earned - self.paid


# the statement ``s`` was paid by a SAP journal batch, whose own file posted the payment
_IN_SAP = """
    EXISTS (SELECT 1 FROM payout_items i JOIN payout_batches b ON b.id = i.batch_id
            WHERE i.statement_id = s.id AND i.status = 'paid' AND b.method = 'csv_file')
"""
# Per currency, component (the plan cap's share of a capped payee: "cap", as a clawback names
# it; a prize, an adjustment: their kind) and status.
_FROM_STATEMENTS = """
    SELECT s.currency,
           CASE WHEN l.kind IN ('earnings', 'clawback')
                THEN coalesce(l.params->>'component', l.params->>'template', '')
                ELSE l.kind END AS component,
           s.status, sum(l.amount) AS amount
    FROM statement_lines l JOIN statements s ON s.id = l.statement_id
    WHERE s.tenant_id = $1 AND s.period = $2 AND s.current AND l.tenant_id = $1
    GROUP BY 1, 2, 3
"""
# Per currency, of the approved statements in force (paid and carried ones too): the VAT
# and the withholdings of the partners' invoices in force; and the cash, what the paid
# ones were paid (OWED: a partner's invoice payable net of the balances carried into it,
# anyone else's total) but through a SAP journal batch, whose own file posted that payment
_INVOICED = f"""
    SELECT s.currency, coalesce(sum(f.vat), 0) AS vat, coalesce(sum(f.withheld), 0) AS withheld,
           coalesce(sum({OWES})
                    FILTER (WHERE s.status = 'paid' AND NOT {_IN_SAP}), 0) AS cash
    FROM statements s {OWED}
    WHERE s.tenant_id = $1 AND s.period = $2 AND s.current
      AND s.status IN ('approved', 'paid', 'carried')
    GROUP BY 1
"""
_EARNED_SO_FAR = """
    SELECT r.currency, c->>'id' AS component, 'draft' AS status, sum((c->>'payable')::numeric)
           AS amount
    FROM earnings_results r, jsonb_array_elements(r.components) c
    WHERE r.tenant_id = $1 AND r.period = $2 AND r.status = 'ok'
    GROUP BY 1, 2
    UNION ALL
    SELECT r.currency, 'cap', 'draft', sum(r.payable - c.payable)
    FROM earnings_results r CROSS JOIN LATERAL (
        SELECT coalesce(sum((e->>'payable')::numeric), 0) AS payable
        FROM jsonb_array_elements(r.components) e
    ) c
    WHERE r.tenant_id = $1 AND r.period = $2 AND r.status = 'ok' AND r.payable <> c.payable
    GROUP BY 1
    UNION ALL
    SELECT currency, 'prize', 'draft', sum(amount) FROM rewards
    WHERE tenant_id = $1 AND period = $2 GROUP BY 1
    UNION ALL
    SELECT currency, 'adjustment', 'draft', sum(amount) FROM adjustments
    WHERE tenant_id = $1 AND period = $2 GROUP BY 1
"""


async def accruals(*, viewer: Viewer, period: str, by_component: bool = False) -> list[Accrual]:
    """Admins and payout ops: a period's accruals per currency (and component)."""
    if not viewer.sees_whole_tenant:
        raise Forbidden("only admins and payout ops see accruals", field="period")
    period_id = parse_period(period).id
    db = connections.get("default")
    rows = await db.execute_query_dict(_FROM_STATEMENTS, [viewer.tenant_id, period_id])
    if not rows:
        rows = await db.execute_query_dict(_EARNED_SO_FAR, [viewer.tenant_id, period_id])
    sums: dict[tuple[str, str | None], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO, ZERO])
    for r in rows:
        key = (str(r["currency"]), str(r["component"]) if by_component else None)
        amount = Decimal(r["amount"])
        figures = sums[key]
        # an earlier statement's balance carried here is no expense of this period (its own
        # period had it): only the cash it keeps back, once this statement is paid
        settles = r["component"] == "carry_forward"
        if not settles:
            figures[0] += amount
        if r["status"] in ("approved", "paid", "carried") and not settles:
            figures[1] += amount
        if r["status"] == "paid":
            figures[2] += amount
    return [
        Accrual(period_id, currency, component, *(round_money(v, currency) for v in figures))
        for (currency, component), figures in sorted(
            sums.items(), key=lambda i: (i[0][0], i[0][1] or "")
        )
    ]


@dataclass(frozen=True, slots=True)
class Invoiced:
    """A period's statements in force in one currency: the VAT their partners' invoices add
    (input VAT, deductible) and what they withhold (income tax, social security, backup
    withholding: owed to the tax authorities), of approved, paid or carried statements; and
    ``cash``, what the paid ones were paid (a partner's invoice payable net of the balances
    carried into it, anyone else's total), but by a SAP journal batch, whose file posted its
    payment."""

    vat: Decimal = ZERO
    withheld: Decimal = ZERO
    cash: Decimal = ZERO


async def invoiced(*, viewer: Viewer, period: str) -> dict[str, Invoiced]:
    """Per currency, what the invoices of ``period``'s statements in force add and withhold,
    and the cash they were paid (`Invoiced`)."""
    rows = await connections.get("default").execute_query_dict(
        _INVOICED, [viewer.tenant_id, parse_period(period).id]
    )
    return {
        str(r["currency"]): Invoiced(Decimal(r["vat"]), Decimal(r["withheld"]), Decimal(r["cash"]))
        for r in rows
    }


@dataclass(frozen=True, slots=True)
class Accounts:
    expense: str = "610000"  # commission expense
    accrued: str = "210000"  # accrued commissions (a liability: what the payees are owed)
    cash: str = "100000"  # bank / cash
    input_vat: str = "154000"  # input VAT on partners' invoices (deductible)
    withholding: str = "176000"  # withheld from partners: owed to the tax authorities


async def journal_csv(
    *,
    viewer: Viewer,
    period: str,
    company_code: str,
    posting_date: date,
    accounts: Accounts | None = None,
    document_type: str = "SA",
    max_lines: int = MAX_DOCUMENT_LINES,
) -> str:
    """The period's journal as CSV: one accrual document per currency (expense per component
    and the input VAT of partners' invoices against accrued commissions, what the payees are
    paid, and the withholding payable, what their invoices withhold, for what is approved)
    and one payment document (accrued commissions against cash, for what is paid, but for
    what a SAP journal batch paid: its own file posted that, accrued commissions against
    payables). Each document's lines sum
    to zero and hold at most ``max_lines`` lines (a longer one is split in balanced
    documents). A header row (H) starts each document; its reference is derived from the
    period and the figures, so importing the same journal twice shows the same reference
    (SAP refuses the duplicate)."""
    if not company_code.isalnum() or len(company_code) > 4:
        raise JournalError("1 to 4 letters or digits", field="companyCode")
    if max_lines < 2:
        raise JournalError("a document needs two lines at least", field="maxLines")
    accounts = accounts or Accounts()
    found = await accruals(viewer=viewer, period=period, by_component=True)
    taxes = await invoiced(viewer=viewer, period=period)
    period_id = parse_period(period).id
    out = io.StringIO()
    writer = csv_writer(out)  # no cell a spreadsheet runs as a formula
    writer.writerow(COLUMNS)
    by_currency: dict[str, list[Accrual]] = defaultdict(list)
    for a in found:
        by_currency[a.currency].append(a)
    for currency, items in sorted(by_currency.items()):
        tax = taxes.get(currency, Invoiced())
        # the fee and the partners' input VAT against what is owed: the payees what their
        # invoices say they are paid (accrued), the tax authorities what is withheld
        accrual_lines = [
            (accounts.expense, a.approved, f"Commissions {period_id} {a.component}")
            for a in items
            if a.approved
        ] + [
            (account, amount, text)
            for account, amount, text in (
                (accounts.input_vat, tax.vat, f"Input VAT {period_id}"),
                (accounts.withholding, -tax.withheld, f"Withheld from partners {period_id}"),
            )
            if amount
        ]
        # what the payees were paid: a partner their invoice's payable (fee + VAT −
        # withholdings) net of what the balances carried into it owed; what a SAP journal
        # batch paid, its own file posted (accrued against payables)
        paid = tax.cash
        payment_lines = [(accounts.accrued, paid, f"Commissions {period_id} paid")] if paid else []
        for kind, lines, offset, text in (
            ("A", accrual_lines, accounts.accrued, f"Accrued commissions {period_id}"),
            ("P", payment_lines, accounts.cash, f"Commissions paid {period_id}"),
        ):
            chunk = max_lines - 1  # each document's last line balances it
            for n, start in enumerate(range(0, len(lines), chunk), start=1):
                part = lines[start : start + chunk]
                total = sum((amount for _, amount, _ in part), ZERO)
                rows = [*part, (offset, -total, text)]
                reference = _reference(period_id, kind, n, currency, rows)
                writer.writerow(["H", company_code, document_type, posting_date.isoformat(),
                                 posting_date.isoformat(), currency, reference,
                                 f"Podium {text}"[:25], "", "", "", "", ""])  # fmt: skip
                for i, (account, amount, item) in enumerate(rows, start=1):
                    debit = _amount(amount, currency) if amount > 0 else ""
                    credit = _amount(-amount, currency) if amount < 0 else ""
                    writer.writerow(["L", company_code, "", "", "", currency, reference, "", i,
                                     account, debit, credit, item[:50]])  # fmt: skip
    return out.getvalue()


def _amount(value: Decimal, currency: str) -> str:
    return format(round_money(value, currency), "f")


def _reference(
    period: str, kind: str, n: int, currency: str, rows: list[tuple[str, Decimal, str]]
) -> str:
    """16 characters (SAP's reference field): the period, the document's kind and number,
    and a hash of its figures."""
    digest = hashlib.sha256(
        repr((period, kind, n, currency, [(a, str(v)) for a, v, _ in rows])).encode()
    ).hexdigest()
    compact = period.replace("-", "")
    head = f"PD{compact}{kind}{n}"
    return (head + digest)[:16].upper()
