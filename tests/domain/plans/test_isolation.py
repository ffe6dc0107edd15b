"""Plans, versions, assignments and quotas of another tenant are never found, whoever asks
and whatever ids they guess."""

from __future__ import annotations

from datetime import date

import pytest

from domain.kit.errors import NotFound
from domain.org.models import Role
from domain.plans.repository import PlanRepository
from tests.domain.builders import (
    assign,
    make_tenant,
    make_user,
    publish_plan,
    set_quota,
    system_viewer,
    viewer_of,
)


@pytest.mark.parametrize("role", [Role.REP, Role.MANAGER, Role.ADMIN, Role.PAYOUT_OPS, None])
async def test_given_ids_of_another_tenant_when_guessed_then_not_found_and_never_listed(
    db: str, role: Role | None
):
    acme, globex = await make_tenant(slug="acme"), await make_tenant(slug="globex")
    foreign_rep = await make_user(tenant=globex, external_id="ana")
    foreign_version = await publish_plan(tenant=globex)
    foreign_assignment = await assign(user=foreign_rep, plan=foreign_version)
    await set_quota(user=foreign_rep, value="100")
    await publish_plan(tenant=acme, effective_from="2026-12-01")
    if role is None:
        viewer = system_viewer(acme)
    else:
        viewer = viewer_of(await make_user(tenant=acme, external_id="me", role=role))
    repo = PlanRepository(viewer)

    with pytest.raises(NotFound):
        await repo.plan(foreign_version.plan_id)
    with pytest.raises(NotFound):
        await repo.version(foreign_version.id)
    with pytest.raises(NotFound):
        await repo.assignment(foreign_assignment.id)
    with pytest.raises(NotFound):
        await repo.assignments_of(foreign_rep.id)
    assert await repo.versions(foreign_version.plan_id) == []
    assert await repo.latest_version(foreign_version.plan_id) is None
    assert await repo.version_on(foreign_version.plan_id, date(2026, 10, 1)) is None
    assert await repo.versions_by_id([foreign_version.id]) == {}
    assert await repo.assignees(foreign_version.plan_id) == []
    assert await repo.quotas([foreign_rep.id], "2026-10") == []
    assert await repo.quota(foreign_rep.id, "bookings", "2026-10") is None
    own = await repo.plan_by_key("ae")
    if role is Role.REP:  # a rep reads only plans they are on
        assert own is None
        assert await repo.plans() == []
    else:
        assert own is not None
        assert own.tenant_id == acme.id
        assert [p.tenant_id for p in await repo.plans()] == [acme.id]
