"""Opening, closing and checking the database from the ways in (API, CLI)."""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from tortoise import Tortoise, connections
from tortoise.context import get_current_context
from tortoise.migrations.api.migrate import migrate as _migrate

from domain.db import close_db, init_db, tortoise_config

WARM_SECONDS = 10.0  # at most this long opening the pool at start-up

log = structlog.get_logger("podium.database")


def database_is_open() -> bool:
    """Whether tortoise is initialised with live connections here. A closed context still
    reports `inited` (tortoise 1.1 resets only its connections), hence the second check."""
    context = get_current_context()
    return context is not None and context.inited and context._connections is not None


async def open_database(database_url: str, *, warm: bool = False) -> bool:
    """Open the ORM unless this process already has it open (a test's fixture, a CLI command
    that started the server), with every connection of the pool open when ``warm``
    (`warm_pool`). True when this call opened it, so the caller closes it."""
    if database_is_open():
        return False
    await init_db(database_url)
    if warm:
        await warm_pool()
    return True


async def warm_pool() -> None:
    """Open every connection of the pool now, one after another (tortoise creates the pool
    with its first use, and it grows as requests overlap). A server's pool grows to its size
    with the first burst of requests anyway (bench/realtime.py: the first second of webhooks
    opened 16 at once), and each of that burst's requests waited for a connection that
    PostgreSQL forked and asyncpg taught the array types Podium binds (domain.db.KNOWN_TYPES)
    at the moment of the most work. PostgreSQL down or slow does not stop the start: the
    connections open with the first requests, and /ready names PostgreSQL meanwhile."""
    client = connections.get("default")
    try:
        async with asyncio.timeout(WARM_SECONDS), contextlib.AsyncExitStack() as held:
            for _ in range(client.pool_maxsize):  # each held: the next is another connection
                await held.enter_async_context(client.acquire_connection())
    except Exception as exc:  # noqa: BLE001 - the server starts anyway; /ready says why
        log.warning("could not open the database's connections at start-up", error=repr(exc))


async def close_database() -> None:
    await close_db()


async def ping_database() -> None:
    await connections.get("default").execute_query("SELECT 1")


async def migrate(database_url: str) -> None:
    """Apply every migration not applied yet (idempotent)."""
    await _migrate(config=tortoise_config(database_url))
    await Tortoise.close_connections()
