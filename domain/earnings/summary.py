"""One rep's stored results for one period, summed: the rule every reader shares (the GraphQL
Earnings type, live updates, notifications), so a figure never differs between them."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from domain.earnings.models import EarningsResult, ResultStatus


def main_currency(results: Sequence[EarningsResult], default: str) -> str:
    """The tenant's currency when a plan pays in it, else the most common plan currency (ties
    to the first in alphabetical order, so every process answers the same)."""
    currencies = [r.currency for r in results if r.status == ResultStatus.OK]
    if not currencies or default in currencies:
        return default
    return max(sorted(set(currencies)), key=currencies.count)


def totals(results: Sequence[EarningsResult], currency: str) -> tuple[Decimal, Decimal, Decimal]:
    """Total, payable and pending of the OK results paying in `currency` (plans paying in
    another currency are left out of the sums), exact."""
    ok = [r for r in results if r.status == ResultStatus.OK and r.currency == currency]
    return (
        sum((Decimal(r.total) for r in ok), Decimal(0)),
        sum((Decimal(r.payable) for r in ok), Decimal(0)),
        sum((Decimal(r.pending) for r in ok), Decimal(0)),
    )
