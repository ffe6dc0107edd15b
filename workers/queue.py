"""The one way into the job queue for the API and the CLI (the only module outside the
workers that names arq): enqueue by id, after the transaction that stored the work commits.

Job ids make enqueueing idempotent: arq refuses a second job with the id of one still queued
or running, which is what coalesces a burst of events for one rep into one recompute.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from arq.connections import ArqRedis, RedisSettings, create_pool
from redis.asyncio import Redis

# how long a recompute waits for more events of the same (rep, period) before it runs: 50
# events of one rep arriving within this window cost one engine run, and the delay stays well
# inside the 1 s real-time budget (CRM_EVENTS.md)
COALESCE_SECONDS = 0.2

APPLY_TASK = "apply_inbox_events"
RECOMPUTE_TASK = "recompute_rep_period"


def apply_job_id(tenant_id: UUID | str, first: int, last: int | None = None) -> str:
    span = f"{first}" if last is None or last == first else f"{first}-{last}"
    return f"apply:{tenant_id}:{span}"


def recompute_job_id(tenant_id: UUID | str, user_id: UUID | str, period: str) -> str:
    return f"recompute:{tenant_id}:{user_id}:{period}"


class JobQueue:
    """Enqueue ingestion and recompute jobs on an arq pool (a Redis connection pool)."""

    def __init__(self, pool: ArqRedis) -> None:
        self.pool = pool

    @classmethod
    def on_redis(cls, redis: Redis) -> JobQueue:
        """Share an existing client's connection pool (the API's): no second set of sockets."""
        return cls(ArqRedis(connection_pool=redis.connection_pool))

    @classmethod
    async def connect(cls, redis_url: str) -> JobQueue:
        return cls(await create_pool(RedisSettings.from_dsn(redis_url)))

    async def close(self) -> None:
        await self.pool.aclose()

    async def enqueue_apply(
        self, tenant_id: UUID | str, inbox_ids: Sequence[int], *, job_id: str | None = None
    ) -> bool:
        """One job applying the events of a batch in order (one job: its recomputes are
        queued once, after the whole batch). False: that job is already queued."""
        ids = list(inbox_ids)
        if not ids:
            return False
        job = await self.pool.enqueue_job(
            APPLY_TASK,
            str(tenant_id),
            ids,
            _job_id=job_id or apply_job_id(tenant_id, ids[0], ids[-1]),
        )
        return job is not None

    async def enqueue_recompute(
        self,
        tenant_id: UUID | str,
        user_id: UUID | str,
        period: str,
        *,
        suffix: str = "",
        defer: float = COALESCE_SECONDS,
    ) -> bool:
        """Queue a recompute unless one for the same (rep, period) is already waiting.
        ``suffix`` makes a distinct job (a follow-up while the first one still runs)."""
        job = await self.pool.enqueue_job(
            RECOMPUTE_TASK,
            str(tenant_id),
            str(user_id),
            period,
            _job_id=recompute_job_id(tenant_id, user_id, period) + suffix,
            _defer_by=defer or None,
        )
        return job is not None
