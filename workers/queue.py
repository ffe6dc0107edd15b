"""The one way into the job queue for the API and the CLI (the only module outside the
workers that names arq): enqueue by id, after the transaction that stored the work commits.

The pipeline is two draining jobs per tenant, both idempotent because PostgreSQL holds the
work (inbox rows, recompute requests) and the jobs only say "look now":

- ``apply_inbox_events`` (id ``apply:<tenant>``) applies every pending inbox event;
- ``recompute_requested`` (id ``recompute:<tenant>``) recomputes every requested (person,
  period) in batches.

arq refuses a job whose id is queued or running, which is what batches a burst: 200 webhook
calls while one apply job runs queue nothing more, and its next claim takes them all. A
refused enqueue leaves a wake-up instead (``wake_key``: a Redis list holding at most one
token), which the running job waits on between batches (``wait_for_wake``, a blocking pop):
an idle job sleeps in Redis rather than polling PostgreSQL, and a recompute job starts its
batch as soon as an apply commits. What arrives after a job's last claim while it still runs
(its enqueue refused) is taken by the follow-up every regular job leaves at its end under an
id of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID, uuid4

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms
from redis.asyncio import Redis

# a follow-up starts after this: well after the job that queued it has released its id
FOLLOW_UP_SECONDS = 0.05

APPLY_TASK = "apply_inbox_events"
RECOMPUTE_BATCH_TASK = "recompute_requested"
CLOSE_TASK = "close_chunks"
MAX_CLOSE_HELPERS = 64  # close jobs one close may queue (`podium close --workers` at most)
PUSH_TASK = "push_notifications"
PAYOUT_TASK = "execute_payout_batch"


def apply_job_id(tenant_id: UUID | str) -> str:
    return f"apply:{tenant_id}"


def recompute_batch_job_id(tenant_id: UUID | str) -> str:
    return f"recompute:{tenant_id}"


APPLY_WAKE = "apply"
RECOMPUTE_WAKE = "recompute"
WAKE_KEPT_MS = 600_000  # a token nobody waited for goes after this


def wake_key(kind: str, tenant_id: UUID | str) -> str:
    """The list a running draining job of ``kind`` (apply, recompute) waits on."""
    return f"podium:wake:{kind}:{tenant_id}"


# arq's enqueue_job in one round trip: it takes three (WATCH + EXISTS, then MULTI/EXEC, or a
# RESET when refused), and the API enqueues once per webhook call. Same keys, same job
# encoding, same refusal of an id that is queued, running (its job key lives on) or kept.
# Refused with a wake list (KEYS[4]), it leaves that job one token (at most one waits).
ENQUEUE_SCRIPT = """
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then
    if KEYS[4] and redis.call('EXISTS', KEYS[4]) == 0 then
        redis.call('RPUSH', KEYS[4], 1)
        redis.call('PEXPIRE', KEYS[4], ARGV[5])
    end
    return 0
