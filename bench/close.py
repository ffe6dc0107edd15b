"""Close benchmark: `podium close` on a large month in PostgreSQL against an I/O floor.

    python -m bench.close                                   # 20,000 reps, 1,000,000 transactions
    python -m bench.close --reps 2000 --transactions 100000 # a quick check
    python -m bench.close --reuse --only 1                  # the tenant of the last run, 1 process

The tenant is generated deterministically from ``--seed`` and written with COPY (not timed):
the engine benchmark's plan (marginal tiers on attainment, quota-club steps, a windowed SPIFF,
a conditional kicker) and its transaction mix (EUR, GBP and USD with FX rates, lost deals,
renewals, some dated outside the period); every rep has a quota.

The floor is the I/O any close must do, measured in the same run on the same server, right
after each close (the machine's speed shifts within a minute): COPY the period's transaction
rows out of PostgreSQL, and COPY as many rows as the close writes lines into a scratch table
of the lines' width (their columns, and an explanation as long as the stored lines' on
average). The close runs as `podium close` subprocesses (Podium's modules
compiled to bytecode first, as the service image has them: `compile_podium`): once
alone, then (period reopened, results deleted) with two processes sharing the chunks, then a
re-close with nothing changed (reopened, results kept: nothing is written). Peak memory is
ru_maxrss of each close process. CPU is the close processes' own (user + system) and that of
their PostgreSQL backends (read from /proc while they run), per 1,000 transactions of the
period: a steady unit on a machine shared with other work, where wall time is not. Under
each close, the host's speed through it (`bench.host`: this machine's vCPUs switch between
two speeds, and the floor, mostly PostgreSQL's C, and the close, mostly Python, move
differently with them).
``--reuse`` keeps the database of an earlier run with the same sizes and seed (its results
deleted and its period reopened) instead of generating it again; ``--database`` names it
(podium_bench_close by default), so that people sharing a server keep their runs apart.
Targets: close <= 4x the floor, <= 1 GiB.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import os
import random
import subprocess
import sys
import threading
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
from bench.host import HostProbes, interpreter
from domain.earnings.service import LINE_COLUMNS

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
PERIOD = "2026-10"
SLUG = "close-bench"
TARGET_RATIO = 4.0
REPS = 20_000
TRANSACTIONS = 1_000_000
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
        # the month at rest, as autovacuum leaves a table after its inserts (PostgreSQL 13's
        # insert threshold): statistics, and its pages marked visible to index-only scans
        await db.execute_script("VACUUM ANALYZE")
        return tenant.id
    finally:
        await close_db()


@dataclass
class Floor:
    read_rows: int
    read_seconds: float
    write_rows: int
    write_seconds: float
    width: int  # characters of explanation a line row carries

    @property
    def seconds(self) -> float:
        return self.read_seconds + self.write_seconds


class _Sink:
    """Where the floor's COPY out goes: counted, not kept."""

    def __init__(self) -> None:
        self.bytes = 0

    async def __call__(self, data: bytes) -> None:
        self.bytes += len(data)


async def floor(database_url: str, tenant_id: uuid.UUID, lines: int, width: int) -> Floor:
    """The floor's I/O. Its line rows are of the lines' width: the close's own columns, with
    an explanation as long as the stored ones on average (``width`` characters)."""
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
        explanation = ('[["line",{"component":"Commission","rate":"0.02"}]' + " " * width)[:width]
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
                explanation,
            )
            for i in range(lines)
        ]
        started = time.perf_counter()
        await conn.copy_records_to_table(
            "bench_scratch_lines",
            records=rows,
            columns=LINE_COLUMNS,  # the close writes the same columns
        )
        write_seconds = time.perf_counter() - started
        await conn.execute("DROP TABLE bench_scratch_lines")
        return Floor(read_rows, read_seconds, lines, write_seconds, width)
    finally:
        await conn.close()


