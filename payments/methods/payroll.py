"""Payroll input: a CSV in the ADP Workforce Now paydata layout, paid with the next payroll.

ADP's paydata import reads `Co Code`, `Batch ID` and `File #` first (company code, the
import's batch, the employee's file number), then earnings as code and amount column pairs;
Podium writes one additional-earnings pair (`Earnings 3 Code`, `Earnings 3 Amount`), one row
per payee, amounts as plain decimals. Several instructions for one employee are one row
(ADP would otherwise take the last). The same instructions give the same bytes."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from domain.kit.money import is_currency
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

HEADER = ("Co Code", "Batch ID", "File #", "Earnings 3 Code", "Earnings 3 Amount")


@dataclass(frozen=True, slots=True)
class PayrollCompany:
    company_code: str  # ADP's 3-character company code
    earnings_code: str  # the earnings code set up in ADP for commissions (e.g. "C")
    currency: str  # what the payroll pays in

    @classmethod
    def of(cls, *, company_code: str, earnings_code: str, currency: str) -> PayrollCompany:
        if not re.fullmatch(r"[A-Z0-9]{3}", company_code):
            raise MethodConfigError("three upper-case letters or digits", field="companyCode")
        if not re.fullmatch(r"[A-Z0-9]{1,3}", earnings_code):
            raise MethodConfigError("1 to 3 upper-case letters or digits", field="earningsCode")
        if not is_currency(currency):
            raise MethodConfigError("an ISO 4217 code", field="currency")
        return cls(company_code, earnings_code, currency)


def paydata_file(
    *, instructions: Sequence[PayoutInstruction], company: PayrollCompany, batch_id: str
) -> PayoutFile:
    """The paydata CSV of every instruction a payroll can pay (the rest Failed, left out)."""
    if not re.fullmatch(r"[A-Za-z0-9]{1,8}", batch_id):
        raise MethodConfigError("1 to 8 letters or digits", field="batchId")
    totals: dict[str, Decimal] = {}
    outcomes: list[Outcome] = []
    refuse = partial(
        refusal, method=PayoutMethod.PAYROLL_FILE, currencies={company.currency},
        not_this_method="the payee is not paid through payroll",
    )  # fmt: skip
    for i in screened(instructions, refuse):
        if isinstance(i, Failed):
            outcomes.append(i)
            continue
        employee = i.account.payroll_employee_id or ""  # refusal() saw it is set
        totals[employee] = totals.get(employee, Decimal(0)) + i.amount
        outcomes.append(Submitted(i.reference, provider_id=f"{batch_id}/{employee}"))
    out = io.StringIO()
    writer = csv_writer(out, lineterminator="\r\n")  # no cell a spreadsheet runs
    if totals:
        writer.writerow(HEADER)
        for employee in sorted(totals):
            amount = totals[employee].quantize(Decimal("0.01"))
            row = (company.company_code, batch_id, employee, company.earnings_code, f"{amount}")
            writer.writerow(row)
    content = out.getvalue().encode("utf-8")
    return PayoutFile(f"PR{company.company_code}EPI-{batch_id}.csv", "text/csv", content,
                      tuple(outcomes))  # fmt: skip
