"""The demo's leaderboards: three boards of the current month, filled from the seeded results
and XP when `podium dev` starts (`_fill_boards`), ranked and readable by a rep of the team."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis
from tortoise.transactions import in_transaction

from api.demo.devserver import _fill_boards
from api.demo.seed import seed_demo
from domain.org.models import User
from domain.org.viewer import Viewer
from gamification.leaderboards.models import Leaderboard
from gamification.leaderboards.service import board_view, standings
from gamification.leaderboards.store import BoardStore
from gamification.levels.service import xp_of


async def test_given_the_demo_then_three_boards_ranked_from_the_seeded_month(
    db: str, redis_url: str, redis: Redis, monkeypatch: pytest.MonkeyPatch
):
    async with in_transaction():
        summary = await seed_demo()  # today's month: the boards rank the current period
    monkeypatch.setenv("REDIS_URL", redis_url)

    await _fill_boards(summary.tenant.id)

    boards = {b.name: b for b in await Leaderboard.filter(tenant_id=summary.tenant.id)}
    assert set(boards) == {"Bookings this month", "North: quota attainment", "XP this month"}
    rep = await User.get(tenant_id=summary.tenant.id, external_id="rep-north-01")
    viewer = Viewer(tenant_id=rep.tenant_id, user_id=rep.id, role=rep.role)
    store = BoardStore(redis)
    whole = await board_view(
        viewer=viewer, store=store, board_id=boards["Bookings this month"].id, first=10, radius=2
    )
    assert len(whole.entries) == 10
    assert [e.rank for e in whole.entries] == sorted(e.rank for e in whole.entries)
    assert whole.entries[0].rank == 1
    assert any(e.user_id == rep.id for e in whole.around_me)
    mine = await standings(viewer=viewer, store=store)
    assert {s.board.name for s in mine} == set(boards)
    north = next(s for s in mine if s.board.name == "North: quota attainment")
    tenant_wide = next(s for s in mine if s.board.name == "Bookings this month")
    assert 1 < north.of < tenant_wide.of  # the north team only, not the tenant
    # the seeded XP was all written today (the workers' step run over the seeded months)
    xp = next(s for s in mine if s.board.name == "XP this month")
    assert xp.score == await xp_of(tenant_id=rep.tenant_id, user_id=rep.id) > 0
