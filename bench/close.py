"""Close benchmark: `podium close` on a large month in PostgreSQL against an I/O floor.

    python -m bench.close                                   # 20,000 reps, 1,000,000 transactions
    python -m bench.close --reps 2000 --transactions 100000 # a quick check

The tenant is generated deterministically from ``--seed`` and written with COPY (not timed):
the engine benchmark's plan (marginal tiers on attainment, quota-club steps, a windowed SPIFF,
a conditional kicker) and its transaction mix (EUR, GBP and USD with FX rates, lost deals,
renewals, some dated outside the period); every rep has a quota.

The floor is the I/O any close must do, measured in the same run on the same server: COPY the
period's transaction rows out of PostgreSQL, and COPY as many rows as the close writes lines
into a scratch table of the lines' width. The close runs as `podium close` subprocesses: once
alone, then (period reopened, results deleted) with two processes sharing the chunks, then a
re-close with nothing changed (reopened, results kept: nothing is written). Peak memory is
ru_maxrss of each close process. Targets: close <= 4x the floor, <= 1 GiB.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from bench.api import _recreate_database
from bench.engine import (
    CURRENCIES,
    DEAL_STATES,
    FX_RATES,
    MAX_CENTS,
    MIN_CENTS,
    PLAN_YAML,
    PRODUCTS,
    SHARE_OUTSIDE_PERIOD,
    SHARE_RENEWALS,
    _pick,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
PERIOD = "2026-10"
SLUG = "close-bench"
TARGET_RATIO = 4.0
TARGET_MEMORY = 1024**3


async def prepare(database_url: str, n_reps: int, n_transactions: int, seed: int) -> uuid.UUID:
    """Migrate; the tenant, plan, reps, assignments, quotas, FX rates and transactions."""
    from tortoise import connections
    from tortoise.transactions import in_transaction

    from domain.db import close_db, init_db, migrate
    from domain.org.viewer import Viewer
    from domain.plans.service import publish_plan_version
    from domain.tenants.service import create_tenant

    await migrate(database_url)
    await init_db(database_url)
    rng = random.Random(seed)
    start = date(2026, 10, 1)
    end = date(2026, 10, 31)
    now = datetime.now(UTC)
    try:
        async with in_transaction():
            tenant = await create_tenant(slug=SLUG, name="Close Bench", currency="EUR")
            version = await publish_plan_version(
                viewer=Viewer.system(tenant.id, "bench"), document=PLAN_YAML, effective_from=start
            )
        ids = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(n_reps)]
        width = len(str(max(n_reps - 1, 1)))
        users = [
            (
                uid,
                tenant.id,
                f"r{i:0{width}d}",
                f"Rep {i}",
                "rep",
                "en",
                start + timedelta(days=rng.randrange(1, 20)) if rng.random() < 0.02 else None,
                "{}",
                now,
                now,
            )
            for i, uid in enumerate(ids)
        ]
        mean_eur = (MIN_CENTS + MAX_CENTS) / 200 * 1.01
        counted = (1 - SHARE_OUTSIDE_PERIOD) * (1 - SHARE_RENEWALS) * DEAL_STATES[1][0]
        expected = max(n_transactions / n_reps * counted * mean_eur, 1000.0)
        before = [start - timedelta(days=d) for d in range(1, 31)]
        inside = [start + timedelta(days=d) for d in range(31)]
        after = [end + timedelta(days=d) for d in range(1, 31)]
        outside = before + after
        credited = [f'["{u}"]' for u in ids]
        extras = {p: f'{{"product":"{p}"}}' for _, p in PRODUCTS}
        transactions = []
        for n in range(n_transactions):
            day = rng.choice(outside) if rng.random() < SHARE_OUTSIDE_PERIOD else rng.choice(inside)
            if rng.random() < SHARE_RENEWALS:
                kind, state = "renewal", "won"
            else:
                kind, state = "deal", _pick(DEAL_STATES, rng.random())
            rep = rng.randrange(n_reps)
            transactions.append(
                (
                    tenant.id,
                    f"t{n:07d}",
                    ids[rep],
                    kind,
                    Decimal(rng.randrange(MIN_CENTS, MAX_CENTS)).scaleb(-2),
                    _pick(CURRENCIES, rng.random()),
                    day,
                    state,
                    credited[rep],
                    extras[_pick(PRODUCTS, rng.random())],
                    1,
                    False,
                    now,
                    now,
                )
            )
        db = connections.get("default")
        async with in_transaction(), db.acquire_connection() as conn:
            await conn.copy_records_to_table(
                "users",
                records=users,
                columns=[
                    "id",
                    "tenant_id",
                    "external_id",
                    "display_name",
                    "role",
                    "locale",
                    "hire_date",
                    "attributes",
                    "created_at",
                    "updated_at",
                ],
            )
            await conn.copy_records_to_table(
                "plan_assignments",
                records=[
                    (uuid.uuid4(), tenant.id, version.plan_id, u, "accepted", start, now, now)
                    for u in ids
                ],
                columns=[
                    "id",
                    "tenant_id",
                    "plan_id",
                    "user_id",
                    "status",
                    "effective_from",
                    "accepted_at",
                    "offered_at",
                ],
            )
            await conn.copy_records_to_table(
                "quotas",
                records=[
                    (
                        tenant.id,
                        u,
                        "bookings",
                        PERIOD,
                        Decimal(max(1, round(expected * rng.uniform(0.7, 1.4) / 1000))) * 1000,
                        now,
                    )
                    for u in ids
                ],
                columns=["tenant_id", "user_id", "measure", "period", "value", "updated_at"],
            )
            await conn.copy_records_to_table(
                "fx_rates",
                records=[
                    (tenant.id, date.fromisoformat(day), currency, "EUR", Decimal(rate))
                    for currency, entries in FX_RATES.items()
                    for day, rate in entries
                ],
                columns=["tenant_id", "date", "currency", "quote_currency", "rate"],
            )
            await conn.copy_records_to_table(
                "transactions",
                records=transactions,
                columns=[
                    "tenant_id",
                    "external_id",
                    "rep_id",
                    "type",
                    "amount",
                    "currency",
                    "date",
                    "state",
                    "credited_user_ids",
                    "extra_fields",
                    "version",
                    "deleted",
                    "created_at",
                    "updated_at",
                ],
            )
        await db.execute_script("ANALYZE")
        return tenant.id
    finally:
        await close_db()


@dataclass
class Floor:
    read_rows: int
    read_seconds: float
    write_rows: int
    write_seconds: float

    @property
    def seconds(self) -> float:
        return self.read_seconds + self.write_seconds


class _Sink:
    """Where the floor's COPY out goes: counted, not kept."""

    def __init__(self) -> None:
        self.bytes = 0

    async def __call__(self, data: bytes) -> None:
        self.bytes += len(data)


