from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry.types import Info
from tortoise.transactions import in_transaction

from api.graphql.errors import UserError, user_error
from api.graphql.targets.types import Target
from domain.kit.errors import DomainError, Forbidden
from domain.targets.service import revise, root_of

ReviseTargetPlanResult = Annotated[Target | UserError, strawberry.union("ReviseTargetPlanResult")]


async def revise_target_plan(
    info: Info[Any, None], plan_id: strawberry.ID, amount: Decimal | None = None
) -> ReviseTargetPlanResult:
    """Admins: a new draft version of a published plan (the same allocation, or with a new
    `amount` only the root, to allocate again); answers its root."""
    viewer = info.context.viewer
    try:
        async with in_transaction():
            plan = await revise(viewer=viewer, plan_id=str(plan_id), amount=amount)
            root = await root_of(viewer=viewer, plan_id=plan.id)
    except Forbidden:
        raise
    except DomainError as exc:
        return user_error(exc)
    return await Target.load(info, root)
