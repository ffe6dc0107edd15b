from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from api.graphql.targets.types import Target, TargetPlanVersion
from domain.kit.errors import NotFound
from domain.targets import service


async def my_targets(info: Info[Any, None], period: str | None = None) -> list[Target]:
    """The viewer's published targets (of a period, or all)."""
    found = await service.my_targets(viewer=info.context.viewer, period=period)
    return [await Target.load(info, target) for target, _ in found]


async def allocations_to_do(info: Info[Any, None]) -> list[Target]:
    """Managers: targets they received and still have to split and propose."""
    found = await service.allocations_to_do(viewer=info.context.viewer)
    return [await Target.load(info, t) for t in found]


async def allocations_to_validate(info: Info[Any, None]) -> list[Target]:
    """Managers and admins: allocations proposed to them, waiting for validateTarget."""
    found = await service.allocations_to_validate(viewer=info.context.viewer)
    return [await Target.load(info, t) for t in found]


async def target(info: Info[Any, None], id: strawberry.ID) -> Target | None:
    """A target the viewer may see (their own, their subtree's, an admin's tenant); null
    otherwise."""
    try:
        found = await service.visible_target(viewer=info.context.viewer, target_id=str(id))
    except NotFound:
        return None
    return await Target.load(info, found)


async def target_plans(info: Info[Any, None], period: str) -> list[TargetPlanVersion]:
    """Admins: every target plan version of ``period``; managers: those reaching their
    subtree."""
    found = await service.target_plans(viewer=info.context.viewer, period=period)
    return [TargetPlanVersion.of(p) for p in found]
