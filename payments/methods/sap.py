"""The SAP journal of a payout batch (`PayoutMethod.CSV_FILE`): SAP pays the payees, Podium
hands it the postings.

Each payee's amount moves from accrued commissions to a payables account in balanced
documents, in the journal CSV layout of `payments.accruals.service.journal_csv` (an ``H``
row per document, then its ``L`` lines): per item a debit of the accrued account and a
credit of the payables account, both naming the payee's external id (the number SAP knows
them by: vendor or personnel number) and the item's reference, so SAP's payment run pays
the open items and a reconciliation finds each item. A document holds at most 999 lines
(SAP's limit), so 499 items; its reference is derived from the batch and the document's
number, so importing the same file twice shows the same reference (SAP refuses the
duplicate). An item's text is its reference first (never cut: reconciliation needs it),
then the payee's external id, cut to SAP's 50 characters; no cell is one a spreadsheet runs
as a formula (domain/kit/text.py). The same instructions give the same bytes."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from domain.kit.money import is_currency, round_money
from domain.kit.text import csv_writer
from payments.methods.errors import MethodConfigError
from payments.methods.models import (
    Failed,
    Outcome,
    PayoutFile,
    PayoutInstruction,
    Submitted,
    refusal,
    screened,
)
from payments.payouts.models import PayoutMethod

MAX_DOCUMENT_LINES = 999  # SAP's limit of line items in one journal document
ITEMS_PER_DOCUMENT = MAX_DOCUMENT_LINES // 2  # two balanced lines an item
COLUMNS = (
    "record_type", "company_code", "document_type", "document_date", "posting_date", "currency",
    "reference", "header_text", "line_item", "gl_account", "debit", "credit", "item_text",
)  # fmt: skip
_ACCOUNT = re.compile(r"[0-9]{1,10}")


@dataclass(frozen=True, slots=True)
class SapLedger:
    company_code: str  # SAP's company code: 1 to 4 letters or digits
    accrued_account: str  # the GL account of accrued commissions (a liability)
    payable_account: str  # the GL account SAP's payment run pays from (commissions payable)
    document_type: str = "SA"  # SAP's document type of a G/L posting

    @classmethod
    def of(
        cls,
        *,
        company_code: str,
        accrued_account: str,
        payable_account: str,
        document_type: str = "SA",
    ) -> SapLedger:
        if not re.fullmatch(r"[A-Z0-9]{1,4}", company_code):
            raise MethodConfigError("1 to 4 upper-case letters or digits", field="companyCode")
        if not _ACCOUNT.fullmatch(accrued_account):
            raise MethodConfigError("a G/L account: 1 to 10 digits", field="accruedAccount")
        if not _ACCOUNT.fullmatch(payable_account):
            raise MethodConfigError("a G/L account: 1 to 10 digits", field="payableAccount")
        if payable_account == accrued_account:
            raise MethodConfigError(
                "the payables account must differ from the accrued account",
                field="payableAccount",
            )
        if not re.fullmatch(r"[A-Z0-9]{2}", document_type):
            raise MethodConfigError("two upper-case letters or digits", field="documentType")
        return cls(company_code, accrued_account, payable_account, document_type)


def journal_file(
    *,
    instructions: Sequence[PayoutInstruction],
    ledger: SapLedger,
    batch_id: str,
    posting_date: date,
    period: str,
) -> PayoutFile:
    """The journal CSV of every instruction SAP can post (the rest Failed, left out)."""
    if not re.fullmatch(r"[A-Z0-9]{10}", batch_id):
        raise MethodConfigError("10 upper-case letters or digits", field="batchId")

    def refuse(i: PayoutInstruction) -> Failed | None:
        currencies = {i.currency} if is_currency(i.currency) else set()
        refused = refusal(i, method=PayoutMethod.CSV_FILE, currencies=currencies,
                          not_this_method="the item is not for the SAP journal")  # fmt: skip
        if refused is None and not i.payee_code:
            return Failed(i.reference, "the payee has no external id for SAP to pay by",
                          "payee")  # fmt: skip
        return refused

    outcomes: list[Outcome] = []
    accepted: list[PayoutInstruction] = []
    for i in screened(instructions, refuse):
        if isinstance(i, Failed):
            outcomes.append(i)
        else:
            accepted.append(i)
    out = io.StringIO()
    writer = csv_writer(out, lineterminator="\r\n")  # no cell a spreadsheet runs
    if accepted:
        writer.writerow(COLUMNS)
    day = posting_date.isoformat()
    documents = [
        accepted[start : start + ITEMS_PER_DOCUMENT]
        for start in range(0, len(accepted), ITEMS_PER_DOCUMENT)
    ]
    for n, document in enumerate(documents, start=1):
        reference = f"PB{batch_id}{n:04d}"  # 16 characters: SAP's reference field
        currency = document[0].currency
        writer.writerow(["H", ledger.company_code, ledger.document_type, day, day, currency,
                         reference, f"Podium payout {period}"[:25], "", "", "", "",
                         ""])  # fmt: skip
        line = 0
        for i in document:
            amount = format(round_money(i.amount, currency), "f")
            text = f"{i.reference} {i.payee_code}"[:50]  # the reference is never cut
            for account, debit, credit in (
                (ledger.accrued_account, amount, ""),
                (ledger.payable_account, "", amount),
            ):
                line += 1
                writer.writerow(["L", ledger.company_code, "", "", "", currency, reference, "",
                                 line, account, debit, credit, text])  # fmt: skip
            outcomes.append(Submitted(i.reference, provider_id=reference))
    return PayoutFile(f"SAPJ{ledger.company_code}-{batch_id}.csv", "text/csv",
                      out.getvalue().encode("utf-8"), tuple(outcomes))  # fmt: skip
