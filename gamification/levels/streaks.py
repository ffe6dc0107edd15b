"""Streaks on the profile: consecutive periods, or working days, meeting a tenant's rule.
Rules are badge rules (`gamification.badges.facts`); a unit still open (this period, today)
that does not meet the rule yet does not break the streak."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from tortoise import connections

from domain.earnings.models import EarningsResult
from domain.kit.clock import utc_now
from domain.kit.errors import Forbidden
from domain.kit.expressions import EvaluationError, evaluate_safely
from domain.kit.periods import period_containing
from domain.kit.text import blank, name_problem
from domain.org.models import Role
from domain.org.viewer import Viewer
from domain.tenants.repository import get_tenant
from gamification.badges.facts import PeriodFacts, env_of, facts_of
from gamification.badges.service import compile_rule
from gamification.definitions import definition_name, lock_name
from gamification.levels.errors import LevelMapError
from gamification.levels.models import Holiday, StreakDefinition
from gamification.levels.rules import Streak, streak_of, working_days

UNITS = ("period", "workday")
PERIOD_KINDS = ("month", "quarter", "year")
LOOKBACK_PERIODS = 24
LOOKBACK_DAYS = 366


@dataclass(frozen=True)
class StreakView:
    id: UUID
    name: str
    current: int
    longest: int


async def create_streak(
    *, viewer: Viewer, name: str, rule: str, unit: str, period_kind: str = "month"
) -> StreakDefinition:
    """Admins define a streak; a refusal names its field and stores nothing."""
    if viewer.role is not Role.ADMIN:
        raise Forbidden("only admins define streaks", field="input")
    tenant_id = viewer.tenant_id
    name = definition_name(name) if isinstance(name, str) else name
    if not isinstance(name, str) or blank(name) or len(name) > 100:
        raise LevelMapError("a streak needs a name of 1 to 100 characters", field="name")
    if problem := name_problem(name):
        raise LevelMapError(problem, field="name")
    if unit not in UNITS:
        raise LevelMapError(f"unit must be one of {', '.join(UNITS)}", field="unit")
    if period_kind not in PERIOD_KINDS:
        raise LevelMapError(
            f"periodKind must be one of {', '.join(PERIOD_KINDS)}", field="periodKind"
        )
    if unit == "period":
        stored = ((await get_tenant(tenant_id)).settings or {}).get("period_kind", "month")
        if period_kind != stored:
            # a streak reads each period's stored results: of another kind there are none
            raise LevelMapError(
                f"the tenant's results are stored by {stored}: a streak of periods counts "
                f"{stored}s (a streak of working days takes unit workday)",
                field="periodKind",
            )
    compile_rule(rule, new=True)
    await lock_name(tenant_id, "streak", name)
    if await StreakDefinition.filter(tenant_id=tenant_id, name=name).exists():
        raise LevelMapError(f"a streak named {name!r} exists already", field="name")
    return await StreakDefinition.create(
        id=uuid4(), tenant_id=tenant_id, name=name, rule=rule, unit=unit, period_kind=period_kind
    )


async def add_holidays(*, viewer: Viewer, days: list[date]) -> None:
    if viewer.role is not Role.ADMIN:
        raise Forbidden("only admins set holidays", field="days")
    tenant_id = viewer.tenant_id
    existing = set(await Holiday.filter(tenant_id=tenant_id).values_list("day", flat=True))
    await Holiday.bulk_create(
        [Holiday(id=uuid4(), tenant_id=tenant_id, day=d) for d in sorted(set(days) - existing)]
    )


def _holds(rule: Any, facts: PeriodFacts) -> bool:
    try:
        return bool(evaluate_safely(rule, env_of(facts)))
    except EvaluationError:
        return False


async def streaks_of(
    *, tenant_id: UUID, user_id: UUID, today: date | None = None
) -> list[StreakView]:
    if today is None:  # the tenant's day: a deal's date, and the day under way, are its
        zone = (await get_tenant(tenant_id)).time_zone or "UTC"
        today = utc_now().astimezone(ZoneInfo(zone)).date()
    out = []
    for definition in await StreakDefinition.filter(tenant_id=tenant_id).order_by("name"):
        rule = compile_rule(definition.rule)
        if definition.unit == "period":
            streak = await _period_streak(tenant_id, user_id, rule, definition.period_kind, today)
        else:
            streak = await _day_streak(tenant_id, user_id, rule, today)
        out.append(StreakView(definition.id, definition.name, streak.current, streak.longest))
    return out


async def _period_streak(
    tenant_id: UUID, user_id: UUID, rule: Any, kind: str, today: date
) -> Streak:
    period = period_containing(today, kind)  # type: ignore[arg-type]
    periods = [period]
    for _ in range(LOOKBACK_PERIODS - 1):
        periods.append(periods[-1].previous())
    periods.reverse()
    rows = await EarningsResult.filter(
        tenant_id=tenant_id, user_id=user_id, period__in=[p.id for p in periods]
    )
    flags = []
    for i, p in enumerate(periods):
        history = {q.id: [r for r in rows if r.period == q.id] for q in reversed(periods[:i])}
        flags.append(_holds(rule, facts_of([r for r in rows if r.period == p.id], history)))
    return _closed(flags, last_is_open=True)


async def _day_streak(tenant_id: UUID, user_id: UUID, rule: Any, today: date) -> Streak:
    start = today - timedelta(days=LOOKBACK_DAYS)
    rows = await connections.get("default").execute_query_dict(
        """
        SELECT date, COUNT(*)::int AS deals FROM transactions
        WHERE tenant_id = $1 AND credited_user_ids ?| ARRAY[$2::text] AND NOT deleted
          AND date >= $3 AND date <= $4
        GROUP BY date
        """,
        [tenant_id, str(user_id), start, today],
    )
    deals = {r["date"]: r["deals"] for r in rows}
    holidays = await Holiday.filter(tenant_id=tenant_id).values_list("day", flat=True)
    days = working_days(start, today, holidays)
    flags = [
        _holds(rule, PeriodFacts(counts={"deals": Decimal(deals.get(day, 0))})) for day in days
    ]
    return _closed(flags, last_is_open=bool(days) and days[-1] == today)


def _closed(flags: list[bool], *, last_is_open: bool) -> Streak:
    """An open last unit (this period, today) that is unmet neither counts nor breaks it."""
    if last_is_open and flags and not flags[-1]:
        flags = flags[:-1]
    return streak_of(flags)
