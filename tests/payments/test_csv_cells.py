"""The CSV files a payout batch writes (the SAP journal, ADP paydata): no cell a spreadsheet
runs as a formula. A payee's CRM id ``=HYPERLINK(...)`` once opened the SAP journal's item
text as a formula, with the item's reference (what reconciliation needs) cut off at 50."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import date

from domain.kit.text import FORMULA_START
from payments.methods.payroll import PayrollCompany, paydata_file
from payments.methods.sap import SapLedger, journal_file
from payments.payouts.models import PayoutMethod
from payments.payouts.validation import PayoutAccount
from tests.payments.factories import instruction

LINK = '=HYPERLINK("http://evil.example/?sap","pay")'


def _cells(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode())))


def _no_formula(rows: list[list[str]]) -> None:
    starts = [cell for row in rows for cell in row if cell[:1] in FORMULA_START and cell]
    assert not starts, starts


def test_given_a_formula_crm_id_then_the_sap_item_text_is_its_reference_then_the_payee():
    sap = PayoutAccount(PayoutMethod.CSV_FILE)
    given = [
        replace(instruction(1, sap, reference="PB3EED829C0495471E-3"), payee_code=LINK),
        replace(instruction(2, sap, reference="PB3EED829C0495471E-4"), payee_code="V00002"),
    ]
    ledger = SapLedger.of(company_code="1000", accrued_account="210000", payable_account="219000")

    written = journal_file(instructions=given, ledger=ledger, batch_id="3EED829C04",
                           posting_date=date(2026, 11, 2), period="2026-10")  # fmt: skip

    rows = _cells(written.content)
    _no_formula(rows)
    texts = sorted({row[12] for row in rows[1:] if row[0] == "L"})
    assert texts == [
        f"PB3EED829C0495471E-3 {LINK}"[:50],
        "PB3EED829C0495471E-4 V00002",
    ]


def test_given_a_formula_employee_number_then_the_paydata_cell_is_text():
    payroll = PayoutAccount(PayoutMethod.PAYROLL_FILE, payroll_employee_id="@SUM(1+1)")
    company = PayrollCompany.of(company_code="ABC", earnings_code="C", currency="EUR")

    written = paydata_file(instructions=[instruction(1, payroll)], company=company,
                           batch_id="B1")  # fmt: skip

    rows = _cells(written.content)
    _no_formula(rows)
    assert rows[1] == ["ABC", "B1", "'@SUM(1+1)", "C", "100.00"]
