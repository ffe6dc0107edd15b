from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry.types import Info
from tortoise.transactions import in_transaction

from api.graphql.errors import UserError, user_error
from api.graphql.statements.types import Adjustment
from domain.kit.errors import DomainError
from payments.statements.service import add_adjustment as add


@strawberry.input
class AddAdjustmentInput:
    rep_id: strawberry.ID
    period: str
    amount: Decimal
    currency: str
    reason: str


AddAdjustmentResult = Annotated[Adjustment | UserError, strawberry.union("AddAdjustmentResult")]


async def add_adjustment(info: Info[Any, None], input: AddAdjustmentInput) -> AddAdjustmentResult:
    """Managers (their team), admins and payout ops: a manual amount on a payee's statement
    of a period, audited; an approved statement becomes a new draft version."""
    viewer = info.context.viewer
    try:
        async with in_transaction():
            made = await add(
                viewer=viewer,
                rep_id=str(input.rep_id),
                period=input.period,
                amount=input.amount,
                currency=input.currency,
                reason=input.reason,
            )
    except DomainError as exc:
        return user_error(exc)
    return Adjustment.of(made, info.context.locale)
