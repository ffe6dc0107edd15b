"""Convergence: however CRM events arrive, the stored earnings end up the same.

A realistic batch for several reps (splits, amount and date changes across two periods,
deletes, a delete before the record was ever seen, rep upserts, a new rep, a rep leaving a
team-scope manager's team) is delivered

  (a) once, in order, through the signed webhook, and processed by a real arq worker;
  (b) every event TWICE, shuffled (several seeds), in several webhook batches, with the
      worker draining the queue now and then meanwhile; an event refused for a rep not
      known yet is replayed by ops afterwards (``podium replay-dead-letters``);

and each must equal (c) a fresh batch recompute over the final data: every earnings_results
row (status, totals, measures, components, explanation) and its lines, to the cent,
timestamps and ids aside. Each delivery runs in a tenant of its own in one database.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import httpx
from arq.connections import ArqRedis
from tortoise.transactions import in_transaction

import domain.earnings.service as earnings_service
from api.app import create_app
from api.settings import Settings
from domain.crm.models import Transaction
from domain.earnings.models import EarningsLine, EarningsResult
from domain.ingest import service
from domain.ingest.models import InboxEvent, InboxStatus, RecomputeRequest
from domain.org.models import User
from domain.plans.models import Plan, PlanVersion
from domain.tenants.models import Tenant
from tests.api.graphql.helpers import serve
from tests.domain.builders import (
    assign,
    make_tenant,
    make_user,
    plan_yaml,
    publish_plan,
    system_viewer,
)
from tests.workers.ingest_helpers import (
    Burst,
    body_of,
    deal,
    deletion,
    rep_event,
    signed_headers,
)
from tests.workers.ingest_helpers import redis_url as redis_url  # a private Redis
from workers.queue import JobQueue

SEEDS = (7, 1234, 987654)
PERIODS = ("2026-10", "2026-11")
SPLIT_60_40 = [{"rep_id": "ana", "share": "0.6"}, {"rep_id": "ben", "share": "0.4"}]
SPLIT_HALF = [{"rep_id": "ana", "share": "0.5"}, {"rep_id": "dan", "share": "0.5"}]


def crm_history() -> list[dict[str, Any]]:
    """What the CRM sent, in the order it happened. Every event carries its record's
    version, as CRM_EVENTS.md asks: that is what makes out-of-order delivery converge."""
    return [
        rep_event(
            "r-cal-1", "cal", name="Cal", manager_id="mia", hire_date="2026-10-01", version=1
        ),
        rep_event("r-dan-1", "dan", name="Dan D.", manager_id="mia", version=1),
        deal("t-1-1", "opp-1", amount="40000.10", splits=SPLIT_60_40, version=1),
        deal("t-2-1", "opp-2", rep="ben", amount="999.99", on="2026-10-20", version=1),
        deal("t-3-1", "opp-3", rep="dan", amount="12345.67", on="2026-11-05", version=1),
        deal("t-7-1", "opp-7", rep="dan", amount="2500.00", on="2026-10-07", version=1),
        deal("t-5-1", "opp-5", rep="cal", amount="700.00", on="2026-10-10", version=1),
        deletion("t-8-5", "opp-8", 5),  # a delete of a record never seen...
        deal("t-1-2", "opp-1", amount="41000.00", splits=SPLIT_60_40, version=2),
        deal("t-4-1", "opp-4", amount="5000.00", on="2026-11-15", version=1),
        deal("t-6-1", "opp-6", rep="ben", amount="3000.00", on="2026-11-28", version=1),
        deal("t-9-1", "opp-9", rep="ben", amount="800.00", on="2026-10-31", version=1),
        deal("t-8-4", "opp-8", amount="99999.00", version=4),  # ...then an older upsert of it
        deletion("t-2-2", "opp-2", 2),
        rep_event("r-ben-1", "ben", name="Ben Okafor", hire_date="2026-10-15", version=1),
        deal("t-4-2", "opp-4", amount="5500.55", on="2026-11-15", version=2),
        deal("t-3-2", "opp-3", rep="ana", amount="12345.67", on="2026-11-05", version=2),
        deletion("t-6-2", "opp-6", 2),
        deal("t-1-3", "opp-1", amount="41000.00", on="2026-11-02", splits=SPLIT_60_40, version=3),
        deal("t-4-3", "opp-4", amount="5500.55", on="2026-11-15", splits=SPLIT_HALF, version=3),
        deal("t-6-3", "opp-6", rep="ben", amount="3100.00", on="2026-11-28", version=3),
        deal("t-7-2", "opp-7", rep="dan", amount="2600.40", on="2026-10-08", version=2),
        deal("t-9-2", "opp-9", rep="ben", amount="812.34", on="2026-11-01", version=2),
        rep_event("r-ana-1", "ana", name="Ana Lima", email="ana@example.com", version=1),
        # every rep keeps a deal in each period whatever the order: a period whose every
        # event was stale on arrival is never computed, and has no row (not even a zero one)
        deal("t-10-1", "opp-10", amount="1500.00", on="2026-10-12", version=1),
        deal("t-11-1", "opp-11", rep="ben", amount="250.50", on="2026-10-25", version=1),
        # dan leaves mia's team. A rep.upserted carries the whole rep: a partial one is a
        # patch, and a patch older than the stored version is ignored whole (CRM_EVENTS.md)
        rep_event("r-dan-2", "dan", name="Dan D.", manager_id=None, version=2),
    ]


async def world(slug: str) -> Tenant:
    """Reps ana, ben, dan on a 5% plan, their manager mia on a 1% team-scope plan; the
    assignments end with November, so no other period is ever calculated."""
    tenant = await make_tenant(slug=slug)
    mia = await make_user(tenant=tenant, external_id="mia")
    reps = [
        await make_user(tenant=tenant, external_id=r, manager=mia) for r in ("ana", "ben", "dan")
    ]
    ae = await publish_plan(
        tenant=tenant, document=plan_yaml(key="ae", rate="0.05"), effective_from="2026-01-01"
    )
    team = await publish_plan(
        tenant=tenant,
        document=plan_yaml(key="mgr", rate="0.01", scope="team"),
        effective_from="2026-01-01",
    )
    for rep in reps:
        await assign(user=rep, plan=ae, effective_from="2026-01-01", effective_to="2026-11-30")
    await assign(user=mia, plan=team, effective_from="2026-01-01", effective_to="2026-11-30")
    return tenant


def _money(value: Any) -> str | None:
    return None if value is None else format(Decimal(value).normalize(), "f")


async def earnings_of(tenant: Tenant) -> dict[tuple[str, str, str], Any]:
    """Every stored result of the tenant and its lines, keyed by (rep, plan, period), with
    ids and timestamps left out."""
    people = {u.id: u.external_id for u in await User.filter(tenant_id=tenant.id)}
    plans = {p.id: p.key for p in await Plan.filter(tenant_id=tenant.id)}
    versions = {
        v.id: f"{plans[v.plan_id]} v{v.version}"
        for v in await PlanVersion.filter(tenant_id=tenant.id)
    }
    out: dict[tuple[str, str, str], Any] = {}
    for r in await EarningsResult.filter(tenant_id=tenant.id):
        lines = await EarningsLine.filter(result_id=r.id).order_by("position")
        out[(people[r.user_id], versions[r.plan_version_id], r.period)] = {
            "status": str(r.status),
            "error": r.error,
            "currency": r.currency,
            "total": _money(r.total),
            "payable": _money(r.payable),
            "pending": _money(r.pending),
            "cap_adjustment": _money(r.cap_adjustment),
            "days": (r.active_days, r.period_days),
            "measures": r.measures,
            "components": r.components,
            "explanation": r.explanation,
            "lines": [
                (
                    line.position,
                    line.component,
                    line.transaction_external_id,
                    line.credited_rep,
                    line.occurred_on,
                    _money(line.value),
                    _money(line.amount),
                    line.status,
                    line.explanation,
                )
                for line in lines
            ],
        }
    return out


async def crm_data_of(tenant: Tenant) -> dict[str, Any]:
    """The CRM records as stored: the live transactions (a deleted one may or may not have a
    row, depending on whether an upsert of it was applied before its delete) and the reps."""
    people = {u.id: u for u in await User.filter(tenant_id=tenant.id)}
    return {
        "transactions": {
            t.external_id: (
                people[t.rep_id].external_id,
                _money(t.amount),
                t.date,
                t.version,
                sorted(people[u].external_id for u in map(_uuid, t.credited_user_ids)),
            )
            for t in await Transaction.filter(tenant_id=tenant.id, deleted=False)
        },
        "reps": {
            u.external_id: (
                u.display_name,
                u.email,
                people[u.manager_id].external_id if u.manager_id else None,
                u.hire_date,
            )
            for u in people.values()
        },
    }


def _uuid(value: Any) -> Any:
    from uuid import UUID

    return value if isinstance(value, UUID) else UUID(str(value))


async def fresh_recompute(tenant: Tenant) -> dict[tuple[str, str, str], Any]:
    """(c): throw the stored results away and recompute every rep and period directly."""
    viewer = system_viewer(tenant)
    await EarningsResult.filter(tenant_id=tenant.id).delete()
    for user in await User.filter(tenant_id=tenant.id).order_by("external_id"):
        for period in PERIODS:
            async with in_transaction():
                await earnings_service.recompute_rep_period(
                    viewer=viewer, user_id=user.id, period=period
                )
    return await earnings_of(tenant)


async def post(http: httpx.AsyncClient, tenant: Tenant, events: list[dict[str, Any]]) -> None:
    body = body_of(*events)
    response = await http.post(
        f"/webhooks/crm/{tenant.slug}",
        content=body,
        headers=signed_headers(body, tenant.webhook_secret),
    )
    assert response.status_code == 202, response.text


async def replay_dead_letters(tenant: Tenant, queue: JobQueue) -> None:
    """What ops do with `podium replay-dead-letters --tenant SLUG`."""
    async with in_transaction():
        replayed = await service.replay_dead_letters(viewer=system_viewer(tenant))
    accepted = [r.inbox_id for r in replayed if r.inbox_id is not None]
    assert [r for r in replayed if r.outcome == "rejected"] == []
    if accepted:
        await queue.enqueue_apply(tenant.id, accepted)


async def settled(tenant: Tenant) -> None:
    """Nothing left to do: no event pending, no recompute waiting."""
    pending = await InboxEvent.filter(tenant_id=tenant.id, status=InboxStatus.PENDING).count()
    assert pending == 0
    assert await RecomputeRequest.filter(tenant_id=tenant.id).count() == 0


async def test_given_events_in_order_or_twice_shuffled_then_earnings_equal_a_fresh_recompute(
    db: str, database_url: str, redis_url: str, pool: ArqRedis, burst: Burst
):
    history = crm_history()
    in_order = await world("in-order")
    shuffled = {seed: await world(f"shuffled-{seed}") for seed in SEEDS}
    queue = JobQueue(pool)
    app = create_app(Settings(database_url=database_url, redis_url=redis_url))

    async with serve(app) as http:
        app.state.job_queue = queue  # this test's own queue
        # (a) once, in order, each processed before the next arrives (a CRM sending each
        # change as it happens to an idle worker): every intermediate state is computed
        for event in history:
            await post(http, in_order, [event])
            await burst()
        # (b) twice, shuffled, in batches of 1 to 7, the worker draining now and then
        for seed, tenant in shuffled.items():
            rng = random.Random(seed)
            deliveries = [dict(e) for e in history + history]
            rng.shuffle(deliveries)
            while deliveries:
                size = rng.randint(1, 7)
                batch, deliveries = deliveries[:size], deliveries[size:]
                await post(http, tenant, batch)
                if rng.random() < 0.3:
                    await burst()
            await burst()
            await replay_dead_letters(tenant, queue)
            await burst()

    expected_data = await crm_data_of(in_order)
    got_a = await earnings_of(in_order)
    got_b = {seed: await earnings_of(tenant) for seed, tenant in shuffled.items()}
    for tenant in (in_order, *shuffled.values()):
        await settled(tenant)
    for seed, tenant in shuffled.items():
        assert await crm_data_of(tenant) == expected_data, seed
    want = await fresh_recompute(in_order)

    # the final data is what the newest version of every record says
    transactions = expected_data["transactions"]
    assert transactions["opp-1"][1:4] == ("41000", date_of("2026-11-02"), 3)
    assert "opp-2" not in transactions
    assert "opp-8" not in transactions  # deleted (v5) before its older upsert (v4) arrived
    assert transactions["opp-6"][1:4] == ("3100", date_of("2026-11-28"), 3)
    assert expected_data["reps"]["dan"][2] is None
    assert expected_data["reps"]["cal"][2] == "mia"
    # the expected figures are real: every rep and mia have results in both periods
    assert {(rep, period) for rep, _, period in want} == {
        (rep, period) for rep in ("ana", "ben", "dan", "mia") for period in PERIODS
    }
    assert got_a == want
    for seed in SEEDS:
        assert got_b[seed] == want, seed


def date_of(text: str) -> Any:
    from datetime import date

    return date.fromisoformat(text)


async def test_given_a_rep_leaving_a_team_then_the_managers_past_periods_are_requested(db: str):
    tenant = await world("acme")
    viewer = system_viewer(tenant)
    people = {u.external_id: u.id for u in await User.filter(tenant_id=tenant.id)}
    async with in_transaction():
        accepted = await service.ingest_events(
            viewer=viewer,
            source="crm",
            events=[
                deal("t-1", "opp-1", rep="dan", amount="100.00", on="2026-08-07"),
                rep_event("r-1", "dan", name="Dan", manager_id=None, version=1),
            ],
        )
    async with in_transaction():
        await service.apply_inbox_event(viewer=viewer, inbox_id=accepted.inbox_ids[0])
    await RecomputeRequest.filter(tenant_id=tenant.id).delete()

    async with in_transaction():
        left = await service.apply_inbox_event(viewer=viewer, inbox_id=accepted.inbox_ids[1])

    # mia's August team total held dan's deal: it must be recomputed, not only "today's"
    assert (people["mia"], "2026-08") in left.affected
    assert (people["dan"], "2026-08") in left.affected
    requested = await RecomputeRequest.filter(tenant_id=tenant.id).values_list("user_id", "period")
    assert (people["mia"], "2026-08") in set(requested)
