"""What `podium dev` leaves for the other commands: `.podium/env` is used when neither
DATABASE_URL nor REDIS_URL is set (and says so), a stale one gets a hint, the lock refuses a
second holder; and `--id` values of any text are parsed at the edge."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st

from api.cli import _redact
from api.cli_ingest import MAX_ID, parse_ids
from api.demo import devfiles
from tests.api.cli_runner import ROOT, Ran, cli_env
from tests.api.test_cli_service import free_port
from tests.domain.builders import make_tenant


async def podium_in(folder: Path, *args: str, **env: str) -> Ran:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.cli",
        *args,
        cwd=folder,
        env={**cli_env(None, **env), "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return Ran(proc.returncode, out.decode(), err.decode())


async def test_given_a_dev_env_file_when_no_urls_are_set_then_commands_use_it_and_say_so(
    db: str, redis_url: str, tmp_path: Path
):
    await make_tenant(slug="acme")
    devfiles.write_env(tmp_path / ".podium", {"DATABASE_URL": db, "REDIS_URL": redis_url})

    used = await podium_in(tmp_path, "tenant", "show", "--tenant", "acme")
    explicit = await podium_in(
        tmp_path, "tenant", "show", "--tenant", "acme", DATABASE_URL=db, REDIS_URL=redis_url
    )

    assert used.returncode == 0, used.stderr
    assert "slug:           acme" in used.stdout
    assert used.stderr == (
        f"podium: using podium dev's database {_redact(db)} (from {tmp_path / '.podium' / 'env'})\n"
    )
    assert explicit.returncode == 0, explicit.stderr
    assert explicit.stderr == ""  # the environment wins; the file is not read


async def test_given_a_dev_env_file_when_production_starts_without_urls_then_refused_not_used(
    db: str, redis_url: str, tmp_path: Path
):
    """`make run` in one terminal and `make test` (or a production start) in another: the
    demo's .podium/env must not stand in for the URLs production requires."""
    devfiles.write_env(tmp_path / ".podium", {"DATABASE_URL": db, "REDIS_URL": redis_url})

    ran = await podium_in(tmp_path, "serve", "--port", str(free_port()), PODIUM_ENV="production")

    ran.one_line_error("DATABASE_URL and REDIS_URL are required when PODIUM_ENV=production")


async def test_given_a_stale_dev_env_file_when_a_command_runs_then_one_line_with_a_hint(
    tmp_path: Path,
):
    nowhere = f"postgres://postgres@127.0.0.1:{free_port()}/podium"
    devfiles.write_env(
        tmp_path / ".podium", {"DATABASE_URL": nowhere, "REDIS_URL": "redis://127.0.0.1:1/0"}
    )

    ran = await podium_in(tmp_path, "tenant", "show", "--tenant", "acme")

    assert ran.returncode == 1
    assert "Traceback" not in ran.stderr
    last = ran.stderr.splitlines()[-1]
    assert last.startswith(f"podium: cannot use the database at {nowhere} (from ")
    assert "is podium dev still running?" in last


@pytest.mark.parametrize("command", ["dev", "serve"])
async def test_given_the_port_taken_when_dev_or_serve_starts_then_one_line_before_anything_starts(
    tmp_path: Path, command: str
):
    # nothing listens at these: had the command got as far as the database or Redis, it would
    # say so (exit 1) rather than name the port
    nowhere = {"DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/podium",
               "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}  # fmt: skip
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        ran = await podium_in(tmp_path, command, "--port", str(port), **nowhere)

    line = ran.one_line_error(f"--port: 127.0.0.1:{port} is in use", "PODIUM_PORT")
    assert "another podium dev" in line
    assert not (tmp_path / ".podium" / "env").exists()  # no server was started


async def test_given_a_host_not_of_this_machine_when_serve_starts_then_one_line(tmp_path: Path):
    ran = await podium_in(tmp_path, "serve", "--host", "no-such-host.invalid",
                          "--port", str(free_port()))  # fmt: skip

    ran.one_line_error("--host: 'no-such-host.invalid' is not an address of this machine")


def test_given_the_lock_held_when_taken_again_then_refused_naming_the_holder(tmp_path: Path):
    held = devfiles.lock(tmp_path)
    try:
        with pytest.raises(devfiles.AlreadyRunning) as refused:
            devfiles.lock(tmp_path)
    finally:
        held.close()
    again = devfiles.lock(tmp_path)  # released with its file
    again.close()

    assert str(refused.value).isdigit()


@given(st.lists(st.text(max_size=25) | st.integers(-(2**70), 2**70).map(str), max_size=3))
def test_given_any_text_as_ids_then_parsed_in_range_or_refused_with_exit_2(values: list[str]):
    valid = all(
        v.isascii() and v.isdigit() and 0 < int(v) <= MAX_ID for v in values
    )  # the rule, said plainly

    if valid:
        assert parse_ids(values) == [int(v) for v in values]
    else:
        with pytest.raises(typer.Exit) as refused:
            parse_ids(values)
        assert refused.value.exit_code == 2
