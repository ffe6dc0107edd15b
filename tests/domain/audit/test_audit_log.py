"""The audit log: who, what, when, before/after; append-only at the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from asyncpg.exceptions import RaiseError
from tortoise import connections
from tortoise.exceptions import OperationalError
from tortoise.transactions import in_transaction

from domain.audit.models import AuditEntry
from domain.audit.repository import AuditRepository
from domain.audit.service import Change, record, record_many
from domain.org.models import Role
from domain.tenants.models import Tenant
from tests.domain.builders import make_tenant, make_user, system_viewer, viewer_of

APPEND_ONLY = (RaiseError, OperationalError)


async def _one_entry() -> AuditEntry:
    tenant = await make_tenant()
    return await record(
        viewer=system_viewer(tenant),
        action="quota.set",
        entity_type="quota",
        entity_id="q1",
        before={"value": "1"},
        after={"value": "2"},
    )


async def test_given_signed_in_admin_when_change_recorded_then_who_what_when_before_after(
    db: str,
):
    tenant = await make_tenant()
    admin = await make_user(tenant=tenant, external_id="root", role=Role.ADMIN)
    started = datetime.now(UTC)

    entry = await record(
        viewer=viewer_of(admin, request_id="req-42"),
        action="quota.set",
        entity_type="quota",
        entity_id="x",
        before={"value": "100000"},
        after={"value": "120000.5"},
    )

    stored = await AuditEntry.get(id=entry.id)
    assert (stored.tenant_id, stored.actor_id, stored.actor_label, stored.request_id) == (
        tenant.id,
        admin.id,
        f"user:{admin.id}",
        "req-42",
    )
    assert (stored.action, stored.entity_type, stored.entity_id) == ("quota.set", "quota", "x")
    assert (stored.before, stored.after) == ({"value": "100000"}, {"value": "120000.5"})
    assert stored.at.utcoffset() == timedelta(0)
    assert started - timedelta(seconds=5) <= stored.at <= datetime.now(UTC) + timedelta(seconds=5)


async def test_given_system_when_change_recorded_then_labelled_system(db: str):
    entry = await _one_entry()

    assert (entry.actor_id, entry.actor_label) == (None, "system:tests")


async def test_given_many_changes_when_recorded_in_bulk_then_one_row_each(db: str):
    tenant = await make_tenant()
    changes = [
        Change("transaction.imported", "transaction", f"t{i}", None, {"amount": f"{i}.10"})
        for i in range(5)
    ]

    written = await record_many(viewer=system_viewer(tenant), changes=changes)

    assert written == 5
    rows = await AuditEntry.filter(action="transaction.imported").order_by("id")
    assert [(r.entity_id, r.after) for r in rows] == [
        (f"t{i}", {"amount": f"{i}.10"}) for i in range(5)
    ]
    assert all(r.at.tzinfo is not None and r.actor_label == "system:tests" for r in rows)
    assert await record_many(viewer=system_viewer(tenant), changes=[]) == 0


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET action = 'forged'",
        "UPDATE audit_log SET after = NULL WHERE id = {id}",
        "DELETE FROM audit_log WHERE id = {id}",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ],
)
async def test_given_entry_when_changed_or_removed_in_sql_then_database_refuses(
    db: str, statement: str
):
    entry = await _one_entry()

    with pytest.raises(APPEND_ONLY, match="append-only"):
        async with in_transaction():
            await connections.get("default").execute_script(statement.format(id=entry.id))

    stored = await AuditEntry.get(id=entry.id)
    assert (stored.action, stored.after) == ("quota.set", {"value": "2"})


async def test_given_entry_when_saved_or_deleted_through_the_orm_then_database_refuses(db: str):
    entry = await _one_entry()
    entry.action = "forged"

    with pytest.raises(APPEND_ONLY, match="append-only"):
        await entry.save()
    with pytest.raises(APPEND_ONLY, match="append-only"):
        await entry.delete()
    with pytest.raises(APPEND_ONLY, match="append-only"):
        await AuditEntry.filter(id=entry.id).update(action="forged")

    assert (await AuditEntry.get(id=entry.id)).action == "quota.set"


async def test_given_tenant_with_audit_entries_when_tenant_deleted_then_refused(db: str):
    entry = await _one_entry()
    with pytest.raises(Exception, match="audit"):
        await Tenant.filter(id=entry.tenant_id).delete()

    assert await AuditEntry.filter(id=entry.id).exists()


async def test_given_change_rolled_back_when_audited_inside_then_entry_rolled_back_too(db: str):
    tenant = await make_tenant()

    async def audited_change_that_fails() -> None:
        async with in_transaction():
            await record(viewer=system_viewer(tenant), action="a", entity_type="b", entity_id="c")
            raise RuntimeError("the audited change failed")

    with pytest.raises(RuntimeError):
        await audited_change_that_fails()

    assert await AuditEntry.filter(action="a").count() == 0


async def test_given_two_tenants_when_reading_the_trail_then_only_ones_own(db: str):
    acme, globex = await make_tenant(slug="acme"), await make_tenant(slug="globex")
    for tenant in (acme, globex):
        await record(
            viewer=system_viewer(tenant), action="x", entity_type="quota", entity_id="same-id"
        )

    acme_repo = AuditRepository(system_viewer(acme))

    assert [e.tenant_id for e in await acme_repo.for_entity("quota", "same-id")] == [acme.id]
    assert {e.tenant_id for e in await acme_repo.recent()} == {acme.id}
