"""Apply a CRM inbox event, and the sweeper that rescues work whose enqueue was lost."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from tortoise.transactions import in_transaction

from domain.ingest import service
from domain.ingest.repository import (
    overdue_recompute_requests,
    pending_inbox_ids,
    pending_recompute_requests,
    unapplied_inbox_events,
)
from domain.kit.clock import utc_now
from domain.org.viewer import Viewer
from workers.queue import JobQueue, apply_job_id
from workers.tasks.transient import is_transient, retry_later

log = logging.getLogger("podium.workers.ingest")

SWEEP_AFTER = timedelta(seconds=30)


def _queue(ctx: dict[str, Any]) -> JobQueue:
    return JobQueue(ctx["redis"])


async def apply_inbox_events(ctx: dict[str, Any], tenant_id: str, inbox_ids: list[int]) -> int:
    """Apply inbox events in order, each in its own transaction, then queue the recomputes
    they requested: after every commit, once, so a batch of 50 events of one rep queues one
    recompute. A second run finds the events applied and changes nothing. Returns how many
    were applied now."""
    viewer = Viewer.system(UUID(tenant_id), "worker-ingest")
    affected: set[tuple[UUID, str]] = set()
    applied = 0
    try:
        for inbox_id in inbox_ids:
            try:
                async with in_transaction():
                    result = await service.apply_inbox_event(viewer=viewer, inbox_id=inbox_id)
            except Exception as exc:
                if is_transient(exc):
                    # the events applied so far are skipped on the retry (no longer pending)
                    log.info("inbox event %s: %s; retrying the job", inbox_id, exc)
                    raise retry_later(ctx.get("job_try")) from exc
                raise
            affected |= result.affected
            applied += result.changed
            if result.reason:
                log.info("inbox event %s: %s (%s)", inbox_id, result.status.value, result.reason)
    finally:
        # the events committed before a failure still get their recomputes now (arq retries
        # the job for the rest; their requests are durable either way)
        queue = _queue(ctx)
        for user_id, period in sorted(affected):
            await queue.enqueue_recompute(tenant_id, user_id, period)
    return applied


async def sweep(ctx: dict[str, Any]) -> dict[str, int]:
    """Re-queue inbox events still pending and recompute requests still waiting after
    ``ctx["sweep_after"]`` (default 30 s): their enqueue was lost (a crash between commit
    and enqueue, Redis flushed) or their worker died. PostgreSQL holds the truth."""
    deadline = utc_now() - ctx.get("sweep_after", SWEEP_AFTER)
    queue = _queue(ctx)
    events = await unapplied_inbox_events(deadline)
    for tenant_id, inbox_id in events:
        await queue.enqueue_apply(tenant_id, [inbox_id], job_id=apply_job_id(tenant_id, inbox_id))
    requests = await overdue_recompute_requests(deadline)
    for tenant_id, user_id, period, generation in requests:
        # a distinct id: the original job may be stuck behind a dead worker's in-progress key
        await queue.enqueue_recompute(
            tenant_id, user_id, period, suffix=f":sweep:{generation}", defer=0
        )
    if events or requests:
        log.warning("sweeper re-queued %d inbox events, %d recomputes", len(events), len(requests))
    return {"inbox_events": len(events), "recomputes": len(requests)}


REBUILD_BATCH = 100  # inbox events per re-queued apply job, applied in id order


@dataclass(frozen=True, slots=True)
class Requeued:
    inbox_events: int
    apply_jobs: int
    recomputes: int


async def requeue_durable_work(queue: JobQueue, *, tenant_id: UUID | None = None) -> Requeued:
    """Put back on the queue everything PostgreSQL says is still to do (one tenant, or all):
    every inbox event not applied yet, in id order, in apply jobs of ``REBUILD_BATCH``
    consecutive events of one tenant, and every recompute request. What ``podium
    rebuild-cache`` does after Redis lost its data; harmless when it did not (the jobs are
    idempotent, and a job id already queued is not queued twice)."""
    events = jobs = recomputes = 0
    after = 0
    while rows := await pending_inbox_ids(tenant_id, after_id=after, limit=1000):
        after = rows[-1][1]
        by_tenant: dict[UUID, list[int]] = {}
        for tenant, inbox_id in rows:
            by_tenant.setdefault(tenant, []).append(inbox_id)
        for tenant, ids in by_tenant.items():
            for start in range(0, len(ids), REBUILD_BATCH):
                chunk = ids[start : start + REBUILD_BATCH]
                await queue.enqueue_apply(tenant, chunk)
                jobs += 1
                events += len(chunk)
    after = 0
    while requests := await pending_recompute_requests(tenant_id, after_id=after, limit=1000):
        after = requests[-1][0]
        for _, tenant, user_id, period, generation in requests:
            await queue.enqueue_recompute(
                tenant, user_id, period, suffix=f":rebuild:{generation}", defer=0
            )
            recomputes += 1
    return Requeued(inbox_events=events, apply_jobs=jobs, recomputes=recomputes)
