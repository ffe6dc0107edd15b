from __future__ import annotations

from typing import Any
from uuid import UUID

import strawberry
from strawberry.types import Info

from gamification.levels.rules import level_of
from gamification.levels.service import level_map, xp_of
from gamification.levels.streaks import streaks_of


@strawberry.type(description="The viewer's level and XP.")
class Level:
    number: int = strawberry.field(description="0 below the first level.")
    name: str
    xp: int
    next_level_xp: int | None = strawberry.field(description="Null at the top level.")


@strawberry.type(description="A level of the tenant's level map.")
class LevelStep:
    number: int
    name: str
    xp_required: int
    reward: str
    unlocked: bool


@strawberry.type(description="Consecutive periods or working days meeting a rule.")
class Streak:
    id: strawberry.ID
    name: str
    current: int
    longest: int


def _me(info: Info[Any, None]) -> tuple[UUID, UUID]:
    viewer = info.context.viewer
    return viewer.tenant_id, UUID(str(viewer.user_id))


async def my_level(info: Info[Any, None]) -> Level:
    tenant_id, user_id = _me(info)
    levels = await level_map(tenant_id=tenant_id)
    standing = level_of(await xp_of(tenant_id=tenant_id, user_id=user_id), levels)
    names = {lv.number: lv.name for lv in levels}
    return Level(
        number=standing.number,
        name=names.get(standing.number, ""),
        xp=standing.xp,
        next_level_xp=standing.next_level_xp,
    )


async def my_level_map(info: Info[Any, None]) -> list[LevelStep]:
    tenant_id, user_id = _me(info)
    xp = await xp_of(tenant_id=tenant_id, user_id=user_id)
    return [
        LevelStep(
            number=lv.number,
            name=lv.name,
            xp_required=lv.xp_required,
            reward=lv.reward,
            unlocked=xp >= lv.xp_required,
        )  # fmt: skip
        for lv in await level_map(tenant_id=tenant_id)
    ]


async def my_streaks(info: Info[Any, None]) -> list[Streak]:
    tenant_id, user_id = _me(info)
    return [
        Streak(id=strawberry.ID(str(s.id)), name=s.name, current=s.current, longest=s.longest)
        for s in await streaks_of(tenant_id=tenant_id, user_id=user_id)
    ]
