from datetime import date, timedelta
from decimal import Decimal

import pytest

from domain.crm.models import Transaction
from domain.earnings.service import recompute_rep_period
from domain.kit.clock import utc_now
from domain.notifications.models import Notification, NotificationKind
from gamification.badges.service import after_recompute
from gamification.levels.models import XpEntry
from gamification.levels.rules import Level, day_streak, level_of, streak_of
from gamification.levels.service import grant_xp, reverse_xp, set_level_map, xp_earned, xp_of
from tests.domain.builders import (
    assign,
    make_tenant,
    make_transaction,
    make_user,
    publish_plan,
    set_quota,
    system_viewer,
)
from tests.domain.notifications.plans import AE_PLAN


def test_level_of_and_streaks() -> None:
    levels = [Level(1, "Rookie", 0), Level(2, "Pro", 100), Level(3, "Legend", 500)]
    assert level_of(99, levels).number == 1
    assert level_of(99, levels).next_level_xp == 100
    assert level_of(500, levels).next_level_xp is None
    s = streak_of([True, True, False, True, True, True])
    assert (s.current, s.longest) == (3, 3)
    # Fri, (weekend), Mon holiday, Tue: three working-day units, two of them days
    fri = date(2026, 10, 2)
    st = day_streak(fri, fri + timedelta(days=4), lambda d: True, holidays=[date(2026, 10, 5)])
    assert (st.current, st.longest) == (2, 2)


async def test_grant_is_idempotent_and_reversible(db: str) -> None:
    tenant = await make_tenant(slug="xp")
    ana = await make_user(tenant=tenant, external_id="ana")
    args = {"tenant_id": tenant.id, "user_id": ana.id, "source": "deal:t1", "reason": "won"}
    assert await grant_xp(points=50, **args) is True
    assert await grant_xp(points=50, **args) is False  # a replayed event
    assert await xp_of(tenant_id=tenant.id, user_id=ana.id) == 50
    assert await reverse_xp(**args) is True
    assert await reverse_xp(**args) is False
    assert await xp_of(tenant_id=tenant.id, user_id=ana.id) == 0


async def test_given_grants_and_a_reversal_then_xp_earned_counts_what_stands_in_the_window(
    db: str,
) -> None:
    tenant = await make_tenant(slug="xp-earned")
    ana = await make_user(tenant=tenant, external_id="ana")
    bob = await make_user(tenant=tenant, external_id="bob")
    start = utc_now()
    for user, source, points in ((ana, "deal:t1", 10), (ana, "deal:t2", 10), (bob, "badge:b", 25)):
        await grant_xp(
            tenant_id=tenant.id, user_id=user.id, source=source, points=points, reason=""
        )
    await reverse_xp(tenant_id=tenant.id, user_id=ana.id, source="deal:t1", reason="deleted")
    end = utc_now() + timedelta(seconds=1)

    earned = await xp_earned(tenant_id=tenant.id, start=start, end=end)
    only_ana = await xp_earned(tenant_id=tenant.id, start=start, end=end, user_ids=[ana.id])
    before = await xp_earned(tenant_id=tenant.id, start=start - timedelta(days=1), end=start)

    # the reversed deal and its reversal both leave; the other entries stand
    assert {u: e.points for u, e in earned.items()} == {ana.id: 10, bob.id: 25}
    assert list(only_ana) == [ana.id]
    assert start <= earned[ana.id].last_at < end
    assert before == {}


async def test_given_thresholds_and_tiers_reached_then_xp_once_each_reversed_when_no_longer_reached(
    db: str,
) -> None:
    tenant = await make_tenant(slug="xp-thresholds")
    ana = await make_user(tenant=tenant, external_id="ana")
    version = await publish_plan(tenant=tenant, document=AE_PLAN)
    await assign(user=ana, plan=version)
    await set_quota(user=ana, value="1000")
    await set_level_map(
        viewer=system_viewer(tenant), levels=[Level(1, "Rookie", 0), Level(2, "Closer", 30)]
    )
    pair = (ana.id, "2026-10")

    async def step() -> dict[str, int]:
        await recompute_rep_period(viewer=system_viewer(tenant), user_id=ana.id, period="2026-10")
        await after_recompute(tenant_id=tenant.id, pairs=[pair])
        rows = await XpEntry.filter(tenant_id=tenant.id, user_id=ana.id).values_list(
            "source", "points"
        )
        return dict(rows)

    await make_transaction(rep=ana, external_id="d1", amount="600")  # 60%
    first = await step()
    await make_transaction(rep=ana, external_id="d2", amount="500")  # 110%
    second = await step()
    await step()  # a replayed batch writes nothing
    await Transaction.filter(tenant_id=tenant.id, external_id="d2").update(deleted=True)  # 60%
    third = await step()

    reached = "threshold:attainment:2026-10:bookings:"
    tier = "threshold:tier:2026-10:ae:commission:"  # AE_PLAN's tiers: from 50% and 100%
    assert first == {"deal:d1": 10, f"{reached}50": 25, f"{tier}2": 25}
    assert {s: p for s, p in second.items() if s not in first} == {
        "deal:d2": 10,
        f"{reached}80": 25,
        f"{reached}100": 25,
        f"{tier}3": 25,
    }
    assert {s: p for s, p in third.items() if s not in second} == {
        "deal:d2:reversed": -10,
        f"{reached}80:reversed": -25,
        f"{reached}100:reversed": -25,
        f"{tier}3:reversed": -25,
    }
    assert await xp_of(tenant_id=tenant.id, user_id=ana.id) == 60
    # the threshold's XP took her to level 2 in the first step: told once
    told = await Notification.filter(user_id=ana.id, kind=NotificationKind.LEVEL).count()
    assert told == 1


