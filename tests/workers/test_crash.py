"""A worker killed with SIGKILL in the middle of a recompute loses nothing: its transaction
never committed, the durable request is still there, the sweeper re-queues it, and another
worker process converges to the same exact result."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from arq.connections import ArqRedis
from tortoise.transactions import in_transaction

from domain.earnings.models import EarningsResult
from domain.ingest import service
from domain.ingest.models import RecomputeRequest
from tests.domain.builders import assign, make_tenant, make_user, publish_plan, system_viewer
from tests.workers.ingest_helpers import deal
from tests.workers.ingest_helpers import redis_url as redis_url  # a private Redis
from workers.queue import JobQueue
from workers.tasks.ingest import sweep

ROOT = Path(__file__).resolve().parents[2]


def start_worker(
    database_url: str, redis_url: str, queue: str, *, slow: float, marker: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PODIUM_QUEUE": queue,
        "PODIUM_SLOW_SECONDS": str(slow),
        "PODIUM_MARKER": str(marker),
    }
    return subprocess.Popen(  # noqa: ASYNC220 - a long-lived child, polled below
        [sys.executable, "-m", "tests.workers.killable_worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def wait_for(condition: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_given_a_worker_killed_mid_recompute_when_another_starts_then_results_converge(
    pool: ArqRedis, database_url: str, redis_url: str, queue_name: str, tmp_path: Path
):
    tenant = await make_tenant(slug="acme")
    ana = await make_user(tenant=tenant, external_id="ana")
    plan = await publish_plan(tenant=tenant, effective_from="2026-01-01")
    await assign(user=ana, plan=plan, effective_from="2026-01-01")
    viewer = system_viewer(tenant)
    async with in_transaction():
        result = await service.ingest_events(
            viewer=viewer, source="crm", events=[deal("e1", amount="12345.67")]
        )
        await service.apply_inbox_event(viewer=viewer, inbox_id=result.inbox_ids[0])
    await JobQueue(pool).enqueue_recomputes(tenant.id)
    marker = tmp_path / "recomputing"

    doomed = start_worker(database_url, redis_url, queue_name, slow=60, marker=marker)
    try:

        async def recomputing() -> bool:
            return await asyncio.to_thread(marker.exists)

        await wait_for(recomputing, 30, "the slow recompute")
        doomed.send_signal(signal.SIGKILL)
        assert doomed.wait(timeout=10) == -signal.SIGKILL
    finally:
        if doomed.poll() is None:
            doomed.kill()

    # nothing half-done: no result, the request still there
    assert await EarningsResult.filter(tenant_id=tenant.id).count() == 0
    assert await RecomputeRequest.filter(tenant_id=tenant.id).count() == 1

    # the sweeper (any worker's cron) re-queues it; a fresh worker process converges
    swept = await sweep({"redis": pool, "sweep_after": timedelta(0)})
    assert swept["recomputes"] == 1
    survivor = start_worker(database_url, redis_url, queue_name, slow=0, marker=marker)
    try:

        async def converged() -> bool:
            return not await RecomputeRequest.filter(tenant_id=tenant.id).exists()

        await wait_for(converged, 30, "the recompute by the second worker")
    finally:
        survivor.send_signal(signal.SIGTERM)
        try:
            survivor.wait(timeout=10)
        except subprocess.TimeoutExpired:
            survivor.kill()
    stored = await EarningsResult.get(tenant_id=tenant.id, user_id=ana.id, period="2026-10")
    assert Decimal(stored.total) == Decimal("617.28")  # 5% of 12345.67 = 617.2835
