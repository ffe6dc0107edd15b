"""Every new connection of the pool knows the array types Podium binds (domain.db
KNOWN_TYPES) from the start: a statement binding them asks the catalog nothing more."""

from __future__ import annotations

from typing import Any

import asyncpg

from domain import db as domain_db
from domain.db import KNOWN_TYPES, normalize_url

BINDS_ALL = "SELECT " + ", ".join(f"${i}::{t}" for i, t in enumerate(KNOWN_TYPES, 1))


async def _catalog_queries(db: str, init: Any) -> list[str]:
    """The catalog queries (asyncpg's type introspection) a new connection of a pool built
    with ``init`` runs for a statement binding every known type."""
    pool = await asyncpg.create_pool(
        normalize_url(db).replace("postgres://", "postgresql://", 1),
        min_size=0, max_size=1, init=init,
    )  # fmt: skip
    seen: list[str] = []
    try:
        async with pool.acquire() as connection:
            connection.add_query_logger(lambda record: seen.append(record.query))
            assert await connection.fetchrow(BINDS_ALL, *[None] * len(KNOWN_TYPES)) is not None
    finally:
        await pool.close()
    return [q for q in seen if "pg_catalog" in q or "typeinfo" in q]


async def test_given_a_new_pool_connection_then_it_knows_every_bound_type(db: str) -> None:
    assert await _catalog_queries(db, domain_db._learn_types) == []


async def test_given_no_init_then_the_same_statement_asks_the_catalog(db: str) -> None:
    # the control: without the init, asyncpg introspects (what the init spares each use)
    assert await _catalog_queries(db, None) != []


def test_the_pool_config_runs_the_init() -> None:
    config = domain_db.tortoise_config("postgres://u@127.0.0.1:5432/x")
    assert config["connections"]["default"]["credentials"]["init"] is domain_db._learn_types