end
redis.call('PSETEX', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
return 1
"""


class JobQueue:
    """Enqueue ingestion and recompute jobs on an arq pool (a Redis connection pool)."""

    def __init__(self, pool: ArqRedis) -> None:
        self.pool = pool
        self._script: Any = None

    async def _enqueue(
        self,
        function: str,
        *args: Any,
        job_id: str,
        defer: float | None = None,
        wake: str | None = None,
    ) -> bool:
        """``ArqRedis.enqueue_job(function, *args, _job_id=job_id, _defer_by=defer)``, as
        one script: False when a job with this id exists (queued, running or kept), which
        then finds a token in ``wake`` (if given)."""
        now = timestamp_ms()
        delay = round(defer * 1000) if defer else 0
        job = serialize_job(function, args, {}, None, now, serializer=self.pool.job_serializer)
        if self._script is None:
            self._script = self.pool.register_script(ENQUEUE_SCRIPT)
        keys = [job_key_prefix + job_id, result_key_prefix + job_id, self.pool.default_queue_name]
        if wake is not None:
            keys.append(wake)
        done = await self._script(
            keys=keys,
            args=[delay + self.pool.expires_extra_ms, job, now + delay, job_id, WAKE_KEPT_MS],
        )
        return bool(done)

    async def clear_wake(self, kind: str, tenant_id: UUID | str) -> None:
        """Drop the wake-up token of ``kind``: what it announced is committed, and the claim
        that follows takes it."""
        await self.pool.delete(wake_key(kind, tenant_id))

    async def wait_for_wake(self, kind: str, tenant_id: UUID | str, seconds: float) -> bool:
        """Wait up to ``seconds`` for a refused enqueue of ``kind`` (new work for the
        running job); True when one came (its token is taken)."""
        if seconds <= 0:
            return False
        return await self.pool.blpop([wake_key(kind, tenant_id)], timeout=seconds) is not None

    @classmethod
    def on_redis(cls, redis: Redis) -> JobQueue:
        """Share an existing client's connection pool (the API's): no second set of sockets."""
        return cls(ArqRedis(connection_pool=redis.connection_pool))

    @classmethod
    async def connect(cls, redis_url: str) -> JobQueue:
        return cls(await create_pool(RedisSettings.from_dsn(redis_url)))

    async def close(self) -> None:
        await self.pool.aclose()

    async def enqueue_close(self, tenant_id: UUID | str, run_id: int, helpers: int = 2) -> None:
        """Ask up to ``helpers`` workers to share a close under way (each job claims chunks
        until none is left; the CLI that started the close claims too). At most
        ``MAX_CLOSE_HELPERS`` jobs, whatever the caller asks: each is a job in the queue the
        real-time events wait behind."""
        if not 0 <= helpers <= MAX_CLOSE_HELPERS:
            raise ValueError(f"helpers: {helpers} is not 0 to {MAX_CLOSE_HELPERS}")
        for n in range(helpers):
            await self.pool.enqueue_job(
                CLOSE_TASK, str(tenant_id), run_id, _job_id=f"close:{run_id}:{n}"
            )

    async def enqueue_payout(self, tenant_id: UUID | str, batch_id: UUID | str) -> None:
        """Execute a payout batch. One job id per batch: a second call while it is queued or
        running adds nothing (arq refuses the id), so two calls at once run it once."""
        await self.pool.enqueue_job(
            PAYOUT_TASK, str(tenant_id), str(batch_id), _job_id=f"payout:{batch_id}"
        )

    async def enqueue_push(self, tenant_id: UUID | str, user_ids: Sequence[UUID | str]) -> None:
        """Push these people's notifications not pushed yet (what a request just put in their
        inbox), after the request's commit. A second job finds them pushed and sends nothing."""
        if user_ids:
            await self.pool.enqueue_job(
                PUSH_TASK, str(tenant_id), sorted(str(u) for u in user_ids),
                _job_id=f"push:{tenant_id}:{uuid4().hex}",
            )  # fmt: skip

    async def enqueue_apply(
        self, tenant_id: UUID | str, inbox_ids: Sequence[int] = (), *, job_id: str | None = None
    ) -> bool:
        """Ask for the tenant's pending inbox events to be applied (``inbox_ids``: those the
        caller stored, for the logs). False: a job is already queued or running."""
        ids = list(inbox_ids)
        return await self._enqueue(
            APPLY_TASK,
            str(tenant_id),
            ids,
            job_id=job_id or apply_job_id(tenant_id),
            wake=wake_key(APPLY_WAKE, tenant_id),
        )

    async def enqueue_apply_follow_up(
        self, tenant_id: UUID | str, *, tag: str = "after", defer: float = FOLLOW_UP_SECONDS
    ) -> bool:
        """An apply job under an id of its own (never refused), leaving no follow-up."""
        return await self._enqueue(
            APPLY_TASK,
            str(tenant_id),
            [],
            True,
            job_id=f"{apply_job_id(tenant_id)}:{tag}:{uuid4().hex}",
            defer=defer or None,
        )

    async def enqueue_recomputes(
        self, tenant_id: UUID | str, *, follow_up: str | None = None
    ) -> bool:
        """Ask for the tenant's requested recomputes to be done. ``follow_up`` (a tag) makes a
        job under an id of its own, which is never refused and leaves no follow-up."""
        if follow_up is None:
            return await self._enqueue(
                RECOMPUTE_BATCH_TASK,
                str(tenant_id),
                job_id=recompute_batch_job_id(tenant_id),
                wake=wake_key(RECOMPUTE_WAKE, tenant_id),
            )
        return await self._enqueue(
            RECOMPUTE_BATCH_TASK,
            str(tenant_id),
            True,
            job_id=f"{recompute_batch_job_id(tenant_id)}:{follow_up}:{uuid4().hex}",
            defer=FOLLOW_UP_SECONDS if follow_up in ("after", "more") else None,
        )
