"""The one rule that sums a rep's stored results, shared by the API, live updates and
notifications."""

from __future__ import annotations

from decimal import Decimal

from domain.earnings.models import EarningsResult, ResultStatus
from domain.earnings.summary import main_currency, totals


def result(currency: str, total: str, *, status: ResultStatus = ResultStatus.OK) -> EarningsResult:
    return EarningsResult(
        currency=currency,
        status=status,
        total=Decimal(total),
        payable=Decimal(total) / 2,
        pending=Decimal(total) / 2,
    )


async def test_given_two_plan_currencies_tied_when_main_currency_then_always_the_first_by_code(
    db: str,
):
    tied = [result("USD", "1"), result("CHF", "2")]

    answers = {main_currency(order, "EUR") for order in (tied, list(reversed(tied)))}

    assert answers == {"CHF"}


async def test_given_a_plan_in_the_tenant_currency_when_main_currency_then_that_one(db: str):
    results = [result("USD", "1"), result("USD", "2"), result("EUR", "3")]

    assert main_currency(results, "EUR") == "EUR"


async def test_given_results_in_two_currencies_and_an_error_when_totals_then_only_ok_ones_count(
    db: str,
):
    results = [
        result("EUR", "100.10"),
        result("EUR", "0.05"),
        result("USD", "999"),
        result("EUR", "7", status=ResultStatus.ERROR),
    ]

    assert totals(results, "EUR") == (Decimal("100.15"), Decimal("50.075"), Decimal("50.075"))
