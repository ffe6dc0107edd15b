from datetime import date, timedelta

from domain.kit.clock import utc_now
from gamification.levels.rules import Level, day_streak, level_of, streak_of
from gamification.levels.service import grant_xp, reverse_xp, xp_of, xp_totals
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
    today = utc_now().date()
    totals = await xp_totals(tenant_id=tenant.id, user_ids=[ana.id], start=today, end=today)
    assert totals == {ana.id: 0}
