from datetime import date, timedelta

from domain.kit.clock import utc_now
from gamification.levels.rules import Level, day_streak, level_of, streak_of
from gamification.levels.service import grant_xp, reverse_xp, xp_earned, xp_of
from tests.domain.builders import make_tenant, make_user


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
