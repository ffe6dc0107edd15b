"""Opening, closing and checking the database from the ways in (API, CLI)."""

from __future__ import annotations

from tortoise import Tortoise, connections
from tortoise.context import get_current_context
from tortoise.migrations.api.migrate import migrate as _migrate

from domain.db import close_db, init_db, tortoise_config


def database_is_open() -> bool:
    """Whether tortoise is initialised with live connections here. A closed context still
    reports `inited` (tortoise 1.1 resets only its connections), hence the second check."""
    context = get_current_context()
    return context is not None and context.inited and context._connections is not None


async def open_database(database_url: str, *, warm: int = 0) -> bool:
    """Open the ORM unless this process already has it open (a test's fixture, a CLI command
    that started the server), with ``warm`` connections ready (`warm_pool`). True when this
    call opened it, so the caller closes it."""
    if database_is_open():
        return False
    await init_db(database_url)
    if warm:
        await warm_pool(warm)
    return True


async def warm_pool(count: int) -> None:
    """Open ``count`` connections of the pool now (or as many as it holds): the first webhooks
    after a start on a cold pool piled up and opened all its connections at once. Each new
    connection learns the array types Podium binds as it opens (domain.db.KNOWN_TYPES)."""
    pool = getattr(connections.get("default"), "_pool", None)
    if pool is None:
        return
    held = []
    try:
        for _ in range(min(count, pool.get_max_size())):
            held.append(await pool.acquire())  # each one held: the next is another connection
    finally:
        for connection in held:
            await pool.release(connection)


async def close_database() -> None:
    await close_db()


async def ping_database() -> None:
    await connections.get("default").execute_query("SELECT 1")


async def migrate(database_url: str) -> None:
    """Apply every migration not applied yet (idempotent)."""
    await _migrate(config=tortoise_config(database_url))
    await Tortoise.close_connections()
