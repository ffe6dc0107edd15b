"""`podium dev`: everything on one laptop, in one process.

0. The data folder's lock (``.podium/lock``): a second `podium dev` on the same folder says
   so in one line and starts nothing.
1. PostgreSQL and Redis: ``DATABASE_URL`` / ``REDIS_URL`` when set, else embedded servers with
   their data under ``.podium/`` (see ``api.demo.embedded``); their URLs go to
   ``.podium/env``, where every other `podium` command run in this folder finds them.
2. The payout sandbox (``api.demo.sandbox``), in development when no real provider is
   configured: local stand-ins of Stripe and of a gift card API on 127.0.0.1.
3. Migrations, then the demo tenant when the database has no tenant yet, pointed at the
   sandbox (its Stripe payees' connected accounts created in it).
4. The arq worker (a supervised child process: restarted when it dies), then the API
   (``api.app:create_app``, which reads its settings from the environment), and once it
   listens, the URLs, the demo tenant's webhook and ready-made headers for four roles (also
   in ``.podium/tokens``, for when the log that follows has scrolled them away).

Ctrl-C (or SIGTERM) stops the API gracefully, then the worker, the sandbox and the embedded
servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import FrameType
from uuid import UUID

import asyncpg
import typer
from tortoise.exceptions import DBConnectionError

from api.demo import devfiles
from api.demo.embedded import EmbeddedError, EmbeddedServers
from api.demo.sandbox import NAMES as SANDBOX_NAMES
from api.demo.sandbox import SandboxError, SandboxThread, connect_tenant, providers_to_sandbox
from api.settings import Settings, SettingsError
from payments.methods.models import Provider
from workers.environment import WorkerSettingsError
from workers.environment import check_settings as check_worker_settings

TOKEN_TTL = timedelta(days=7)
WORKER_RESTART_DELAY = 1.0  # seconds; doubles while the worker keeps dying young
WORKER_RESTART_MAX_DELAY = 30.0
WORKER_START_TIMEOUT = 15.0  # seconds the banner waits for the worker's first heartbeat


class _Stop(Exception):
    """SIGTERM, turned into an exception so that clean-up runs."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def podium_command(program: str | None = None) -> str:
    """How to run the podium now running, from the folder it serves: ``.venv/bin/podium`` in a
    checkout (`make run`), ``podium`` when the PATH finds this one (an installed package, an
    activated virtualenv), else its full path."""
    path = Path(program or sys.argv[0])
    if path.name != "podium":  # python -m api.cli, a test: the checkout's own
        return ".venv/bin/podium"
    found = shutil.which("podium")
    if found is not None and Path(found).resolve() == path.resolve():
        return "podium"
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path.resolve())


def _say(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


@dataclass
class DemoAccess:
    """What the banner shows of the demo tenant."""

    slug: str = ""
    name: str = ""
    webhook_secret: str = ""
    # (role, display name, CRM id, token)
    tokens: list[tuple[str, str, str, str]] = field(default_factory=list)
    # a line per payout provider: the sandbox it uses, or why none
    payouts: list[str] = field(default_factory=list)
    stripe_accounts: list[str] = field(default_factory=list)  # to create in the sandbox


def run_dev(*, host: str, port: int, data_dir: Path) -> None:
    try:
        lock = devfiles.lock(data_dir)
    except devfiles.AlreadyRunning as exc:
        sys.stderr.write(
            f"podium: another podium dev (pid {exc}) is using {data_dir}; "
            "stop it first (Ctrl-C in its terminal)\n"
        )
        raise typer.Exit(2) from None
    from api.cli import _refuse_taken_address, default_public_url

    try:  # before the servers start and the demo is seeded, not when uvicorn finds out
        _refuse_taken_address(host, port)
    except typer.Exit:
        lock.close()
        raise
    default_public_url(host, port)
    # uvicorn re-raises the signal that stopped it once it has shut down: with the default
    # SIGTERM action the process would die before the embedded servers are stopped
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    servers = EmbeddedServers(data_dir)
    worker = WorkerSupervisor()
    sandbox: SandboxThread | None = None
    began = time.monotonic()
    try:
        if not os.environ.get("DATABASE_URL"):
            os.environ["DATABASE_URL"] = servers.start_postgres()
        if not os.environ.get("REDIS_URL"):
            os.environ["REDIS_URL"] = servers.start_redis()
        devfiles.write_env(data_dir, {name: os.environ[name] for name in devfiles.VARIABLES})
        embedded = time.monotonic() - began
        development = Settings.from_env().development
        check_worker_settings()  # the worker's own: refused there, it would restart for ever
        sandbox = SandboxThread(providers_to_sandbox(os.environ, development=development))
        if sandbox.providers:
            names = " and ".join(SANDBOX_NAMES[p] for p in sandbox.providers)
            _say(f"starting the payout SANDBOX: local stand-ins of {names} on 127.0.0.1...")
        running = sandbox.start()
        access = asyncio.run(
            _prepare(os.environ["DATABASE_URL"], running.urls() if development else None)
        )
        sandbox.add_accounts(access.stripe_accounts)
        # the arq worker applies CRM events and recomputes: without it a webhook would be
        # accepted and never reach anyone's earnings
        worker.start()
        ready = time.monotonic() - began
        _serve(host, port, lambda: _banner(host, port, data_dir, servers, access, embedded, ready))
    except (EmbeddedError, SandboxError) as exc:
        sys.stderr.write(f"podium: {exc}\n")
        raise typer.Exit(1) from None
    except (SettingsError, WorkerSettingsError) as exc:
        sys.stderr.write(f"podium: {exc}\n")
        raise typer.Exit(2) from None
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, DBConnectionError) as exc:
        from api.cli import database_trouble

        sys.stderr.write(f"podium: cannot use the database: {database_trouble(exc)}\n")
        raise typer.Exit(1) from None
    except (KeyboardInterrupt, _Stop):
        pass
    finally:
        worker.stop()
        if sandbox is not None:
            sandbox.stop()
        servers.stop()
        devfiles.remove(data_dir, devfiles.ENV_FILE)  # its sockets are gone
        signal.signal(signal.SIGTERM, previous)
        lock.close()
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


