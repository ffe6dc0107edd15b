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


async def open_database(database_url: str) -> bool:
    """Open the ORM unless this process already has it open (a test's fixture, a CLI command
    that started the server). True when this call opened it, so the caller closes it."""
    if database_is_open():
        return False
    await init_db(database_url)
    return True


async def close_database() -> None:
    await close_db()


async def ping_database() -> None:
    await connections.get("default").execute_query("SELECT 1")


async def migrate(database_url: str) -> None:
    """Apply every migration not applied yet (idempotent)."""
    await _migrate(config=tortoise_config(database_url))
    await Tortoise.close_connections()
