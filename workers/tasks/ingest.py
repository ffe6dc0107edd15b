"""Apply a CRM inbox event, and the sweeper that rescues work whose enqueue was lost."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from uuid import UUID

from tortoise.transactions import in_transaction

from domain.ingest import service
from domain.ingest.repository import overdue_recompute_requests, unapplied_inbox_events
from domain.kit.clock import utc_now
from domain.org.viewer import Viewer
from workers.queue import JobQueue, apply_job_id

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
            async with in_transaction():
                result = await service.apply_inbox_event(viewer=viewer, inbox_id=inbox_id)
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
