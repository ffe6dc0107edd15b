"""Opening, closing and migrating the database from the ways in (API, CLI)."""

from __future__ import annotations

from tortoise import Tortoise, connections
from tortoise.migrations.api.migrate import migrate as _migrate

from domain.db import tortoise_config


async def open_database(database_url: str) -> None:
    # global fallback: uvicorn runs the lifespan and each request in different tasks,
    # so the context must be reachable from all of them
    await Tortoise.init(config=tortoise_config(database_url), _enable_global_fallback=True)


async def close_database() -> None:
    await Tortoise.close_connections()


async def ping_database() -> None:
    await connections.get("default").execute_query("SELECT 1")


async def migrate(database_url: str) -> None:
    """Apply every migration not applied yet (idempotent)."""
    await _migrate(config=tortoise_config(database_url))
    await Tortoise.close_connections()
