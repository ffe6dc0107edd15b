"""`podium recompute` and `podium close`: both recompute people in chunks through the one
batch path (``domain.earnings.service.recompute_many``), a transaction per chunk. The close
claims its chunks from a close run in PostgreSQL (SKIP LOCKED), so other `podium close`
processes and arq workers share it and a killed close resumes; then it closes the period.
Registered onto the typer app by api/cli.py."""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from domain.earnings.close import CloseSummary

TenantOption = Annotated[str, typer.Option("--tenant", help="The tenant's slug.")]
PeriodOption = Annotated[str, typer.Option("--period", help="2026-10, 2026-Q4 or 2026.")]
RepOption = Annotated[
    str | None, typer.Option("--rep", help="One person's CRM id (default: everyone on a plan).")
]
ReopenOption = Annotated[
    bool, typer.Option("--reopen", help="Reopen a closed period instead (admin, audited).")
]
WorkersOption = Annotated[
    int,
    typer.Option(
        "--workers",
        help="Also ask this many arq workers (REDIS_URL) to share the close, at most 64; 0: "
        "this process alone (other `podium close` processes always may).",
        min=0,
        max=64,  # workers.queue.MAX_CLOSE_HELPERS: a job per helper, no more than can help
    ),
]

ChunkOption = Annotated[
    int | None,
    typer.Option(
        "--chunk-size",
        help="At most this many of the period's transactions per chunk (one database "
        "transaction each; default 250,000).",
        min=1,
    ),
]

WAIT_FOR_OTHERS = 0.2  # seconds between looks while other processes finish their chunks


class _Progress:
    """A rich progress bar on a terminal (people, transactions/s, time left); plain lines
    on stderr otherwise, at most one every few seconds."""

    def __init__(self, period: str, people: int, done: int, transactions: int) -> None:
        self.period, self.people = period, people
        self.started = time.monotonic()
        self.base_transactions = transactions
        self.last_line = 0.0
        self.last_done = -1
        self.bar: Any = None
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn(f"{period}: people"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:>9} transactions/s"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self.bar.start()
            self.task = self.bar.add_task("close", total=people, completed=done, rate="-")

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()

    def update(self, done: int, transactions: int, final: bool = False) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = (transactions - self.base_transactions) / elapsed
        if self.bar is not None:
            self.bar.update(self.task, completed=done, rate=f"{rate:,.0f}")
            return
        now = time.monotonic()
        if (final and done != self.last_done) or (not final and now - self.last_line >= 5):
            self.last_line, self.last_done = now, done
            sys.stderr.write(
                f"{self.period}: {done}/{self.people} people, {rate:,.0f} transactions/s\n"
            )


