from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info
from tortoise.transactions import in_transaction

from api.graphql.errors import UserError, user_error
from api.graphql.plans.types import PlanAssignment
from domain.kit.errors import DomainError, Forbidden
from domain.plans.service import accept_plan as accept

AcceptPlanResult = Annotated[PlanAssignment | UserError, strawberry.union("AcceptPlanResult")]


async def accept_plan(info: Info[Any, None], assignment_id: strawberry.ID) -> AcceptPlanResult:
    """The rep accepts a plan offered to them."""
    viewer = info.context.viewer
    try:
        async with in_transaction():
            assignment = await accept(viewer=viewer, assignment_id=str(assignment_id))
    except Forbidden:
        raise
    except DomainError as exc:
        return user_error(exc)
    return PlanAssignment.of(assignment)
