"""`podium migrate` and `podium serve` against real PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
import pytest
import typer
from redis.asyncio import Redis
from tortoise.exceptions import OperationalError

from api import cli
from tests.api.cli_runner import ROOT, cli_env, podium
from tests.conftest import _admin_dsn, _database_url
from workers.heartbeat import beat_once


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def fresh_database(name: str) -> str:
    admin = await asyncpg.connect(_admin_dsn())
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return _database_url(name)


async def tables(url: str) -> set[str]:
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await conn.close()
    return {r["tablename"] for r in rows}


async def test_given_empty_database_when_migrated_twice_then_schema_and_idempotent():
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    url = await fresh_database(f"podium_cli_migrate_{worker}")

    first = await podium(url, "migrate")
    second = await podium(url, "migrate")

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert first.stdout.startswith("migrated postgres")
    assert f"podium_cli_migrate_{worker}" in first.stdout
    assert {"tenants", "users", "transactions", "quotas", "audit_log"} <= await tables(url)


async def test_given_unreachable_database_when_migrating_then_one_line_and_exit_1():
    url = f"postgres://postgres:s3cret@127.0.0.1:{free_port()}/podium"

    ran = await podium(url, "migrate")

    assert ran.returncode == 1
    assert "Traceback" not in ran.stderr
    assert len(ran.stderr.splitlines()) == 1
    assert ran.stderr.startswith("podium: cannot use the database at postgres://postgres:***@")
    assert "s3cret" not in ran.stderr


@pytest.mark.parametrize("command", [("migrate",), ("people", "list", "--tenant", "acme")])
async def test_given_a_database_that_does_not_exist_then_one_line_saying_so_and_how_to_fix_it(
    command: tuple[str, ...],
):
    """The server is up but the database named in DATABASE_URL is not there (a newcomer's own
    PostgreSQL): the line says so, not tortoise's "Can't establish connection"."""
    name = f"podium_cli_missing_{os.getpid()}"

    ran = await podium(_database_url(name), *command)

    assert ran.returncode == 1
    assert "Traceback" not in ran.stderr
    assert len(ran.stderr.splitlines()) == 1
    assert f'database "{name}" does not exist: create it (createdb' in ran.stderr


async def test_given_a_database_never_migrated_when_closing_then_one_line_naming_migrate():
    name = f"podium_cli_unmigrated_{os.getpid()}"
    admin = await asyncpg.connect(_admin_dsn())
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.execute(f'CREATE DATABASE "{name}"')
        ran = await podium(_database_url(name), "close", "--tenant", "acme", "--period", "2026-10")
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    assert ran.returncode == 1
    assert "Traceback" not in ran.stderr
    assert len(ran.stderr.splitlines()) == 1
    assert "run `podium migrate` first" in ran.stderr


async def test_given_production_without_urls_when_serving_then_one_line_and_exit_2():
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.cli",
        "serve",
        cwd=ROOT,
        env=cli_env(None, PODIUM_ENV="production"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 60)

    assert proc.returncode == 2
    assert err.decode() == (
        "podium: DATABASE_URL and REDIS_URL are required when PODIUM_ENV=production\n"
    )


@pytest.mark.parametrize("command", ["serve", "dev"])
async def test_given_pdf_fonts_naming_a_missing_file_when_starting_then_one_line_and_exit_2(
    tmp_path, command: str
):
    # podium dev with both URLs set starts no embedded server: it stops at the settings
    missing = tmp_path / "NotoSansCJK-Regular.ttc"
    env = cli_env(
        "postgres://postgres@127.0.0.1:1/podium", REDIS_URL="redis://127.0.0.1:1/0",
        PODIUM_PDF_FONTS=str(missing), PYTHONPATH=str(ROOT),
    )  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "api.cli", command, cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 60)

    assert proc.returncode == 2
    assert err.decode() == f"podium: PODIUM_PDF_FONTS: {missing}: no such file\n"


async def test_given_a_bad_worker_poll_delay_when_podium_dev_starts_then_one_line_and_exit_2(
    tmp_path,
):
    # before: podium dev started its worker, which refused the delay and was restarted for
    # ever (workers.environment)
    env = cli_env(
        "postgres://postgres@127.0.0.1:1/podium", REDIS_URL="redis://127.0.0.1:1/0",
        PODIUM_WORKER_POLL_DELAY="0", PYTHONPATH=str(ROOT),
    )  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "api.cli", "dev", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 60)

    assert proc.returncode == 2
    assert err.decode() == (
        "podium: PODIUM_WORKER_POLL_DELAY must be a positive number of seconds, not '0'\n"
    )


