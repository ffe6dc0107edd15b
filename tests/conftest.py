"""Real PostgreSQL and Redis for the tests that need them.

Each pytest-xdist worker gets its own database (``podium_test_<worker>``, created and migrated
once per run) and its own Redis database number, so workers never see each other's rows. A test
that asks for ``db`` starts on empty tables. Servers default to the ones every development
machine and CI run (127.0.0.1:5432 and :6379); ``PODIUM_TEST_DATABASE_URL`` (a server URL whose
database is used only to create the test databases) and ``PODIUM_TEST_REDIS_URL`` override them.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from redis.asyncio import Redis
from tortoise import Tortoise, connections

from domain.db import init_db, migrate

SERVER_URL = os.environ.get(
    "PODIUM_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)
REDIS_SERVER_URL = os.environ.get("PODIUM_TEST_REDIS_URL", "redis://127.0.0.1:6379")


def _worker(config: pytest.Config) -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _run(config: pytest.Config) -> str:
    """Unique per test run: several people (or agents) may run the suite on one server at
    once, and a run must never drop the database another run is using."""
    workerinput = getattr(config, "workerinput", None)
    return workerinput["testrunuid"][:12] if workerinput else f"p{os.getpid()}"


def _database_url(name: str) -> str:
    base, _, _ = SERVER_URL.rpartition("/")
    return f"{base}/{name}"


async def _recreate(name: str) -> None:
    admin = await asyncpg.connect(SERVER_URL.replace("postgres://", "postgresql://", 1))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def _drop(name: str) -> None:
    admin = await asyncpg.connect(SERVER_URL.replace("postgres://", "postgresql://", 1))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A freshly migrated database of this worker's own."""
    name = f"podium_test_{_run(request.config)}_{_worker(request.config)}"
    url = _database_url(name)
    asyncio.run(_recreate(name))
    asyncio.run(migrate(url))
    yield url
    asyncio.run(_drop(name))


async def reset_tables() -> None:
    """Empty every table but the migration ledger. The audit log refuses TRUNCATE (a trigger);
    a test is the one place allowed to step around it, with replica mode for this session."""
    conn = connections.get("default")
    rows = await conn.execute_query_dict(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
        "AND tablename <> 'tortoise_migrations'"
    )
    tables = ", ".join(f'"{r["tablename"]}"' for r in rows)
    if tables:
        await conn.execute_script(
            "SET session_replication_role = replica; "
            f"TRUNCATE {tables} RESTART IDENTITY CASCADE; "
            "SET session_replication_role = DEFAULT;"
        )


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[str]:
    """The ORM open on this worker's database, every table empty. Yields the URL."""
    await init_db(database_url)
    await reset_tables()
    try:
        yield database_url
    finally:
        await Tortoise.close_connections()


@pytest.fixture(scope="session")
def redis_url(request: pytest.FixtureRequest) -> str:
    """This worker's Redis database number (1-15; 0 is left to people running Podium)."""
    worker = _worker(request.config)
    index = 1 + (int(worker.removeprefix("gw")) % 15 if worker.startswith("gw") else 0)
    return f"{REDIS_SERVER_URL}/{index}"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """A client on this worker's Redis database, emptied first."""
    client = Redis.from_url(redis_url)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()
