from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry.types import Info
from tortoise.transactions import in_transaction

from api.graphql.errors import UserError, user_error
from api.graphql.money import Money, money
from domain.kit.errors import DomainError
from domain.kit.money import unpadded
from payments.draws.models import Draw as StoredDraw
from payments.draws.service import set_draw as set_terms


@strawberry.input
class SetDrawInput:
    assignment_id: strawberry.ID
    amount: Decimal
    recoverable: bool
    recovery_share: Decimal = Decimal(1)
    on_termination: str = strawberry.field(default="forgive", description="forgive | keep")


@strawberry.type(description="A draw on a plan assignment: guaranteed per period.")
class Draw:
    id: strawberry.ID
    amount: Money
    recoverable: bool
    recovery_share: Decimal
    on_termination: str

    @classmethod
    def of(cls, d: StoredDraw, locale: str) -> Draw:
        return cls(
            id=strawberry.ID(str(d.id)),
            amount=money(d.amount, d.currency, locale),
            recoverable=d.recoverable,
            recovery_share=unpadded(d.recovery_share),
            on_termination=d.on_termination,
        )


SetDrawResult = Annotated[Draw | UserError, strawberry.union("SetDrawResult")]


async def set_draw(info: Info[Any, None], input: SetDrawInput) -> SetDrawResult:
    """Admins and payout ops: the draw of a plan assignment (audited)."""
    try:
        async with in_transaction():
            draw = await set_terms(
                viewer=info.context.viewer,
                assignment_id=str(input.assignment_id),
                amount=input.amount,
                recoverable=input.recoverable,
                recovery_share=input.recovery_share,
                on_termination=input.on_termination,
            )
    except DomainError as exc:
        return user_error(exc)
    return Draw.of(draw, info.context.locale)
