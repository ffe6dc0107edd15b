"""The bulk apply path (``service.apply_in_bulk``, used by the draining job) leaves exactly
what applying the same events one at a time leaves: two tenants get the same events, one
through the worker's drain, one through ``apply_inbox_event`` per event, and every stored
outcome is compared."""

from __future__ import annotations

import json
from typing import Any

from arq.connections import ArqRedis
from tortoise import connections
from tortoise.transactions import in_transaction

from domain.ingest import service
from domain.ingest.models import DeadLetter, InboxEvent, RecomputeRequest
from domain.org.models import User
from tests.domain.builders import (
    assign,
    make_tenant,
    make_user,
    plan_yaml,
    publish_plan,
    system_viewer,
)
from tests.workers.ingest_helpers import deal, deletion, rep_event
from workers.tasks.ingest import apply_inbox_events


def _history() -> list[list[dict[str, Any]]]:
    """Batches of events, each ingested (and applied) after the one before."""
    return [
        [deal("a1", "opp-1", amount="100.00"), deal("a2", "opp-2", rep="ben", amount="5.00")],
        [
            deal("b1", "opp-3", amount="7.50"),
            deal("b2", "opp-1", amount="150.00", version=2),  # newer version of opp-1
            deal("b3", "opp-2", rep="ben", amount="1.00", version=0),  # stale
            deletion("b4", "opp-2", version=3),  # deletes ben's deal
            deletion("b5", "opp-ghost", version=1),  # never existed
            deal("b6", "opp-3", amount="8.00", version=2),  # opp-3 twice in one batch
            deal("b7", "opp-4", rep="zoe"),  # unknown rep: dead letter
            rep_event("b8", "cat", name="Cat", manager_id="ben"),
            deal("b9", "opp-5", rep="cat", amount="42.00"),  # credits the rep just created
            deal(
                "b10",
                "opp-6",
                amount="1000.00",
                splits=[{"rep_id": "ana", "share": "0.25"}, {"rep_id": "ben", "share": "0.75"}],
            ),
            deal("b11", "opp-7", rep="ben", amount="3.00", on="2026-11-30", version=None),
            deal("b12", "opp-7", rep="ben", amount="4.00", on="2026-10-01", version=None),
        ],
        [deal("c1", "opp-6", amount="10.00", version=5), deletion("c2", "opp-3", version=9)],
    ]


async def _world(slug: str) -> Any:
    tenant = await make_tenant(slug=slug)
    ana = await make_user(tenant=tenant, external_id="ana")
    ben = await make_user(tenant=tenant, external_id="ben")
    plan = await publish_plan(
        tenant=tenant, document=plan_yaml(rate="0.05"), effective_from="2026-01-01"
    )
    for person in (ana, ben):
        await assign(user=person, plan=plan, effective_from="2026-01-01")
    return tenant


async def _state(tenant: Any) -> dict[str, Any]:
    db = connections.get("default")
    names = {str(u.id): u.external_id for u in await User.filter(tenant_id=tenant.id)}
    transactions = sorted(
        (
            r["external_id"],
            names[str(r["rep_id"])],
            str(r["amount"]),
            r["date"].isoformat(),
            r["deleted"],
            int(r["version"]),
            sorted(names[c] for c in json.loads(r["credited_user_ids"])),
            r["splits"] and [s["share"] for s in json.loads(r["splits"])],
        )
        for r in await db.execute_query_dict(
            "SELECT * FROM transactions WHERE tenant_id = $1", [tenant.id]
        )
    )
    versions = sorted(
        (r["kind"], r["external_id"], int(r["version"]), r["deleted"])
        for r in await db.execute_query_dict(
            "SELECT * FROM crm_record_versions WHERE tenant_id = $1", [tenant.id]
        )
    )
    inbox = [
        (e.event_id, e.status.value, e.outcome, e.attempts)
        for e in await InboxEvent.filter(tenant_id=tenant.id).order_by("id")
    ]
    letters = sorted(
        (d.event_id, d.reason, d.field) for d in await DeadLetter.filter(tenant_id=tenant.id)
    )
    requests = sorted(
        (names[str(r.user_id)], r.period)
        for r in await RecomputeRequest.filter(tenant_id=tenant.id)
    )
    return {
        "transactions": transactions,
        "versions": versions,
        "inbox": inbox,
        "dead letters": letters,
        "requests": requests,
    }


async def test_given_the_same_events_then_bulk_and_one_at_a_time_store_the_same(pool: ArqRedis):
    drained, single = await _world("drained"), await _world("single")
    for batch in _history():
        for tenant in (drained, single):
            async with in_transaction():
                stored = await service.ingest_events(
                    viewer=system_viewer(tenant), source="crm", events=batch
                )
            if tenant is single:
                for inbox_id in stored.inbox_ids:
                    async with in_transaction():
                        await service.apply_inbox_event(
                            viewer=system_viewer(tenant), inbox_id=inbox_id
                        )
            else:
                await apply_inbox_events({"redis": pool}, str(tenant.id))

    bulk, alone = await _state(drained), await _state(single)
    assert bulk == alone
    # and the history was the intended one
    assert [e[1] for e in bulk["inbox"]].count("stale") == 1
    assert [d[0] for d in bulk["dead letters"]] == ["b7"]
    assert ("opp-2", "ben", "5.000000", "2026-10-03", True, 3, ["ben"], None) in bulk[
        "transactions"
    ]
    assert bulk["requests"] == [("ana", "2026-10"), ("ben", "2026-10"), ("ben", "2026-11")]