@dataclass
class Close:
    label: str
    seconds: float
    peak_bytes: list[int]
    cpu_seconds: float  # the close processes' user + system time
    backend_cpu_seconds: float | None  # their PostgreSQL backends' (None: not readable)
    output: str
    closed_seconds: float  # until the first of them said the period was closed
    closed_cpu_seconds: float  # closes' and backends' CPU until then
    host: str = ""  # the host's speed through the close (`bench.host`)


# Runs the close as its own child and reports that child's peak RSS and CPU time. A process
# started straight from this one would not do: Linux carries the parent's high-water RSS into
# a child across exec, and this script holds the generated rows; the launcher is small.
LAUNCHER = (
    "import os, subprocess, sys\n"
    "p = subprocess.Popen(sys.argv[1:])\n"
    "_, status, usage = os.wait4(p.pid, 0)\n"
    "sys.stderr.write(f'usage {usage.ru_maxrss} {usage.ru_utime + usage.ru_stime}\\n')\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)

BACKEND_POLL = 0.05  # seconds between looks at the close's backends


def _process_cpu(pid: int) -> float | None:
    """user + system seconds of a local process, None when it is gone or not readable."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class BackendCpu:
    """The CPU time of the PostgreSQL backends serving the close: every client backend of
    the bench database but this watcher's own, read from /proc every BACKEND_POLL seconds
    (the last look before a backend exits is what it counts; it idles by then). None when
    the server is not on this machine."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.seen: dict[int, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._watch()), daemon=True)

    def __enter__(self) -> BackendCpu:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()

    async def _watch(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.database_url)
        try:
            while True:
                for (pid,) in await conn.fetch(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
                ):
                    cpu = _process_cpu(pid)
                    if cpu is not None:  # None: gone since, or on another machine
                        self.seen[pid] = max(cpu, self.seen.get(pid, 0.0))
                if self.stop.wait(BACKEND_POLL):
                    return
        finally:
            await conn.close()

    @property
    def seconds(self) -> float | None:
        return sum(self.seen.values()) if self.seen else None


def _children_cpu(pid: int) -> float:
    """user + system seconds of a launcher's children (the close process it started)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            pids = [int(c) for c in children.read().split()]
    except OSError:
        return 0.0
    return sum(_process_cpu(child) or 0.0 for child in pids)


PACKAGES = ("api", "domain", "workers", "gamification", "payments")


def compile_podium() -> None:
    """Podium's modules compiled to bytecode, as the service image has them (its `pip install
    .` compiles the package) and as a checkout has them after a first run. An environment
    with PYTHONDONTWRITEBYTECODE set (this machine's) keeps none: each close process then
    compiled every module it imports as it started, 0.2 s of CPU of its 0.8 s start-up."""
    for package in PACKAGES:
        compileall.compile_dir(ROOT / package, quiet=1)


def run_close(database_url: str, processes: int, label: str) -> Close:
    """The close processes from start to exit, and the moment the period is closed: the
    first of them to print ``closed.`` (the statements are built after it, in a transaction
    of their own), with the CPU spent up to then."""
    env = {**os.environ, "DATABASE_URL": database_url}
    command = [sys.executable, "-m", "api.cli", "close", "--tenant", SLUG, "--period", PERIOD]
    with BackendCpu(database_url) as backends, HostProbes() as probes:
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
        closed: list[tuple[float, float]] = []  # (seconds, CPU of closes + backends) at closed
        outputs = ["" for _ in procs]

        def read(i: int, proc: subprocess.Popen[bytes]) -> None:
            assert proc.stdout is not None
            for raw in proc.stdout:
                line = raw.decode()
                outputs[i] += line
                if ": closed." in line and not closed:
                    at = time.perf_counter() - started
                    cpu = sum(_children_cpu(p.pid) for p in procs)
                    closed.append((at, cpu + (backends.seconds or 0.0)))

        readers = [
            threading.Thread(target=read, args=(i, proc), daemon=True)
            for i, proc in enumerate(procs)
        ]
        for reader in readers:
            reader.start()
        peaks = []
        cpu = 0.0
        for proc, reader in zip(procs, readers, strict=True):
            assert proc.stderr is not None
            err = proc.stderr.read()
            proc.wait()
            reader.join()
            said = err.decode().splitlines()
            if proc.returncode != 0:
                raise SystemExit(f"podium close failed ({proc.returncode}): {err.decode()}")
            _, rss_kib, seconds = said[-1].split()
            peaks.append(int(rss_kib) * 1024)  # KiB on Linux
            cpu += float(seconds)
        seconds = time.perf_counter() - started
    if not closed:
        raise SystemExit("podium close never said the period was closed")
    first = next(o for o in outputs if ": closed." in o)
    return Close(
        label, seconds, peaks, cpu, backends.seconds, first, *closed[0], host=probes.line()
    )


async def _sql(database_url: str, *statements: str) -> list[list[tuple[object, ...]]]:
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        return [[tuple(r) for r in await conn.fetch(s)] for s in statements]
    finally:
        await conn.close()


def reopen(database_url: str, delete_results: bool) -> None:
    """The period open again (as `podium close --reopen` does), with or without its results;
    a close run left by a killed close is dropped too."""
    statements = [
        "DELETE FROM close_runs",
        "UPDATE periods SET status = 'open', closed_at = NULL",
    ]
    if delete_results:  # and the statements the close built from them
        statements += ["DELETE FROM statements", "DELETE FROM earnings_results", "VACUUM ANALYZE"]
    asyncio.run(_sql(database_url, *statements))


def report(close: Close, floor_: Floor, transactions: int) -> None:
    """The close (start to the period closed) against the floor: the target's figure; then
    the whole command, the drafts of the payees' statements included (built after the
    close; their own benchmark is bench.statements)."""
    ratio = close.closed_seconds / floor_.seconds
    peak = max(close.peak_bytes)
    backend = close.backend_cpu_seconds
    cpu = close.cpu_seconds + (backend or 0.0)
    print(
        f"{close.label}: closed in {close.closed_seconds:.1f} s, "
        f"{transactions / close.closed_seconds:,.0f} transactions/s, "
        f"{floor_.write_rows / close.closed_seconds:,.0f} lines/s; "
        f"{ratio:.1f}x the floor (target <= {TARGET_RATIO:.0f}x) "
        f"{'MET' if ratio <= TARGET_RATIO else 'MISS'}; peak memory "
        f"{', '.join(f'{p / 2**20:.0f} MiB' for p in close.peak_bytes)} (target <= 1 GiB) "
        f"{'MET' if peak <= TARGET_MEMORY else 'MISS'}"
    )
    print(
        f"  CPU until closed: {close.closed_cpu_seconds:.2f} s (close processes + "
        f"PostgreSQL), {close.closed_cpu_seconds / transactions * 1e6:.2f} ms per 1,000 "
        "transactions"
    )
    print(
        f"  with the statements' drafts: {close.seconds:.1f} s "
        f"({close.seconds / floor_.seconds:.1f}x the floor); CPU: close "
        f"{close.cpu_seconds:.2f} s + PostgreSQL "
        f"{'n/a' if backend is None else f'{backend:.2f} s'} = {cpu:.2f} s, "
        f"{cpu / transactions * 1e6:.2f} ms per 1,000 transactions"
    )
    print(f"  {close.host}")


MARK = "bench.close reps={reps} transactions={transactions} seed={seed}"


async def _database(server_url: str, name: str, mark: str, reuse: bool) -> tuple[str, bool]:
    """The bench database's URL, and whether it holds the tenant already (``reuse`` and
    generated with the same sizes and seed)."""
    import asyncpg

    admin = await asyncpg.connect(server_url)
    try:
        found = await admin.fetchval(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
            name,
        )
    finally:
        await admin.close()
    if reuse and found == mark:
        return f"{server_url.rpartition('/')[0]}/{name}", True
    return await _recreate_database(server_url, name), False


def main(args: argparse.Namespace) -> None:
    mark = MARK.format(reps=args.reps, transactions=args.transactions, seed=args.seed)
    name = args.database
    if (args.reps, args.transactions) != (REPS, TRANSACTIONS):  # kept beside the full size
        name += f"_{args.reps}_{args.transactions}"
    database_url, reused = asyncio.run(_database(args.server, name, mark, args.reuse))
    started = time.perf_counter()
    if reused:
        from domain.db import migrate

        asyncio.run(migrate(database_url))
        [[(tenant_id,)]] = asyncio.run(
            _sql(database_url, f"SELECT id FROM tenants WHERE slug = '{SLUG}'")
        )
        tenant_id = uuid.UUID(str(tenant_id))
        reopen(database_url, delete_results="again" not in args.only)
        how = "kept from an earlier run"
    else:
        tenant_id = asyncio.run(prepare(database_url, args.reps, args.transactions, args.seed))
        asyncio.run(_sql(database_url, f"COMMENT ON DATABASE \"{name}\" IS '{mark}'"))
        how = f"written with COPY in {time.perf_counter() - started:.1f} s (not timed)"
    print(
        f"Podium close benchmark: {args.reps:,} reps, {args.transactions:,} transactions "
        f"{how}; period {PERIOD}; the close processes, PostgreSQL and this script share the "
        f"machine; {interpreter()}"
    )
    [[(in_period,)]] = asyncio.run(
        _sql(
            database_url,
            f"SELECT count(*) FROM transactions WHERE date BETWEEN '{PERIOD}-01' AND '{PERIOD}-31'",
        )
    )
    transactions = int(str(in_period))
    runs = [
        ("1", 1, "close, 1 process", True),
        ("2", 2, "close, 2 processes", True),
        ("again", 1, "re-close, nothing changed (nothing written)", False),
    ]
    compile_podium()
    first = first_report = True
    for key, processes, label, delete_results in runs:
        if key not in args.only:
            continue
        if not first:
            reopen(database_url, delete_results=delete_results)
        first = False
        close = run_close(database_url, processes, label)
        # each close's own floor, measured right after it: this machine's speed shifts
        # within a minute (`bench.host`), and a floor measured before the run's first
        # close and used for all of them gave a two-process close anything from 3.2x to 4.8x
        [[(lines, width)]] = asyncio.run(
            _sql(
                database_url,
                "SELECT count(*), coalesce(avg(length(explanation)), 0)::int FROM earnings_lines",
            )
        )
        floor_ = asyncio.run(floor(database_url, tenant_id, int(str(lines)), int(str(width))))
        print(
            f"floor: COPY {floor_.read_rows:,} transaction rows out "
            f"{floor_.read_seconds:.2f} s + COPY {floor_.write_rows:,} line rows "
            f"({floor_.width} characters of explanation each) in "
            f"{floor_.write_seconds:.2f} s = {floor_.seconds:.2f} s"
        )
        if first_report:
            print(close.output.rstrip().splitlines()[0])
            first_report = False
        report(close, floor_, transactions)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=REPS)
    parser.add_argument("--transactions", type=int, default=TRANSACTIONS)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--server",
        default=os.environ.get("BENCH_POSTGRES", DEFAULT_SERVER),
        help="PostgreSQL server (its --database is used)",
    )
    parser.add_argument(
        "--database",
        default="podium_bench_close",
        help="the bench database's name (another name keeps runs apart on a shared server)",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the database of an earlier run with the same sizes and seed",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=["1", "2", "again"],
        default=["1", "2", "again"],
        help="which closes to run: 1 process, 2 processes, the re-close with nothing changed",
    )
    main(parser.parse_args())
