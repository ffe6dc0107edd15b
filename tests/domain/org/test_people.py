"""People: creating them, changing their role and manager, all audited."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date

import pytest

from domain.audit.models import AuditEntry
from domain.kit.errors import Conflict, Forbidden, InvalidInput, NotFound
from domain.org.models import Role, User
from domain.org.repository import lock_manager_changes
from domain.org.service import create_user, set_manager, set_role
from tests.domain.builders import Org, make_org, make_tenant, make_user, system_viewer, viewer_of
from tests.domain.races import race, rep_event_to_apply


async def _audit(user: User) -> list[AuditEntry]:
    return await AuditEntry.filter(entity_type="user", entity_id=str(user.id)).order_by("id")


async def test_given_admin_when_person_created_then_stored_with_crm_id_and_role_audited(db: str):
    tenant = await make_tenant()
    admin = await make_user(tenant=tenant, external_id="root", role=Role.ADMIN)
    boss = await make_user(tenant=tenant, external_id="boss", role=Role.MANAGER)

    ana = await create_user(
        viewer=viewer_of(admin, request_id="req-1"),
        external_id=" 0035e00000AnaX ",
        display_name="Ana Weber",
        manager_id=str(boss.id),
        locale="de-DE",
        hire_date=date(2026, 1, 5),
        end_date=date(2026, 12, 31),
    )

    stored = await User.get(id=ana.id)
    assert (stored.external_id, stored.role, stored.manager_id, stored.locale) == (
        "0035e00000AnaX",
        Role.REP,
        boss.id,
        "de-DE",
    )
    assert (stored.hire_date, stored.end_date) == (date(2026, 1, 5), date(2026, 12, 31))
    [entry] = await _audit(ana)
    assert (entry.action, entry.actor_id, entry.actor_label, entry.request_id) == (
        "user.role_assigned",
        admin.id,
        f"user:{admin.id}",
        "req-1",
    )
    assert (entry.before, entry.after) == (None, {"external_id": "0035e00000AnaX", "role": "rep"})


@pytest.mark.parametrize("role", [Role.REP, Role.MANAGER, Role.PAYOUT_OPS])
async def test_given_non_admin_when_person_created_then_forbidden(db: str, role: Role):
    tenant = await make_tenant()
    someone = await make_user(tenant=tenant, external_id="someone", role=role)

    with pytest.raises(Forbidden):
        await create_user(viewer=viewer_of(someone), external_id="x", display_name="X")

    assert await User.filter(external_id="x").count() == 0


async def test_given_existing_crm_id_when_person_created_again_then_conflict(db: str):
    tenant = await make_tenant()
    await make_user(tenant=tenant, external_id="ana")

    with pytest.raises(Conflict) as caught:
        await make_user(tenant=tenant, external_id="ana")

    assert caught.value.field == "externalId"


async def test_given_same_crm_id_in_two_tenants_when_created_then_both_exist(db: str):
    acme, globex = await make_tenant(slug="acme"), await make_tenant(slug="globex")

    await make_user(tenant=acme, external_id="ana")
    await make_user(tenant=globex, external_id="ana")

    assert await User.filter(external_id="ana").count() == 2


async def test_given_end_before_hire_when_person_created_then_invalid(db: str):
    tenant = await make_tenant()

    with pytest.raises(InvalidInput) as caught:
        await make_user(
            tenant=tenant, external_id="ana", hire_date="2026-10-10", end_date="2026-10-01"
        )

    assert caught.value.field == "endDate"


async def test_given_manager_of_another_tenant_when_person_created_then_not_found(db: str):
    acme, globex = await make_tenant(slug="acme"), await make_tenant(slug="globex")
    foreign_boss = await make_user(tenant=globex, external_id="boss", role=Role.MANAGER)

    with pytest.raises(NotFound):
        await create_user(
            viewer=system_viewer(acme),
            external_id="ana",
            display_name="Ana",
            manager_id=foreign_boss.id,
        )


async def test_given_rep_when_admin_makes_them_manager_then_role_changed_and_audited(db: str):
    tenant = await make_tenant()
    admin = await make_user(tenant=tenant, external_id="root", role=Role.ADMIN)
    ana = await make_user(tenant=tenant, external_id="ana")

    changed = await set_role(viewer=viewer_of(admin), user_id=str(ana.id), role=Role.MANAGER)

    assert changed.role is Role.MANAGER
    assert (await User.get(id=ana.id)).role is Role.MANAGER
    entry = (await _audit(ana))[-1]
    assert (entry.action, entry.actor_id) == ("user.role_assigned", admin.id)
    assert entry.before == {"external_id": "ana", "role": "rep"}
    assert entry.after == {"external_id": "ana", "role": "manager"}


async def test_given_same_role_when_set_again_then_nothing_audited(db: str):
    tenant = await make_tenant()
    ana = await make_user(tenant=tenant, external_id="ana")
    entries = len(await _audit(ana))

    await set_role(viewer=system_viewer(tenant), user_id=ana.id, role=Role.REP)

    assert len(await _audit(ana)) == entries


@pytest.mark.parametrize("role", [Role.REP, Role.MANAGER, Role.PAYOUT_OPS])
async def test_given_non_admin_when_role_changed_then_forbidden_and_unchanged(db: str, role: Role):
    tenant = await make_tenant()
    actor = await make_user(tenant=tenant, external_id="actor", role=role)
    ana = await make_user(tenant=tenant, external_id="ana")

    with pytest.raises(Forbidden):
        await set_role(viewer=viewer_of(actor), user_id=ana.id, role=Role.ADMIN)

    assert (await User.get(id=ana.id)).role is Role.REP


async def test_given_admin_when_demoting_themselves_then_forbidden(db: str):
    tenant = await make_tenant()
    admin = await make_user(tenant=tenant, external_id="root", role=Role.ADMIN)

    with pytest.raises(Forbidden):
        await set_role(viewer=viewer_of(admin), user_id=admin.id, role=Role.REP)


async def test_given_other_tenants_user_id_when_role_changed_then_not_found(db: str):
    acme, globex = await make_tenant(slug="acme"), await make_tenant(slug="globex")
    admin = await make_user(tenant=acme, external_id="root", role=Role.ADMIN)
    victim = await make_user(tenant=globex, external_id="victim")

    with pytest.raises(NotFound):
        await set_role(viewer=viewer_of(admin), user_id=victim.id, role=Role.ADMIN)

    assert (await User.get(id=victim.id)).role is Role.REP


async def test_given_malformed_id_when_role_changed_then_not_found(db: str):
    tenant = await make_tenant()

    with pytest.raises(NotFound):
        await set_role(viewer=system_viewer(tenant), user_id="not-a-uuid", role=Role.ADMIN)


async def test_given_hierarchy_when_moving_a_manager_under_their_report_then_cycle_refused(
    db: str,
):
    tenant = await make_tenant()
    org = await make_org(tenant=tenant, managers={"top": None, "mid": "top", "rep": "mid"})

    with pytest.raises(Conflict) as caught:
        await set_manager(
            viewer=system_viewer(tenant), user_id=org["top"].id, manager_id=org["rep"].id
        )

    assert caught.value.field == "managerId"
    assert (await User.get(id=org["top"].id)).manager_id is None


async def test_given_rep_when_moved_to_another_manager_then_audited(db: str):
    tenant = await make_tenant()
    org = await make_org(tenant=tenant, managers={"a": None, "b": None, "rep": "a"})

    await set_manager(viewer=system_viewer(tenant), user_id=org["rep"].id, manager_id=org["b"].id)

    assert (await User.get(id=org["rep"].id)).manager_id == org["b"].id
    entry = (await _audit(org["rep"]))[-1]
    assert entry.action == "user.manager_set"
    assert entry.before == {"manager_id": str(org["a"].id)}
    assert entry.after == {"manager_id": str(org["b"].id)}


# --- manager changes take turns, whatever their path --------------------------------------------


async def _boss_and_ana() -> Org:
    return await make_org(tenant=await make_tenant(), managers={"boss": None, "ana": None})


def _move(org: Org, moved: str, manager: str) -> Callable[[], Awaitable[User]]:
    """setManager as an admin sends it: no transaction of the caller's."""
    return lambda: set_manager(
        viewer=system_viewer(org.tenant), user_id=org[moved].id, manager_id=org[manager].id
    )