def close(
    tenant: TenantOption,
    period: PeriodOption,
    reopen: ReopenOption = False,
    workers: WorkersOption = 0,
    chunk_size: ChunkOption = None,
) -> None:
    """Recompute everyone of a period in chunks, then close it: its results are final.

    Resumable, and other `podium close` processes and arq workers may share the chunks.

    Exit status 0 when closed; 1 when the database (or Redis) went away: run it again and
    it finishes the rest; 2 on bad input (a closed period, an unknown tenant, ...)."""
    from api import cli
    from domain.earnings import close as closing
    from domain.earnings.errors import PeriodClosed
    from domain.kit.errors import DomainError
    from domain.kit.periods import parse_period
    from domain.org.viewer import Viewer

    try:
        parsed = parse_period(period)
    except DomainError as exc:
        cli._fail(str(exc))
        return
    settings = cli._settings()

    if reopen:

        async def reopen_it() -> None:
            from payments.statements.service import prepare_reopen

            found = await cli._tenant(tenant)
            viewer = Viewer.system(found.id, "cli-close")
            async with cli.in_transaction():
                await closing.reopen_period(viewer=viewer, period=parsed.id)
                # its drafts discarded for the next close to build; refused (the reopen
                # rolled back) when they are approved, paid or disputed
                await prepare_reopen(viewer=viewer, period=parsed.id)

        cli._with_database(settings.database_url, reopen_it)
        sys.stdout.write(f"{parsed.id}: reopened (recorded in the audit log)\n")
        return

    async def work() -> None:
        found = await cli._tenant(tenant)
        viewer = Viewer.system(found.id, "cli-close")
        try:
            async with cli.in_transaction():
                run = await closing.start_close(
                    viewer=viewer, period=parsed.id, chunk=chunk_size or closing.CHUNK_TRANSACTIONS
                )
        except PeriodClosed:
            # A close killed after it committed, before the statements were drafted: this
            # rerun drafts them (what the killed close would have done). Otherwise refused,
            # nothing changed.
            if not await _statements_missing(viewer, parsed.id):
                raise
            sys.stdout.write(f"{parsed.id}: closed already; drafting its missing statements\n")
            await _build_statements(viewer, parsed.id, tenant)
            return
        if workers:
            await _ask_workers(settings.redis_url, found.id, run.id, workers)
        seen = await closing.close_progress(viewer=viewer, run_id=run.id)
        progress = _Progress(parsed.id, seen.people, seen.people_done, seen.transactions_done)

        # One chunk at a time. A process that also read its next chunk and wrote its last
        # while one was calculated (on a thread of its own) spent more CPU for the same close
        # (GIL hand-offs, a third chunk in memory) and was no faster: PostgreSQL already works
        # while Python does within a chunk (its rows are converted as COPY streams them, and
        # COPY takes the lines as they are encoded), and two processes keep both cores busy.
        try:
            while True:
                async with cli.in_transaction():
                    done = await closing.close_next_chunk(viewer=viewer, run_id=run.id)
                if done is not None:
                    now = await closing.close_progress(viewer=viewer, run_id=run.id)
                    progress.update(now.people_done, now.transactions_done)
                    continue
                async with cli.in_transaction():
                    if await closing.finish_close(viewer=viewer, run_id=run.id):
                        break
                await asyncio.sleep(WAIT_FOR_OTHERS)  # others still hold chunks
            seen = await closing.close_progress(viewer=viewer, run_id=run.id)
            progress.update(seen.people_done, seen.transactions_done, final=True)
        finally:
            progress.stop()
        summary = await closing.close_summary(viewer=viewer, period=parsed.id)
        _print_summary(replace(summary, people=seen.people), f"{summary.period}: closed.")
        sys.stdout.flush()
        # The payees' draft statements, after the close and in a transaction of their own:
        # the close's results are final once it commits; the drafts are built from them
        # (idempotent: whoever finds the period closed builds what is missing).
        await _build_statements(viewer, parsed.id, tenant)

    cli._with_database(settings.database_url, work)


async def _statements_missing(viewer: Any, period: str) -> bool:
    """Whether someone with results of the closed ``period``, none in error (a person in
    error gets no statement: `build_statements`), has no statement for it."""
    from tortoise import connections

    # Set-based (one pass over each table, hashed or sorted): right after a close the
    # planner's statistics still say the period has no results, and the correlated form of
    # this question ran as a nested loop of 20,000 x 20,000 rows (two minutes).
    rows = await connections.get("default").execute_query_dict(
        """
        SELECT EXISTS (
            SELECT user_id FROM earnings_results
            WHERE tenant_id = $1 AND period = $2
            GROUP BY user_id
            HAVING bool_or(status = 'ok') AND NOT bool_or(status = 'error')
            EXCEPT
            SELECT user_id FROM statements WHERE tenant_id = $1 AND period = $2
        ) AS missing
        """,
        [viewer.tenant_id, period],
    )
    return bool(rows[0]["missing"])


async def _build_statements(viewer: Any, period: str, tenant: str) -> None:
    from api import cli
    from domain.kit.errors import DomainError
    from payments.statements.service import build_statements

    try:
        async with cli.in_transaction():
            built = await build_statements(viewer=viewer, period=period)
    except DomainError as exc:
        sys.stdout.write(
            f"  statements not built: {exc}; the period stays closed. Build them with "
            f"`podium statements build --tenant {tenant} --period {period}`\n"
        )
        raise SystemExit(1) from exc
    sys.stdout.write(f"  {built.statements} statement(s) for the period\n")
    for line in built.error_lines():
        sys.stdout.write(f"  {line}\n")


async def _ask_workers(redis_url: str, tenant_id: Any, run_id: int, helpers: int) -> None:
    from workers.queue import JobQueue

    try:
        queue = await asyncio.wait_for(JobQueue.connect(redis_url), 3)
        try:
            await queue.enqueue_close(tenant_id, run_id, helpers)
        finally:
            await queue.close()
    except Exception as exc:  # noqa: BLE001 - the workers only help: this process closes alone
        sys.stderr.write(f"podium: no worker asked to help ({exc}); closing alone\n")


