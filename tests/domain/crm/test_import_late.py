"""An import that changes a closed period's inputs (a deal dated in it, a quota of it) leaves
its results as they are and records the change in `late_events`, flagged for the next open
period, as a CRM event's apply does; it does not name the closed period as stale."""

from __future__ import annotations

from typing import Any

import pytest
from tortoise.transactions import in_transaction

from domain.crm.models import Transaction
from domain.crm.service import import_quotas, import_transactions
from domain.earnings.models import LateEvent
from domain.earnings.service import close_period
from tests.domain.builders import assign, make_tenant, make_user, publish_plan, system_viewer

pytestmark = pytest.mark.usefixtures("db")

TX = "id,rep_id,type,amount,currency,date,state,splits\n"


async def closed_october() -> tuple[Any, Any]:
    tenant = await make_tenant(slug="acme")
    ana = await make_user(tenant=tenant, external_id="ana")
    await assign(user=ana, plan=await publish_plan(tenant=tenant), accepted=True)
    async with in_transaction():
        await close_period(viewer=system_viewer(tenant), period="2026-10")
    return tenant, ana


async def flagged(tenant: Any) -> list[tuple[Any, str, str]]:
    return [
        (e.user_id, e.period, e.flagged_for)
        for e in await LateEvent.filter(tenant_id=tenant.id).order_by("id")
    ]


async def test_given_a_closed_period_when_a_deal_of_it_is_imported_then_flagged_for_the_next():
    tenant, ana = await closed_october()

    async with in_transaction():
        result = await import_transactions(
            viewer=system_viewer(tenant),
            lines=[
                TX,
                "t1,ana,deal,1000,EUR,2026-10-03,won,\n",
                "t2,ana,deal,5,EUR,2026-11-03,won,\n",
            ],
        )

    assert await Transaction.exists(tenant_id=tenant.id, external_id="t1")  # still stored
    assert await flagged(tenant) == [(ana.id, "2026-10", "2026-11")]
    assert result.late_events == 1
    assert set(result.touched) == {(ana.id, "2026-11")}  # the open period only


async def test_given_a_closed_period_when_its_quota_is_imported_then_flagged_for_the_next():
    tenant, ana = await closed_october()

    async with in_transaction():
        result = await import_quotas(
            viewer=system_viewer(tenant),
            lines=["rep_id,measure,period,value\n", "ana,bookings,2026-10,5000\n"],
        )

    assert await flagged(tenant) == [(ana.id, "2026-10", "2026-11")]
    assert (result.late_events, result.touched) == (1, ())


async def test_given_a_deal_dated_in_a_period_not_started_when_imported_then_it_waits_for_it():
    # `podium import transactions --recompute` stored earnings for next month, which
    # `podium recompute --period` and the worker refuse to compute before it opens
    from datetime import UTC, datetime

    from domain.ingest.models import RecomputeRequest
    from domain.kit.clock import today_in
    from domain.kit.periods import period_containing

    tenant, ana = await closed_october()
    now = period_containing(today_in("UTC"), "month")
    later = now.next()

    async with in_transaction():
        result = await import_transactions(
            viewer=system_viewer(tenant),
            lines=[
                TX,
                f"t1,ana,deal,1000,EUR,{now.start.isoformat()},won,\n",
                f"t2,ana,deal,5,EUR,{later.start.isoformat()},won,\n",
            ],
        )

    assert set(result.touched) == {(ana.id, now.id)}  # what --recompute does now
    (waiting,) = await RecomputeRequest.filter(tenant_id=tenant.id)
    assert (waiting.user_id, waiting.period) == (ana.id, later.id)
    assert waiting.requested_at == datetime.combine(later.start, datetime.min.time(), UTC)
