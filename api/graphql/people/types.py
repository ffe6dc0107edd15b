"""A rep as seen by someone allowed to see them, and the viewer themselves."""

from __future__ import annotations

from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.graphql.earnings.types import (
    Earnings,
    EarningsPoint,
    QuotaProgress,
    WhatIf,
    earnings_of,
    first_attainment,
    quota_progress_of,
)
from api.graphql.gamification.badges.types import Badge, my_badges
from api.graphql.gamification.leaderboards.types import Standing, standings
from api.graphql.gamification.levels.types import (
    Level,
    LevelStep,
    Streak,
    my_level,
    my_level_map,
    my_streaks,
)
from api.graphql.money import Money, money
from api.graphql.notifications.queries import notifications
from api.graphql.notifications.types import Notification
from api.graphql.plans.types import PlanAssignment
from api.graphql.relay import Connection, page_size
from api.graphql.statements.types import Statement, statements_of
from api.graphql.targets.queries import allocations_to_do, allocations_to_validate, my_targets
from api.graphql.targets.types import Target
from domain.earnings.models import EarningsResult
from domain.earnings.repository import EarningsRepository
from domain.earnings.service import what_if
from domain.kit.errors import InvalidInput, PeriodError
from domain.kit.periods import Period, parse_period
from domain.org.models import User
from domain.org.team import team_of
from domain.plans.repository import PlanRepository

MAX_HISTORY = 36


@strawberry.enum
class Role(Enum):
    REP = "rep"
    MANAGER = "manager"
    ADMIN = "admin"
    PAYOUT_OPS = "payout_ops"


MAX_PERIOD_CHARS = 16


def period_argument(text: str) -> Period:
    """A `period` argument: the parser's refusal, typed (PeriodError) or not (a year 0 is a
    ValueError of `date`), is the client's BAD_USER_INPUT naming the argument."""
    if len(text) > MAX_PERIOD_CHARS:  # refused without echoing it back
        raise PeriodError(
            f"{text[:MAX_PERIOD_CHARS]!r}... is not a period id (expected 2026-10, 2026-Q4 "
            "or 2026)",
            field="period",
        )
    try:
        return parse_period(text)
    except PeriodError:
        raise
    except (ValueError, OverflowError):
        raise PeriodError(f"{text[:40]!r} is not a period id", field="period") from None


async def _period_id(info: Info[Any, None], period: str | None) -> str:
    if period is None:
        return (await info.context.current_period()).id
    return period_argument(period).id


async def _results(info: Info[Any, None], user: User, period: str) -> list[EarningsResult]:
    results: list[EarningsResult] = await info.context.loaders.results.load((user.id, period))
    return results


@strawberry.type(description="A person whose numbers the viewer may see.")
class Rep:
    id: strawberry.ID
    display_name: str
    avatar_url: str | None
    user: strawberry.Private[User]

    @classmethod
    def of(cls, user: User) -> Rep:
        return cls(
            id=strawberry.ID(str(user.id)),
            display_name=user.display_name,
            avatar_url=user.avatar_url,
            user=user,
        )

    @strawberry.field(description="Earnings in a period (left out: the current period).")
    async def earnings(self, info: Info[Any, None], period: str | None = None) -> Earnings:
        period_id = await _period_id(info, period)
        tenant = await info.context.tenant()
        return earnings_of(
            self.user.id,
            period_id,
            await _results(info, self.user, period_id),
            default_currency=tenant.currency,
            locale=info.context.locale,
        )

    @strawberry.field
    async def quota_progress(
        self, info: Info[Any, None], period: str | None = None
    ) -> list[QuotaProgress]:
        period_id = await _period_id(info, period)
        return quota_progress_of(await _results(info, self.user, period_id))

    @strawberry.field(description="Earnings of the last `last` periods (0 to 36), oldest first.")
    async def earnings_history(
        self, info: Info[Any, None], last: int | None = 12
    ) -> list[EarningsPoint]:
        last = page_size(last, 12, name="last", maximum=MAX_HISTORY)
        rows = await EarningsRepository(info.context.viewer).history(self.user.id, last)
        return [EarningsPoint.of(row, info.context.locale) for row in rows]

    @strawberry.field(description="This person's statements in force, newest period first.")
    async def statements(
        self, info: Info[Any, None], first: int | None = 12, after: str | None = None
    ) -> Connection[Statement]:
        return await statements_of(info, self.user.id, first, after)

    @strawberry.field(description="Plans offered to or accepted by this person.")
    async def plans(self, info: Info[Any, None]) -> list[PlanAssignment]:
        assignments = await PlanRepository(info.context.viewer).assignments_of(self.user.id)
        return [PlanAssignment.of(a) for a in assignments]


