"""Payout ops: the balances payees owe, not carried yet."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from api.graphql.money import Money, money
from payments.statements.service import Balance as StoredBalance
from payments.statements.service import balances_owed


@strawberry.type(
    description="A balance a payee owes: an approved statement owing below zero (a "
    "partner's in their invoices' terms), which their next statement built in its currency "
    "carries."
)
class OutstandingBalance:
    statement_id: strawberry.ID = strawberry.field(description="The statement that owes it.")
    rep_id: strawberry.ID
    rep_external_id: str = strawberry.field(description="The payee's CRM id.")
    rep_name: str
    period: str
    version: int
    currency: str
    total: Money = strawberry.field(description="The statement's total (a partner's: the fee).")
    owed: Money = strawberry.field(description="What it owes, below zero.")
    approved_at: datetime | None
    age_days: int = strawberry.field(description="Days since it was approved.")

    @classmethod
    def of(cls, b: StoredBalance, locale: str) -> OutstandingBalance:
        return cls(
            statement_id=strawberry.ID(str(b.statement_id)),
            rep_id=strawberry.ID(str(b.user_id)),
            rep_external_id=b.external_id,
            rep_name=b.display_name,
            period=b.period,
            version=b.version,
            currency=b.currency,
            total=money(b.total, b.currency, locale),
            owed=money(b.owed, b.currency, locale),
            approved_at=b.approved_at,
            age_days=b.age_days,
        )


async def outstanding_balances(info: Info[Any, None]) -> list[OutstandingBalance]:
    """Admins and payout ops: every balance owed, by payee, currency and period."""
    found = await balances_owed(viewer=info.context.viewer)
    return [OutstandingBalance.of(b, info.context.locale) for b in found]