class WorkerSupervisor:
    """Keeps one arq worker running: when it exits (killed, crashed), says so and starts
    another, waiting longer each time one dies within a minute of starting."""

    def __init__(self, start: Callable[[], subprocess.Popen[bytes]] = _start_worker) -> None:
        self._start = start
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.process = self._start()
        self._thread = threading.Thread(target=self._watch, name="worker-supervisor", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        delay = WORKER_RESTART_DELAY / 2  # the first restart waits WORKER_RESTART_DELAY
        started = time.monotonic()
        while not self._stopping.wait(0.2):
            assert self.process is not None
            code = self.process.poll()
            if code is None:
                continue
            how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
            lived = time.monotonic() - started
            delay = delay * 2 if lived < 60 else WORKER_RESTART_DELAY
            delay = min(delay, WORKER_RESTART_MAX_DELAY)
            _say(
                f"podium dev: the worker (pid {self.process.pid}) stopped ({how}); "
                f"restarting it in {delay:.0f} s"
            )
            if self._stopping.wait(delay):
                return
            self.process = self._start()
            self.restarts += 1
            started = time.monotonic()
            _say(f"podium dev: worker restarted (pid {self.process.pid})")

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
        if self.process is not None:
            _stop_worker(self.process)


async def _prepare(database_url: str, sandbox: dict[Provider, str | None] | None) -> DemoAccess:
    """Migrate, seed the demo tenant into an empty database, point it at the payout sandbox
    (``sandbox``: its address per provider, None where a real key is in the environment; None
    itself outside development: the tenant is left alone), mint the tokens."""
    from tortoise.transactions import in_transaction

    from api.auth import mint_token
    from api.demo.seed import DEMO_SLUG, TOKEN_PEOPLE, seed_demo
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
                secret = Settings.from_env().payout_details_secret
                summary = await seed_demo(payout_details_secret=secret)
            _say(
                f"seeded {summary.tenant.name}: "
                f"{len(summary.people.reps) + len(summary.people.us_partners)} reps, "
                f"{summary.transactions} transactions, {summary.results} earnings results "
                f"({', '.join(summary.periods)})"
            )
        tenant = await tenant_by_slug(DEMO_SLUG)
        if tenant is None:
            return DemoAccess()
        await _fill_boards(tenant.id)
        audience = Settings.from_env().jwt_audience
        access = DemoAccess(tenant.slug, tenant.name, tenant.webhook_secret)
        if sandbox is not None:
            async with in_transaction():
                connection = await connect_tenant(
                    tenant_id=tenant.id, secret=Settings.from_env().payout_details_secret,
                    urls=sandbox,
                )  # fmt: skip
            access.payouts, access.stripe_accounts = connection.notes, connection.stripe_accounts
        for role, external_id in TOKEN_PEOPLE:
            user = await User.get_or_none(tenant_id=tenant.id, external_id=external_id)
            if user is not None:
                token = mint_token(tenant, user, audience=audience, ttl=TOKEN_TTL)
                access.tokens.append((role, user.display_name, external_id, token))
        return access
    finally:
        await close_db()


async def _fill_boards(tenant_id: UUID) -> None:
    """The demo's leaderboards into Redis from PostgreSQL (Redis holds nothing that cannot be
    rebuilt; a fresh or flushed one would show empty boards until the next recompute)."""
    from redis.asyncio import Redis

    from api.settings import Settings
    from gamification.leaderboards.service import rebuild_all
    from gamification.leaderboards.store import BoardStore

    redis = Redis.from_url(Settings.from_env().redis_url)
    try:
        await rebuild_all(store=BoardStore(redis), tenant_id=tenant_id)
    finally:
        await redis.aclose()


def _serve(host: str, port: int, announce: Callable[[], None]) -> None:
    import uvicorn

    # access_log off: Podium's own middleware logs each request once, with its request id
    config = uvicorn.Config(
        "api.app:create_app", factory=True, host=host, port=port, access_log=False
    )
    server = uvicorn.Server(config)

    async def run() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():  # noqa: ASYNC110 (uvicorn has only a flag)
            await asyncio.sleep(0.05)
        if server.started:
            # the worker logs a line or two as it starts: let it, so the banner comes last
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(WORKER_START_TIMEOUT):
                    await _first_heartbeat()
            announce()
        await task

    asyncio.run(run())


async def _first_heartbeat() -> None:
    """Return once a worker beat on REDIS_URL in the last 2 seconds."""
    from redis.asyncio import Redis

    from workers.heartbeat import seconds_since_last_beat

    redis = Redis.from_url(os.environ["REDIS_URL"])
    try:
        while True:
            with contextlib.suppress(Exception):  # the banner matters more than this wait
                silent = await seconds_since_last_beat(redis)
                if silent is not None and silent < 2:
                    return
            await asyncio.sleep(0.1)
    finally:
        await redis.aclose()


def headers_json(token: str) -> str:
    """What GraphiQL's headers pane takes."""
    return json.dumps({"Authorization": f"Bearer {token}"})


def _banner(
    host: str,
    port: int,
    data_dir: Path,
    servers: EmbeddedServers,
    access: DemoAccess,
    embedded: float,
    ready: float,
) -> None:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    base = f"http://{shown}:{port}"
    database = "embedded, data in .podium/postgres" if "postgres" in servers.started else "from"
    redis = "embedded, data in .podium/redis.db" if "redis" in servers.started else "from"
    _say()
    _say(f"GraphiQL:   {base}/graphql")
    _say(f"Health:     {base}/health and {base}/ready")
    _say(f"PostgreSQL: {database} DATABASE_URL={_redact(os.environ['DATABASE_URL'])}")
    _say(f"Redis:      {redis} REDIS_URL={_redact(os.environ['REDIS_URL'])}")
    _say(f"            (in {data_dir / devfiles.ENV_FILE}: podium commands run here use them)")
    if servers.started:
        _say(f"embedded servers up in {embedded:.1f}s, ready in {ready:.1f}s")
    if access.slug:
        _say()
        _say(f"Demo tenant {access.slug!r} ({access.name}):")
        _say(f"  CRM webhook:    POST {base}/webhooks/crm/{access.slug}")
        _say(f"  webhook secret: {access.webhook_secret}")
        podium = podium_command()
        _say(f"  reps and their CRM ids:  {podium} people list --tenant {access.slug}")
        _say(
            f"  send a signed CRM event: {podium} send-event --tenant {access.slug} "
            "--rep rep-north-01 --amount 5000 --type solar --state activated"
        )
    if access.payouts:
        _say()
        _say("Payouts of the demo tenant (a SANDBOX is a local stand-in on 127.0.0.1: no money")
        _say("  moves; a key in the environment wins: STRIPE_API_KEY, GIFT_CARDS_API_KEY):")
        for note in access.payouts:
            _say(f"  {note}")
    if access.tokens:
        lines = []
        for role, name, external_id, token in access.tokens:
            lines.append(f"# {role}: {name} ({external_id})")
            lines.append(headers_json(token))
        tokens_file = devfiles.write_tokens(data_dir, lines)
        _say()
        _say(
            f"Paste one into GraphiQL's headers pane (valid {TOKEN_TTL.days} days; "
            f"also in {tokens_file}):"
        )
        for line in lines:
            _say(f"  {line}")
    _say()
    _say("Press Ctrl-C to stop.")


def _redact(url: str) -> str:
    from api.cli import _redact as redact

    return redact(url)
