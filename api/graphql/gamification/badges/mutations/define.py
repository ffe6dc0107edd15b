"""Admins define badges, the level map and streaks; every refusal is a UserError naming its
field, and nothing is stored."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info
from tortoise.transactions import in_transaction

from api.graphql.errors import UserError, user_error
from api.graphql.gamification.levels.types import LevelStep, Streak
from domain.kit.errors import DomainError, Forbidden
from gamification.badges.service import create_badge as create
from gamification.levels.rules import Level
from gamification.levels.service import set_level_map as replace_levels
from gamification.levels.streaks import create_streak as create_streak_definition


@strawberry.type(description="A badge the tenant awards, by rule or as a contest prize.")
class BadgeDefinition:
    id: strawberry.ID
    name: str
    description: str
    icon: str
    rule: str = strawberry.field(description="Plan-language expression; empty: prizes only.")
    xp: int


@strawberry.input
class CreateBadgeInput:
    name: str
    rule: str = strawberry.field(
        description="e.g. deals >= 1, attainment('bookings') >= 1, "
        "periods_in_a_row('bookings') >= 3; empty: awarded only as a prize."
    )
    description: str = ""
    icon: str = ""
    xp: int = 0


@strawberry.input
class LevelInput:
    name: str
    xp_required: int
    reward: str = ""


@strawberry.input
class CreateStreakInput:
    name: str
    rule: str
    unit: str = strawberry.field(description="period | workday")
    period_kind: str = "month"


CreateBadgeResult = Annotated[BadgeDefinition | UserError, strawberry.union("CreateBadgeResult")]
CreateStreakResult = Annotated[Streak | UserError, strawberry.union("CreateStreakResult")]


@strawberry.type
class LevelMap:
    levels: list[LevelStep]


SetLevelMapResult = Annotated[LevelMap | UserError, strawberry.union("SetLevelMapResult")]


async def create_badge(info: Info[Any, None], input: CreateBadgeInput) -> CreateBadgeResult:
    try:
        async with in_transaction():
            badge = await create(
                viewer=info.context.viewer, name=input.name, rule=input.rule,
                description=input.description, icon=input.icon, xp=input.xp,
            )  # fmt: skip
    except Forbidden:
        raise
    except DomainError as exc:
        return user_error(exc)
    return BadgeDefinition(
        id=strawberry.ID(str(badge.id)), name=badge.name, description=badge.description,
        icon=badge.icon, rule=badge.rule, xp=badge.xp,
    )  # fmt: skip


async def set_level_map(info: Info[Any, None], levels: list[LevelInput]) -> SetLevelMapResult:
    wanted = [Level(i + 1, lv.name, lv.xp_required, lv.reward) for i, lv in enumerate(levels)]
    try:
        async with in_transaction():
            stored = await replace_levels(viewer=info.context.viewer, levels=wanted)
    except Forbidden:
        raise
    except DomainError as exc:
        return user_error(exc)
    return LevelMap(
        levels=[
            LevelStep(
                number=lv.number,
                name=lv.name,
                xp_required=lv.xp_required,
                reward=lv.reward,
                unlocked=False,
            )  # fmt: skip
            for lv in stored
        ]
    )


async def create_streak(info: Info[Any, None], input: CreateStreakInput) -> CreateStreakResult:
    try:
        async with in_transaction():
            streak = await create_streak_definition(
                viewer=info.context.viewer, name=input.name, rule=input.rule, unit=input.unit,
                period_kind=input.period_kind,
            )  # fmt: skip
    except Forbidden:
        raise
    except DomainError as exc:
        return user_error(exc)
    return Streak(id=strawberry.ID(str(streak.id)), name=streak.name, current=0, longest=0)