async def floor(database_url: str, tenant_id: uuid.UUID, lines: int) -> Floor:
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        started = time.perf_counter()
        sink = _Sink()
        status = await conn.copy_from_query(
            """
            SELECT external_id, rep_id, amount, currency, date, type, state, splits,
                   extra_fields, credited_user_ids
            FROM transactions
            WHERE tenant_id = $1 AND NOT deleted AND date BETWEEN $2 AND $3
            """,
            tenant_id,
            date(2026, 10, 1),
            date(2026, 10, 31),
            output=sink,
        )
        read_seconds = time.perf_counter() - started
        read_rows = int(status.split()[-1])
        await conn.execute("DROP TABLE IF EXISTS bench_scratch_lines")
        await conn.execute(
            "CREATE TABLE bench_scratch_lines (LIKE earnings_lines INCLUDING DEFAULTS)"
        )
        result_id = uuid.uuid4()
        rows = [
            (
                result_id,
                tenant_id,
                i % 60,
                "commission",
                f"t{i:07d}",
                None,
                date(2026, 10, 1 + i % 31),
                Decimal("1234.56"),
                Decimal("24.6912"),
                "payable",
                "2% of 1,234.56 EUR",
            )
            for i in range(lines)
        ]
        started = time.perf_counter()
        await conn.copy_records_to_table(
            "bench_scratch_lines",
            records=rows,
            columns=[
                "result_id",
                "tenant_id",
                "position",
                "component",
                "transaction_external_id",
                "credited_rep",
                "occurred_on",
                "value",
                "amount",
                "status",
                "explanation",
            ],
        )
        write_seconds = time.perf_counter() - started
        await conn.execute("DROP TABLE bench_scratch_lines")
        return Floor(read_rows, read_seconds, lines, write_seconds)
    finally:
        await conn.close()


@dataclass
class Close:
    label: str
    seconds: float
    peak_bytes: list[int]
    output: str


