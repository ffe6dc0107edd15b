"""Events → apply jobs → recompute jobs on a real arq worker and Redis, against PostgreSQL:
exact earnings, coalescing, idempotency, follow-ups, hooks and the sweeper."""

from __future__ import annotations

import ast
import asyncio
import logging
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from arq.connections import ArqRedis
from tortoise.exceptions import OperationalError
from tortoise.transactions import in_transaction

import domain.earnings.close as earnings_close
import domain.earnings.service as earnings_service
from api.app import create_app
from api.settings import Settings
from domain.earnings.models import EarningsLine, EarningsResult, LateEvent
from domain.ingest import service
from domain.ingest.models import DeadLetter, InboxEvent, InboxStatus, RecomputeRequest
from domain.ingest.repository import IngestRepository, ParkedRequest
from domain.kit.clock import utc_now
from tests.api.graphql.helpers import serve
from tests.domain.builders import (
    assign,
    make_tenant,
    make_user,
    plan_yaml,
    publish_plan,
    system_viewer,
)
from tests.workers.ingest_helpers import Burst, body_of, deal, signed_headers
from tests.workers.ingest_helpers import redis_url as redis_url  # a private Redis
from workers.queue import JobQueue
from workers.tasks.earnings import recompute_requested
from workers.tasks.ingest import apply_inbox_events, sweep


async def world():
    tenant = await make_tenant(slug="acme")
    ana = await make_user(tenant=tenant, external_id="ana")
    ben = await make_user(tenant=tenant, external_id="ben")
    plan = await publish_plan(
        tenant=tenant, document=plan_yaml(rate="0.05"), effective_from="2026-01-01"
    )
    await assign(user=ana, plan=plan, effective_from="2026-01-01")
    await assign(user=ben, plan=plan, effective_from="2026-01-01")
    return tenant, ana, ben


async def totals(tenant: Any) -> dict[tuple[UUID, str], Decimal]:
    return {
        (r.user_id, r.period): Decimal(r.total)
        for r in await EarningsResult.filter(tenant_id=tenant.id)
    }


