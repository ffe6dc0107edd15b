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
from payments.draws.models import PlanDrawTerms as StoredPlanTerms
from payments.draws.service import Terms, set_plan_terms, terms_of
from payments.draws.service import set_draw as set_terms


@strawberry.input
class SetDrawInput:
    assignment_id: strawberry.ID
    amount: Decimal
    recoverable: bool
    recovery_share: Decimal | None = strawberry.field(
        default=None, description="Left out: the plan's (setPlanDrawTerms)."
    )
    on_termination: str | None = strawberry.field(
        default=None, description="forgive | keep; left out: the plan's (setPlanDrawTerms)."
    )


@strawberry.type(description="A draw on a plan assignment: guaranteed per period.")
class Draw:
    id: strawberry.ID
    amount: Money
    recoverable: bool
    recovery_share: Decimal = strawberry.field(description="In force: its own or the plan's.")
    on_termination: str = strawberry.field(description="In force: its own or the plan's.")
    terms_from_plan: bool = strawberry.field(
        description="The share or the rule on termination is the plan's, not the draw's own."
    )

    @classmethod
    def of(cls, d: StoredDraw, terms: Terms, locale: str) -> Draw:
        return cls(
            id=strawberry.ID(str(d.id)),
            amount=money(d.amount, d.currency, locale),
            recoverable=d.recoverable,
            recovery_share=unpadded(terms.recovery_share),
            on_termination=terms.on_termination,
            terms_from_plan=terms.from_plan,
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
            await draw.fetch_related("assignment")
            terms = (await terms_of(info.context.viewer, [draw]))[draw.id]
    except DomainError as exc:
        return user_error(exc)
    return Draw.of(draw, terms, info.context.locale)


@strawberry.input
class SetPlanDrawTermsInput:
    plan_id: strawberry.ID
    recovery_share: Decimal = strawberry.field(
        description="The share (0 to 1) of later earnings a recoverable draw takes back."
    )
    on_termination: str = strawberry.field(description="forgive | keep")


@strawberry.type(description="What a plan says of its draws without terms of their own.")
class PlanDrawTerms:
    plan_id: strawberry.ID
    recovery_share: Decimal
    on_termination: str


SetPlanDrawTermsResult = Annotated[
    PlanDrawTerms | UserError, strawberry.union("SetPlanDrawTermsResult")
]


async def set_plan_draw_terms(
    info: Info[Any, None], input: SetPlanDrawTermsInput
) -> SetPlanDrawTermsResult:
    """Admins and payout ops: a plan's draw terms (audited)."""
    try:
        async with in_transaction():
            stored: StoredPlanTerms = await set_plan_terms(
                viewer=info.context.viewer, plan_id=str(input.plan_id),
                recovery_share=input.recovery_share, on_termination=input.on_termination,
            )  # fmt: skip
    except DomainError as exc:
        return user_error(exc)
    return PlanDrawTerms(plan_id=strawberry.ID(str(stored.plan_id)),
                         recovery_share=unpadded(Decimal(stored.recovery_share)),
                         on_termination=stored.on_termination)  # fmt: skip
