"""Partner invoices: an external payee (a partner profile: legal name, address, country, tax
id validated with python-stdnum) gets a self-billing invoice when their statement is
approved, in the approving transaction. Its items come from the tenant's tax rules for the
partner's country: VAT added (or reverse charge: none), withholding and social security
withheld on a share of the fee, backup withholding when no tax id is on file.

A change after approval makes a new statement version; when it is approved, a credit note
cancels the invoice of the version it replaces (naming it, every amount reversed: net, VAT,
withholdings, payable), then the new version gets its invoice. Invoices and credit notes are
one series, numbered per tenant and year without gaps (as EU VAT rules want of both): the
counter row is locked and incremented by the transaction that issues them, so concurrent
approvals take turns and a rolled-back one leaves no hole.

Services never commit: the caller owns the transaction.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from decimal import Decimal
from itertools import count as count_from
from typing import Any
from uuid import UUID

from stdnum.exceptions import ValidationError
from stdnum.util import get_cc_module
from tortoise import connections

from domain.audit.service import Change, record, record_many
from domain.kit.chunks import chunked
from domain.kit.clock import utc_now
from domain.kit.errors import DomainError, Forbidden
from domain.kit.money import ZERO, round_money
from domain.kit.periods import parse_period
from domain.notifications.texts import language_of, money_text, percent_text
from domain.org.repository import UserRepository
from domain.org.viewer import Viewer
from domain.tenants.repository import get_tenant
from payments import documents
from payments.invoices.models import Invoice, InvoiceKind, PartnerProfile, TaxKind, TaxRule
from payments.payouts.validation import COUNTRIES
from payments.statements.models import Statement

_COUNTRY = re.compile(r"[A-Z]{2}")
WITHHELD = (TaxKind.WITHHOLDING, TaxKind.SOCIAL_SECURITY, TaxKind.BACKUP_WITHHOLDING)


def _in_force(s: str) -> str:
    """What statement version ``s``'s invoices come to, net of the credit notes that cancel
    them (every amount a string's worth of NUMERIC): the invoices and credit notes of its
    payee, period and currency up to that version. Approving a later version cancels the
    earlier versions' invoices, so for the version in force this is its own invoice, and for
    a replaced version nothing (``standing`` false: its own invoice is cancelled). NULLs
    when the version has no invoice of its own (not a partner's)."""
    return f"""
        SELECT sum(d.net) AS net, sum(d.payable) AS payable, sum(t.vat) AS vat,
               sum(t.withheld) AS withheld, sum(t.backup) AS backup_withheld,
               NOT bool_or(d.statement_id = {s}.id
                           AND d.kind = '{InvoiceKind.CREDIT_NOTE.value}') AS standing
        FROM statements o
          JOIN invoices d ON d.statement_id = o.id
          CROSS JOIN LATERAL (
              SELECT coalesce(sum((e->>'amount')::numeric)
                              FILTER (WHERE e->>'kind' = '{TaxKind.VAT.value}'), 0) AS vat,
                     -coalesce(sum((e->>'amount')::numeric) FILTER (WHERE e->>'kind' IN
                               ({", ".join(f"'{k.value}'" for k in WITHHELD)})), 0) AS withheld,
                     -coalesce(sum((e->>'amount')::numeric) FILTER (WHERE e->>'kind' =
                               '{TaxKind.BACKUP_WITHHOLDING.value}'), 0) AS backup
              FROM jsonb_array_elements(d.items) e
          ) t
        WHERE o.tenant_id = {s}.tenant_id AND o.user_id = {s}.user_id AND o.period = {s}.period
          AND o.currency = {s}.currency AND o.version <= {s}.version
        HAVING bool_or(d.statement_id = {s}.id AND d.kind = '{InvoiceKind.INVOICE.value}')
    """


def paid_before(s: str) -> str:
    """What payout items of statement ``s``'s earlier versions were paid (a provider reporting
    one paid after it was settled as failed and the statement changed)."""
    return f"""coalesce((
        SELECT sum(p.amount) FROM payout_items p JOIN statements o ON o.id = p.statement_id
        WHERE p.tenant_id = {s}.tenant_id AND p.status = 'paid'
          AND o.tenant_id = {s}.tenant_id AND o.user_id = {s}.user_id
          AND o.period = {s}.period AND o.currency = {s}.currency AND o.version < {s}.version
    ), 0)"""


# What statement ``s`` owes in all, joined with OWED: a partner's, in their invoices' terms
# (OWED's payable); anyone else's, its total.
OWES = "coalesce(owed.payable, s.total)"
# What it still owes, the one figure wherever it counts: OWES less what its earlier versions
# were paid. Above zero a payout batch pays it; below zero it is a balance the payee owes,
# carried into their next statement; never decided on the total where the payable says
# otherwise (a fee of 250.00 whose withholdings leave -125.00 is owed by the partner, not
# paid nor settled as paid), nor on what the version owes where its version 1 was paid more
# (200.00 owed, 500.00 paid: -300.00 owed by the payee).
DUE = f"{OWES} - {paid_before('s')}"


# Joined to a query whose statement is ``s``: ``f``, its invoices in force (`_in_force`),
# what the journal books of a period (``vat``, ``withheld``); and ``owed``, what a partner's
# statement owes in payable terms: its invoice in force plus what each statement carried
# into it (its carry_forward lines) owed in the same terms: a partner's, its own invoice and,
# in turn, what was carried into it (recursively: December recovers November's, which holds
# October's); anyone else's, its total (which holds its own carried balances already).
# Italy: October's invoice -132.60, November's 552.50: November owes 419.90, what the two
# invoices net to. ``net`` (the fee) and ``backup_withheld`` likewise. A replaced version
# (its invoice cancelled) owes nothing, carried balances included: the version in force
# holds them. NULLs when ``s`` is not a partner's (it owes its total). What a payout item
# pays (``payable``), the journal's cash and the 1099-NEC's boxes come from here alone.
OWED = f"""
    LEFT JOIN LATERAL ({_in_force("s")}) f ON true
    LEFT JOIN LATERAL (
        WITH RECURSIVE carried(id) AS (
            SELECT (l.params->>'statement')::uuid FROM statement_lines l
            WHERE f.standing AND l.tenant_id = s.tenant_id AND l.statement_id = s.id
              AND l.kind = 'carry_forward'
          UNION ALL
            SELECT (l.params->>'statement')::uuid
            FROM carried c JOIN statement_lines l ON l.statement_id = c.id
            WHERE l.kind = 'carry_forward' AND EXISTS (
                SELECT 1 FROM invoices d
                WHERE d.statement_id = c.id AND d.kind = '{InvoiceKind.INVOICE.value}')
        )
        SELECT f.payable + coalesce(sum(coalesce(g.payable, src.total)
                                        - {paid_before("src")}), 0) AS payable,
               f.net + coalesce(sum(coalesce(g.net, src.total)), 0) AS net,
               f.backup_withheld + coalesce(sum(g.backup_withheld), 0) AS backup_withheld
        FROM carried c JOIN statements src ON src.id = c.id
          LEFT JOIN LATERAL ({_in_force("src")}) g ON true
    ) owed ON true
"""


class InvoiceError(DomainError):
    code = "invalid_invoice"


def _require_admin(viewer: Viewer, field: str) -> None:
    if not viewer.sees_whole_tenant:
        raise Forbidden("only admins and payout ops manage partners and tax rules", field=field)


def _country(value: str, field: str = "country") -> str:
    """An ISO 3166 country code, as payout addresses take them (`COUNTRIES`: "XX" or "ZZ"
    has the shape of one and is no country)."""
    country = (value or "").strip().upper()
    if not _COUNTRY.fullmatch(country):
        raise InvoiceError("an ISO 3166 country code of two letters, e.g. IT", field=field)
    if country not in COUNTRIES:
        raise InvoiceError(
            f"{country} is not an ISO 3166 country code (e.g. IT, DE, US)", field=field
        )
    return country


def check_tax_id(country: str, tax_id: str) -> str:
    """The tax id in its compact form, checked by python-stdnum's VAT (else TIN) rules of the
    country; a country stdnum knows no rule for takes it as written."""
    module = get_cc_module(country.lower(), "vat") or get_cc_module(country.lower(), "tin")
    text = tax_id.strip()
    if not text or len(text) > 50 or "\x00" in text:
        raise InvoiceError("1 to 50 characters", field="taxId")
    if module is None:
        return text
    try:
        return str(module.validate(text))
    except ValidationError as exc:
        raise InvoiceError(
            f"not a valid tax id for {country}: {exc.message}", field="taxId"
        ) from None


async def set_partner_profile(
    *,
    viewer: Viewer,
    rep_id: UUID | str,
    legal_name: str,
    address: str,
    country: str,
    tax_id: str | None,
) -> PartnerProfile:
    """Admins: make a payee a partner (or change their legal data), audited."""
    _require_admin(viewer, "repId")
    user = await UserRepository(viewer).get(rep_id, field="repId")
    name = (legal_name or "").strip()
    if not name or len(name) > 200 or "\x00" in name:
        raise InvoiceError("1 to 200 characters", field="legalName")
    where = (address or "").strip()
    if not where or len(where) > 1000 or "\x00" in where:
        raise InvoiceError("1 to 1,000 characters", field="address")
    code = _country(country)
    compact = check_tax_id(code, tax_id) if tax_id else None
    after = {"legal_name": name, "address": where, "country": code, "tax_id": compact}
    profile = await PartnerProfile.get_or_none(tenant_id=viewer.tenant_id, user_id=user.id)
    before = None
    if profile is None:
        profile = await PartnerProfile.create(tenant_id=viewer.tenant_id, user_id=user.id, **after)
    else:
        before = {k: getattr(profile, k) for k in after}
        for key, value in after.items():
            setattr(profile, key, value)
        await profile.save()
    await record(
        viewer=viewer, action="partner.set", entity_type="user", entity_id=str(user.id),
        before=before, after=after,
    )  # fmt: skip
    return profile


async def set_tax_rule(
    *, viewer: Viewer, country: str, kind: str, rate: Decimal, base_share: Decimal = Decimal(1)
) -> TaxRule:
    """Admins: the tenant's rule of ``kind`` for partners in ``country`` (rate in percent, 0
    to 100; ``base_share``: the share of the fee it applies to, 0 to 1), audited."""
    _require_admin(viewer, "country")
    code = _country(country)
    if kind not in {k.value for k in TaxKind}:
        raise InvoiceError(f"one of {', '.join(k.value for k in TaxKind)}", field="kind")
    if not isinstance(rate, Decimal) or not rate.is_finite() or not ZERO <= rate <= 100:
        raise InvoiceError("a rate is a percentage from 0 to 100", field="rate")
    if rate != rate.quantize(Decimal("0.000001")):
        raise InvoiceError("at most 6 decimals", field="rate")
    if not base_share.is_finite() or not ZERO <= base_share <= 1:
        raise InvoiceError("a share of the fee from 0 to 1", field="baseShare")
    if base_share != base_share.quantize(Decimal("0.000001")):
        raise InvoiceError("at most 6 decimals", field="baseShare")
    rule = await TaxRule.get_or_none(tenant_id=viewer.tenant_id, country=code, kind=kind)
    before = None
    if rule is None:
        rule = await TaxRule.create(
            tenant_id=viewer.tenant_id, country=code, kind=kind, rate=rate, base_share=base_share
        )
    else:
        before = {
            "rate": format(Decimal(rule.rate), "f"),
            "base_share": format(Decimal(rule.base_share), "f"),
        }
        rule.rate, rule.base_share = rate, base_share
        await rule.save(update_fields=["rate", "base_share"])
    await record(
        viewer=viewer, action="tax_rule.set", entity_type="tax_rule", entity_id=f"{code}:{kind}",
        before=before, after={"rate": format(rate, "f"), "base_share": format(base_share, "f")},
    )  # fmt: skip
    return rule


def invoice_items(
    net: Decimal, currency: str, rules: Sequence[TaxRule], has_tax_id: bool
) -> tuple[list[dict[str, Any]], Decimal]:
    """The invoice's items (VAT added, withholdings subtracted, each rounded) and what is
    paid."""
    items: list[dict[str, Any]] = []
    payable = net
    for rule in sorted(rules, key=lambda r: [k.value for k in TaxKind].index(r.kind)):
        kind = TaxKind(rule.kind)
        if kind is TaxKind.BACKUP_WITHHOLDING and has_tax_id:
            continue
        rate = Decimal(rule.rate)
        base = round_money(net * Decimal(rule.base_share), currency)
        amount = round_money(base * rate / 100, currency)
        if kind in WITHHELD:
            amount = -amount
        if kind is TaxKind.REVERSE_CHARGE:  # noted on the invoice, none charged
            amount = round_money(ZERO, currency)
        items.append(
            {"kind": kind.value, "rate": format(rate, "f"), "base": format(base, "f"),
             "amount": format(amount, "f")}
        )  # fmt: skip
        payable += amount
    return items, payable


async def _carried_in(viewer: Viewer, statement_ids: Sequence[UUID]) -> dict[UUID, Decimal]:
    """What the statements hold of earlier statements' balances (carry_forward lines)."""
    if not statement_ids:
        return {}
    rows = await connections.get("default").execute_query_dict(
        "SELECT statement_id, sum(amount) AS amount FROM statement_lines "
        "WHERE tenant_id = $1 AND statement_id = ANY($2::uuid[]) AND kind = 'carry_forward' "
        "GROUP BY statement_id",
        [viewer.tenant_id, list(statement_ids)],
    )
    return {r["statement_id"]: Decimal(r["amount"]) for r in rows}


async def issue_invoices(*, viewer: Viewer, statements: Sequence[Statement]) -> list[Invoice]:
    """What approving ``statements`` issues, numbered in the order given, in one series: for
    a statement that replaces approved versions, a credit note for each of their invoices
    still standing (the old invoice cancelled, its amounts reversed), then, for a partner,
    the invoice of the statement approved. Runs in the approving transaction."""
    standing = await _standing_invoices(viewer, [s for s in statements if s.version > 1])
    partners = {
        p.user_id: p
        for part in chunked(sorted({s.user_id for s in statements}))
        for p in await PartnerProfile.filter(tenant_id=viewer.tenant_id, user_id__in=part)
    }
    count = sum(len(standing.get(_key(s), ())) + (s.user_id in partners) for s in statements)
    if not count:
        return []
    rules: dict[str, list[TaxRule]] = {}
    for rule in await TaxRule.filter(
        tenant_id=viewer.tenant_id, country__in=list({p.country for p in partners.values()})
    ):
        rules.setdefault(rule.country, []).append(rule)
    year = utc_now().year
    numbers = count_from(await _take_numbers(viewer, year, count))
    carried = await _carried_in(viewer, [s.id for s in statements if s.user_id in partners])
    made = []
    for statement in statements:
        for cancelled in standing.get(_key(statement), ()):
            made.append(_credit_note(cancelled, year, next(numbers)))
        partner = partners.get(statement.user_id)
        if partner is None:
            continue
        # a balance carried from an earlier statement was that statement's invoice already
        fee = Decimal(statement.total) - carried.get(statement.id, ZERO)
        net = round_money(fee, statement.currency)
        items, payable = invoice_items(
            net, statement.currency, rules.get(partner.country, []), bool(partner.tax_id)
        )
        sequence = next(numbers)
        made.append(
            Invoice(
                tenant_id=viewer.tenant_id, statement_id=statement.id, user_id=statement.user_id,
                kind=InvoiceKind.INVOICE.value, year=year, sequence=sequence,
                number=_number(year, sequence), currency=statement.currency, net=net,
                items=items, payable=payable,
                legal={"legal_name": partner.legal_name, "address": partner.address,
                       "country": partner.country, "tax_id": partner.tax_id},
            )
        )  # fmt: skip
    await Invoice.bulk_create(made)
    numbers_of = {i.id: i.number for lists in standing.values() for i in lists}
    await record_many(
        viewer=viewer,
        changes=(
            Change(f"{i.kind}.issued", "invoice", i.number, None,
                   {"statement_id": str(i.statement_id), "net": format(i.net, "f"),
                    "payable": format(i.payable, "f"), "currency": i.currency}
                   | ({"cancels": numbers_of[i.cancels_id]} if i.cancels_id else {}))
            for i in made
        ),
    )  # fmt: skip
    return made


def _key(statement: Statement) -> tuple[UUID, str, str]:
    return (statement.user_id, statement.period, statement.currency)


def _number(year: int, sequence: int) -> str:
    return f"{year}-{sequence:06d}"


async def _standing_invoices(
    viewer: Viewer, statements: Sequence[Statement]
) -> dict[tuple[UUID, str, str], list[Invoice]]:
    """The invoices of versions that ``statements`` replace that no credit note cancels
    yet, per payee, period and currency, oldest first."""
    if not statements:
        return {}
    wanted = {_key(s) for s in statements}
    found = [
        i
        for part in chunked(sorted({s.user_id for s in statements}))
        for i in await Invoice.filter(
            tenant_id=viewer.tenant_id,
            kind=InvoiceKind.INVOICE.value,
            user_id__in=part,
            statement__current=False,
        ).select_related("statement")
    ]
    cancelled = {
        c
        for part in chunked([i.id for i in found])
        for c in await Invoice.filter(tenant_id=viewer.tenant_id, cancels_id__in=part).values_list(
            "cancels_id", flat=True
        )
    }
    out: dict[tuple[UUID, str, str], list[Invoice]] = {}
    for invoice in sorted(found, key=lambda i: (i.year, i.sequence)):
        key = _key(invoice.statement)
        if key in wanted and invoice.id not in cancelled:
            out.setdefault(key, []).append(invoice)
    return out


def _credit_note(cancelled: Invoice, year: int, sequence: int) -> Invoice:
    """The credit note cancelling ``cancelled``: its statement, legal data and amounts (net,
    every tax item's base and amount, payable) reversed."""
    return Invoice(
        tenant_id=cancelled.tenant_id, statement_id=cancelled.statement_id,
        user_id=cancelled.user_id, kind=InvoiceKind.CREDIT_NOTE.value, cancels_id=cancelled.id,
        year=year, sequence=sequence, number=_number(year, sequence),
        currency=cancelled.currency, net=_negated(cancelled.net),
        items=[item | {"base": format(_negated(item["base"]), "f"),
                       "amount": format(_negated(item["amount"]), "f")}
               for item in cancelled.items],
        payable=_negated(cancelled.payable), legal=cancelled.legal,
    )  # fmt: skip


def _negated(value: Decimal | str) -> Decimal:
    return ZERO - Decimal(value)  # 0 stays 0, never -0


async def _take_numbers(viewer: Viewer, year: int, count: int) -> int:
    """The first of ``count`` consecutive numbers of the tenant's year. The counter row stays
    locked until the caller's transaction ends: a concurrent approval waits for it, and a
    rollback gives the numbers back."""
    rows = await connections.get("default").execute_query_dict(
        """
        INSERT INTO invoice_counters (tenant_id, year, last_number) VALUES ($1, $2, $3)
        ON CONFLICT (tenant_id, year)
        DO UPDATE SET last_number = invoice_counters.last_number + EXCLUDED.last_number
        RETURNING last_number
        """,
        [viewer.tenant_id, year, count],
    )
    return int(rows[0]["last_number"]) - count + 1


async def invoices_of_statements(
    viewer: Viewer, statement_ids: Sequence[UUID]
) -> dict[UUID, dict[str, Invoice]]:
    """Per statement version: its invoice and the credit note cancelling it, by kind (one
    query whatever their number)."""
    out: dict[UUID, dict[str, Invoice]] = {}
    if statement_ids:
        for found in await Invoice.filter(
            tenant_id=viewer.tenant_id, statement_id__in=list(statement_ids)
        ):
            out.setdefault(found.statement_id, {})[found.kind] = found
    return out


async def invoices_of_period(viewer: Viewer, period: str) -> list[dict[str, Any]]:
    """The invoices and credit notes of a period's statements (every version), in number
    order, with the payee's CRM id and the statement version (what the CLI lists)."""
    return list(
        await connections.get("default").execute_query_dict(
            """
            SELECT i.number, i.kind, c.number AS cancels, u.external_id AS payee,
                   s.version, i.currency, i.net, i.items, i.payable
            FROM invoices i
              JOIN statements s ON s.id = i.statement_id
              JOIN users u ON u.id = i.user_id
              LEFT JOIN invoices c ON c.id = i.cancels_id
            WHERE i.tenant_id = $1 AND s.period = $2
            ORDER BY i.year, i.sequence
            """,
            [viewer.tenant_id, parse_period(period).id],
        )
    )


async def invoice_document(
    *, viewer: Viewer, invoice_id: UUID, locale: str | None = None
) -> dict[str, Any]:
    """An invoice or credit note as JSON, its amounts formatted in ``locale`` (left out: the
    partner's). A credit note names the invoice it cancels; a cancelled invoice, its credit
    note."""
    invoice = await Invoice.get(tenant_id=viewer.tenant_id, id=invoice_id)
    statement = await Statement.get(id=invoice.statement_id)
    payee = await UserRepository(viewer).get(invoice.user_id)
    tenant = await get_tenant(viewer.tenant_id)
    related = (await invoices_of_statements(viewer, [statement.id]))[statement.id]
    where = locale or payee.locale or tenant.locale or "en"
    currency = invoice.currency

    def reference(kind: InvoiceKind) -> dict[str, str] | None:
        other = related.get(kind.value) if kind.value != invoice.kind else None
        return other and {"id": str(other.id), "number": other.number,
                          "issuedAt": other.issued_at.isoformat()}  # fmt: skip

    return {
        "id": str(invoice.id), "kind": invoice.kind, "number": invoice.number,
        "tenant": tenant.name, "issuedAt": invoice.issued_at.isoformat(), "legal": invoice.legal,
        "cancels": reference(InvoiceKind.INVOICE),
        "cancelledBy": reference(InvoiceKind.CREDIT_NOTE),
        "period": statement.period, "version": statement.version, "currency": currency,
        "locale": where,
        "labels": documents.labels(documents.INVOICE_LABELS, language_of(where)),
        "net": format(Decimal(invoice.net), "f"),
        "netFormatted": money_text(Decimal(invoice.net), currency, where),
        "items": [
            item | {"formatted": money_text(Decimal(item["amount"]), currency, where),
                    "baseFormatted": money_text(Decimal(item["base"]), currency, where),
                    "rateText": percent_text(Decimal(item["rate"]) / 100, where)}
            for item in invoice.items
        ],
        "payable": format(Decimal(invoice.payable), "f"),
        "payableFormatted": money_text(Decimal(invoice.payable), currency, where),
    }  # fmt: skip


async def invoice_pdf_for_link(invoice_id: UUID, *, fonts: Sequence[str] = ()) -> bytes | None:
    """What a signed link serves (the link is the authorisation): None for no invoice;
    ``fonts``: the fallback font files (PODIUM_PDF_FONTS)."""
    found = await Invoice.get_or_none(id=invoice_id)
    if found is None:
        return None
    viewer = Viewer.system(found.tenant_id, "invoice-link")
    document = await invoice_document(viewer=viewer, invoice_id=found.id)
    # in a thread, as a statement's (`statements.service.statement_pdf`)
    return await asyncio.to_thread(
        documents.invoice_pdf, document, language_of(document["locale"]), fonts=fonts
    )