@strawberry.type(description="A member of the viewer's team with their numbers in a period.")
class TeamMember:
    rep: Rep
    total: Money
    payable: Money
    attainment: Decimal | None


@strawberry.type(description="The signed-in person.")
class Me(Rep):
    locale: str
    role: Role
    standings: list[Standing] = strawberry.field(
        resolver=standings, description="The viewer's rank on each board they are on."
    )
    notifications: Connection[Notification] = strawberry.field(
        resolver=notifications, description="The viewer's inbox, newest first."
    )
    level: Level = strawberry.field(resolver=my_level, description="The viewer's level and XP.")
    level_map: list[LevelStep] = strawberry.field(
        resolver=my_level_map, description="The tenant's levels, which the viewer unlocked."
    )
    badges: Connection[Badge] = strawberry.field(
        resolver=my_badges, description="The viewer's badges, newest first, revoked ones marked."
    )
    streaks: list[Streak] = strawberry.field(
        resolver=my_streaks, description="The viewer's streaks, current and longest."
    )
    targets: list[Target] = strawberry.field(
        resolver=my_targets, description="The viewer's published targets (of `period`, or all)."
    )
    allocations_to_do: list[Target] = strawberry.field(
        resolver=allocations_to_do,
        description="Managers: targets received and still to split among direct reports.",
    )
    allocations_to_validate: list[Target] = strawberry.field(
        resolver=allocations_to_validate,
        description="Managers (people below them) and admins: proposed allocations to validate.",
    )

    @classmethod
    def of(cls, user: User, locale: str) -> Me:  # type: ignore[override]
        return cls(
            id=strawberry.ID(str(user.id)),
            display_name=user.display_name,
            avatar_url=user.avatar_url,
            user=user,
            locale=locale,
            role=Role(user.role.value),
        )

    @strawberry.field(description="The period id containing today, e.g. 2026-10.")
    async def current_period(self, info: Info[Any, None]) -> str:
        return (await info.context.current_period()).id

    @strawberry.field(description="Managers: their reports, transitively. Admins: everyone.")
    async def team(self, info: Info[Any, None], period: str | None = None) -> list[TeamMember]:
        context = info.context
        period_id = await _period_id(info, period)
        members = await team_of(context.viewer)
        tenant = await context.tenant()
        results = await context.loaders.results.load_many([(m.id, period_id) for m in members])
        team = []
        for member, found in zip(members, results, strict=True):
            earnings = earnings_of(
                member.id, period_id, found, default_currency=tenant.currency, locale=context.locale
            )
            team.append(
                TeamMember(
                    rep=Rep.of(member),
                    total=earnings.total,
                    payable=earnings.payable,
                    attainment=first_attainment(found),
                )
            )
        return team

    @strawberry.field(
        description="Runs the viewer's plans on their data plus one hypothetical "
        "transaction this period, storing nothing."
    )
    async def what_if(
        self,
        info: Info[Any, None],
        amount: Decimal,
        type: str | None = "deal",
        fields: JSON | None = None,
    ) -> WhatIf:
        if fields is not None and not isinstance(fields, dict):
            raise InvalidInput("fields is a JSON object", field="fields")
        result = await what_if(
            viewer=info.context.viewer, amount=amount, type=type or "deal", fields=fields
        )
        return WhatIf.of(result, info.context.locale)


__all__ = ["Me", "Rep", "Role", "TeamMember", "money"]
