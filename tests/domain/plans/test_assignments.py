"""Plan assignments: offered by an admin or the rep's manager, accepted by the rep only."""

from __future__ import annotations

from datetime import date

import pytest

from domain.audit.models import AuditEntry
from domain.kit.errors import Conflict, Forbidden, InvalidInput, NotFound
from domain.org.models import Role
from domain.plans.models import AssignmentStatus, PlanAssignment
from domain.plans.repository import PlanRepository
from domain.plans.service import accept_plan, assign_plan
from tests.domain.builders import (
    assign,
    make_org,
    make_tenant,
    make_user,
    plan_yaml,
    publish_plan,
    system_viewer,
    viewer_of,
)

TEAM = {"boss": None, "ana": "boss", "ben": "boss", "other_boss": None, "cara": "other_boss"}


async def test_given_admin_when_plan_offered_then_assignment_offered_with_dates_and_audited(
    db: str,
):
    tenant = await make_tenant()
    org = await make_org(tenant=tenant, managers=TEAM)
    admin = await make_user(tenant=tenant, external_id="root", role=Role.ADMIN)
    version = await publish_plan(tenant=tenant)

    assignment = await assign_plan(
        viewer=viewer_of(admin),
        plan_id=str(version.plan_id),
        user_id=str(org["ana"].id),
        effective_from=date(2026, 10, 1),
        effective_to=date(2026, 12, 31),
    )

    stored = await PlanAssignment.get(id=assignment.id)
    assert (stored.status, stored.user_id, stored.plan_id) == (
        AssignmentStatus.OFFERED,
        org["ana"].id,
        version.plan_id,
    )
    assert (stored.effective_from, stored.effective_to, stored.accepted_at) == (
        date(2026, 10, 1),
        date(2026, 12, 31),
        None,
    )
    assert stored.offered_at.tzinfo is not None
    [entry] = await AuditEntry.filter(action="assignment.offered")
    assert (entry.entity_id, entry.actor_id, entry.before) == (str(assignment.id), admin.id, None)
    assert entry.after["status"] == "offered"  # type: ignore[index]
    assert entry.after["effective_to"] == "2026-12-31"  # type: ignore[index]


async def test_given_offered_plan_when_rep_accepts_then_accepted_with_time_and_audited(db: str):
    tenant = await make_tenant()
    org = await make_org(tenant=tenant, managers=TEAM)
    version = await publish_plan(tenant=tenant)
    offered = await assign(user=org["ana"], plan=version)

    accepted = await accept_plan(viewer=viewer_of(org["ana"]), assignment_id=str(offered.id))

    stored = await PlanAssignment.get(id=offered.id)
    assert stored.status is AssignmentStatus.ACCEPTED
    assert stored.accepted_at is not None
    assert stored.accepted_at.tzinfo is not None
    assert accepted.plan.name == "Plan ae"  # the plan is fetched for the API
    [entry] = await AuditEntry.filter(action="assignment.accepted")
    assert (entry.actor_id, entry.entity_id) == (org["ana"].id, str(offered.id))
    assert entry.before["status"] == "offered"  # type: ignore[index]
    assert entry.after["status"] == "accepted"  # type: ignore[index]
    assert entry.after["accepted_at"] is not None  # type: ignore[index]


@pytest.mark.parametrize("who", ["ben", "boss", "root"])
async def test_given_plan_offered_to_ana_when_someone_else_accepts_then_forbidden(
    db: str, who: str
):
    tenant = await make_tenant()
    org = await make_org(tenant=tenant, managers=TEAM)
    org.people["root"] = await make_user(tenant=tenant, external_id="root", role=Role.ADMIN)
    offered = await assign(user=org["ana"], plan=await publish_plan(tenant=tenant))

    with pytest.raises(Forbidden):
        await accept_plan(viewer=viewer_of(org[who]), assignment_id=offered.id)

    assert (await PlanAssignment.get(id=offered.id)).status is AssignmentStatus.OFFERED


async def test_given_system_viewer_when_accepting_then_forbidden(db: str):
    tenant = await make_tenant()
    ana = await make_user(tenant=tenant, external_id="ana")
    offered = await assign(user=ana, plan=await publish_plan(tenant=tenant))

    with pytest.raises(Forbidden):
        await accept_plan(viewer=system_viewer(tenant), assignment_id=offered.id)


async def test_given_accepted_plan_when_accepted_again_then_conflict(db: str):
    tenant = await make_tenant()
    ana = await make_user(tenant=tenant, external_id="ana")
    offered = await assign(user=ana, plan=await publish_plan(tenant=tenant), accepted=True)

    with pytest.raises(Conflict):
        await accept_plan(viewer=viewer_of(ana), assignment_id=offered.id)

    assert await AuditEntry.filter(action="assignment.accepted").count() == 1


async def test_given_assignment_of_another_tenant_when_accepted_by_rep_then_not_found(db: str):
    acme, globex = await make_tenant(slug="acme"), await make_tenant(slug="globex")
    ana = await make_user(tenant=acme, external_id="ana")
    foreign_ana = await make_user(tenant=globex, external_id="ana")
    foreign = await assign(user=foreign_ana, plan=await publish_plan(tenant=globex))

    for guess in (foreign.id, str(foreign.id), "not-a-uuid"):
        with pytest.raises(NotFound):
            await accept_plan(viewer=viewer_of(ana), assignment_id=guess)

    assert (await PlanAssignment.get(id=foreign.id)).status is AssignmentStatus.OFFERED


