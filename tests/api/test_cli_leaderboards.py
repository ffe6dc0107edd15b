"""`podium leaderboards create --file`: a board from YAML or JSON, filled from the stored
results; bad files and bad definitions are one line and exit 2, nothing stored;
`podium rebuild-cache` rebuilds the boards; `podium leaderboards list` shows their leaders."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from redis.asyncio import Redis

from gamification.leaderboards.models import Leaderboard
from tests.api.cli_runner import ROOT, Ran, cli_env
from tests.api.graphql import helpers as h


async def podium(database_url: str, redis_url: str, *args: str | Path) -> Ran:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "api.cli", *map(str, args), cwd=ROOT,
        env=cli_env(database_url, REDIS_URL=redis_url),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return Ran(proc.returncode, out.decode(), err.decode())


async def _tenant_with_two_reps() -> None:
    t = await h.tenant("acme")
    north = await h.person(t, "mgr-north", role=h.Role.MANAGER)
    period = h.this_period()
    version = await h.publish(t, effective_from=period.start)
    for name, amount in (("ana", "30000"), ("ben", "10000")):
        rep = await h.person(t, name, manager=north)
        await h.assign(t, version, rep, period.start)
        await h.quota(t, rep, period.id, "40000")
        await h.deal(t, rep, f"{name}-1", amount, period.start)
        await h.recompute(t, rep, period.id)


async def test_given_a_yaml_board_then_created_ranked_and_rebuilt(
    db: str, redis_url: str, redis: Redis, tmp_path: Path
):
    await _tenant_with_two_reps()
    board = tmp_path / "board.yaml"
    board.write_text("name: North attainment\nmetric: attainment:bookings\nperiod_kind: month\n"
                     "team: mgr-north\n")  # fmt: skip

    made = await podium(
        db, redis_url, "leaderboards", "create", "--tenant", "acme", "--file", board
    )

    assert made.returncode == 0, made.stderr
    assert made.stdout == "leaderboard 'North attainment': 2 people ranked\n"
    stored = await Leaderboard.get(name="North attainment")
    key = f"podium:board:{stored.id}:{h.this_period().id}"
    assert await redis.zrange(key, 0, -1, withscores=True) != []

    await h.User.filter(external_id="ben").update(attributes={"group": "closers"})
    grouped = tmp_path / "group.json"
    grouped.write_text('{"name": "Closers", "metric": "bookings", "period_kind": "month", '
                       '"group": "closers"}')  # fmt: skip
    made = await podium(
        db, redis_url, "leaderboards", "create", "--tenant", "acme", "--file", grouped
    )
    assert (made.returncode, made.stdout) == (0, "leaderboard 'Closers': 1 person ranked\n")
    await redis.flushdb()
    rebuilt = await podium(db, redis_url, "rebuild-cache", "--tenant", "acme")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "rebuilt 2 leaderboards from PostgreSQL" in rebuilt.stdout
    assert [(m.decode(), -s) for m, s in await redis.zrange(key, 0, -1, withscores=True)] == [
        (str((await h.User.get(external_id="ana")).id), 750000.0),
        (str((await h.User.get(external_id="ben")).id), 250000.0),
    ]


async def test_given_bad_files_then_one_line_exit_2_and_nothing_stored(
    db: str, redis_url: str, tmp_path: Path
):
    await _tenant_with_two_reps()
    cases = {
        "missing.yaml": (None, "no such file"),
        "list.yaml": ("- a\n- b\n", "expected a mapping"),
        "broken.json": ("{", "not valid JSON"),
        "extra.yaml": ("name: x\nmetric: bookings\nperiod_kind: month\ncolour: red\n",
                       "colour: unknown field"),
        "nometric.yaml": ("name: x\nperiod_kind: month\n", "metric: required"),
        "metric.yaml": ("name: x\nmetric: revenue\nperiod_kind: month\n", "revenue"),
        "kind.yaml": ("name: x\nmetric: bookings\nperiod_kind: week\n", "period kind"),
        "nul.yaml": ('name: "a\\0b"\nmetric: bookings\nperiod_kind: month\n', "no NUL"),
        "deep.json": ('{"name": "x", "team": ' + "[" * 5000 + "]" * 5000 + "}",
                      "nested too deeply"),
        "deep.yaml": ("name: x\nteam: " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
        "team.yaml": ("name: x\nmetric: bookings\nperiod_kind: month\nteam: nobody\n",
                      "team: no person 'nobody'"),
        "group.yaml": ("name: x\nmetric: bookings\nperiod_kind: month\ngroup: nobody\n",
                       "group: nobody in this tenant is in a group 'nobody'"),
        "both.yaml": ("name: x\nmetric: bookings\nperiod_kind: month\nteam: mgr-north\n"
                      "group: closers\n", "group: a board ranks a team or a group, not both"),
    }  # fmt: skip
    for name, (text, says) in cases.items():
        path = tmp_path / name
        if text is not None:
            path.write_text(text)
        ran = await podium(
            db, redis_url, "leaderboards", "create", "--tenant", "acme", "--file", path
        )
        ran.one_line_error(says)

    assert await Leaderboard.all().count() == 0


async def test_given_boards_when_listed_then_each_with_its_period_scope_and_leaders(
    db: str, redis_url: str, tmp_path: Path
):
    await _tenant_with_two_reps()
    board = tmp_path / "board.yaml"
    board.write_text("name: North attainment\nmetric: attainment:bookings\nperiod_kind: month\n"
                     "team: mgr-north\n")  # fmt: skip
    made = await podium(
        db, redis_url, "leaderboards", "create", "--tenant", "acme", "--file", board
    )
    assert made.returncode == 0, made.stderr

    listed = await podium(db, redis_url, "leaderboards", "list", "--tenant", "acme", "--top", "1")

    assert listed.returncode == 0, listed.stderr
    month = h.this_period().id
    assert listed.stdout.splitlines() == [
        f"North attainment (attainment:bookings, {month}, team mgr-north): 2 people ranked",
        f"    1  {'Ana (ana)':<40} 0.750000",
    ]
    unknown = await podium(db, redis_url, "leaderboards", "list", "--tenant", "nope")
    unknown.one_line_error("--tenant", "no tenant 'nope'")
