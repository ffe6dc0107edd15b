"""Statements benchmark: building a closed month's statements for the close benchmark's
tenant (20,000 reps, 1,000,000 transactions) against an I/O floor.

    python -m bench.statements                      # generate (or --reuse) and close, then build
    python -m bench.statements --reuse --runs 3     # the tenant of an earlier run

The tenant is bench/close.py's, generated the same way (not timed) into its own database
(``--database``, podium_bench_statements by default) and closed once with `podium close`
(not timed; it builds the statements as it closes). Then each run deletes the period's
statements and builds them again in this process (`build_statements`, one transaction), and
the floor does the I/O any build must: read the period's results (id, person, currency,
payable, components) and COPY as many statement and line rows as the build wrote into
scratch tables of their width. Printed: each run, the median, and the ratio to the floor
measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime

from bench.close import (
    DEFAULT_SERVER,
    MARK,
    PERIOD,
    REPS,
    ROOT,
    SLUG,
    TRANSACTIONS,
    _database,
    _sql,
    prepare,
)

TARGET_RATIO = 4.0


async def _build(database_url: str, tenant_id: uuid.UUID) -> tuple[float, int, int]:
    from tortoise.transactions import in_transaction

    from domain.db import close_db, init_db
    from domain.org.viewer import Viewer
    from payments.statements.service import build_statements

    await init_db(database_url)
    try:
        viewer = Viewer.system(tenant_id, "bench")
        async with in_transaction():
            await _delete(tenant_id)
        started = time.perf_counter()
        async with in_transaction():
            summary = await build_statements(viewer=viewer, period=PERIOD)
        return time.perf_counter() - started, summary.built, summary.lines
    finally:
        await close_db()


async def _delete(tenant_id: uuid.UUID) -> None:
    from tortoise import connections

    db = connections.get("default")
    await db.execute_query(
        "DELETE FROM statements WHERE tenant_id = $1 AND period = $2", [tenant_id, PERIOD]
    )


async def _floor(database_url: str, tenant_id: uuid.UUID, statements: int, lines: int) -> float:
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "CREATE TEMP TABLE s_floor (id uuid, tenant_id uuid, user_id uuid, period text, "
            "currency text, version int, current bool, status text, total numeric, "
            "plan_versions jsonb, inputs_hash text, created_at timestamptz)"
        )
        await conn.execute(
            "CREATE TEMP TABLE l_floor (statement_id uuid, tenant_id uuid, position int, "
            "kind text, amount numeric, params jsonb, source text)"
        )
        started = time.perf_counter()
        rows = await conn.fetch(
            "SELECT id, user_id, currency, payable, components FROM earnings_results "
            "WHERE tenant_id = $1 AND period = $2",
            tenant_id,
            PERIOD,
        )
        at = datetime.now(UTC)
        await conn.copy_records_to_table(
            "s_floor",
            records=[
                (uuid.uuid4(), tenant_id, rows[i % len(rows)]["user_id"], PERIOD, "EUR", 1, True,
                 "draft", 0, "[]", "0" * 64, at)
                for i in range(statements)
            ],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "l_floor",
            records=[
                (rows[i % len(rows)]["id"], tenant_id, i, "earnings", 0,
                 '{"component": "commission"}', "result:x")
                for i in range(lines)
            ],
        )  # fmt: skip
        return time.perf_counter() - started
    finally:
        await conn.close()


def main(args: argparse.Namespace) -> None:
    mark = MARK.format(reps=args.reps, transactions=args.transactions, seed=args.seed)
    name = args.database
    if (args.reps, args.transactions) != (REPS, TRANSACTIONS):
        name += f"_{args.reps}_{args.transactions}"
    database_url, reused = asyncio.run(_database(args.server, name, mark, args.reuse))
    from domain.db import migrate

    asyncio.run(migrate(database_url))
    if reused:
        [[(tenant_id,)]] = asyncio.run(
            _sql(database_url, f"SELECT id FROM tenants WHERE slug = '{SLUG}'")
        )
        tenant_id = uuid.UUID(str(tenant_id))
    else:
        tenant_id = asyncio.run(prepare(database_url, args.reps, args.transactions, args.seed))
        asyncio.run(_sql(database_url, f"COMMENT ON DATABASE \"{name}\" IS '{mark}'"))
    [[(closed,)]] = asyncio.run(
        _sql(
            database_url,
            f"SELECT count(*) FROM periods WHERE key = '{PERIOD}' AND status = 'closed'",
        )
    )
    if not closed:
        env = {**os.environ, "DATABASE_URL": database_url}
        subprocess.run(
            [sys.executable, "-m", "api.cli", "close", "--tenant", SLUG, "--period", PERIOD],
            cwd=ROOT, env=env, check=True, capture_output=True,
        )  # fmt: skip
    print(
        f"Podium statements benchmark: {args.reps:,} reps, {args.transactions:,} transactions, "
        f"{PERIOD} closed; {args.runs} builds"
    )
    times = []
    for run in range(args.runs):
        seconds, built, lines = asyncio.run(_build(database_url, tenant_id))
        floor = asyncio.run(_floor(database_url, tenant_id, built, lines))
        times.append((seconds, floor))
        print(
            f"build {run + 1}: {built:,} statements, {lines:,} lines in {seconds:.2f} s "
            f"({built / seconds:,.0f} statements/s); floor {floor:.2f} s; "
            f"{seconds / floor:.1f}x the floor"
        )
    median = statistics.median(s for s, _ in times)
    floor_median = statistics.median(f for _, f in times)
    ratio = median / floor_median
    print(
        f"median: {median:.2f} s against a floor of {floor_median:.2f} s = {ratio:.1f}x "
        f"(target <= {TARGET_RATIO:.0f}x) {'MET' if ratio <= TARGET_RATIO else 'MISS'}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=REPS)
    parser.add_argument("--transactions", type=int, default=TRANSACTIONS)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--server", default=os.environ.get("BENCH_POSTGRES", DEFAULT_SERVER))
    parser.add_argument("--database", default="podium_bench_statements")
    parser.add_argument("--reuse", action="store_true")
    main(parser.parse_args())
