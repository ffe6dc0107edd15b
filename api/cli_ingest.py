"""`podium replay-dead-letters`: list the CRM events that were dead-lettered, with their
reasons, and run them again through the webhook's own path (validate, store in the inbox,
queue the apply job after commit). `podium rebuild-cache`: refill Redis from PostgreSQL after
it lost its data. Registered onto the typer app by api/cli.py."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated, Any

import typer

TenantArg = Annotated[
    str, typer.Option("--tenant", envvar="PODIUM_TENANT", help="The tenant's slug.")
]
# text, parsed here: a 20-digit id is one line and exit 2, not an overflow deep in asyncpg
IdsOption = Annotated[
    list[str] | None,
    typer.Option("--id", help="A dead letter's id (repeatable); default: every open one."),
]
MAX_ID = 2**63 - 1  # PostgreSQL bigint
MIN_REASON, MAX_REASON = 3, 500  # a discard's reason, kept in the audit log


def parse_ids(values: list[str] | None) -> list[int] | None:
    from api import cli

    if values is None:
        return None
    ids = []
    for value in values:
        if not (value.isascii() and value.isdigit()) or not 0 < int(value) <= MAX_ID:
            cli._fail(f"--id: {value!r} is not a dead letter id (a whole number from 1)")
        ids.append(int(value))
    return ids


async def _require(viewer: Any, ids: list[int] | None, tenant: str) -> None:
    """Every id named must exist in the tenant: one missing is bad input (exit 2), before
    anything changes."""
    from domain.ingest import service
    from domain.kit.errors import NotFound

    if not ids:
        return
    missing = sorted(set(ids) - await service.existing_dead_letter_ids(viewer=viewer, ids=ids))
    if missing:
        listed = ", ".join(map(str, missing))
        noun = "dead letter" if len(missing) == 1 else "dead letters"
        raise NotFound(f"no {noun} {listed} in tenant {tenant!r}", field="--id")


ListOption = Annotated[
    bool, typer.Option("--list", help="Only list the open dead letters and their reasons.")
]


def replay_dead_letters(
    tenant: TenantArg, ids: IdsOption = None, list_only: ListOption = False
) -> None:
    """Replay dead-lettered CRM events (all open ones, or --id ...); --list shows them.

    Exit status 0 when every replayed event was accepted (or was a duplicate), 1 when some
    are still rejected (their reasons are printed), 2 on bad input."""
    from api import cli
    from domain.ingest import service
    from domain.org.viewer import Viewer

    wanted = parse_ids(ids)
    settings = cli._settings()

    async def work() -> tuple[Any, list[Any]]:
        found = await cli._tenant(tenant)
        viewer = Viewer.system(found.id, "cli-replay")
        if list_only:
            return found, await service.list_dead_letters(viewer=viewer)
        await _require(viewer, wanted, tenant)
        async with cli.in_transaction():
            return found, await service.replay_dead_letters(viewer=viewer, ids=wanted)

    found, results = cli._with_database(settings.database_url, work)
    if list_only:
        for letter in results:
            where = f"event {letter.event_id}" if letter.event_id else "event without id"
            sys.stdout.write(
                f"{letter.id}\t{letter.source}\t{where}\t{letter.created_at:%Y-%m-%d %H:%M:%S}"
                f"\t{letter.reason}\n"
            )
        count = len(results)
        sys.stdout.write(f"{count} open dead letter{'' if count == 1 else 's'}\n")
        return
    accepted = [r.inbox_id for r in results if r.inbox_id is not None]
    if accepted:
        _enqueue(settings.redis_url, found.id, accepted)
    failed = 0
    for r in results:
        if r.outcome == "rejected":
            failed += 1
            sys.stdout.write(f"dead letter {r.dead_letter_id}: still rejected: {r.error}\n")
        elif r.outcome == "discarded":
            sys.stdout.write(f"dead letter {r.dead_letter_id}: discarded, not replayed\n")
        elif r.outcome == "accepted":
            sys.stdout.write(f"dead letter {r.dead_letter_id}: accepted (inbox {r.inbox_id})\n")
        else:
            sys.stdout.write(f"dead letter {r.dead_letter_id}: already replayed\n")
    sys.stdout.write(
        f"{len(results)} replayed: {len(accepted)} accepted, {failed} still rejected\n"
    )
    if failed:
        raise typer.Exit(1)


def discard_dead_letters(
    tenant: TenantArg,
    ids: Annotated[
        list[str], typer.Option("--id", help="A dead letter's id (repeatable).", show_default=False)
    ],
    reason: Annotated[
        str, typer.Option("--reason", help="Why it can never succeed (kept in the audit log).")
    ] = "discarded from the command line",
) -> None:
    """Give up on dead letters that can never succeed (audited).

    They leave the open list and are never replayed; the event and its reason stay, and the
    audit log records who discarded them and why."""
    from api import cli
    from domain.ingest import service
    from domain.org.viewer import Viewer

    wanted = parse_ids(ids) or []
    reason = " ".join(reason.split())
    if not MIN_REASON <= len(reason) <= MAX_REASON:  # as `podium payouts return` asks
        cli._fail(f"--reason: say why, in {MIN_REASON} to {MAX_REASON} characters")

    async def work() -> list[int]:
        found = await cli._tenant(tenant)
        viewer = Viewer.system(found.id, "cli-discard")
        await _require(viewer, wanted, tenant)
        async with cli.in_transaction():
            return await service.discard_dead_letters(viewer=viewer, ids=wanted, reason=reason)

    done = cli._with_database(cli._settings().database_url, work)
    for letter_id in wanted:
        state = "discarded" if letter_id in done else "not open (replayed or discarded before)"
        sys.stdout.write(f"dead letter {letter_id}: {state}\n")
    count = len(done)
    sys.stdout.write(f"{count} dead letter{'' if count == 1 else 's'} discarded\n")


def _enqueue(redis_url: str, tenant_id: Any, inbox_ids: list[int]) -> None:
    from workers.queue import JobQueue

    async def run() -> None:
        queue = await JobQueue.connect(redis_url)
        try:
            await queue.enqueue_apply(tenant_id, inbox_ids)
        finally:
            await queue.close()

    try:
        asyncio.run(run())
    except Exception as exc:  # noqa: BLE001 - committed already: the sweeper applies them
        sys.stderr.write(
            f"podium: could not queue the replayed events ({exc}); "
            "the workers' sweeper will apply them within a minute\n"
        )


OptionalTenant = Annotated[
    str | None, typer.Option("--tenant", help="The tenant's slug; default: every tenant.")
]


def rebuild_cache(tenant: OptionalTenant = None) -> None:
    """Refill Redis from PostgreSQL (the truth) after a FLUSHALL/FLUSHDB or a lost Redis.

    The job queue is what this rebuilds: every inbox event not applied yet and every
    pending recompute request is queued again, and the workers apply and recompute them as
    if the original jobs had survived; and every leaderboard is rebuilt from the stored
    results. Nothing else kept in Redis needs rebuilding: persisted GraphQL queries are
    provided by the clients (an unknown hash makes the client send its query again) and
    pub/sub messages are not stored. Safe to run at any time: the jobs are idempotent.

    Exit status 0; 1 when PostgreSQL or Redis cannot be reached; 2 on bad input."""
    from api import cli
    from domain.tenants.models import Tenant
    from gamification.leaderboards.service import rebuild_all
    from gamification.leaderboards.store import BoardStore
    from workers.queue import JobQueue
    from workers.tasks.ingest import Requeued, requeue_durable_work

    settings = cli._settings()

    async def work() -> tuple[str, Requeued, int]:
        tenant_id = (await cli._tenant(tenant)).id if tenant else None
        queue = await JobQueue.connect(settings.redis_url)
        try:
            done = await requeue_durable_work(queue, tenant_id=tenant_id)
            tenants = [tenant_id] if tenant_id else await Tenant.all().values_list("id", flat=True)
            boards = 0
            for each in tenants:
                boards += len(await rebuild_all(store=BoardStore(queue.pool), tenant_id=each))
            return tenant or "every tenant", done, boards
        finally:
            await queue.close()

    try:
        scope, done, boards = cli._with_database(settings.database_url, work)
    except _redis_errors() as exc:
        sys.stderr.write(f"podium: cannot use Redis at {cli._redact(settings.redis_url)}: {exc}\n")
        raise typer.Exit(1) from None
    sys.stdout.write(
        f"{scope}: queued {cli._plural(done.inbox_events, 'unapplied inbox event')} in "
        f"{cli._plural(done.apply_jobs, 'apply job')} and "
        f"{cli._plural(done.recomputes, 'recompute request')}\n"
        f"rebuilt {cli._plural(boards, 'leaderboard')} from PostgreSQL; "
        "persisted GraphQL queries are not rebuilt (clients send them again)\n"
    )


def _redis_errors() -> tuple[type[BaseException], ...]:
    from redis.exceptions import RedisError

    return (RedisError,)


def register(app: typer.Typer) -> None:
    app.command("replay-dead-letters")(replay_dead_letters)
    app.command("discard-dead-letters")(discard_dead_letters)
    app.command("rebuild-cache")(rebuild_cache)