async def test_given_end_before_start_when_plan_offered_then_invalid(db: str):
    tenant = await make_tenant()
    ana = await make_user(tenant=tenant, external_id="ana")

    with pytest.raises(InvalidInput) as caught:
        await assign(
            user=ana,
            plan=await publish_plan(tenant=tenant),
            effective_from="2026-10-10",
            effective_to="2026-10-01",
        )

    assert caught.value.field == "effectiveTo"


@pytest.mark.parametrize(
    ("start", "end", "overlaps"),
    [
        ("2026-12-01", None, True),
        ("2026-09-01", "2026-10-01", True),
        ("2026-09-01", "2026-09-30", False),
    ],
)
async def test_given_rep_on_plan_when_same_plan_offered_again_then_overlap_refused(
    db: str, start: str, end: str | None, overlaps: bool
):
    tenant = await make_tenant()
    ana = await make_user(tenant=tenant, external_id="ana")
    version = await publish_plan(tenant=tenant)
    await assign(user=ana, plan=version, effective_from="2026-10-01")

    if overlaps:
        with pytest.raises(Conflict):
            await assign(user=ana, plan=version, effective_from=start, effective_to=end)
        assert await PlanAssignment.filter(user_id=ana.id).count() == 1
    else:
        await assign(user=ana, plan=version, effective_from=start, effective_to=end)
        assert await PlanAssignment.filter(user_id=ana.id).count() == 2


async def test_given_manager_when_offering_plans_then_only_to_their_subtree(db: str):
    tenant = await make_tenant()
    org = await make_org(tenant=tenant, managers=TEAM)
    version = await publish_plan(tenant=tenant)

    mine = await assign(user=org["ana"], plan=version, by=viewer_of(org["boss"]))
    with pytest.raises(Forbidden):
        await assign(user=org["cara"], plan=version, by=viewer_of(org["boss"]))

    assert mine.status is AssignmentStatus.OFFERED
    assert await PlanAssignment.filter(user_id=org["cara"].id).count() == 0


async def test_given_rep_when_offering_a_plan_then_forbidden(db: str):
    tenant = await make_tenant()
    org = await make_org(tenant=tenant, managers=TEAM)

    with pytest.raises(Forbidden):
        await assign(
            user=org["ana"], plan=await publish_plan(tenant=tenant), by=viewer_of(org["ana"])
        )


async def test_given_plan_of_another_tenant_when_offered_then_not_found(db: str):
    acme, globex = await make_tenant(slug="acme"), await make_tenant(slug="globex")
    ana = await make_user(tenant=acme, external_id="ana")
    foreign = await publish_plan(tenant=globex)

    with pytest.raises(NotFound):
        await assign(user=ana, plan=foreign)

    assert await PlanAssignment.all().count() == 0


async def test_given_assignments_when_read_then_rep_sees_own_manager_subtree(db: str):
    tenant = await make_tenant()
    org = await make_org(tenant=tenant, managers=TEAM)
    version = await publish_plan(tenant=tenant)
    for name in ("ana", "ben", "cara"):
        await assign(user=org[name], plan=version)
    ana_repo = PlanRepository(viewer_of(org["ana"]))
    boss_repo = PlanRepository(viewer_of(org["boss"]))

    assert [a.user_id for a in await ana_repo.assignments_of(org["ana"].id)] == [org["ana"].id]
    with pytest.raises(Forbidden):
        await ana_repo.assignments_of(org["ben"].id)
    assert len(await boss_repo.assignments_of(org["ben"].id)) == 1
    with pytest.raises(Forbidden):
        await boss_repo.assignments_of(org["cara"].id)
    assert {a.user_id for a in await boss_repo.assignees(version.plan_id)} == {
        org["ana"].id,
        org["ben"].id,
    }
    assert {a.user_id for a in await ana_repo.assignees(version.plan_id)} == {org["ana"].id}
    cara_assignment = (await PlanAssignment.filter(user_id=org["cara"].id))[0]
    with pytest.raises(Forbidden):
        await ana_repo.assignment(cara_assignment.id)


async def test_given_rep_when_reading_plans_then_only_plans_they_are_on(db: str):
    tenant = await make_tenant()
    ana = await make_user(tenant=tenant, external_id="ana")
    on = await publish_plan(tenant=tenant)
    off = await publish_plan(tenant=tenant, document=plan_yaml(key="other"))
    await assign(user=ana, plan=on)
    repo = PlanRepository(viewer_of(ana))

    assert [p.key for p in await repo.plans()] == ["ae"]
    assert (await repo.plan(on.plan_id)).id == on.plan_id
    assert (await repo.version(on.id)).id == on.id
    with pytest.raises(NotFound):
        await repo.plan(off.plan_id)
    with pytest.raises(NotFound):
        await repo.version(off.id)
    assert await repo.versions(off.plan_id) == []
    assert await repo.latest_version(off.plan_id) is None
    assert await repo.version_on(off.plan_id, date(2026, 10, 1)) is None
    assert set(await repo.versions_by_id([on.id, off.id])) == {on.id}
    admin_plans = await PlanRepository(system_viewer(tenant)).plans()
    assert [p.key for p in admin_plans] == ["ae", "other"]