@pytest.fixture
def engine_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every engine run (domain.engine.calculate called by the recompute), by rep."""
    runs: list[str] = []
    real = earnings_service.calculate

    def counting(plan: Any, period: Any, inputs: Any, **kwargs: Any) -> Any:
        runs.extend(kwargs.get("rep_ids") or ["?"])
        return real(plan, period, inputs, **kwargs)

    monkeypatch.setattr(earnings_service, "calculate", counting)
    return runs


async def test_given_a_signed_webhook_over_http_when_the_worker_runs_then_earnings_to_the_cent(
    burst: Burst, pool: ArqRedis, database_url: str, redis_url: str
):
    tenant, ana, ben = await world()
    called: list[tuple[UUID, UUID, str]] = []

    async def hook(ctx: dict[str, Any], *, tenant_id: UUID, user_id: UUID, period: str) -> None:
        called.append((tenant_id, user_id, period))

    body = body_of(
        deal(
            "e1",
            "opp-1",
            amount="40000.10",
            splits=[{"rep_id": "ana", "share": "0.6"}, {"rep_id": "ben", "share": "0.4"}],
        ),
        deal("e2", "opp-2", rep="ben", amount="999.99", on="2026-11-05"),
    )
    settings = Settings(database_url=database_url, redis_url=redis_url)
    app = create_app(settings)
    async with serve(app) as http:
        app.state.job_queue = JobQueue(pool)  # this test's own queue
        response = await http.post(
            "/webhooks/crm/acme", content=body, headers=signed_headers(body, tenant.webhook_secret)
        )
    assert response.status_code == 202

    await burst(after_recompute=[hook])

    # 5% of 40000.10 x 0.6 = 1200.003 and x 0.4 = 800.002; 5% of 999.99 = 49.9995
    assert await totals(tenant) == {
        (ana.id, "2026-10"): Decimal("1200.00"),
        (ben.id, "2026-10"): Decimal("800.00"),
        (ben.id, "2026-11"): Decimal("50.00"),
    }
    assert sorted((u, p) for _, u, p in called) == sorted(
        [(ana.id, "2026-10"), (ben.id, "2026-10"), (ben.id, "2026-11")]
    )
    assert {t for t, _, _ in called} == {tenant.id}
    assert await RecomputeRequest.all().count() == 0
    assert {e.status for e in await InboxEvent.all()} == {InboxStatus.APPLIED}


async def test_given_50_events_of_one_rep_when_processed_then_one_engine_run(
    burst: Burst, pool: ArqRedis, redis_url: str, engine_runs: list[str]
):
    tenant, ana, _ = await world()
    events = [deal(f"e{i}", f"opp-{i}", amount=f"{i}.01") for i in range(50)]
    async with in_transaction():
        result = await service.ingest_events(
            viewer=system_viewer(tenant), source="crm", events=events
        )
    await JobQueue(pool).enqueue_apply(tenant.id, result.inbox_ids)

    await burst()

    assert engine_runs == ["ana"]
    expected = sum((Decimal(f"{i}.01") for i in range(50)), Decimal(0)) * Decimal("0.05")
    assert await totals(tenant) == {(ana.id, "2026-10"): expected.quantize(Decimal("0.01"))}


async def test_given_50_recompute_enqueues_for_a_tenant_then_one_job_one_engine_run(
    burst: Burst, pool: ArqRedis, redis_url: str, engine_runs: list[str]
):
    tenant, ana, _ = await world()
    async with in_transaction():
        ids = await service.ingest_events(
            viewer=system_viewer(tenant), source="crm", events=[deal("e1")]
        )
        await service.apply_inbox_event(viewer=system_viewer(tenant), inbox_id=ids.inbox_ids[0])
    queue = JobQueue(pool)

    queued = [await queue.enqueue_recomputes(tenant.id) for _ in range(50)]
    await burst()

    assert queued.count(True) == 1
    assert engine_runs == ["ana"]


async def test_given_jobs_run_twice_then_the_second_run_changes_nothing(
    pool: ArqRedis, engine_runs: list[str]
):
    tenant, ana, _ = await world()
    async with in_transaction():
        result = await service.ingest_events(
            viewer=system_viewer(tenant), source="crm", events=[deal("e1")]
        )
    ctx: dict[str, Any] = {"redis": pool, "after_recompute": []}
    tid = str(tenant.id)

    assert await apply_inbox_events(ctx, tid, result.inbox_ids) == 1
    applied_at = (await InboxEvent.get(id=result.inbox_ids[0])).applied_at
    assert await apply_inbox_events(ctx, tid, result.inbox_ids) == 0
    first = await recompute_requested(ctx, tid)
    stored = await EarningsResult.get(tenant_id=tenant.id)
    second = await recompute_requested(ctx, tid)

    assert (first, second) == (1, 0)
    assert engine_runs == ["ana"]
    assert (await InboxEvent.get(id=result.inbox_ids[0])).applied_at == applied_at
    again = await EarningsResult.get(tenant_id=tenant.id)
    assert (again.id, again.total, again.computed_at) == (
        stored.id,
        stored.total,
        stored.computed_at,
    )


async def test_given_a_failing_hook_then_the_recompute_is_kept_and_other_hooks_still_run(
    pool: ArqRedis,
):
    tenant, ana, _ = await world()
    async with in_transaction():
        result = await service.ingest_events(
            viewer=system_viewer(tenant), source="crm", events=[deal("e1")]
        )
        await service.apply_inbox_event(viewer=system_viewer(tenant), inbox_id=result.inbox_ids[0])
    seen: list[str] = []

    async def broken(ctx: dict[str, Any], **kwargs: Any) -> None:
        raise RuntimeError("push service down")

    async def fine(ctx: dict[str, Any], *, tenant_id: UUID, user_id: UUID, period: str) -> None:
        seen.append(period)

    ctx: dict[str, Any] = {"redis": pool, "after_recompute": [broken, fine]}

    outcome = await recompute_requested(ctx, str(tenant.id))

    assert outcome == 1
    assert seen == ["2026-10"]
    assert await totals(tenant) == {(ana.id, "2026-10"): Decimal("2000.00")}


async def test_given_work_whose_enqueue_was_lost_when_the_sweeper_runs_then_it_is_done(
    burst: Burst, pool: ArqRedis, redis_url: str
):
    tenant, ana, ben = await world()
    viewer = system_viewer(tenant)
    async with in_transaction():
        lost_event = await service.ingest_events(viewer=viewer, source="crm", events=[deal("e1")])
    # a request committed by an apply whose recompute enqueue never reached Redis
    async with in_transaction():
        await IngestRepository(viewer).request_recomputes([(ben.id, "2026-10")])
    young = await service.ingest_events(
        viewer=viewer, source="crm", events=[deal("e2", "opp-2", rep="ben")]
    )
    old = utc_now() - timedelta(minutes=1)
    await InboxEvent.filter(id=lost_event.inbox_ids[0]).update(received_at=old)
    await RecomputeRequest.all().update(requested_at=old)

    swept = await sweep({"redis": pool})
    await burst()

    assert swept == {"inbox_events": 1, "recomputes": 1}
    assert (await InboxEvent.get(id=lost_event.inbox_ids[0])).status is InboxStatus.APPLIED
    # younger than the deadline: not counted as lost, but the drain the sweeper queued for
    # the tenant applies whatever is pending, in id order
    assert (await InboxEvent.get(id=young.inbox_ids[0])).status is InboxStatus.APPLIED
    assert await totals(tenant) == {
        (ana.id, "2026-10"): Decimal("2000.00"),
        (ben.id, "2026-10"): Decimal("2000.00"),
    }


async def test_given_a_closed_period_when_recompute_runs_then_refused_and_request_dropped(
    pool: ArqRedis, caplog: pytest.LogCaptureFixture
):
    tenant, ana, _ = await world()
    viewer = system_viewer(tenant)
    await earnings_service.close_period(viewer=viewer, period="2026-10")
    async with in_transaction():
        await IngestRepository(viewer).request_recomputes([(ana.id, "2026-10")])

    with caplog.at_level(logging.WARNING, logger="podium.workers.earnings"):
        outcome = await recompute_requested({"redis": pool}, str(tenant.id))

    assert outcome == 0
    assert any("refused: period: 2026-10 is closed" in r.getMessage() for r in caplog.records)
    assert await RecomputeRequest.all().count() == 0
    assert await totals(tenant) == {}
    # the change is not lost: flagged for the next open period (statements, its close)
    late = await LateEvent.get(tenant_id=tenant.id)
    assert (late.user_id, late.period, late.flagged_for) == (ana.id, "2026-10", "2026-11")


def test_given_the_api_when_enqueueing_then_it_goes_through_workers_queue_only():
    root = Path(__file__).resolve().parents[2] / "api"
    offenders = []
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "arq" or n.startswith("arq.") for n in names):
                offenders.append(str(path))
    assert offenders == []


async def test_given_an_event_failing_unexpectedly_then_others_apply_and_it_is_dead_lettered_last(
    pool: ArqRedis, monkeypatch: pytest.MonkeyPatch
):
    tenant, ana, _ = await world()
    async with in_transaction():
        result = await service.ingest_events(
            viewer=system_viewer(tenant),
            source="crm",
            events=[deal("e1", "opp-1"), deal("e2", "opp-2"), deal("e3", "opp-3")],
        )
    poison = result.inbox_ids[1]
    real = service.apply_claimed

    async def buggy(*, viewer: Any, row: InboxEvent) -> Any:
        if row.id == poison:
            raise ValueError("a bug in an adapter")
        return await real(viewer=viewer, row=row)

    real_bulk = service.apply_in_bulk

    async def buggy_bulk(*, viewer: Any, rows: Any) -> Any:
        if any(row.id == poison for row in rows):
            raise ValueError("a bug in an adapter")
        return await real_bulk(viewer=viewer, rows=rows)

    monkeypatch.setattr(service, "apply_claimed", buggy)
    monkeypatch.setattr(service, "apply_in_bulk", buggy_bulk)
    ctx: dict[str, Any] = {"redis": pool}
    tid = str(tenant.id)

    assert await apply_inbox_events(ctx, tid) == 2
    stuck = await InboxEvent.get(id=poison)
    assert (stuck.status, stuck.attempts) == (InboxStatus.PENDING, 1)
    for _ in range(4):
        assert await apply_inbox_events(ctx, tid) == 0

    stuck = await InboxEvent.get(id=poison)
    assert (stuck.status, stuck.attempts) == (InboxStatus.DEAD, 5)
    assert "failed 5 times: ValueError('a bug in an adapter')" in (stuck.outcome or "")
    (letter,) = await DeadLetter.filter(tenant_id=tenant.id)
    assert letter.event_id == "e2"
    assert letter.reason.startswith("failed 5 times")
    # the other two events were applied and their recompute requested (and queued)
    assert {e.status for e in await InboxEvent.filter(id__not=poison)} == {InboxStatus.APPLIED}
    assert await RecomputeRequest.filter(tenant_id=tenant.id, user_id=ana.id).count() == 1


async def test_given_many_reps_requested_when_the_batch_job_runs_then_each_as_if_recomputed_alone(
    pool: ArqRedis, engine_runs: list[str]
):
    tenant = await make_tenant(slug="acme")
    plan = await publish_plan(
        tenant=tenant, document=plan_yaml(rate="0.05"), effective_from="2026-01-01"
    )
    reps = [await make_user(tenant=tenant, external_id=f"rep{i:02}") for i in range(12)]
    for rep in reps:
        await assign(user=rep, plan=plan, effective_from="2026-01-01")
    events = [
        deal(f"e{i}", f"opp-{i}", rep=f"rep{i % 12:02}", amount=f"{1000 + i}.{i % 100:02}")
        for i in range(60)
    ]
    # one split across two reps and one deal in November: two periods, shared transactions
    events.append(
        deal(
            "split",
            "opp-split",
            rep="rep00",
            amount="1000.00",
            splits=[{"rep_id": "rep00", "share": "0.5"}, {"rep_id": "rep01", "share": "0.5"}],
        )
    )
    events.append(deal("nov", "opp-nov", rep="rep03", amount="333.33", on="2026-11-02"))
    async with in_transaction():
        result = await service.ingest_events(
            viewer=system_viewer(tenant), source="crm", events=events
        )
    ctx: dict[str, Any] = {"redis": pool, "after_recompute": []}
    seen: list[tuple[UUID, str]] = []

    async def hook(ctx: dict[str, Any], *, tenant_id: UUID, user_id: UUID, period: str) -> None:
        seen.append((user_id, period))

    ctx["after_recompute"] = [hook]
    assert await apply_inbox_events(ctx, str(tenant.id), result.inbox_ids) == len(events)
    assert await recompute_requested(ctx, str(tenant.id)) == 13

    batch = {
        (r.user_id, r.period): (r.total, r.payable, r.measures, r.components)
        for r in await EarningsResult.filter(tenant_id=tenant.id)
    }
    lines = sorted(
        (line.result_id, line.position, line.transaction_external_id, line.amount)
        for line in await EarningsLine.filter(tenant_id=tenant.id)
    )
    assert len(batch) == 13
    assert sorted(seen) == sorted(batch)
    assert sorted(engine_runs) == sorted([f"rep{i:02}" for i in range(12)] + ["rep03"])
    assert await RecomputeRequest.filter(tenant_id=tenant.id).count() == 0
    # the same people, one at a time through the single-rep service: identical figures
    viewer = system_viewer(tenant)
    for user_id, period in batch:
        await earnings_service.recompute_rep_period(viewer=viewer, user_id=user_id, period=period)
    alone = {
        (r.user_id, r.period): (r.total, r.payable, r.measures, r.components)
        for r in await EarningsResult.filter(tenant_id=tenant.id)
    }
    assert alone == batch
    assert lines == sorted(
        (line.result_id, line.position, line.transaction_external_id, line.amount)
        for line in await EarningsLine.filter(tenant_id=tenant.id)
    )
    # and the follow-up the batch job left under an id of its own
    queued = [j.decode() for j in await pool.zrange(pool.default_queue_name, 0, -1)]
    assert f"recompute:{tenant.id}:after:" in " ".join(queued)


async def test_given_a_request_arriving_while_the_batch_job_runs_then_its_follow_up_does_it(
    burst: Burst, pool: ArqRedis, redis_url: str, monkeypatch: pytest.MonkeyPatch
):
    tenant, ana, ben = await world()
    viewer = system_viewer(tenant)
    async with in_transaction():
        first = await service.ingest_events(viewer=viewer, source="crm", events=[deal("e1")])
        await service.apply_inbox_event(viewer=viewer, inbox_id=first.inbox_ids[0])
    real = earnings_service.recompute_many
    queue = JobQueue(pool)

    async def racing(**kwargs: Any) -> Any:
        out = await real(**kwargs)
        if kwargs["pairs"][0][0] == ana.id:
            # ben's deal is applied and its recompute asked for while ana's batch runs: the
            # regular job id is taken (this job), so that enqueue is refused
            async with in_transaction():
                late = await service.ingest_events(
                    viewer=viewer, source="crm", events=[deal("e2", "opp-2", rep="ben")]
                )
                await service.apply_inbox_event(viewer=viewer, inbox_id=late.inbox_ids[0])
        return out

    monkeypatch.setattr(earnings_service, "recompute_many", racing)
    assert await queue.enqueue_recomputes(tenant.id)

    await burst()

    assert await totals(tenant) == {
        (ana.id, "2026-10"): Decimal("2000.00"),
        (ben.id, "2026-10"): Decimal("2000.00"),
    }
    assert await RecomputeRequest.all().count() == 0


async def test_given_a_long_backlog_when_a_job_runs_out_of_time_then_a_successor_finishes_it(
    burst: Burst, pool: ArqRedis, redis_url: str, monkeypatch: pytest.MonkeyPatch
):
    import workers.tasks.ingest as ingest_task

    tenant, ana, ben = await world()
    events = [deal(f"e{i}", f"opp-{i}", rep="ana" if i % 2 else "ben") for i in range(250)]
    async with in_transaction():
        result = await service.ingest_events(
            viewer=system_viewer(tenant), source="crm", events=events
        )
    # every draining job hands over after its first batch
    monkeypatch.setattr(ingest_task, "DRAIN_SECONDS", 0.0)
    monkeypatch.setattr(ingest_task, "APPLY_BATCH", 100)
    monkeypatch.setattr("workers.tasks.earnings.DRAIN_SECONDS", 0.0)

    await JobQueue(pool).enqueue_apply(tenant.id, result.inbox_ids)
    await burst()

    assert {e.status for e in await InboxEvent.filter(tenant_id=tenant.id)} == {InboxStatus.APPLIED}
    # 125 deals of 40,000.00 each at 5%
    assert await totals(tenant) == {
        (ana.id, "2026-10"): Decimal("250000.00"),
        (ben.id, "2026-10"): Decimal("250000.00"),
    }
    assert await RecomputeRequest.all().count() == 0


async def test_given_one_rep_failing_in_a_batch_then_the_others_are_stored_and_its_request_kept(
    pool: ArqRedis, monkeypatch: pytest.MonkeyPatch
):
    tenant, ana, ben = await world()
    cat = await make_user(tenant=tenant, external_id="cat")
    viewer = system_viewer(tenant)
    async with in_transaction():
        await IngestRepository(viewer).request_recomputes(
            [(ana.id, "2026-10"), (ben.id, "2026-10"), (cat.id, "2026-10")]
        )
    real = earnings_service.recompute_many

    async def buggy(*, viewer: Any, pairs: Any) -> Any:
        if any(user_id == ben.id for user_id, _ in pairs):
            raise ValueError("a bug for ben")
        return await real(viewer=viewer, pairs=pairs)

    monkeypatch.setattr(earnings_service, "recompute_many", buggy)

    done = await recompute_requested({"redis": pool, "after_recompute": []}, str(tenant.id))

    assert done == 2  # ana and cat, one by one after the batch failed
    left = await RecomputeRequest.filter(tenant_id=tenant.id).values_list("user_id", flat=True)
    assert [str(u) for u in left] == [str(ben.id)]
    assert {u for u, _ in await totals(tenant)} == {ana.id}  # cat is on no plan: no result


async def test_given_a_rep_failing_on_its_data_then_its_request_parks_logged_once(
    pool: ArqRedis, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    """A recompute PostgreSQL refuses for its data (`cannot subtract infinite dates`, from a
    date stored as infinity) was put back and retried every sweep, forever: the same data
    fails the same way, so its request parks at once with the error (a change to the data
    requests the recompute again)."""
    tenant, ana, ben = await world()
    async with in_transaction():
        await IngestRepository(system_viewer(tenant)).request_recomputes(
            [(ana.id, "2026-10"), (ben.id, "2026-10")]
        )
    real = earnings_service.recompute_many

    async def refused(*, viewer: Any, pairs: Any) -> Any:
        if any(user_id == ben.id for user_id, _ in pairs):
            overflow = asyncpg.exceptions.DatetimeFieldOverflowError(
                "cannot subtract infinite dates"
            )
            raise OperationalError(overflow) from overflow  # as tortoise wraps it
        return await real(viewer=viewer, pairs=pairs)

    monkeypatch.setattr(earnings_service, "recompute_many", refused)
    ctx = {"redis": pool, "after_recompute": []}

    with caplog.at_level(logging.ERROR, logger="podium.workers.earnings"):
        done = await recompute_requested(ctx, str(tenant.id))
        again = await recompute_requested(ctx, str(tenant.id))

    assert (done, again) == (1, 0)
    (left,) = await RecomputeRequest.filter(tenant_id=tenant.id)
    assert (left.user_id, left.attempts, left.parked_at is not None) == (ben.id, 1, True)
    assert "cannot subtract infinite dates" in str(left.error)
    ends = [r.getMessage() for r in caplog.records if "on its data" in r.getMessage()]
    assert ends == [f"recompute {ben.id} 2026-10 failed on its data; parked until it changes"]


async def test_given_a_rep_failing_every_time_then_its_request_parks_after_five_tries(
    pool: ArqRedis, monkeypatch: pytest.MonkeyPatch
):
    """A recompute failing for a reason that is not its data (a bug, say) was put back and
    retried by every sweep, forever. It is tried five times, then parked with its error: no
    job nor sweep takes it again; a later change to the person's data makes it live."""
    tenant, ana, ben = await world()
    repo = IngestRepository(system_viewer(tenant))
    async with in_transaction():
        await repo.request_recomputes([(ana.id, "2026-10"), (ben.id, "2026-10")])
    real = earnings_service.recompute_many

    async def buggy(*, viewer: Any, pairs: Any) -> Any:
        if any(user_id == ben.id for user_id, _ in pairs):
            raise ValueError("a bug for ben")
        return await real(viewer=viewer, pairs=pairs)

    monkeypatch.setattr(earnings_service, "recompute_many", buggy)
    ctx = {"redis": pool, "after_recompute": []}

    seen = []
    for _ in range(6):
        await recompute_requested(ctx, str(tenant.id))
        (row,) = await RecomputeRequest.filter(tenant_id=tenant.id)
        seen.append((row.attempts, row.parked_at is not None))
        swept = await sweep({"redis": pool, "sweep_after": timedelta(seconds=-60)})
        seen.append(swept["recomputes"])

    assert seen[:8] == [(1, False), 1, (2, False), 1, (3, False), 1, (4, False), 1]
    assert seen[8:] == [(5, True), 0, (5, True), 0]  # parked: neither taken nor swept
    assert row.error == "ValueError('a bug for ben')"
    assert await repo.parked_requests() == (
        1,
        [ParkedRequest("ben", "2026-10", 5, "ValueError('a bug for ben')", row.parked_at)],
    )

    async with in_transaction():  # a CRM change of ben's: live again, its count reset
        await repo.request_recomputes([(ben.id, "2026-10")])
    (row,) = await RecomputeRequest.filter(tenant_id=tenant.id)
    assert (row.attempts, row.error, row.parked_at, row.generation) == (0, None, None, 2)
    monkeypatch.setattr(earnings_service, "recompute_many", real)  # the bug is fixed

    assert await recompute_requested(ctx, str(tenant.id)) == 1
    assert await RecomputeRequest.filter(tenant_id=tenant.id).count() == 0
    assert {u for u, _ in await totals(tenant)} == {ana.id, ben.id}


