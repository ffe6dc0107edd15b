"""Apply a CRM inbox event, and the sweeper that rescues work whose enqueue was lost."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from tortoise.transactions import in_transaction

from domain.ingest import service
from domain.ingest.models import InboxEvent
from domain.ingest.repository import (
    overdue_recompute_requests,
    pending_inbox_ids,
    pending_recompute_requests,
    unapplied_inbox_events,
)
from domain.kit.clock import utc_now
from domain.org.viewer import Viewer
from workers.queue import APPLY_WAKE, JobQueue
from workers.tasks.draining import Pacer, apply_pace, batch_times
from workers.tasks.transient import is_data_failure, is_transient, retry_later

log = logging.getLogger("podium.workers.ingest")

SWEEP_AFTER = timedelta(seconds=30)


def _queue(ctx: dict[str, Any]) -> JobQueue:
    return JobQueue(ctx["redis"])


APPLY_BATCH = 100  # inbox events applied per transaction
# a draining job hands over to a fresh job after this long: far inside its timeout (30 s),
# and no job ever holds the fixed id (or a worker slot) for minutes
DRAIN_SECONDS = 10.0
MAX_FAILURES = 5  # unexpected failures of one event before it is dead-lettered
# The pause between two applies' starts is workers.tasks.draining.apply_pace: about 140 to
# 180 ms under a steady stream on a quiet machine, so that 100 events a second cost six or
# seven apply + recompute pairs rather than batches of one or two events, each with its fixed
# costs (about 15 ms of CPU in the worker and PostgreSQL for an apply, its recompute and their
# hooks). A lone event is claimed at once, a backlog without pause. ctx["batch_pause"] fixes
# it (seconds).
# How long a job with nothing left waits for more before it ends (ctx["idle_wait"]): a
# stream of a few events a second keeps one job, rather than a job (and a poll) per event.
IDLE_WAIT = 0.5


async def apply_inbox_events(
    ctx: dict[str, Any], tenant_id: str, inbox_ids: list[int] | None = None, follow_up: bool = False
) -> int:
    """Apply the tenant's pending inbox events, oldest first, ``APPLY_BATCH`` per transaction,
    until none is left; after each commit queue one batch recompute for the requests they
    wrote (or wake the one running). ``inbox_ids`` (what the enqueuer stored) is a hint only:
    whatever is pending is applied, so a burst of 200 webhook calls costs a few transactions,
    not 200 jobs. Between batches the job waits for a wake-up (see workers.tasks.draining); a
    follow-up (``follow_up``) takes what is pending and ends.

    Idempotent: a second run finds nothing pending. Concurrent runs claim disjoint events
    (SKIP LOCKED). An event failing unexpectedly is rolled back alone (a savepoint), left
    pending and dead-lettered after ``MAX_FAILURES`` attempts (at the first when it fails on
    its data: ``is_data_failure``); a deadlock retries the job.
    Returns how many events were applied now."""
    viewer = Viewer.system(UUID(tenant_id), "worker-ingest")
    applied = 0
    queue = _queue(ctx)
    pacer = Pacer(
        queue,
        APPLY_WAKE,
        tenant_id,
        pace=apply_pace(ctx),
        idle=0.0 if follow_up else ctx.get("idle_wait", IDLE_WAIT),
        drain=DRAIN_SECONDS,
    )
    failed: set[int] = set()
    full = False
    one_by_one = False  # the last bulk attempt failed: this batch applies each event alone
    while True:
        pacer.pace = apply_pace(ctx)
        await pacer.start_batch(paced=not (full or one_by_one))
        batch_started = time.monotonic()
        affected: set[tuple[UUID, str]] = set()
        done = 0
        try:
            async with in_transaction():
                rows = await service.claim_pending(
                    viewer=viewer, limit=APPLY_BATCH, skip=sorted(failed)
                )
                at = 0
                while at < len(rows):
                    bulk = None if one_by_one else await _apply_in_bulk(viewer, rows[at:])
                    if bulk is not None and bulk.consumed:
                        at += bulk.consumed
                        affected |= bulk.affected
                        done += bulk.applied
                        continue
                    # the head needs the one-at-a-time path (a rep event, an invalid or
                    # repeated record, an unknown rep), or a bulk attempt failed: then every
                    # row, each on its own (a savepoint each), so the culprit is isolated
                    for row in rows[at : at + 1] if bulk is not None else rows[at:]:
                        at += 1
                        result = await _apply_one(viewer, row)
                        if result is None:
                            failed.add(row.id)  # not again in this job: the next one retries
                            continue
                        affected |= result.affected
                        done += result.changed
                        if result.reason:
                            log.info(
                                "inbox event %s: %s (%s)",
                                row.id,
                                result.status.value,
                                result.reason,
                            )
        except _BulkFailed:
            # rolled back, the batch's events pending again: claimed again at once, and
            # applied one by one
            log.exception("bulk apply of inbox events of %s failed; one by one", tenant_id)
            one_by_one = True
            continue
        except Exception as exc:
            if is_transient(exc):  # rolled back: the events are still pending
                log.info("applying inbox events of %s: %s; retrying the job", tenant_id, exc)
                raise retry_later(ctx.get("job_try")) from exc
            raise
        one_by_one = False
        applied += done
        if affected:
            await queue.enqueue_recomputes(tenant_id)  # or wakes the recompute job running
            batch_times(ctx).record("apply", time.monotonic() - batch_started)
        full = len(rows) >= APPLY_BATCH
        if rows and pacer.expired():
            await queue.enqueue_apply_follow_up(tenant_id, tag="more")
            return applied
        if full:
            continue  # a backlog: the next batch at once
        if follow_up or pacer.expired() or not await pacer.woken():
            break
    if not follow_up:
        # an event committed after our last claim had its enqueue refused while this job ran
        # (same id): a follow-up under an id of its own picks it up (a failed job leaves
        # none: arq runs it again)
        await queue.enqueue_apply_follow_up(tenant_id)
    return applied


class _BulkFailed(Exception):
    """``service.apply_in_bulk`` failed unexpectedly: its transaction is to be rolled back."""


async def _apply_in_bulk(viewer: Viewer, rows: list[InboxEvent]) -> service.BulkApplied:
    """``service.apply_in_bulk`` in the batch's transaction, without a savepoint of its own
    (two round trips a batch): if it fails unexpectedly, ``_BulkFailed`` rolls the whole
    batch back, and the caller applies it again one event at a time, isolating the
    culprit."""
    try:
        return await service.apply_in_bulk(viewer=viewer, rows=rows)
    except Exception as exc:
        if is_transient(exc):
            raise
        raise _BulkFailed from exc


async def _apply_one(viewer: Viewer, row: InboxEvent) -> service.ApplyResult | None:
    """Apply one claimed event in a savepoint; None when it failed (rolled back, counted)."""
    attempts = row.attempts + 1
    try:
        async with in_transaction():
            return await service.apply_claimed(viewer=viewer, row=row)
    except Exception as exc:
        if is_transient(exc):
            raise
        log.exception("inbox event %s failed (attempt %s)", row.id, attempts)
        fresh = await service.inbox_event(row.id)
        if fresh is not None:
            fresh.attempts = attempts
            # a value the database refuses fails the same way every time: no 4 more tries
            if attempts >= MAX_FAILURES or is_data_failure(exc):
                await service.give_up(viewer=viewer, row=fresh, error=repr(exc)[:500])
            else:
                await service.count_attempt(row=fresh)
        return None


async def sweep(ctx: dict[str, Any]) -> dict[str, int]:
    """Re-queue inbox events still pending and recompute requests still waiting after
    ``ctx["sweep_after"]`` (default 30 s): their enqueue was lost (a crash between commit
    and enqueue, Redis flushed) or their worker died. PostgreSQL holds the truth."""
    deadline = utc_now() - ctx.get("sweep_after", SWEEP_AFTER)
    queue = _queue(ctx)
    events = await unapplied_inbox_events(deadline)
    # a distinct id per tenant: the regular job may be stuck behind a dead worker's key
    for tenant_id in sorted({t for t, _ in events}):
        await queue.enqueue_apply_follow_up(tenant_id, tag="sweep", defer=0)
    requests = await overdue_recompute_requests(deadline)
    for tenant_id in sorted({t for t, *_ in requests}):
        await queue.enqueue_recomputes(tenant_id, follow_up="sweep")
    if events or requests:
        log.warning("sweeper re-queued %d inbox events, %d recomputes", len(events), len(requests))
    return {"inbox_events": len(events), "recomputes": len(requests)}


@dataclass(frozen=True, slots=True)
class Requeued:
    inbox_events: int
    apply_jobs: int
    recomputes: int


async def requeue_durable_work(queue: JobQueue, *, tenant_id: UUID | None = None) -> Requeued:
    """Put back on the queue everything PostgreSQL says is still to do (one tenant, or all):
    one apply job per tenant with unapplied inbox events (it drains them in id order) and
    one batch recompute per tenant with recompute requests. What ``podium rebuild-cache``
    does after Redis lost its data; harmless when it did not (the jobs are idempotent)."""
    events = recomputes = 0
    with_events: set[UUID] = set()
    with_requests: set[UUID] = set()
    after = 0
    while rows := await pending_inbox_ids(tenant_id, after_id=after, limit=1000):
        after = rows[-1][1]
        for tenant, _inbox_id in rows:
            with_events.add(tenant)
            events += 1
    for tenant in sorted(with_events):
        await queue.enqueue_apply_follow_up(tenant, tag="rebuild", defer=0)
    after = 0
    while requests := await pending_recompute_requests(tenant_id, after_id=after, limit=1000):
        after = requests[-1][0]
        for _, tenant, _user_id, _period, _generation in requests:
            with_requests.add(tenant)
            recomputes += 1
    for tenant in sorted(with_requests):
        await queue.enqueue_recomputes(tenant, follow_up="rebuild")
    return Requeued(inbox_events=events, apply_jobs=len(with_events), recomputes=recomputes)
