"""Finance: what a period owes, per currency (and component)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from api.graphql.money import Money, money
from payments.accruals.service import Accrual as StoredAccrual
from payments.accruals.service import accruals as read_accruals


@strawberry.type(description="A period's commissions in one currency (and component).")
class Accrual:
    period: str
    currency: str
    component: str | None = strawberry.field(description="Null: every component together.")
    earned: Money
    approved: Money
    paid: Money
    outstanding: Money = strawberry.field(description="Earned and not paid yet.")

    @classmethod
    def of(cls, a: StoredAccrual, locale: str) -> Accrual:
        return cls(
            period=a.period,
            currency=a.currency,
            component=a.component,
            earned=money(a.earned, a.currency, locale),
            approved=money(a.approved, a.currency, locale),
            paid=money(a.paid, a.currency, locale),
            outstanding=money(a.outstanding, a.currency, locale),
        )


async def accruals(info: Info[Any, None], period: str, by_component: bool = False) -> list[Accrual]:
    """Admins and payout ops: earned, approved, paid and outstanding for a period."""
    found = await read_accruals(
        viewer=info.context.viewer, period=period, by_component=by_component
    )
    return [Accrual.of(a, info.context.locale) for a in found]
