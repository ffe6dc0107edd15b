"""Recompute one rep's period from its durable request, then run the after-recompute hooks."""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from tortoise.transactions import in_transaction

from domain.earnings import service as earnings_service
from domain.ingest import service as ingest_service
from domain.kit.errors import DomainError
from domain.org.viewer import Viewer
from workers.queue import JobQueue
from workers.tasks.transient import is_transient, retry_later

log = logging.getLogger("podium.workers.earnings")


async def recompute_rep_period(
    ctx: dict[str, Any], tenant_id: str, user_id: str, period: str
) -> str:
    """Recompute (rep, period) if a request for it is pending, delete the request in the
    same transaction, and after commit run ``ctx["after_recompute"]`` hooks.

    Idempotent: without a pending request (another run did it) nothing is computed. A
    request renewed while this ran (a newer generation) survives and gets a follow-up job.
    """
    tenant, user = UUID(tenant_id), UUID(user_id)
    viewer = Viewer.system(tenant, "worker-recompute")
    generation = await ingest_service.recompute_generation(
        viewer=viewer, user_id=user, period=period
    )
    if generation is None:
        return "nothing requested"
    failed: DomainError | None = None
    try:
        async with in_transaction():
            try:
                await earnings_service.recompute_rep_period(
                    viewer=viewer, user_id=user, period=period
                )
            except DomainError as exc:
                # a closed period, a person deleted since: retrying cannot help, drop it
                failed = exc
            finished = await ingest_service.finish_recompute(
                viewer=viewer, user_id=user, period=period, generation=generation
            )
    except Exception as exc:
        if is_transient(exc):  # rolled back: the request is still there for the retry
            raise retry_later(ctx.get("job_try")) from exc
        raise
    if failed is not None:
        log.warning("recompute %s %s %s refused: %s", tenant_id, user_id, period, failed)
        return f"refused: {failed}"
    if not finished:
        # changes arrived while we computed: their own enqueue may have been refused because
        # this job was still running, so queue a follow-up under a distinct id
        await JobQueue(ctx["redis"]).enqueue_recompute(
            tenant_id, user_id, period, suffix=f":after:{generation}"
        )
    ctx["recomputes"] = ctx.get("recomputes", 0) + 1
    for hook in ctx.get("after_recompute", ()):
        try:
            await hook(ctx, tenant_id=tenant, user_id=user, period=period)
        except Exception:
            log.exception("after-recompute hook %r failed for %s %s", hook, user_id, period)
    return "recomputed"
