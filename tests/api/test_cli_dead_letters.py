"""`podium replay-dead-letters` and `podium discard-dead-letters`: PODIUM_TENANT, unknown and
out-of-range ids as one line and exit 2, discarding audited and never replayed."""

from __future__ import annotations

import asyncio
import sys

import pytest
from redis.asyncio import Redis
from tortoise.transactions import in_transaction

from domain.audit.models import AuditEntry
from domain.ingest import service
from domain.ingest.models import DeadLetter, DeadLetterStatus
from tests.api.cli_runner import ROOT, Ran, cli_env
from tests.domain.builders import make_tenant, make_user, system_viewer
from tests.workers.ingest_helpers import deal


async def podium(database_url: str, redis_url: str, *args: str, **env: str) -> Ran:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.cli",
        *args,
        cwd=ROOT,
        env=cli_env(database_url, REDIS_URL=redis_url, **env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return Ran(proc.returncode, out.decode(), err.decode())


async def one_dead_letter() -> DeadLetter:
    tenant = await make_tenant(slug="acme")
    await make_user(tenant=tenant, external_id="ana")
    async with in_transaction():
        await service.ingest_events(
            viewer=system_viewer(tenant), source="crm", events=[deal("e1", rep="zoe")]
        )
    return await DeadLetter.get(tenant_id=tenant.id)


async def test_given_podium_tenant_set_when_listing_then_it_is_the_tenant(
    db: str, redis: Redis, redis_url: str
):
    await one_dead_letter()

    listed = await podium(db, redis_url, "replay-dead-letters", "--list", PODIUM_TENANT="acme")

    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.endswith("\n1 open dead letter\n")


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("99999999999999999999", "--id: '99999999999999999999' is not a dead letter id"),
        ("9223372036854775808", "is not a dead letter id"),
        ("-3", "is not a dead letter id"),
        ("0", "is not a dead letter id"),
        ("١٢", "is not a dead letter id"),
        ("999", "--id: no dead letter 999 in tenant 'acme'"),
    ],
)
async def test_given_a_bad_or_unknown_id_when_replaying_or_discarding_then_one_line_exit_2(
    db: str, redis: Redis, redis_url: str, value: str, fragment: str
):
    letter = await one_dead_letter()

    replay = await podium(db, redis_url, "replay-dead-letters", "--tenant", "acme", "--id", value)
    discard = await podium(db, redis_url, "discard-dead-letters", "--tenant", "acme", "--id", value)

    replay.one_line_error(fragment)
    discard.one_line_error(fragment)
    assert (await DeadLetter.get(id=letter.id)).status is DeadLetterStatus.OPEN


async def test_given_one_known_and_one_unknown_id_when_replaying_then_nothing_is_replayed(
    db: str, redis: Redis, redis_url: str
):
    letter = await one_dead_letter()
    await make_user(tenant=await letter.tenant, external_id="zoe")  # it would succeed now

    ran = await podium(
        db, redis_url, "replay-dead-letters", "--tenant", "acme", "--id", str(letter.id),
        "--id", "999",
    )  # fmt: skip

    ran.one_line_error("no dead letter 999")
    assert (await DeadLetter.get(id=letter.id)).status is DeadLetterStatus.OPEN


async def test_given_a_hopeless_dead_letter_when_discarded_then_audited_and_never_replayed(
    db: str, redis: Redis, redis_url: str
):
    letter = await one_dead_letter()

    discarded = await podium(
        db, redis_url, "discard-dead-letters", "--tenant", "acme", "--id", str(letter.id),
        "--reason", "zoe never existed",
    )  # fmt: skip
    listed = await podium(db, redis_url, "replay-dead-letters", "--tenant", "acme", "--list")
    replayed = await podium(
        db, redis_url, "replay-dead-letters", "--tenant", "acme", "--id", str(letter.id)
    )

    assert discarded.returncode == 0, discarded.stderr
    assert discarded.stdout == f"dead letter {letter.id}: discarded\n1 dead letter discarded\n"
    assert listed.stdout.endswith("\n0 open dead letters\n") or listed.stdout == (
        "0 open dead letters\n"
    )
    assert replayed.returncode == 0, replayed.stderr
    assert f"dead letter {letter.id}: discarded, not replayed" in replayed.stdout
    stored = await DeadLetter.get(id=letter.id)
    assert stored.status is DeadLetterStatus.DISCARDED
    assert stored.body  # the event as received stays
    entry = await AuditEntry.get(action="dead_letter.discarded")
    assert entry.entity_id == str(letter.id)
    assert entry.after == {"status": "discarded", "why": "zoe never existed"}
