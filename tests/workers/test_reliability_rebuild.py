"""`podium rebuild-cache`: Redis lost everything (FLUSHALL) before the worker ran; the
command, run as a user would (a fresh interpreter with DATABASE_URL and REDIS_URL), queues
again what PostgreSQL says is still to do, and the worker then stores the exact earnings."""

from __future__ import annotations

import asyncio
import sys
from decimal import Decimal
from typing import Any
from uuid import UUID

from redis.asyncio import Redis
from tortoise.transactions import in_transaction

from api.app import create_app
from api.settings import Settings
from domain.earnings.models import EarningsResult
from domain.ingest import service
from domain.ingest.models import InboxEvent, InboxStatus, RecomputeRequest
from tests.api.cli_runner import ROOT, Ran, cli_env
from tests.api.graphql.helpers import serve
from tests.domain.builders import assign, make_tenant, make_user, plan_yaml, publish_plan
from tests.domain.builders import system_viewer as viewer_of_tenant
from tests.workers.ingest_helpers import arq_pool, body_of, deal, run_burst, signed_headers
from tests.workers.ingest_helpers import redis_url as redis_url  # a private Redis
from workers.queue import JobQueue

QUEUE = "arq:queue"  # the queue the command fills: arq's default, as in production


async def podium(database_url: str, redis_url: str, *args: str) -> Ran:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.cli",
        *args,
        cwd=ROOT,
        env=cli_env(database_url, REDIS_URL=redis_url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return Ran(proc.returncode, out.decode(), err.decode())


async def world(slug: str) -> Any:
    tenant = await make_tenant(slug=slug)
    people = {r: await make_user(tenant=tenant, external_id=r) for r in ("ana", "ben")}
    plan = await publish_plan(
        tenant=tenant, document=plan_yaml(rate="0.05"), effective_from="2026-01-01"
    )
    for person in people.values():
        await assign(user=person, plan=plan, effective_from="2026-01-01")
    return tenant, people


async def totals(tenant: Any) -> dict[tuple[UUID, str], Decimal]:
    return {
        (r.user_id, r.period): Decimal(r.total)
        for r in await EarningsResult.filter(tenant_id=tenant.id)
    }


async def test_given_redis_flushed_before_the_worker_ran_when_rebuild_cache_then_earnings_stored(
    db: str, redis: Redis, database_url: str, redis_url: str
):
    acme, people = await world("acme")
    other, others = await world("other")
    # accepted through the webhook: in the inbox, their apply jobs queued
    pool = await arq_pool(redis_url, QUEUE)
    app = create_app(Settings(database_url=database_url, redis_url=redis_url))
    try:
        async with serve(app) as http:
            app.state.job_queue = JobQueue(pool)
            for tenant, events in (
                (
                    acme,
                    [
                        deal(
                            "e1",
                            "opp-1",
                            amount="40000.10",
                            splits=[
                                {"rep_id": "ana", "share": "0.6"},
                                {"rep_id": "ben", "share": "0.4"},
                            ],
                        ),
                    ],
                ),
                (other, [deal("o1", "opp-1", amount="100.00")]),
            ):
                body = body_of(*events)
                response = await http.post(
                    f"/webhooks/crm/{tenant.slug}",
                    content=body,
                    headers=signed_headers(body, tenant.webhook_secret),
                )
                assert response.status_code == 202, response.text
    finally:
        await pool.aclose()
    # one more event applied, its recompute requested, but the recompute job never queued
    viewer = viewer_of_tenant(acme)
    async with in_transaction():
        stored = await service.ingest_events(
            viewer=viewer,
            source="crm",
            events=[deal("e2", "opp-2", rep="ben", amount="999.99", on="2026-11-05")],
        )
        await service.apply_inbox_event(viewer=viewer, inbox_id=stored.inbox_ids[0])
    assert await redis.zcard(QUEUE) == 2

    await redis.flushall()  # Redis lost everything before the worker ran
    one = await podium(database_url, redis_url, "rebuild-cache", "--tenant", "acme")
    queued_for_acme = sorted(await redis.zrange(QUEUE, 0, -1))
    every = await podium(database_url, redis_url, "rebuild-cache")
    nobody = await podium(database_url, redis_url, "rebuild-cache", "--tenant", "nobody")
    await run_burst(redis_url, QUEUE)

    assert one.returncode == 0, one.stderr
    assert one.stdout.splitlines()[0] == (
        "acme: queued 1 unapplied inbox event in 1 apply job and 1 recompute request"
    )
    assert "persisted GraphQL queries are not rebuilt" in one.stdout
    # one draining job per kind, under ids of their own (never refused by a lost job's id)
    assert [job.decode().rsplit(":", 1)[0] for job in queued_for_acme] == [
        f"apply:{acme.id}:rebuild",
        f"recompute:{acme.id}:rebuild",
    ]
    assert every.returncode == 0, every.stderr
    assert every.stdout.startswith(
        "every tenant: queued 2 unapplied inbox events in 2 apply jobs and 1 recompute request"
    )
    nobody.one_line_error("no tenant 'nobody'")
    # the worker did everything the lost jobs would have done, to the cent
    assert await totals(acme) == {
        (people["ana"].id, "2026-10"): Decimal("1200.00"),  # 5% of 40000.10 x 0.6
        (people["ben"].id, "2026-10"): Decimal("800.00"),
        (people["ben"].id, "2026-11"): Decimal("50.00"),  # 5% of 999.99
    }
    assert await totals(other) == {(others["ana"].id, "2026-10"): Decimal("5.00")}
    assert {e.status for e in await InboxEvent.all()} == {InboxStatus.APPLIED}
    assert await RecomputeRequest.all().count() == 0


async def test_given_nothing_lost_when_rebuild_cache_then_nothing_queued(
    db: str, redis: Redis, database_url: str, redis_url: str
):
    await world("acme")

    ran = await podium(database_url, redis_url, "rebuild-cache")

    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith(
        "every tenant: queued 0 unapplied inbox events in 0 apply jobs and 0 recompute requests"
    )
    assert await redis.zcard(QUEUE) == 0