def test_given_a_streak_rule_failing_for_a_unit_then_that_unit_does_not_meet_it() -> None:
    from gamification.badges.facts import PeriodFacts
    from gamification.badges.service import compile_rule
    from gamification.levels.streaks import _holds

    rule = compile_rule("10 / deals >= 1")  # no deals: division by zero, not a crash

    assert _holds(rule, PeriodFacts()) is False
    assert _holds(rule, PeriodFacts(counts={"bookings": Decimal(2)})) is True


async def test_given_a_day_streak_then_today_is_the_tenants_day(db, monkeypatch) -> None:
    # Friday 20:00 in Chicago is Saturday 02:00 UTC: the streak took Saturday for today, so
    # Friday, still under way there and without a deal yet, counted as a day missed and the
    # four days' streak showed 0 every evening
    from datetime import UTC, datetime

    from gamification.levels import streaks

    tenant = await make_tenant(time_zone="America/Chicago")
    ana = await make_user(tenant=tenant, external_id="ana")
    for day in (9, 10, 11, 12):  # Monday 9 to Thursday 12 November 2026
        await make_transaction(rep=ana, external_id=f"d{day}", amount="10", on=f"2026-11-{day:02d}")
    await streaks.create_streak(
        viewer=system_viewer(tenant), name="Daily deal", rule="deals >= 1", unit="workday"
    )
    monkeypatch.setattr(streaks, "utc_now", lambda: datetime(2026, 11, 14, 2, tzinfo=UTC))

    [found] = await streaks.streaks_of(tenant_id=tenant.id, user_id=ana.id)

    assert (found.current, found.longest) == (4, 4)


async def test_given_concurrent_level_maps_then_each_replaces_the_map_in_turn(db) -> None:
    # a double-submitted setLevelMap: both deleted the map, then the second's insert hit
    # the first's levels (unique number) and answered a 500
    import asyncio

    from tortoise.transactions import in_transaction

    from gamification.levels.models import LevelDefinition

    tenant = await make_tenant()

    async def once(name: str) -> None:
        async with in_transaction():
            await set_level_map(
                viewer=system_viewer(tenant), levels=[Level(1, name, 0), Level(2, "Pro", 100)]
            )

    await asyncio.gather(*(once(f"Rookie {i}") for i in range(6)))

    assert await LevelDefinition.filter(tenant_id=tenant.id).count() == 2


async def test_given_a_monthly_tenant_then_a_quarter_streak_is_refused_naming_period_kind(
    db,
) -> None:
    # results are stored by month: a streak of quarters read the results of 2026-Q4,
    # 2026-Q3, ... and found none, so it stayed at 0 whatever the rep sold
    import pytest

    from gamification.levels import streaks
    from gamification.levels.errors import LevelMapError
    from gamification.levels.models import StreakDefinition

    tenant = await make_tenant()
    for kind in ("quarter", "year"):
        with pytest.raises(LevelMapError) as refused:
            await streaks.create_streak(
                viewer=system_viewer(tenant), name=f"On quota each {kind}",
                rule="attainment >= 1", unit="period", period_kind=kind,
            )  # fmt: skip
        assert refused.value.field == "periodKind"
        assert "stored by month" in refused.value.message
    assert await StreakDefinition.filter(tenant_id=tenant.id).count() == 0
    monthly = await streaks.create_streak(
        viewer=system_viewer(tenant), name="On quota", rule="attainment >= 1", unit="period"
    )
    assert monthly.period_kind == "month"


@pytest.mark.parametrize(
    ("levels", "field", "says"),
    [
        # a negative threshold was refused as "xpRequired must rise from level to level"
        ([Level(1, "Rookie", -5), Level(2, "Pro", 10)], "levels[0]", "0 to 2147483647"),
        ([Level(1, "Rookie", 0), Level(2, "Pro", 2**31)], "levels[1]", "0 to 2147483647"),
        ([Level(1, "Rookie", 10), Level(2, "Pro", 5)], "levels[1]", "rise"),
        # two levels of one name: the level map and a rep's level read the same twice
        ([Level(1, "Rookie", 0), Level(2, " Rookie", 10)], "levels[1]", "'Rookie' twice"),
        # a reward is shown on one line of the level map, as the name
        ([Level(1, "Rookie", 0, "a\nb")], "levels[0]", "control character"),
    ],
)
async def test_given_a_bad_level_map_then_refused_naming_the_level_and_nothing_stored(
    db, levels, field, says
) -> None:
    from gamification.levels.errors import LevelMapError
    from gamification.levels.models import LevelDefinition

    tenant = await make_tenant()
    with pytest.raises(LevelMapError) as refused:
        await set_level_map(viewer=system_viewer(tenant), levels=levels)

    assert refused.value.field == field
    assert says in refused.value.message
    assert await LevelDefinition.filter(tenant_id=tenant.id).count() == 0