async def test_given_database_and_redis_when_serving_then_ready_over_http(
    database_url: str, redis_url: str
):
    port = free_port()
    heart = Redis.from_url(redis_url)
    await beat_once(heart)  # a worker ran a moment ago
    await heart.aclose()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.cli",
        "serve",
        "--port",
        str(port),
        cwd=ROOT,
        env=cli_env(database_url, REDIS_URL=redis_url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        ready = None
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                try:
                    ready = await client.get(f"http://127.0.0.1:{port}/ready")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
        assert ready is not None, "podium serve did not answer in 30 s"
        assert ready.status_code == 200
        checks = ready.json()["checks"]
        assert (checks["postgres"], checks["redis"], checks["worker"]) == ("ok", "ok", "ok")
    finally:
        proc.terminate()
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    # uvicorn shuts down gracefully, then re-raises the signal it caught
    assert proc.returncode == -signal.SIGTERM
    assert "Application shutdown complete" in err.decode()


async def test_given_workers_when_serving_then_that_many_processes_answer(
    database_url: str, redis_url: str
):
    """`podium serve --workers 2`: one supervisor and two API processes on one port."""
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--workers", "2",
        cwd=ROOT, env=cli_env(database_url, REDIS_URL=redis_url),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        answers = []
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                try:
                    answers.append(await client.get(f"http://127.0.0.1:{port}/health"))
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            children: list[str] = []
            for _ in range(100):  # the second process may start a moment after the first
                # the API processes (multiprocessing's resource tracker is a child too)
                children = _api_processes(proc.pid)
                if len(children) >= 2:
                    break
                await asyncio.sleep(0.1)
        assert answers
        assert answers[0].status_code == 200
        assert len(children) == 2
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.communicate(), 30)
    bad = await podium(database_url, "serve", "--workers", "0")
    assert bad.returncode == 2
    assert "--workers" in bad.stderr


def _api_processes(pid: int) -> list[str]:
    """The children of ``pid`` that multiprocessing spawned to serve (uvicorn's workers)."""
    from pathlib import Path

    found = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
        except FileNotFoundError:
            continue
    return found


async def _nothing(*_: object) -> None:
    return None


def with_database(
    monkeypatch: pytest.MonkeyPatch,
    work: Callable[[], Awaitable[object]],
    close: Callable[[], Awaitable[None]] = _nothing,
) -> object:
    """`cli._with_database` around ``work``, with no database: opening does nothing,
    closing is ``close``."""
    monkeypatch.setattr("domain.db.init_db", _nothing)
    monkeypatch.setattr("domain.db.close_db", close)
    return cli._with_database("postgres://postgres@127.0.0.1/podium", work)


@pytest.mark.parametrize("through_tortoise", [False, True])
def test_given_the_database_refusing_the_data_then_one_line_saying_so_not_unreachable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], through_tortoise: bool
):
    """An index entry too large was reported as "cannot use the database at ...", with the
    error's DETAIL and HINT lines: the database was there, it refused the data."""
    refusal = asyncpg.exceptions.ProgramLimitExceededError(
        'index row size 3112 exceeds btree version 4 maximum 2704 for index "x"'
    )
    refusal.detail = "Index row references tuple (0,1) in relation transactions."
    refusal.hint = "Values larger than 1/3 of a buffer page cannot be indexed."

    async def work() -> None:
        if through_tortoise:
            raise OperationalError(refusal) from refusal
        raise refusal

    with pytest.raises(typer.Exit) as ended:
        with_database(monkeypatch, work)

    assert ended.value.exit_code == 1
    assert capsys.readouterr().err == (
        "podium: the database refused the data: index row size 3112 exceeds btree version 4 "
        'maximum 2704 for index "x"\n'
    )


def test_given_the_connection_lost_mid_work_and_closing_failing_too_then_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    """Seen once in CI (`podium close` while its connections were terminated, mid-COPY):
    the work failed on the broken connection, then closing failed too, inside tortoise
    (AttributeError: 'TransactionWrapper' object has no attribute '_template'), and that
    second failure came out as a traceback instead of the one line naming the first."""

    async def closing_fails() -> None:
        raise AttributeError("'TransactionWrapper' object has no attribute '_template'")

    async def work() -> None:
        raise asyncpg.exceptions.InternalClientError(
            "cannot switch to state 21; another operation (2) is in progress"
        )

    with pytest.raises(typer.Exit) as ended:
        with_database(monkeypatch, work, closing_fails)

    assert ended.value.exit_code == 1
    assert capsys.readouterr().err == (
        "podium: cannot use the database at postgres://postgres@127.0.0.1/podium: the "
        "connection was lost mid-statement (cannot switch to state 21; another operation (2) "
        "is in progress)\n"
    )


def test_given_the_work_done_and_closing_failing_then_that_failure_is_not_hidden(
    monkeypatch: pytest.MonkeyPatch,
):
    async def closing_fails() -> None:
        raise AttributeError("a bug in closing")

    async def work() -> int:
        return 7

    with pytest.raises(AttributeError, match="a bug in closing"):
        with_database(monkeypatch, work, closing_fails)