async def test_given_a_request_for_a_period_no_longer_accepted_then_refused_once_and_done(
    pool: ArqRedis, caplog: pytest.LogCaptureFixture
):
    """A request for 9999-12 (written when a deal could be dated 9999-12-31) failed its
    batch every 30 s: the period ends on date.max, stored as infinity. It is refused like a
    closed period now, and the batch's other pairs are recomputed."""
    tenant, ana, ben = await world()
    async with in_transaction():
        await IngestRepository(system_viewer(tenant)).request_recomputes(
            [(ana.id, "9999-12"), (ben.id, "2026-10")]
        )

    with caplog.at_level(logging.WARNING, logger="podium.workers.earnings"):
        done = await recompute_requested({"redis": pool, "after_recompute": []}, str(tenant.id))

    assert done == 1
    assert await RecomputeRequest.filter(tenant_id=tenant.id).count() == 0
    assert {u for u, _ in await totals(tenant)} == {ben.id}
    assert [r.getMessage() for r in caplog.records] == [
        f"recompute {tenant.id} {ana.id} 9999-12 refused: period: year 9999 is outside the "
        "years Podium accepts (1900 to 2199) in period '9999-12'"
    ]


async def test_given_batches_while_a_hook_runs_behind_then_its_next_run_takes_them_together(
    pool: ArqRedis, monkeypatch: pytest.MonkeyPatch
):
    """A hook that runs behind runs at most once every `behind_every`: the batches that end
    meanwhile are gathered into its next run (each pair once, with its latest stored results),
    and the job ends once that run has."""
    tenant, ana, ben = await world()
    cat = await make_user(tenant=tenant, external_id="cat")
    async with in_transaction():
        await IngestRepository(system_viewer(tenant)).request_recomputes(
            [(ana.id, "2026-10"), (ben.id, "2026-10"), (cat.id, "2026-10")]
        )
    monkeypatch.setattr("workers.tasks.earnings.RECOMPUTE_BATCH", 1)  # three batches
    runs: list[tuple[list[UUID], list[UUID]]] = []  # (pairs, pairs with results given)

    async def behind(ctx: dict[str, Any], **kwargs: Any) -> None:
        pass

    async def behind_many(ctx: dict[str, Any], *, pairs: Any, results: Any, **kw: Any) -> None:
        runs.append(([u for u, _ in pairs], [u for u, _ in pairs if (u, _) in results]))

    behind.many = behind_many  # type: ignore[attr-defined]
    behind.runs_behind = True  # type: ignore[attr-defined]
    ctx: dict[str, Any] = {
        "redis": pool, "after_recompute": [behind], "idle_wait": 0, "behind_every": 30.0,
    }  # fmt: skip

    assert await recompute_requested(ctx, str(tenant.id)) == 3

    # the first batch's run at once; the two batches after it in one run, when the job ends
    assert len(runs) == 2
    (first, first_given), (rest, rest_given) = runs
    assert len(first) == 1
    assert len(rest) == 2
    assert {*first, *rest} == {ana.id, ben.id, cat.id}
    assert first_given == first  # their batches' stored results
    assert rest_given == rest


