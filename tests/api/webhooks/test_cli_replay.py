"""`podium replay-dead-letters --tenant SLUG [--id ...] [--list]` in a fresh interpreter."""

from __future__ import annotations

import asyncio
import sys

from redis.asyncio import Redis
from tortoise.transactions import in_transaction

from domain.ingest import service
from domain.ingest.models import DeadLetter, DeadLetterStatus, InboxEvent
from tests.api.cli_runner import ROOT, Ran, cli_env
from tests.domain.builders import make_tenant, make_user, system_viewer
from tests.workers.ingest_helpers import deal


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


async def test_given_dead_letters_when_listed_and_replayed_then_reasons_shown_and_fixed_queued(
    db: str, redis: Redis, redis_url: str
):
    tenant = await make_tenant(slug="acme")
    await make_user(tenant=tenant, external_id="ana")
    async with in_transaction():
        await service.ingest_events(
            viewer=system_viewer(tenant),
            source="crm",
            events=[deal("e1", rep="zoe"), deal("e2", "opp-2", amount="1.2.3")],
        )
    first, second = await DeadLetter.filter(tenant_id=tenant.id).order_by("id")

    listed = await podium(db, redis_url, "replay-dead-letters", "--tenant", "acme", "--list")
    await make_user(tenant=tenant, external_id="zoe")
    one = await podium(
        db, redis_url, "replay-dead-letters", "--tenant", "acme", "--id", str(first.id)
    )
    rest = await podium(db, redis_url, "replay-dead-letters", "--tenant", "acme")
    nobody = await podium(db, redis_url, "replay-dead-letters", "--tenant", "nobody")

    assert listed.returncode == 0, listed.stderr
    assert "e1" in listed.stdout
    assert "data.rep_id: unknown rep 'zoe'" in listed.stdout
    assert "data.amount: '1.2.3' is not a decimal number" in listed.stdout
    assert listed.stdout.endswith("2 open dead letters\n")
    inbox = await InboxEvent.get(tenant_id=tenant.id)
    assert one.returncode == 0, one.stderr
    assert one.stdout.splitlines() == [
        f"dead letter {first.id}: accepted (inbox {inbox.id})",
        "1 replayed: 1 accepted, 0 still rejected",
    ]
    assert await redis.zrange("arq:queue", 0, -1) == [f"apply:{tenant.id}".encode()]
    assert rest.returncode == 1
    assert f"dead letter {second.id}: still rejected: data.amount" in rest.stdout
    assert (await DeadLetter.get(id=first.id)).status is DeadLetterStatus.REPLAYED
    nobody.one_line_error("no tenant 'nobody'")
