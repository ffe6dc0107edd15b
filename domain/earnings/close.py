"""Closing a period: every person of the period recomputed by the one batch path
(``service.recompute_many``) in chunks that any number of processes claim with
``FOR UPDATE SKIP LOCKED`` (the CLI, arq workers), then the period closed and its results
frozen. A chunk is marked done in the transaction that stores its results, so a close killed
half-way resumes where it stopped and ends with the results of an uninterrupted one.

Services never commit: every function here runs in its caller's transaction; the caller
claims one chunk per transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

from tortoise import connections
from tortoise.transactions import in_transaction

from domain.audit.service import record
from domain.earnings.errors import PeriodClosed
from domain.earnings.models import (
    CloseChunk,
    CloseRun,
    CloseRunStatus,
    LateEvent,
    PeriodStatus,
)
from domain.earnings.models import Period as StoredPeriod
from domain.earnings.service import Recomputed, close_period, recompute_many
from domain.ingest.repository import IngestRepository
from domain.kit.clock import today_in, utc_now
from domain.kit.errors import Forbidden, InvalidInput, NotFound, PeriodError
from domain.kit.periods import Period, parse_period
from domain.org.models import Role
from domain.org.viewer import Viewer
from domain.plans.models import PlanVersion
from domain.tenants.repository import get_tenant

# A claimed chunk (one database transaction, a few statements) holds people up to this many of
# the period's transactions, or CHUNK_PEOPLE people. Large: each chunk has its fixed costs (a
# claim, a transaction, a dozen statements and the engine's set-up for its plans); when a
# chunk's read was still a pass over the whole table (before migration 0052: a person's rows
# lie spread over the month's pages), 4 chunks rather than 10 took two processes 7.4 s
# rather than 7.8 on bench/close.py's month of a million transactions. Small enough to hold
# one in memory (about 290 MiB a process at 5,000 people) and to share a close between
# processes: the chunks are made about equal and the last is split in two (`period_chunks`),
# so that processes sharing the close finish within half a chunk of each other. Sized by
# transactions, not people: a person's cost is mostly theirs, and a few people with most of
# the deals must not make one huge chunk.
CHUNK_TRANSACTIONS = 250_000
CHUNK_PEOPLE = 5_000
SSD_RANDOM_PAGE_COST = 1.1  # PostgreSQL's documentation's figure for solid-state storage


def _require_closer(viewer: Viewer) -> None:
    if viewer.role not in (Role.ADMIN, Role.PAYOUT_OPS):
        raise Forbidden("only admin, payout_ops may close a period", field="period")


async def _is_closed(viewer: Viewer, period: Period) -> bool:
    return await StoredPeriod.filter(
        tenant_id=viewer.tenant_id, key=period.id, status=PeriodStatus.CLOSED
    ).exists()


async def _check_closable(viewer: Viewer, period: Period) -> None:
    """A period a plan is paid per (a quarter when every plan is monthly has no results of
    its own), and one that has ended where the tenant is."""
    kinds: set[str] = {
        str(kind)
        for kind in await PlanVersion.filter(tenant_id=viewer.tenant_id)
        .distinct()
        .values_list("period_kind", flat=True)
    }
    if kinds and period.kind not in kinds:
        paid = " or ".join(sorted(kinds))
        raise PeriodError(
            f"{period.id} is a {period.kind}, but the plans here are paid per {paid}: "
            f"close one of those periods",
            field="period",
        )
    # Closed before its end, its last days' deals would only count as late changes of the
    # next period: there is no forecasting close.
    today, time_zone = await _today(viewer)
    if period.end >= today:
        not_yet = "started" if period.start > today else "ended"
        raise PeriodError(
            f"{period.id} has not {not_yet} yet (today is {today.isoformat()} in "
            f"{time_zone}): close it once it has ended",
            field="period",
        )


async def _today(viewer: Viewer) -> tuple[date, str]:
    tenant = await get_tenant(viewer.tenant_id)
    return today_in(tenant.time_zone), tenant.time_zone


async def require_started(viewer: Viewer, period: Period, *, field: str = "period") -> None:
    """A period that has begun where the tenant is: one that has not has no deals, no
    quotas yet, and recomputing it stored an error result for everyone (Podium has no
    forecasting; the what-if simulator answers that question)."""
    today, time_zone = await _today(viewer)
    if period.start > today:
        raise PeriodError(
            f"{period.id} has not started yet (today is {today.isoformat()} in "
            f"{time_zone}): nothing to recompute",
            field=field,
        )


async def start_close(*, viewer: Viewer, period: str, chunk: int = CHUNK_TRANSACTIONS) -> CloseRun:
    """The period's close run: the one under way (resumed or joined, its plan brought up
    to the period's people now: `_plan`), or a new one with the period's people split in
    chunks of about ``chunk`` transactions (`CHUNK_TRANSACTIONS`). A closed period is
    refused (``--reopen`` first)."""
    _require_closer(viewer)
    parsed = parse_period(period)
    await _check_closable(viewer, parsed)
    if await _is_closed(viewer, parsed):
        raise PeriodClosed(
            f"{parsed.id} is closed already: nothing changed (an admin may reopen it)",
            field="period",
        )
    run = await CloseRun.get_or_none(tenant_id=viewer.tenant_id, period=parsed.id)
    if run is not None and run.status is not CloseRunStatus.RUNNING:
        await run.delete()  # done before and reopened since: a fresh run
        run = None
    if run is None:
        # The run is claimed first, then its chunks are planned: a concurrent starter waits
        # here for our commit (then finds our run), its core left to the plan's query
        # (PostgreSQL's parallel workers). Both planning at once, each competing with the
        # other's workers, took two processes 0.26-0.37 s from their start to their first
        # chunk rather than 0.21-0.22 (bench/close.py's month, three runs each).
        inserted = await connections.get("default").execute_query_dict(
            """
            INSERT INTO close_runs (tenant_id, period, status, people, started_at)
            VALUES ($1, $2, 'running', 0, $3)
            ON CONFLICT (tenant_id, period) DO NOTHING
            RETURNING id
            """,
            [viewer.tenant_id, parsed.id, utc_now()],
        )
        if not inserted:  # another process's, started meanwhile (committed: we waited for it)
            run = await CloseRun.get(tenant_id=viewer.tenant_id, period=parsed.id)
            if run.status is not CloseRunStatus.RUNNING:
                return await start_close(viewer=viewer, period=period, chunk=chunk)  # done since
        else:
            run = await CloseRun.get(id=inserted[0]["id"])
    await _plan(viewer, run, parsed, chunk)
    return run


async def _plan(viewer: Viewer, run: CloseRun, period: Period, transactions: int) -> None:
    """Plan the run's chunks from the people the period has now: a new run's all of them;
    a run resumed (after a kill) or joined, the people added since its start (a hire, a rep
    moved onto a plan) in chunks of their own, and the people gone since out of the chunks
    not done that no process holds. Done chunks stay done: a rerun finishes the rest and
    ends with the results of a close started now. Planners take turns (the run's row)."""
    db = connections.get("default")
    await db.execute_query("SELECT id FROM close_runs WHERE id = $1 FOR UPDATE", [run.id])
    owners = await _people_and_transactions(viewer, period)
    now = {str(user_id) for user_id, _ in owners}
    planned: set[str] = set()
    last = -1
    for row in await db.execute_query_dict(
        "SELECT position, user_ids FROM close_chunks WHERE run_id = $1", [run.id]
    ):
        planned.update(_ids(row["user_ids"]))
        last = max(last, int(row["position"]))
    free = await db.execute_query_dict(
        "SELECT id, user_ids FROM close_chunks WHERE run_id = $1 AND NOT done "
        "ORDER BY position FOR UPDATE SKIP LOCKED",
        [run.id],
    )
    for row in free:
        ids = _ids(row["user_ids"])
        staying = [u for u in ids if u in now]
        if len(staying) == len(ids):
            continue
        if staying:
            await db.execute_query(
                "UPDATE close_chunks SET user_ids = $2::jsonb WHERE id = $1",
                [row["id"], json.dumps(staying)],
            )
        else:
            await db.execute_query("DELETE FROM close_chunks WHERE id = $1", [row["id"]])
    added = chunked(
        [(user_id, owned) for user_id, owned in owners if str(user_id) not in planned],
        transactions,
        CHUNK_PEOPLE,
    )
    await CloseChunk.bulk_create(
        [
            CloseChunk(run_id=run.id, position=last + 1 + i, user_ids=[str(u) for u in ids])
            for i, ids in enumerate(added)
        ]
    )
    people = await db.execute_query_dict(
        "SELECT coalesce(sum(jsonb_array_length(user_ids)), 0) AS n FROM close_chunks "
        "WHERE run_id = $1",
        [run.id],
    )
    run.people = int(people[0]["n"])
    await run.save(update_fields=["people"])


def _ids(user_ids: Any) -> list[str]:
    """A chunk's people as stored (a JSON array of ids; text through some drivers)."""
    return list(json.loads(user_ids) if isinstance(user_ids, str) else user_ids)


async def period_chunks(
    viewer: Viewer, period: Period, *, transactions: int = CHUNK_TRANSACTIONS
) -> list[list[UUID]]:
    """Everyone with a plan assignment (not declined) overlapping ``period``, in id order, in
    `chunked` by how many of the period's transactions each owns: the unit of
    `recompute_many` for `podium close` and `podium recompute`."""
    owners = await _people_and_transactions(viewer, period)
    return chunked(owners, transactions, CHUNK_PEOPLE)


T = TypeVar("T")


def chunked(owners: list[tuple[T, int]], transactions: int, people: int) -> list[list[T]]:
    """``owners`` (people and how many transactions each owns), in their order, in chunks of
    at most ``transactions`` transactions (a person with more alone) and ``people`` people.
    As few chunks as both limits allow, of about the same size by both, the last chunk's
    worth split in two: processes sharing a close then end within half a chunk of each
    other. A last piece of less than a quarter of a half stays with the half before it:
    halves cut at half the rest, rounded up, left a chunk of one person at the end of a close
    of 20,000 (one more chunk, a claim and its statements, for its 48 transactions)."""
    chunks: list[list[T]] = []
    size = 0
    left = sum(owned for _, owned in owners)  # transactions not yet in a chunk
    heads_left = len(owners)  # people not yet in a chunk
    # each limit's budget: made equal over the fewest chunks it needs
    budget = -(-left // max(1, -(-left // transactions)))
    heads = -(-heads_left // max(1, -(-heads_left // people)))
    split = False
    for owner, owned in owners:
        full = not chunks or size + owned > budget or len(chunks[-1]) >= heads
        if full and split and 4 * left <= budget and 4 * heads_left <= heads:
            full = False  # the last piece, small: with the half before it
        if full:
            if not chunks or chunks[-1]:
                chunks.append([])
            if not split and 2 * left <= 3 * budget and 2 * heads_left <= 3 * heads:
                # about the last chunk's worth: in two
                budget, heads, split = -(-left // 2), -(-heads_left // 2), True
            size = 0
        chunks[-1].append(owner)
        size += owned
        left -= owned
        heads_left -= 1
    return chunks


# Everyone with a plan assignment (not declined) overlapping the period, in id order, with
# how many of the period's transactions each owns (deleted rows and split deals counted too:
# the (tenant, rep, date) index answers it alone). One statement read as rows: through the
# ORM, a dict and a UUID hashed in Python for each of 20,000 people and 20,000 counts took 80
# to 120 ms of a close's start, while any other process sharing the close waits for it.
_PEOPLE_AND_TRANSACTIONS = """
    SELECT p.user_id, coalesce(c.n, 0)
    FROM (
        SELECT DISTINCT a.user_id FROM plan_assignments a JOIN users u ON u.id = a.user_id
        WHERE a.tenant_id = $1 AND u.tenant_id = $1 AND a.status <> 'declined'
          AND a.effective_from <= $3 AND (a.effective_to IS NULL OR a.effective_to >= $2)
    ) AS p
    LEFT JOIN (
        SELECT rep_id, count(*) AS n FROM transactions
        WHERE tenant_id = $1 AND date BETWEEN $2 AND $3
        GROUP BY rep_id
    ) AS c ON c.rep_id = p.user_id
    ORDER BY p.user_id
"""


async def _people_and_transactions(viewer: Viewer, period: Period) -> list[tuple[UUID, int]]:
    """The people of `period_chunks` with how many of the period's transactions each owns
    (`_PEOPLE_AND_TRANSACTIONS`): what sizes a chunk."""
    async with in_transaction() as tx:
        # The planner's default cost of a random page (4: a spinning disk) made it scan the
        # whole table in three processes rather than read the index alone: 270-300 ms
        # rather than 105-125 ms on a month of a million transactions (bench/close.py's).
        # And a plan for these values: the generic plan PostgreSQL picks for a statement
        # prepared five times before (a worker's sixth close) took 2 s rather than 0.1.
        # For this statement only: set back at once, whatever transaction it is part of.
        conn: Any
        async with tx.acquire_connection() as conn:
            await conn.execute(
                f"SET LOCAL random_page_cost = {SSD_RANDOM_PAGE_COST}; "
                "SET LOCAL plan_cache_mode = force_custom_plan"
            )
            rows = await conn.fetch(
                _PEOPLE_AND_TRANSACTIONS, viewer.tenant_id, period.start, period.end
            )
            await conn.execute(
                "SET LOCAL random_page_cost TO DEFAULT; SET LOCAL plan_cache_mode TO DEFAULT"
            )
    return [(row[0], row[1]) for row in rows]


@dataclass(frozen=True, slots=True)
class ChunkDone:
    people: int
    transactions: int
    refused: list[tuple[UUID, str]] = field(default_factory=list)


async def close_next_chunk(*, viewer: Viewer, run_id: int) -> ChunkDone | None:
    """Claim a chunk no other process holds, recompute its people and mark it done; None
    when none is left to claim (all done, or the rest held by other processes)."""
    db = connections.get("default")
    claimed = await db.execute_query_dict(
        """
        SELECT c.id, c.user_ids, r.period FROM close_chunks c JOIN close_runs r ON r.id = c.run_id
        WHERE c.run_id = $1 AND NOT c.done AND r.tenant_id = $2
        ORDER BY c.position LIMIT 1
        FOR UPDATE OF c SKIP LOCKED
        """,
        [run_id, viewer.tenant_id],
    )
    if not claimed:
        return None
    chunk = claimed[0]
    user_ids = _ids(chunk["user_ids"])
    outcomes = await recompute_answering_requests(
        viewer, [(UUID(u), chunk["period"]) for u in user_ids]
    )
    read = sum(o.transactions for o in outcomes)
    await db.execute_query(
        "UPDATE close_chunks SET done = true, transactions = $2 WHERE id = $1", [chunk["id"], read]
    )
    return ChunkDone(
        people=len(user_ids),
        transactions=read,
        refused=[(o.user_id, str(o.refused)) for o in outcomes if o.refused is not None],
    )


async def recompute_answering_requests(
    viewer: Viewer, pairs: list[tuple[UUID, str]]
) -> list[Recomputed]:
    """`recompute_many` of a close's chunk or `podium recompute`'s, which answers the
    recompute requests (`RecomputeRequest`, parked or not) of its pairs: they end in the
    same transaction, taken before the inputs are read. A request left pending was taken
    by a worker after the close, refused (closed) and flagged as a late change the close
    had already read. A refused pair (a person gone) would be refused by the worker too."""
    await IngestRepository(viewer).take_requests_of(pairs)
    return await recompute_many(viewer=viewer, pairs=pairs)


@dataclass(frozen=True, slots=True)
class CloseProgress:
    people: int
    people_done: int
    transactions_done: int
    chunks_left: int


async def close_progress(*, viewer: Viewer, run_id: int) -> CloseProgress:
    rows = await connections.get("default").execute_query_dict(
        """
        SELECT r.people,
               coalesce(sum(jsonb_array_length(c.user_ids)) FILTER (WHERE c.done), 0) AS done,
               coalesce(sum(c.transactions) FILTER (WHERE c.done), 0) AS transactions,
               count(*) FILTER (WHERE NOT c.done) AS left
        FROM close_runs r LEFT JOIN close_chunks c ON c.run_id = r.id
        WHERE r.id = $1 AND r.tenant_id = $2
        GROUP BY r.people
        """,
        [run_id, viewer.tenant_id],
    )
    if not rows:
        raise NotFound(f"no close run {run_id}", field="run")
    row = rows[0]
    return CloseProgress(
        int(row["people"]), int(row["done"]), int(row["transactions"]), int(row["left"])
    )


async def finish_close(*, viewer: Viewer, run_id: int) -> bool:
    """Close the period once every chunk is done (True); False while some are not (another
    process still holds one). Whoever comes second finds it closed and does nothing more."""
    run = await CloseRun.filter(id=run_id, tenant_id=viewer.tenant_id).select_for_update().first()
    if run is None:
        raise NotFound(f"no close run {run_id}", field="run")
    if run.status is CloseRunStatus.DONE:
        return True
    if await CloseChunk.filter(run_id=run_id, done=False).exists():
        return False
    run.status = CloseRunStatus.DONE
    run.finished_at = utc_now()
    await run.save(update_fields=["status", "finished_at"])
    await close_period(viewer=viewer, period=run.period)
    return True


@dataclass(frozen=True, slots=True)
class CloseSummary:
    period: str
    people: int
    totals: dict[str, tuple[Decimal, Decimal, Decimal]]  # currency -> total, payable, pending
    errors: list[tuple[str, str]]  # (CRM id, reason)
    late_events: int  # changes to closed periods flagged for this one


async def close_summary(*, viewer: Viewer, period: str) -> CloseSummary:
    """What the period's stored results add up to, who is in error and why, and how many
    late changes to an earlier closed period were flagged for it."""
    parsed = parse_period(period)
    db = connections.get("default")
    totals = await db.execute_query_dict(
        """
        SELECT currency, sum(total) AS total, sum(payable) AS payable, sum(pending) AS pending
        FROM earnings_results WHERE tenant_id = $1 AND period = $2 AND status = 'ok'
        GROUP BY currency ORDER BY currency
        """,
        [viewer.tenant_id, parsed.id],
    )
    errors = await db.execute_query_dict(
        """
        SELECT u.external_id, r.error FROM earnings_results r JOIN users u ON u.id = r.user_id
        WHERE r.tenant_id = $1 AND r.period = $2 AND r.status = 'error'
        ORDER BY u.external_id
        """,
        [viewer.tenant_id, parsed.id],
    )
    people = await db.execute_query_dict(
        "SELECT count(DISTINCT user_id) AS n FROM earnings_results "
        "WHERE tenant_id = $1 AND period = $2",
        [viewer.tenant_id, parsed.id],
    )
    late = await LateEvent.filter(tenant_id=viewer.tenant_id, flagged_for=parsed.id).count()
    return CloseSummary(
        period=parsed.id,
        people=int(people[0]["n"]),
        totals={
            r["currency"]: (Decimal(r["total"]), Decimal(r["payable"]), Decimal(r["pending"]))
            for r in totals
        },
        errors=[(r["external_id"], r["error"] or "error") for r in errors],
        late_events=late,
    )


async def reopen_period(*, viewer: Viewer, period: str) -> StoredPeriod:
    """Reopen a closed period (an admin's decision, audited): recompute may change it again
    and the next close starts afresh."""
    if viewer.role is not Role.ADMIN:
        raise Forbidden("only an admin may reopen a period", field="period")
    parsed = parse_period(period)
    stored = await (
        StoredPeriod.filter(tenant_id=viewer.tenant_id, key=parsed.id).select_for_update().first()
    )
    if stored is None or stored.status is not PeriodStatus.CLOSED:
        raise InvalidInput(f"{parsed.id} is not closed: nothing to reopen", field="period")
    stored.status = PeriodStatus.OPEN
    stored.closed_at = None
    await stored.save(update_fields=["status", "closed_at"])
    await CloseRun.filter(tenant_id=viewer.tenant_id, period=parsed.id).delete()
    await record(
        viewer=viewer,
        action="period.reopened",
        entity_type="period",
        entity_id=parsed.id,
        before={"status": PeriodStatus.CLOSED.value},
        after={"status": PeriodStatus.OPEN.value},
    )
    return stored


async def record_late_events(*, viewer: Viewer, pairs: list[tuple[UUID, str]]) -> int:
    """Record that the inputs of these (person, closed period)s changed after the close:
    each is flagged for the next period of the same kind that is still open, that period's
    row held (FOR SHARE) until the caller commits. Its close (`service.close_period`) locks
    the row to close it, so it waits for this commit and its statements see the flag: read
    without the lock, a period that closed and built its statements meanwhile got a flag
    committed after the build had read its late changes, paid on no statement ever. One
    that closed before the lock was taken is passed over for the next."""
    if not pairs:
        return 0
    now = utc_now()
    targets: dict[str, str] = {}
    for period in sorted({p for _, p in pairs}):
        target = parse_period(period).next()
        while await _hold_period(viewer, target) is PeriodStatus.CLOSED:
            target = target.next()
        targets[period] = target.id
    await LateEvent.bulk_create(
        [
            LateEvent(
                tenant_id=viewer.tenant_id,
                user_id=user_id,
                period=period,
                flagged_for=targets[period],
                recorded_at=now,
            )
            for user_id, period in pairs
        ]
    )
    return len(pairs)


async def _hold_period(viewer: Viewer, period: Period) -> PeriodStatus:
    """The period's status, its row (written open when there is none yet) locked FOR SHARE
    until the caller commits: a close of it waits for the caller."""
    db = connections.get("default")
    await db.execute_query(
        """
        INSERT INTO periods (tenant_id, key, kind, starts_on, ends_on, status)
        VALUES ($1, $2, $3, $4, $5, 'open')
        ON CONFLICT (tenant_id, key) DO NOTHING
        """,
        [viewer.tenant_id, period.id, period.kind, period.start, period.end],
    )
    rows = await db.execute_query_dict(
        "SELECT status FROM periods WHERE tenant_id = $1 AND key = $2 FOR SHARE",
        [viewer.tenant_id, period.id],
    )
    return PeriodStatus(rows[0]["status"])
