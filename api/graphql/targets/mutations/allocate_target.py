from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info
from tortoise.transactions import in_transaction

from api.graphql.errors import UserError, user_error
from api.graphql.targets.types import AllocateTargetInput, Target
from domain.kit.errors import DomainError, Forbidden
from domain.targets.models import AllocationMethod
from domain.targets.service import Allocation, allocate

AllocateTargetResult = Annotated[Target | UserError, strawberry.union("AllocateTargetResult")]


async def allocate_target(
    info: Info[Any, None], input: AllocateTargetInput
) -> AllocateTargetResult:
    """A manager (or an admin) splits a target among its person's direct reports; the split
    replaces an earlier draft one. Lines that do not add up, people outside the subtree or
    negative values answer a UserError naming the field, and nothing is written."""
    viewer = info.context.viewer
    lines = [
        Allocation(person_id=str(a.person_id), value=a.value, share=a.share)
        for a in input.allocations or []
    ]
    try:
        async with in_transaction():
            target = await allocate(
                viewer=viewer,
                target_id=str(input.target_id),
                method=AllocationMethod(input.method.value),
                allocations=lines,
                weight_attribute=input.weight_attribute,
            )
    except Forbidden:
        raise
    except DomainError as exc:
        return user_error(exc)
    return await Target.load(info, target)
