"""Quarter and year boards of monthly results, on real PostgreSQL and Redis: a quarter board
ranks the sum of its months (money exact, attainment as the quarter's bookings over the
quarter's quota, not the mean of the monthly percentages), a year board the sum of its
months; a recompute of one month moves them through the workers' after-recompute hook, and
`rebuild-cache` (`rebuild_all`) writes exactly what the live updates wrote."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from redis.asyncio import Redis

from domain.kit.clock import utc_now
from domain.kit.errors import InvalidInput
from domain.kit.periods import Period, period_containing
from domain.targets.service import engine_periods
from domain.tenants.models import Tenant
from gamification.leaderboards.service import (
    board_view,
    create_leaderboard,
    rebuild_all,
    rebuild_board,
)
from gamification.leaderboards.store import BoardStore
from tests.api.graphql import helpers as h
from workers.tasks.leaderboards import update_leaderboards_of

pytestmark = pytest.mark.usefixtures("db")

# (bookings, quota) of each month of the current quarter: ana sells 100 %, 0 %, 100 % of
# quotas 10,000, 30,000, 10,000 (20,000 of 50,000: 40 %, though the mean of her months is
# 66.7 %), ben 50 % of 10,000 every month (15,000 of 30,000: 50 %)
MONTHS = {
    "ana": (("10000", "10000"), (None, "30000"), ("10000", "10000")),
    "ben": (("5000", "10000"), ("5000", "10000"), ("5000", "10000")),
}
# the AE plan pays 2 % up to half the quota, 5 % from half to all of it, 1,000 at 100 % and
# a 1 % spiff: ana 1,450.00 in each of months 1 and 3 (100 + 250 + 1,000 + 100), nothing in
# month 2, ben 150.00 a month (100 + 50)
EARNED = {"ana": Decimal("2900.00"), "ben": Decimal("450.00")}


def quarter_now() -> Period:
    return period_containing(utc_now().date(), "quarter")


def elsewhere_in_the_year(quarter: Period) -> Period:
    """A month of the quarter's year outside the quarter."""
    day = date(quarter.start.year, 12 if quarter.id.endswith("Q1") else 1, 1)
    return period_containing(day, "month")


async def world() -> dict[str, Any]:
    t = await h.tenant("acme")
    quarter = quarter_now()
    months = engine_periods(quarter, "month")
    other = elsewhere_in_the_year(quarter)
    year_start = date(quarter.start.year, 1, 1)
    version = await h.publish(t, effective_from=year_start)
    w: dict[str, Any] = {"t": t, "months": months, "other": other}
    for name, figures in MONTHS.items():
        rep = await h.person(t, name)
        await h.assign(t, version, rep, year_start)
        w[name] = rep
        for month, (booked, quota) in zip(months, figures, strict=True):
            await h.quota(t, rep, month.id, quota)
            if booked is not None:
                await h.deal(t, rep, f"{name}-{month.id}", booked, month.start)
            await h.recompute(t, rep, month.id)
    # outside the quarter, inside the year: ana books 7,000 of a 7,000 quota (a 1,315.00 month)
    await h.quota(t, w["ana"], other.id, "7000")
    await h.deal(t, w["ana"], "ana-other", "7000", other.start)
    await h.recompute(t, w["ana"], other.id)
    return w


async def board(t: Tenant, metric: str, kind: str, store: BoardStore) -> Any:
    created = await create_leaderboard(
        viewer=h.system(t), name=f"{metric} {kind}", metric=metric, period_kind=kind
    )
    await rebuild_board(store=store, board=created)
    return created


async def scores(store: BoardStore, t: Tenant, w: dict[str, Any], created: Any) -> list[Any]:
    view = await board_view(
        viewer=h.system(t), store=store, board_id=created.id, first=10, radius=0
    )
    names = {w[n].id: n for n in MONTHS}
    return [(e.rank, names[e.user_id], e.score) for e in view.entries]


