"""`podium import transactions` and the CRM webhook share one version per record: an older
version never overwrites a newer one, whichever way each arrived; and an import names every
(person, period) whose stored earnings it made stale, as an applied event does."""

from __future__ import annotations

import importlib
from decimal import Decimal
from typing import Any

import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from domain.crm.models import Transaction
from domain.crm.service import ImportResult, import_transactions
from domain.ingest import service
from domain.ingest.models import CrmRecordVersion, InboxStatus
from tests.domain.builders import (
    assign,
    make_org,
    make_tenant,
    make_user,
    plan_yaml,
    publish_plan,
    system_viewer,
)
from tests.workers.ingest_helpers import deal, deletion

pytestmark = pytest.mark.usefixtures("db")

HEADER = "id,rep_id,type,amount,currency,date,state,splits,version\n"


async def imported(tenant: Any, *rows: str) -> ImportResult:
    async with in_transaction():
        return await import_transactions(
            viewer=system_viewer(tenant), lines=[HEADER, *(row + "\n" for row in rows)]
        )


async def applied(tenant: Any, event: dict[str, Any]) -> service.ApplyResult:
    async with in_transaction():
        result = await service.ingest_events(
            viewer=system_viewer(tenant), source="crm", events=[event]
        )
    assert not result.rejected, result.rejected
    async with in_transaction():
        return await service.apply_inbox_event(
            viewer=system_viewer(tenant), inbox_id=result.inbox_ids[0]
        )


async def test_given_a_newer_version_imported_when_an_older_event_arrives_then_not_applied():
    tenant = await make_tenant(slug="acme")
    await make_user(tenant=tenant, external_id="ana")
    await imported(tenant, "opp-1,ana,deal,1000,EUR,2026-10-03,won,,10")

    older = await applied(tenant, deal("e8", "opp-1", amount="999999", version=8))

    assert older.status is InboxStatus.STALE
    stored = await Transaction.get(tenant_id=tenant.id, external_id="opp-1")
    assert (stored.amount, stored.version) == (Decimal("1000"), 10)


async def test_given_a_record_deleted_by_an_event_when_an_older_version_is_imported_then_skipped():
    tenant = await make_tenant(slug="acme")
    await make_user(tenant=tenant, external_id="ana")
    await applied(tenant, deletion("d9", "opp-9", 9))

    result = await imported(tenant, "opp-9,ana,deal,1000,EUR,2026-10-03,won,,5")

    assert (result.inserted, result.updated, result.skipped) == (0, 0, 1)
    assert not await Transaction.exists(tenant_id=tenant.id, external_id="opp-9")
    # a newer version re-creates it, and a later older event is stale
    await imported(tenant, "opp-9,ana,deal,1000,EUR,2026-10-03,won,,11")
    assert (await applied(tenant, deal("e10", "opp-9", version=10))).status is InboxStatus.STALE
    stored = await Transaction.get(tenant_id=tenant.id, external_id="opp-9")
    assert (stored.amount, stored.version, stored.deleted) == (Decimal("1000"), 11, False)


async def test_given_a_deal_moved_by_an_import_then_old_and_new_people_and_team_managers_touched():
    tenant = await make_tenant(slug="acme")
    org = await make_org(tenant=tenant, managers={"vp": None, "ana": "vp", "ben": "vp"})
    own = await publish_plan(tenant=tenant, document=plan_yaml(key="own"))
    team_q = await publish_plan(
        tenant=tenant, document=plan_yaml(key="team", scope="team", period="quarter")
    )
    for rep in ("ana", "ben"):
        await assign(user=org[rep], plan=own)
    await assign(user=org["vp"], plan=team_q)
    people = {u.id: k for k, u in org.people.items()}
    await imported(tenant, "opp-1,ana,deal,1000,EUR,2026-10-31,won,,1")

    moved = await imported(tenant, "opp-1,ben,deal,1000,EUR,2026-11-01,won,,2")

    assert {(people[u], p) for u, p in moved.touched} == {
        ("ana", "2026-10"),  # the old rep loses the deal in the old month
        ("ben", "2026-11"),
        ("vp", "2026-Q4"),  # the team-scope manager above both
    }


async def test_given_a_version_imported_before_versions_were_claimed_then_the_backfill_claims_it():
    """Databases where an import set a transaction's version without claiming it (before
    the import claimed it): migration 0056 claims it, and an older event is then stale."""
    tenant = await make_tenant(slug="acme")
    await make_user(tenant=tenant, external_id="ana")
    await imported(tenant, "opp-1,ana,deal,1000,EUR,2026-10-03,won,,10")
    await CrmRecordVersion.filter(tenant_id=tenant.id).delete()  # as an old import left it

    await connections.get("default").execute_script(
        importlib.import_module("domain.migrations.0056_transaction_versions_backfill").BACKFILL
    )
    older = await applied(tenant, deal("e8", "opp-1", amount="999999", version=8))

    assert older.status is InboxStatus.STALE
    stored = await Transaction.get(tenant_id=tenant.id, external_id="opp-1")
    assert (stored.amount, stored.version) == (Decimal("1000"), 10)
