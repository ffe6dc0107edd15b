from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry.types import Info
from tortoise.transactions import in_transaction

from api.graphql.errors import UserError, user_error
from api.graphql.targets.types import Target
from domain.kit.errors import DomainError, Forbidden
from domain.targets.service import create_target_plan as create
from domain.targets.service import root_of

CreateTargetPlanResult = Annotated[Target | UserError, strawberry.union("CreateTargetPlanResult")]


@strawberry.input
class CreateTargetPlanInput:
    key: str
    period: str
    measure: str
    amount: Decimal
    currency: str | None = strawberry.field(default=None, description="Null: a count.")
    owner_id: strawberry.ID = strawberry.field(description="The top of the hierarchy.")
    breakdown_field: str | None = None
    breakdown_value: str | None = None


async def create_target_plan(
    info: Info[Any, None], input: CreateTargetPlanInput
) -> CreateTargetPlanResult:
    """Admins: a tenant-level target, given whole to its owner to allocate; answers the root."""
    viewer = info.context.viewer
    try:
        async with in_transaction():
            plan = await create(
                viewer=viewer,
                key=input.key,
                period=input.period,
                measure=input.measure,
                amount=input.amount,
                currency=input.currency,
                owner_id=str(input.owner_id),
                breakdown_field=input.breakdown_field,
                breakdown_value=input.breakdown_value,
            )
            root = await root_of(viewer=viewer, plan_id=plan.id)
    except Forbidden:
        raise
    except DomainError as exc:
        return user_error(exc)
    return await Target.load(info, root)