async def _managers(org: Org) -> dict[str, str | None]:
    by_id = {u.id: u.external_id for u in org.people.values()}
    return {
        u.external_id: by_id.get(u.manager_id) if u.manager_id else None
        for u in await User.filter(tenant_id=org.tenant.id)
    }


async def test_given_set_manager_held_open_when_another_closes_a_cycle_then_waits_and_refused(
    db: str,
):
    """Ana under boss (not committed yet), then boss under ana: the second found no one under
    boss in what was committed, and both were stored: a cycle. It waits for the first."""
    org = await _boss_and_ana()

    raced = await race(_move(org, "ana", "boss"), _move(org, "boss", "ana"))

    assert raced.waited
    assert isinstance(raced.error, Conflict), raced
    assert raced.error.field == "managerId"
    assert "that would be a cycle" in raced.error.message
    assert await _managers(org) == {"ana": "boss", "boss": None}


async def test_given_a_crm_rep_event_held_open_when_set_manager_closes_a_cycle_then_waits_refused(
    db: str,
):
    """A CRM rep event (ana under boss) being applied, then setManager (boss under ana)."""
    org = await _boss_and_ana()
    ana_under_boss = await rep_event_to_apply(system_viewer(org.tenant), "ana", manager_id="boss")

    raced = await race(ana_under_boss, _move(org, "boss", "ana"))

    assert raced.waited
    assert isinstance(raced.error, Conflict), raced
    assert raced.error.field == "managerId"
    assert await _managers(org) == {"ana": "boss", "boss": None}


async def test_given_another_tenants_change_held_open_when_set_manager_then_it_does_not_wait(
    db: str,
):
    org = await _boss_and_ana()
    other = await make_tenant(slug="globex")

    raced = await race(lambda: lock_manager_changes(other.id), _move(org, "boss", "ana"))

    assert not raced.waited
    assert raced.error is None, raced
    assert await _managers(org) == {"ana": None, "boss": "ana"}


async def test_given_no_transaction_when_manager_changes_locked_then_refused(db: str):
    """Outside a transaction the lock would end with its own statement: it held nothing."""
    tenant = await make_tenant()

    with pytest.raises(RuntimeError, match="inside the caller's transaction"):
        await lock_manager_changes(tenant.id)
