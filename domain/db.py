"""Database set-up shared by the API, the workers, the CLI and the tests (PostgreSQL only).

``init_db`` opens tortoise on a database URL, ``close_db`` closes it, ``migrate`` applies the
committed migrations in ``domain/migrations``. Transactions are opened by the callers with
``tortoise.transactions.in_transaction()``: services never commit.
"""

from __future__ import annotations

import os
from typing import Any

from tortoise import Tortoise
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.migrations.api import migrate as tortoise_migrate

MODEL_MODULES = [
    "domain.tenants.models",
    "domain.org.models",
    "domain.plans.models",
    "domain.crm.models",
    "domain.earnings.models",
    "domain.audit.models",
    "domain.ingest.models",
    "domain.notifications.models",
    "domain.targets.models",
    "domain.rewards.models",
    "gamification.leaderboards.models",  # a name, not an import: domain imports none of it
    "gamification.badges.models",
    "gamification.levels.models",
    "gamification.contests.models",
    "payments.statements.models",
    "payments.disputes.models",
    "payments.draws.models",
    "payments.invoices.models",
    "payments.payouts.models",
    "payments.methods.models",
    "payments.batches.models",
]
APP = "podium"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/podium"


def normalize_url(database_url: str) -> str:
    """tortoise knows ``postgres://`` (asyncpg); accept the ``postgresql://`` spelling too."""
    for prefix in ("postgresql://", "postgresql+asyncpg://", "asyncpg://"):
        if database_url.startswith(prefix):
            return "postgres://" + database_url.removeprefix(prefix)
    return database_url


DEFAULT_POOL_SIZE = 20  # `?maxsize=N` in the URL sets another


async def _keep_session(connection: object) -> None:
    """What the pool runs when a connection comes back, instead of asyncpg's server-side reset
    (advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL: one more round trip after every query).
    asyncpg still rolls back a transaction left open and drops client-side listeners before
    calling this; Podium keeps no other session state (no LISTEN, no SET, no session-level
    advisory locks: locks are row locks inside transactions)."""


# The array types Podium's statements bind (a webhook's inbox rows, a batch's people and
# periods, its XP entries, a board's cards, ...). asyncpg learns a type the first time a
# connection meets it: a catalog query (about 8 ms of a fresh backend's CPU, with round trips
# of its own) for each type and connection, met when the pool opens connections under load
# (the first webhooks after a start piled up and opened all 20, each learning type after
# type). Every new connection learns them all in one introspection instead (`_learn_types`).
KNOWN_TYPES = (
    "text[]", "bigint[]", "integer[]", "uuid[]", "boolean[]", "numeric[]", "date[]",
    "timestamptz[]", "jsonb[]",
)  # fmt: skip
_KNOWN_TYPES_QUERY = "SELECT " + ", ".join(f"${i}::{t}" for i, t in enumerate(KNOWN_TYPES, 1))


async def _learn_types(connection: Any) -> None:
    """What the pool runs on each new connection (asyncpg's ``init``): one statement binding
    every type of `KNOWN_TYPES`, which asyncpg introspects in one catalog query."""
    await connection.fetchrow(_KNOWN_TYPES_QUERY, *[None] * len(KNOWN_TYPES))


def tortoise_config(database_url: str) -> dict[str, Any]:
    url = normalize_url(database_url)
    if not url.startswith("postgres://"):
        raise ValueError("Podium runs on PostgreSQL only: use a postgres:// URL")
    connection = expand_db_url(url)
    credentials = connection["credentials"]
    # 5 connections (tortoise's default) make 50 concurrent app requests queue for the pool
    credentials.setdefault("maxsize", DEFAULT_POOL_SIZE)
    credentials["reset"] = _keep_session
    credentials["init"] = _learn_types
    return {
        "connections": {"default": connection},
        "apps": {
            APP: {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": "domain.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def init_db(database_url: str) -> None:
    """Open the ORM on ``database_url`` for this process.

    The context is also made the global fallback, so tasks other than the one that called
    ``init_db`` (a Starlette lifespan vs its requests, arq jobs) see the same connections.
    """
    await Tortoise.init(config=tortoise_config(database_url), _enable_global_fallback=True)


async def close_db() -> None:
    await Tortoise.close_connections()


async def migrate(database_url: str) -> None:
    """Apply every migration not applied yet (idempotent), then close the connections."""
    try:
        await tortoise_migrate(config=tortoise_config(database_url))
    finally:
        await Tortoise.close_connections()


# For tortoise's own command line (`tortoise makemigrations`), configured in pyproject.toml.
TORTOISE_ORM = tortoise_config(os.environ.get("PODIUM_DATABASE_URL", DEFAULT_DATABASE_URL))