async def test_given_a_hook_that_runs_behind_then_the_next_batch_goes_on_and_the_job_awaits_it(
    pool: ArqRedis, monkeypatch: pytest.MonkeyPatch
):
    """Notifications run behind: the next batch's live updates do not wait for them, one
    batch's run at a time, and the job ends only once the last one has."""
    tenant, ana, ben = await world()
    async with in_transaction():
        await IngestRepository(system_viewer(tenant)).request_recomputes(
            [(ana.id, "2026-10"), (ben.id, "2026-10")]
        )
    monkeypatch.setattr("workers.tasks.earnings.RECOMPUTE_BATCH", 1)  # two batches
    names = {ana.id: "ana", ben.id: "ben"}
    seen: list[str] = []

    async def inline(ctx: dict[str, Any], **kwargs: Any) -> None:
        pass

    async def inline_many(ctx: dict[str, Any], *, pairs: Any, **kwargs: Any) -> None:
        seen.extend(f"inline {names[u]}" for u, _ in pairs)

    async def behind(ctx: dict[str, Any], **kwargs: Any) -> None:
        pass

    async def behind_many(ctx: dict[str, Any], *, pairs: Any, **kwargs: Any) -> None:
        (who,) = [names[u] for u, _ in pairs]
        seen.append(f"behind {who} starts")
        await asyncio.sleep(0.3)
        if len([x for x in seen if x.startswith("behind")]) > 2:
            seen.append(f"behind {who} fails")
            raise RuntimeError("push service down")  # logged: the job still succeeds
        seen.append(f"behind {who} ends")

    inline.many = inline_many  # type: ignore[attr-defined]
    behind.many = behind_many  # type: ignore[attr-defined]
    behind.runs_behind = True  # type: ignore[attr-defined]
    ctx: dict[str, Any] = {"redis": pool, "after_recompute": [inline, behind], "idle_wait": 0}

    done = await recompute_requested(ctx, str(tenant.id))

    assert done == 2
    first, second = [x.split()[1] for x in seen if x.startswith("inline")]  # the batches' order
    assert seen == [
        f"inline {first}",
        f"behind {first} starts",
        f"inline {second}",  # the second batch's live update did not wait
        f"behind {first} ends",
        f"behind {second} starts",  # one batch's at a time
        f"behind {second} fails",  # logged; the job waited for it before it returned
    ]
    assert await totals(tenant) == {
        (ana.id, "2026-10"): Decimal("0.00"),
        (ben.id, "2026-10"): Decimal("0.00"),
    }


