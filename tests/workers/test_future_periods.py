"""A CRM change dated in a period that has not started where the tenant is: recorded at once,
computed once the period opens. `podium recompute` and `podium close` refuse such a period;
the worker stored a result for it (an error for everyone without a quota, or earnings for a
month that has not begun)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from arq.connections import ArqRedis
from tortoise.transactions import in_transaction

from domain.earnings.models import EarningsResult
from domain.ingest import service
from domain.ingest.models import InboxEvent, InboxStatus, RecomputeRequest
from domain.kit.clock import today_in, utc_now
from domain.kit.periods import period_containing
from tests.domain.builders import (
    assign,
    make_tenant,
    make_user,
    plan_yaml,
    publish_plan,
    system_viewer,
)
from tests.workers.ingest_helpers import Burst, deal
from tests.workers.ingest_helpers import redis_url as redis_url  # a private Redis
from workers.tasks.ingest import sweep


async def _world(time_zone: str = "UTC"):
    tenant = await make_tenant(slug="acme", time_zone=time_zone)
    ana = await make_user(tenant=tenant, external_id="ana")
    plan = await publish_plan(
        tenant=tenant, document=plan_yaml(rate="0.05"), effective_from="2026-01-01"
    )
    await assign(user=ana, plan=plan, effective_from="2026-01-01")
    return tenant, ana


async def _stored(tenant) -> dict[str, Decimal]:
    return {r.period: Decimal(r.total) for r in await EarningsResult.filter(tenant_id=tenant.id)}


async def test_given_a_deal_dated_next_month_when_the_worker_runs_then_stored_only_once_it_opens(
    burst: Burst, pool: ArqRedis
):
    tenant, ana = await _world()
    this_month = period_containing(today_in("UTC"), "month")
    next_month = this_month.next()
    viewer = system_viewer(tenant)
    async with in_transaction():
        await service.ingest_events(
            viewer=viewer,
            source="crm",
            events=[
                deal("e1", "opp-now", amount="1000.00", on=this_month.start.isoformat()),
                deal("e2", "opp-later", amount="2000.00", on=next_month.start.isoformat()),
            ],
        )
    await sweep({"redis": pool, "sweep_after": timedelta(0)})
    await burst()

    # both recorded; only the month under way computed
    assert {e.status for e in await InboxEvent.filter(tenant_id=tenant.id)} == {InboxStatus.APPLIED}
    assert await _stored(tenant) == {this_month.id: Decimal("50.00")}
    (waiting,) = await RecomputeRequest.filter(tenant_id=tenant.id)
    assert (waiting.user_id, waiting.period) == (ana.id, next_month.id)
    # due when the month opens, and not "lost work" for the sweeper meanwhile
    assert waiting.requested_at == datetime.combine(
        next_month.start, datetime.min.time(), ZoneInfo("UTC")
    )
    assert await sweep({"redis": pool}) == {"inbox_events": 0, "recomputes": 0}

    # the month opens (its due time passes): the sweeper's drain computes it
    opened = utc_now() - timedelta(minutes=1)
    await RecomputeRequest.filter(id=waiting.id).update(requested_at=opened)
    assert (await sweep({"redis": pool}))["recomputes"] == 1
    await burst()

    assert await _stored(tenant) == {
        this_month.id: Decimal("50.00"),
        next_month.id: Decimal("100.00"),
    }
    assert await RecomputeRequest.filter(tenant_id=tenant.id).count() == 0


async def test_given_a_tenant_east_of_utc_then_a_future_period_is_due_at_its_local_midnight(
    pool: ArqRedis,
):
    tenant, ana = await _world("Asia/Kolkata")
    later = period_containing(today_in("Asia/Kolkata"), "month").next().next()
    async with in_transaction():
        await service.ingest_events(
            viewer=system_viewer(tenant),
            source="crm",
            events=[deal("e1", "opp-later", on=later.start.isoformat())],
        )
        (row,) = await InboxEvent.filter(tenant_id=tenant.id)
        await service.apply_inbox_event(viewer=system_viewer(tenant), inbox_id=row.id)

    (waiting,) = await RecomputeRequest.filter(tenant_id=tenant.id)
    assert waiting.period == later.id
    assert waiting.requested_at == datetime.combine(
        later.start, datetime.min.time(), ZoneInfo("Asia/Kolkata")
    )
