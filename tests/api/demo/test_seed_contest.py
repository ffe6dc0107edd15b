"""The demo's live contest: the north team's deal sprint, ranked from the seeded deals."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tortoise.transactions import in_transaction

from api.demo.seed import seed_demo
from domain.org.models import User
from domain.org.viewer import Viewer
from gamification.contests import service
from gamification.contests.errors import ContestError
from gamification.contests.models import Contest, ContestStatus


async def test_given_the_demo_then_a_live_contest_with_standings_for_a_north_rep(db: str):
    async with in_transaction():
        summary = await seed_demo()
    contest = await Contest.get(tenant_id=summary.tenant.id)
    assert contest.status == ContestStatus.LIVE
    rep = await User.get(tenant_id=summary.tenant.id, external_id="rep-north-01")
    viewer = Viewer(tenant_id=rep.tenant_id, user_id=rep.id, role=rep.role)
    assert [c.id for c in await service.visible_contests(viewer=viewer)] == [contest.id]
    placed = await service.current_standings(contest)
    assert str(rep.id) in {p.key for p in placed}
    assert placed[0].rank == 1
    assert placed[0].score > 0
    south = await User.get(tenant_id=summary.tenant.id, external_id="rep-south-01")
    outsider = Viewer(tenant_id=south.tenant_id, user_id=south.id, role=south.role)
    assert await service.visible_contests(viewer=outsider) == []


async def test_given_the_demo_then_the_readme_measure_contests_launch_or_are_refused(db: str):
    async with in_transaction():
        summary = await seed_demo()
    manager = await User.get(tenant_id=summary.tenant.id, external_id="mgr-north")
    viewer = Viewer(tenant_id=manager.tenant_id, user_id=manager.id, role=manager.role)
    window = {
        "starts_at": datetime(2030, 1, 7, 8, tzinfo=UTC),
        "ends_at": datetime(2030, 1, 12, 18, tzinfo=UTC),
        "prizes": [{"rank": 1, "description": "Dinner", "amount": "80.00"}],
    }

    energy = await service.launch_contest(
        viewer=viewer, name="Energy week", metric="measure:energy_contracts", **window
    )
    with pytest.raises(ContestError) as refused:
        await service.launch_contest(
            viewer=viewer, name="Bookings week", metric="measure:bookings", **window
        )

    assert energy.metric == "measure:energy_contracts"
    assert await service.standings(energy)  # its participants, scored from the lines
    assert refused.value.field == "metric"
    assert "per-deal lines" in refused.value.message