async def test_given_a_closed_period_when_its_late_record_fails_then_the_request_is_kept(
    pool: ArqRedis, monkeypatch: pytest.MonkeyPatch
):
    """The refused request is dropped in the transaction that records the late change: a
    worker that dies between the two (here: the record fails) loses neither."""
    tenant, ana, _ = await world()
    viewer = system_viewer(tenant)
    await earnings_service.close_period(viewer=viewer, period="2026-10")
    async with in_transaction():
        await IngestRepository(viewer).request_recomputes([(ana.id, "2026-10")])
    real = earnings_close.record_late_events

    async def dies(**kwargs: Any) -> int:
        raise RuntimeError("worker killed")

    monkeypatch.setattr(earnings_close, "record_late_events", dies)
    with pytest.raises(RuntimeError):
        await recompute_requested({"redis": pool}, str(tenant.id))

    assert await RecomputeRequest.filter(user_id=ana.id, period="2026-10").exists()
    monkeypatch.setattr(earnings_close, "record_late_events", real)
    await recompute_requested({"redis": pool}, str(tenant.id))
    late = await LateEvent.get(tenant_id=tenant.id)
    assert (late.user_id, late.period, late.flagged_for) == (ana.id, "2026-10", "2026-11")
    assert await RecomputeRequest.all().count() == 0
