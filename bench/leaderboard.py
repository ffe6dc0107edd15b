"""Leaderboard benchmark: one board of 100,000 reps on a real PostgreSQL and Redis.

    python -m bench.leaderboard                 # 100,000 reps (generated once, not timed)
    python -m bench.leaderboard --reuse         # the database of an earlier run
    python -m bench.leaderboard --reps 10000    # a quick check
    python -m bench.leaderboard --reads-per-client 1   # the reads at 50/s in all
    python -m bench.leaderboard --reuse --reads-only    # the reads alone (no rebuild, updates)
    python -m bench.leaderboard --reuse --reads-only --py-spy /tmp/api.txt   # profile the API

The tenant is the close benchmark's (bench/close.py, two transactions a rep), closed once by
`podium close` so that every rep has a stored result (not timed). Then, in the same run:

- rebuild: the board filled from PostgreSQL (`rebuild_board`, what `podium rebuild-cache`
  does), median of 3; target <= 5 s.
- updates: every rep's score set again through Podium's own path (`BoardStore.update`, one
  pipelined round trip per batch of 200 people, as the workers' after-recompute hook does),
  beside `redis-benchmark -t zadd -P 16 -r <reps>` on the same Redis server (the pipelined
  ceiling of single-member ZADDs over as many members as the board has); updates/s, the
  ratio (target >= 25%) and CPU per 1,000 updates of this process.
- reads: the `Leaderboard` operation of the apps (client-operations.graphql: the top 10 and
  the rep's neighbourhood, radius 2) over real HTTP against a real API (uvicorn,
  production mode, as bench/api.py starts it), once with one process and once with two
  (`--api-workers 1,2`: `podium serve --workers 2`, one per core), by 50 clients paced at
  5 reads/s each, each read as one of 200 reps (their own tokens): 250 reads/s in all,
  latency counted from the scheduled send time (`bench.api.paced`: a server falling behind
  shows its queueing); p50/p99 (target p99 <= 10 ms), and the API's CPU time per query (the
  user and system time of its processes from /proc from the end of the clients' warm-up to
  the last answer, divided by the queries sent in between). Every answer is checked (no
  errors, ten entries, the rep around themselves). The API serves a board's current
  period: the benchmark's month, which is in the past, is copied to the current month's
  sorted set first (and removed after).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.close import (
    DEFAULT_SERVER,
    MARK,
    PERIOD,
    SLUG,
    _database,
    _sql,
    prepare,
    run_close,
)

REPS = 100_000
BATCH = 200
CLIENTS = 50
READS_PER_CLIENT = 5.0  # a second: 250 reads/s in all
READ_SECONDS = 10.0
READERS = 200  # reps whose tokens the clients read the board as
TARGET_REBUILD = 5.0
TARGET_RATIO = 0.25
TARGET_P99_MS = 10.0


def redis_benchmark(redis_url: str, requests: int, members: int) -> float:
    parts = urlsplit(redis_url)
    out = subprocess.run(
        ["redis-benchmark", "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 6379),
         "-n", str(requests), "-r", str(members), "-P", "16", "-q", "-t", "zadd"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    found = re.findall(r"ZADD: ([\d.]+) requests per second", out.replace("\r", "\n"))
    if not found:
        raise SystemExit(f"redis-benchmark said: {out[-200:]}")
    return float(found[-1])


async def run(
    database_url: str, redis_url: str, tenant_id: uuid.UUID, args: argparse.Namespace
) -> None:
    from redis.asyncio import Redis
    from tortoise.transactions import in_transaction

    from api.auth import mint_token
    from domain.db import close_db, init_db
    from domain.kit.periods import parse_period
    from domain.org.models import Role, User
    from domain.org.viewer import Viewer
    from domain.tenants.models import Tenant
    from gamification.leaderboards.models import Leaderboard
    from gamification.leaderboards.service import (
        create_leaderboard,
        current_period,
        rebuild_board,
    )
    from gamification.leaderboards.store import BoardStore, board_key

    await init_db(database_url)
    redis = Redis.from_url(redis_url)
    store = BoardStore(redis)
    try:
        board = await Leaderboard.filter(tenant_id=tenant_id).first()
        if board is None:
            async with in_transaction():
                board = await create_leaderboard(
                    viewer=Viewer.system(tenant_id), name="Bookings", metric="bookings",
                    period_kind="month",
                )  # fmt: skip
        period = parse_period(PERIOD)
        key = board_key(board.id, period.id)

        if not args.reads_only:
            await measure_writes(redis_url, store, board, period)
        elif not await redis.exists(key):
            await rebuild_board(store=store, board=board, period=period)

        tenant = await Tenant.get(id=tenant_id)
        people = await User.filter(tenant_id=tenant_id, role=Role.REP).order_by("id").limit(4000)
        tokens = [
            mint_token(tenant, rep)
            for rep in random.Random(11).sample(people, min(READERS, len(people)))
        ]
        now = await current_period(tenant_id, board.period_kind)
        live = board_key(board.id, now.id)
        await redis.copy(key, live, replace=True)
    finally:
        await redis.aclose()
        await close_db()
    try:
        for workers in args.api_workers:
            await read_over_http(database_url, redis_url, str(board.id), tokens, args, workers)
    finally:
        redis = Redis.from_url(redis_url)
        await redis.delete(live)
        await redis.aclose()


async def measure_writes(redis_url: str, store: Any, board: Any, period: Any) -> None:
    """The rebuild (median of 3) and the updates against redis-benchmark (see the module)."""
    from gamification.leaderboards.service import rebuild_board
    from gamification.leaderboards.store import board_key

    redis = store.redis
    key = board_key(board.id, period.id)
    times, ranked = [], 0
    for _ in range(3):
        await redis.delete(key)
        started = time.perf_counter()
        ranked = await rebuild_board(store=store, board=board, period=period)
        times.append(time.perf_counter() - started)
    rebuild = statistics.median(times)
    print(
        f"rebuild from PostgreSQL: {ranked:,} people in {rebuild:.2f} s (median of 3), "
        f"{ranked / rebuild:,.0f} people/s (target <= {TARGET_REBUILD:.0f} s) "
        f"{'MET' if rebuild <= TARGET_REBUILD else 'MISS'}"
    )

    members = [m.decode() for m in await redis.zrange(key, 0, -1)]
    rng = random.Random(7)
    batches = [
        {key: {m: rng.randrange(0, 10**10) for m in members[i : i + BATCH]}}
        for i in range(0, len(members), BATCH)
    ]
    cpu, started = time.process_time(), time.perf_counter()
    for batch in batches:
        await store.update(batch, announce={board.id: batch[key].keys()})
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    ours = len(members) / seconds
    ceiling = redis_benchmark(redis_url, max(10 * len(members), 1_000_000), len(members))
    ratio = ours / ceiling
    print(
        f"updates: {ours:,.0f} scores/s through BoardStore.update (batches of {BATCH}, "
        f"{cpu / len(members) * 1e6:.1f} ms CPU per 1,000) vs redis-benchmark ZADD -P 16 "
        f"{ceiling:,.0f}/s: {ratio:.0%} of the pipelined ceiling (target >= "
        f"{TARGET_RATIO:.0%}) {'MET' if ratio >= TARGET_RATIO else 'MISS'}"
    )


LEADERBOARD_QUERY = """
query Leaderboard($id: ID!, $first: Int = 10) {
  leaderboard(id: $id) {
    id name metric period
    entries(first: $first) { rank score rep { id displayName avatarUrl } }
    aroundMe(radius: 2) { rank score rep { id displayName avatarUrl } }
  }
}
"""


def cpu_seconds(pid: int) -> tuple[float, float]:
    """A process's user and system CPU time so far, with its children's (the API's worker
    processes under `--workers`) (/proc/<pid>/stat, Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    user = system = 0.0
    for each in (pid, *_children(pid)):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rpartition(")")[2].split()
        except FileNotFoundError:
            continue
        user, system = user + int(fields[11]) / tick, system + int(fields[12]) / tick
    return user, system


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    return [int(c) for c in text.split()]


def start_py_spy(pid: int, output: str) -> subprocess.Popen[bytes]:
    """py-spy recording the process (the GIL holder's stacks, raw) until SIGINT."""
    py_spy = str(Path(sys.executable).parent / "py-spy")
    return subprocess.Popen(
        [py_spy, "record", "--gil", "-r", "1000", "-f", "raw", "-p", str(pid), "-o", output],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


async def read_over_http(
    database_url: str,
    redis_url: str,
    board_id: str,
    tokens: list[str],
    args: argparse.Namespace,
    workers: int = 1,
) -> None:
    """The `Leaderboard` query p99 through a real API process (see the module)."""
    import aiohttp

    from bench.api import _free_port, _start_server, _wait_ready, paced, production_env

    port = _free_port()
    server = _start_server("api.app:create_app", port, production_env(database_url, redis_url),
                           workers=workers)  # fmt: skip
    url = f"http://127.0.0.1:{port}/graphql"
    body = {"query": LEADERBOARD_QUERY, "variables": {"id": board_id, "first": 10}}
    wrong: list[str] = []
    per_client = args.reads_per_client
    sent = 0

    async def send(session: aiohttp.ClientSession, n: int) -> bool:
        nonlocal sent
        sent += 1
        headers = {"authorization": f"Bearer {tokens[n % len(tokens)]}"}
        async with session.post(url, json=body, headers=headers) as response:
            payload = await response.json()
        board = (payload.get("data") or {}).get("leaderboard") or {}
        ok = (
            response.status == 200
            and not payload.get("errors")
            and len(board.get("entries") or ()) == 10
            and bool(board.get("aroundMe"))
        )
        if not ok and len(wrong) < 3:
            wrong.append(str(payload)[:300])
        return ok

    spy: subprocess.Popen[bytes] | None = None
    try:
        await _wait_ready(f"http://127.0.0.1:{port}/health", server)
        if args.py_spy:
            spy = start_py_spy(server.pid, args.py_spy)
            await asyncio.sleep(1.0)
        # the API's CPU from the end of the clients' warm-up (`paced`: 0.5 s to start, then
        # up to 2 s not counted) to their last answer, over the queries sent in between
        warm = time.perf_counter() + 0.5 + min(2.0, args.seconds / 4)

        async def at_warm_end() -> tuple[float, float, int]:
            await asyncio.sleep(warm - time.perf_counter())
            return (*cpu_seconds(server.pid), sent)

        start = asyncio.create_task(at_warm_end())
        sample = await paced(
            "Leaderboard", send, clients=CLIENTS, seconds=args.seconds,
            rate=CLIENTS * per_client,
        )  # fmt: skip
        user_after, system_after = cpu_seconds(server.pid)
        user, system, sent_before = await start
        user, system, counted = user_after - user, system_after - system, sent - sent_before
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=30)
        server.terminate()
        server.wait(timeout=10)
    p99 = sample.percentile(99)
    print(
        f"reads: {sample.requests:,} Leaderboard queries (top 10 + around me, GraphQL over "
        f"HTTP to {'an API process' if workers == 1 else f'{workers} API processes'}) by "
        f"{CLIENTS} clients paced at {per_client:g}/s each: "
        f"p50 {sample.percentile(50):.2f} ms, p99 {p99:.2f} ms (target <= "
        f"{TARGET_P99_MS:.0f} ms) {'MET' if p99 <= TARGET_P99_MS else 'MISS'}, "
        f"{sample.errors} wrong answers; the API's CPU "
        f"{(user + system) / counted * 1000:.2f} ms per query ({user / counted * 1000:.2f} user,"
        f" {system / counted * 1000:.2f} system; {counted:,} queries after the warm-up)"
    )
    if wrong:
        raise SystemExit(f"wrong answers, e.g. {wrong[0]}")


def main(args: argparse.Namespace) -> None:
    mark = MARK.format(reps=args.reps, transactions=args.reps * 2, seed=7) + " closed"
    database_url, reused = asyncio.run(_database(args.server, args.database, mark, args.reuse))
    if reused:
        [[(tenant_id,)]] = asyncio.run(
            _sql(database_url, f"SELECT id FROM tenants WHERE slug = '{SLUG}'")
        )
        tenant_id = uuid.UUID(str(tenant_id))
        how = "kept from an earlier run"
    else:
        started = time.perf_counter()
        tenant_id = asyncio.run(prepare(database_url, args.reps, args.reps * 2, 7))
        run_close(database_url, 1, "setup")
        asyncio.run(_sql(database_url, f"COMMENT ON DATABASE \"{args.database}\" IS '{mark}'"))
        how = f"generated and closed in {time.perf_counter() - started:.0f} s (not timed)"
    print(f"Podium leaderboard benchmark: one board of {args.reps:,} reps ({how})")
    asyncio.run(run(database_url, args.redis, tenant_id, args))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=REPS)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--reads-per-client", type=float, default=READS_PER_CLIENT)
    parser.add_argument(
        "--api-workers", type=lambda v: [int(n) for n in v.split(",")], default=[1, 2],
        help="API processes to read through, one run each (`podium serve --workers`): 1,2",
    )  # fmt: skip
    parser.add_argument("--seconds", type=float, default=READ_SECONDS, help="of paced reads")
    parser.add_argument(
        "--reads-only", action="store_true", help="skip the rebuild and updates (with --reuse)"
    )
    parser.add_argument("--py-spy", help="record the API process (py-spy --gil, raw) to this file")
    parser.add_argument("--server", default=os.environ.get("BENCH_POSTGRES", DEFAULT_SERVER))
    parser.add_argument("--database", default="podium_bench_board")
    parser.add_argument(
        "--redis",
        default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"),
        help="the Redis database the board is written to (flushed keys of the board only)",
    )
    main(parser.parse_args())
