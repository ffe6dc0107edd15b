"""Two concurrent changes, made deterministic: the first runs in a transaction held open, the
second starts meanwhile, and the first commits only once the second waits for a lock (or has
ended, never having waited). What the second then does shows whether it read the first's
committed work or the state before it.

Each side runs in a task of its own, so each has its own connection and transaction (a task
created inside ``in_transaction()`` would share the first's)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tortoise import connections
from tortoise.transactions import in_transaction

from domain.ingest import service as ingest_service
from domain.ingest.models import InboxStatus
from domain.org.viewer import Viewer
from tests.workers.ingest_helpers import rep_event

_ADVISORY_WAITS = """
    SELECT count(*) AS n FROM pg_locks
    WHERE locktype = 'advisory' AND NOT granted
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


@dataclass(frozen=True, slots=True)
class Raced:
    waited: bool  # the second waited for an advisory lock while the first was open
    result: Any = None  # what the second returned
    error: BaseException | None = None  # or raised


async def _waits_for_advisory_lock(task: asyncio.Task[Any]) -> bool:
    """Until ``task`` ends or a transaction of this database waits for an advisory lock:
    True if one waits (the task is the only other work of the test)."""
    while not task.done():
        rows = await connections.get("default").execute_query_dict(_ADVISORY_WAITS)
        if rows[0]["n"]:
            return True
        await asyncio.sleep(0.01)
    return False


async def race(first: Callable[[], Awaitable[Any]], second: Callable[[], Awaitable[Any]]) -> Raced:
    """``first()`` in a transaction kept open, ``second()`` started meanwhile (in whatever
    transaction it opens itself); the first commits once the second waits for an advisory
    lock or has ended. The first's failure fails the race."""
    started, commit = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with in_transaction():
            await first()
            started.set()
            await commit.wait()

    async with asyncio.timeout(30):
        holder = asyncio.create_task(hold())
        began = asyncio.create_task(started.wait())
        await asyncio.wait({holder, began}, return_when=asyncio.FIRST_COMPLETED)
        if holder.done():
            began.cancel()
            await holder  # raises what the first raised
        other = asyncio.create_task(second())
        try:
            waited = await _waits_for_advisory_lock(other)
        finally:
            commit.set()
            await holder
        try:
            return Raced(waited, result=await other)
        except Exception as exc:  # noqa: BLE001 - the caller asserts on it
            return Raced(waited, error=exc)


async def rep_event_to_apply(
    viewer: Viewer, rep: str, **data: Any
) -> Callable[[], Awaitable[None]]:
    """A CRM ``rep.upserted`` event of ``rep`` stored in the inbox (committed), and what
    applies it as a worker does (in the caller's transaction), checking it was applied."""
    async with in_transaction():
        stored = await ingest_service.ingest_events(
            viewer=viewer, source="crm", events=[rep_event(f"event-{rep}", rep, **data)]
        )

    async def apply() -> None:
        result = await ingest_service.apply_inbox_event(viewer=viewer, inbox_id=stored.inbox_ids[0])
        assert result.status is InboxStatus.APPLIED, result

    return apply