async def test_given_three_months_then_the_quarter_board_ranks_their_sum(redis: Redis):
    w = await world()
    t, store = w["t"], BoardStore(redis)

    bookings = await board(t, "bookings", "quarter", store)
    attainment = await board(t, "attainment:bookings", "quarter", store)
    earnings = await board(t, "earnings", "quarter", store)
    counted = await board(t, "count:bookings", "quarter", store)

    assert await scores(store, t, w, bookings) == [
        (1, "ana", Decimal("20000.00")), (2, "ben", Decimal("15000.00"))
    ]  # fmt: skip
    # the quarter's bookings over its quota: ben's 50 % beats ana's 40 % (by the mean of the
    # monthly percentages ana's 66.7 % would lead)
    assert await scores(store, t, w, attainment) == [
        (1, "ben", Decimal("0.500000")), (2, "ana", Decimal("0.400000"))
    ]  # fmt: skip
    assert await scores(store, t, w, earnings) == [
        (1, "ana", EARNED["ana"]), (2, "ben", EARNED["ben"])
    ]  # fmt: skip
    assert await scores(store, t, w, counted) == [(1, "ben", 3), (2, "ana", 2)]


async def test_given_a_year_board_then_it_ranks_the_sum_of_the_years_months(redis: Redis):
    w = await world()
    t, store = w["t"], BoardStore(redis)

    bookings = await board(t, "bookings", "year", store)
    earnings = await board(t, "earnings", "year", store)

    assert await scores(store, t, w, bookings) == [
        (1, "ana", Decimal("27000.00")), (2, "ben", Decimal("15000.00"))
    ]  # fmt: skip
    # 7,000 of 7,000: 70 + 175 + 1,000 + a 70 spiff
    assert await scores(store, t, w, earnings) == [
        (1, "ana", EARNED["ana"] + Decimal("1315.00")), (2, "ben", EARNED["ben"])
    ]  # fmt: skip


async def test_given_a_change_in_month_two_then_the_quarter_board_moves_live_as_rebuilt(
    redis: Redis,
):
    w = await world()
    t, store = w["t"], BoardStore(redis)
    boards = [
        await board(t, metric, kind, store)
        for metric in ("bookings", "attainment:bookings", "earnings")
        for kind in ("month", "quarter", "year")
    ]
    month_two = w["months"][1]

    # ben books 20,000 more in month 2: 25,000 of its 10,000 quota
    await h.deal(t, w["ben"], "ben-big", "20000", month_two.start)
    await h.recompute(t, w["ben"], month_two.id)
    changed = await update_leaderboards_of(
        {"redis": redis}, tenant_id=t.id, pairs=[(w["ben"].id, month_two.id)]
    )

    assert changed == 9  # month 2 on each month board, its quarter's and its year's
    by_name = {b.name: b for b in boards}
    assert await scores(store, t, w, by_name["bookings quarter"]) == [
        (1, "ben", Decimal("35000.00")), (2, "ana", Decimal("20000.00"))
    ]  # fmt: skip
    # 35,000 of 30,000
    assert await scores(store, t, w, by_name["attainment:bookings quarter"]) == [
        (1, "ben", Decimal("1.166667")), (2, "ana", Decimal("0.400000"))
    ]  # fmt: skip
    assert (await scores(store, t, w, by_name["bookings year"]))[0] == (
        1, "ben", Decimal("35000.00")
    )  # fmt: skip
    live = await everything(redis)

    rebuilt = await rebuild_all(store=store, tenant_id=t.id)

    assert rebuilt["bookings quarter"] == 2
    assert await everything(redis) == live


async def everything(redis: Redis) -> dict[str, list[Any]]:
    """Every board's sets as Redis holds them."""
    keys = sorted(k.decode() for k in await redis.keys("podium:board:*"))
    return {k: await redis.zrange(k, 0, -1, withscores=True) for k in keys}


async def test_given_a_quarterly_tenant_then_a_month_board_is_refused_naming_period_kind(
    redis: Redis,
):
    t = await h.tenant("acme")
    await h.publish(t, effective_from=quarter_now().start)
    await Tenant.filter(id=t.id).update(settings={**t.settings, "period_kind": "quarter"})

    with pytest.raises(InvalidInput) as refused:
        await create_leaderboard(
            viewer=h.system(t), name="Monthly", metric="bookings", period_kind="month"
        )
    assert refused.value.field == "periodKind"
    assert "stored by quarter" in refused.value.message
    year = await create_leaderboard(
        viewer=h.system(t), name="Yearly", metric="bookings", period_kind="year"
    )
    assert year.period_kind == "year"