# Runs the close as its own child and reports that child's peak RSS. A process started
# straight from this one would not do: Linux carries the parent's high-water RSS into a child
# across exec, and this script holds the generated rows; the launcher is small.
LAUNCHER = (
    "import os, subprocess, sys\n"
    "p = subprocess.Popen(sys.argv[1:])\n"
    "_, status, usage = os.wait4(p.pid, 0)\n"
    "sys.stderr.write(f'peak-rss-kib {usage.ru_maxrss}\\n')\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def run_close(database_url: str, processes: int, label: str) -> Close:
    env = {**os.environ, "DATABASE_URL": database_url}
    command = [sys.executable, "-m", "api.cli", "close", "--tenant", SLUG, "--period", PERIOD]
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, *command],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(processes)
    ]
    peaks = []
    outputs = []
    for proc in procs:
        out, err = proc.communicate()
        said = err.decode().splitlines()
        if proc.returncode != 0:
            raise SystemExit(f"podium close failed ({proc.returncode}): {err.decode()}")
        outputs.append(out.decode())
        peaks.append(int(said[-1].split()[-1]) * 1024)  # KiB on Linux
    seconds = time.perf_counter() - started
    return Close(label, seconds, peaks, outputs[0])


async def _sql(database_url: str, *statements: str) -> list[list[tuple[object, ...]]]:
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        return [[tuple(r) for r in await conn.fetch(s)] for s in statements]
    finally:
        await conn.close()


def reopen(database_url: str, delete_results: bool) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "api.cli",
            "close",
            "--tenant",
            SLUG,
            "--period",
            PERIOD,
            "--reopen",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    if delete_results:
        asyncio.run(_sql(database_url, "DELETE FROM earnings_results", "VACUUM ANALYZE"))


def report(close: Close, floor_: Floor, transactions: int) -> None:
    ratio = close.seconds / floor_.seconds
    peak = max(close.peak_bytes)
    print(
        f"{close.label}: {close.seconds:.1f} s, {transactions / close.seconds:,.0f} "
        f"transactions/s, {floor_.write_rows / close.seconds:,.0f} lines/s; "
        f"{ratio:.1f}x the floor (target <= {TARGET_RATIO:.0f}x) "
        f"{'MET' if ratio <= TARGET_RATIO else 'MISS'}; peak memory "
        f"{', '.join(f'{p / 2**20:.0f} MiB' for p in close.peak_bytes)} (target <= 1 GiB) "
        f"{'MET' if peak <= TARGET_MEMORY else 'MISS'}"
    )


def main(args: argparse.Namespace) -> None:
    database_url = os.environ.get("DATABASE_URL") or asyncio.run(
        _recreate_database(DEFAULT_SERVER, "podium_bench_close")
    )
    started = time.perf_counter()
    tenant_id = asyncio.run(prepare(database_url, args.reps, args.transactions, args.seed))
    print(
        f"Podium close benchmark: {args.reps:,} reps, {args.transactions:,} transactions "
        f"written with COPY in {time.perf_counter() - started:.1f} s (not timed); period "
        f"{PERIOD}; the close processes, PostgreSQL and this script share the machine"
    )
    alone = run_close(database_url, 1, "close, 1 process")
    [[(lines,)], [(in_period,)]] = asyncio.run(
        _sql(
            database_url,
            "SELECT count(*) FROM earnings_lines",
            f"SELECT count(*) FROM transactions WHERE date BETWEEN '{PERIOD}-01' AND '{PERIOD}-31'",
        )
    )
    floor_ = asyncio.run(floor(database_url, tenant_id, int(str(lines))))
    print(
        f"floor: COPY {floor_.read_rows:,} transaction rows out {floor_.read_seconds:.2f} s "
        f"+ COPY {floor_.write_rows:,} line rows in {floor_.write_seconds:.2f} s "
        f"= {floor_.seconds:.2f} s"
    )
    print(alone.output.rstrip().splitlines()[0])
    report(alone, floor_, int(str(in_period)))
    reopen(database_url, delete_results=True)
    shared = run_close(database_url, 2, "close, 2 processes")
    report(shared, floor_, int(str(in_period)))
    reopen(database_url, delete_results=False)
    again = run_close(database_url, 1, "re-close, nothing changed (nothing written)")
    report(again, floor_, int(str(in_period)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=20_000)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    main(parser.parse_args())
