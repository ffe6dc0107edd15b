"""`podium dev`: everything on one laptop, in one process.

1. PostgreSQL and Redis: ``DATABASE_URL`` / ``REDIS_URL`` when set, else embedded servers with
   their data under ``.podium/`` (see ``api.demo.embedded``).
2. Migrations, then the demo tenant when the database has no tenant yet.
3. The arq worker (a child process), then the API (``api.app:create_app``, which reads its
   settings from the environment), and once it listens, the GraphiQL URL and ready-made
   tokens for four roles.

Ctrl-C (or SIGTERM) stops the API gracefully, then the embedded servers.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import FrameType

import asyncpg
import typer
from tortoise.exceptions import DBConnectionError

from api.demo.embedded import EmbeddedError, EmbeddedServers

TOKEN_TTL = timedelta(days=7)


class _Stop(Exception):
    """SIGTERM, turned into an exception so that clean-up runs."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def _say(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def run_dev(*, host: str, port: int, data_dir: Path) -> None:
    # uvicorn re-raises the signal that stopped it once it has shut down: with the default
    # SIGTERM action the process would die before the embedded servers are stopped
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    servers = EmbeddedServers(data_dir)
    worker: subprocess.Popen[bytes] | None = None
    began = time.monotonic()
    try:
        if not os.environ.get("DATABASE_URL"):
            os.environ["DATABASE_URL"] = servers.start_postgres()
        if not os.environ.get("REDIS_URL"):
            os.environ["REDIS_URL"] = servers.start_redis()
        database_url = os.environ["DATABASE_URL"]
        embedded = time.monotonic() - began
        tokens = asyncio.run(_prepare(database_url))
        # the arq worker applies CRM events and recomputes: without it a webhook would be
        # accepted and never reach anyone's earnings
        worker = _start_worker()
        ready = time.monotonic() - began
        _serve(host, port, lambda: _banner(host, port, servers, tokens, embedded, ready))
    except EmbeddedError as exc:
        sys.stderr.write(f"podium: {exc}\n")
        raise typer.Exit(1) from None
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, DBConnectionError) as exc:
        sys.stderr.write(f"podium: cannot use the database: {exc}\n")
        raise typer.Exit(1) from None
    except (KeyboardInterrupt, _Stop):
        pass
    finally:
        if worker is not None:
            _stop_worker(worker)
        servers.stop()
        signal.signal(signal.SIGTERM, previous)
    _say("podium dev stopped")


def _start_worker() -> subprocess.Popen[bytes]:
    """`arq workers.settings.WorkerSettings` as a child process, on the same DATABASE_URL and
    REDIS_URL (the embedded servers' when they were started), its log on this terminal."""
    return subprocess.Popen(
        [sys.executable, "-m", "arq", "workers.settings.WorkerSettings"], env=dict(os.environ)
    )


def _stop_worker(worker: subprocess.Popen[bytes]) -> None:
    """SIGTERM lets arq finish or hand back its running jobs (they are idempotent)."""
    if worker.poll() is None:
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


async def _prepare(database_url: str) -> list[tuple[str, str, str]]:
    """Migrate, seed the demo tenant into an empty database, mint the tokens."""
    from tortoise.transactions import in_transaction

    from api.auth import mint_token
    from api.demo.seed import DEMO_SLUG, TOKEN_PEOPLE, seed_demo
    from api.settings import Settings
    from domain.db import close_db, init_db, migrate
    from domain.org.models import User
    from domain.tenants.models import Tenant
    from domain.tenants.repository import tenant_by_slug

    await migrate(database_url)
    await init_db(database_url)
    try:
        if not await Tenant.exists():
            _say("seeding the demo tenant (first run)...")
            async with in_transaction():
                summary = await seed_demo()
            _say(
                f"seeded {summary.tenant.name}: {len(summary.people.reps)} reps, "
                f"{summary.transactions} transactions, {summary.results} earnings results "
                f"({', '.join(summary.periods)})"
            )
        tenant = await tenant_by_slug(DEMO_SLUG)
        if tenant is None:
            return []
        audience = Settings.from_env().jwt_audience
        tokens = []
        for role, external_id in TOKEN_PEOPLE:
            user = await User.get_or_none(tenant_id=tenant.id, external_id=external_id)
            if user is not None:
                token = mint_token(tenant, user, audience=audience, ttl=TOKEN_TTL)
                tokens.append((role, user.display_name, token))
        return tokens
    finally:
        await close_db()


def _serve(host: str, port: int, announce: Callable[[], None]) -> None:
    import uvicorn

    config = uvicorn.Config("api.app:create_app", factory=True, host=host, port=port)
    server = uvicorn.Server(config)

    async def run() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():  # noqa: ASYNC110 (uvicorn has only a flag)
            await asyncio.sleep(0.05)
        if server.started:
            announce()
        await task

    asyncio.run(run())


def _banner(
    host: str,
    port: int,
    servers: EmbeddedServers,
    tokens: list[tuple[str, str, str]],
    embedded: float,
    ready: float,
) -> None:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    base = f"http://{shown}:{port}"
    _say()
    _say(f"GraphiQL: {base}/graphql")
    _say(f"Health:   {base}/health")
    database = "embedded (.podium/postgres)" if "postgres" in servers.started else "DATABASE_URL"
    redis = "embedded (.podium/redis.db)" if "redis" in servers.started else "REDIS_URL"
    _say(f"PostgreSQL: {database}; Redis: {redis}")
    if servers.started:
        _say(f"embedded servers up in {embedded:.1f}s, ready in {ready:.1f}s")
    if tokens:
        _say()
        _say("Demo tenant 'demo' (Helios Energy). Send one of these headers:")
        for role, name, token in tokens:
            _say(f"  {role} ({name}):")
            _say(f"    Authorization: Bearer {token}")
    _say()
    _say("Press Ctrl-C to stop.")