def recompute(tenant: TenantOption, period: PeriodOption, rep: RepOption = None) -> None:
    """Recalculate and store earnings for a period (everyone on a plan, or --rep).

    People are recomputed in chunks, one transaction each."""
    from api import cli
    from domain.earnings import close as closing
    from domain.earnings.errors import PeriodClosed
    from domain.earnings.models import Period as StoredPeriod
    from domain.earnings.models import PeriodStatus, ResultStatus
    from domain.kit.errors import DomainError, NotFound
    from domain.kit.periods import parse_period
    from domain.org.models import User
    from domain.org.repository import UserRepository
    from domain.org.viewer import Viewer

    try:
        parsed = parse_period(period)
    except DomainError as exc:
        cli._fail(str(exc))
        return

    async def work() -> CloseSummary:
        found = await cli._tenant(tenant)
        viewer = Viewer.system(found.id, "cli-recompute")
        await closing.require_started(viewer, parsed, field="--period")
        if rep is not None:
            person = await UserRepository(viewer).by_external_id(rep)
            if person is None:
                raise NotFound(f"no person {rep!r} in tenant {tenant!r}", field="--rep")
            chunks = [[person.id]]
            external = {person.id: person.external_id}
        else:
            chunks = await closing.period_chunks(viewer, parsed)
            external = dict(await User.filter(tenant_id=found.id).values_list("id", "external_id"))
        if await StoredPeriod.filter(
            tenant_id=found.id, key=parsed.id, status=PeriodStatus.CLOSED
        ).exists():
            raise PeriodClosed(f"{parsed.id} is closed: its results are final", field="--period")
        people = sum(len(chunk) for chunk in chunks)
        progress = _Progress(parsed.id, people, 0, 0)
        errors: list[tuple[str, str]] = []
        totals: dict[str, tuple[Decimal, Decimal, Decimal]] = {}
        read = done = 0
        try:
            for chunk in chunks:
                async with cli.in_transaction():
                    outcomes = await closing.recompute_answering_requests(
                        viewer, [(user_id, parsed.id) for user_id in chunk]
                    )
                for o in outcomes:
                    read += o.transactions
                    if o.refused is not None:
                        errors.append((external[o.user_id], str(o.refused)))
                    for r in o.results:
                        if r.status is ResultStatus.ERROR:
                            errors.append((external[o.user_id], r.error or "error"))
                            continue
                        t, pay, pend = totals.get(r.currency, (Decimal(0),) * 3)
                        totals[r.currency] = (
                            t + Decimal(r.total),
                            pay + Decimal(r.payable),
                            pend + Decimal(r.pending),
                        )
                done += len(chunk)
                progress.update(done, read)
            progress.update(people, read, final=True)
        finally:
            progress.stop()
        return closing.CloseSummary(parsed.id, people, totals, errors, 0)

    summary = cli._with_database(cli._settings().database_url, work)
    _print_summary(summary, f"{summary.period}: recomputed")


def _print_summary(summary: CloseSummary, head: str) -> None:
    from domain.kit.money import format_amount

    count = summary.people
    failed = len({rep_id for rep_id, _ in summary.errors})
    noun = "person" if count == 1 else "people"
    sys.stdout.write(
        f"{head} {count} {noun}, {count - failed} without errors, {failed} with errors\n"
    )
    if count and not summary.totals and not summary.errors:
        sys.stdout.write(f"  no plan of theirs is paid per {_kind(summary.period)}\n")
    for currency, (total, payable, pending) in sorted(summary.totals.items()):
        sys.stdout.write(
            f"  {currency} total {format_amount(total, currency)}, payable "
            f"{format_amount(payable, currency)}, pending {format_amount(pending, currency)}\n"
        )
    for rep_id, message in summary.errors:
        sys.stdout.write(f"  {rep_id}: {message}\n")
    if summary.late_events:
        sys.stdout.write(
            f"  {summary.late_events} late CRM change(s) to closed periods flagged for "
            f"{summary.period}\n"
        )


def _kind(period: str) -> str:
    from domain.kit.periods import parse_period

    return parse_period(period).kind


def register(app: typer.Typer) -> None:
    app.command("recompute")(recompute)
    app.command("close")(close)
