"""How the two draining jobs of a tenant (apply, recompute) pace their batches and wait for
work: what ``workers.tasks.ingest.apply_inbox_events`` and
``workers.tasks.earnings.recompute_requested`` share.

A job runs batches until it has nothing left to do. Between two batches it waits in Redis
for a wake-up (``JobQueue.wait_for_wake``: an enqueue refused because this job runs), so an
idle job costs nothing but a blocked connection, and a recompute job starts as soon as an
apply commits. A batch starts no sooner than ``pace`` after the previous one started (a full
batch, a backlog, waits for nothing): a steady stream is taken in a few batches a second,
each with the fixed costs of one, and an event waits at most ``pace`` for its batch.

The applies' pace is what an event's latency budget leaves once an apply and the recompute
that follows it have taken their time (``apply_pace``): as long as the batches go fast (a
quiet machine, a moderate stream) events gather longer and fewer batches carry them, and
when they slow down (a busy machine) the pace shortens to keep the events' latency.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from workers.queue import JobQueue


@dataclass
class Pacer:
    queue: JobQueue
    kind: str  # the wake list: workers.queue.APPLY_WAKE or RECOMPUTE_WAKE
    tenant_id: str
    pace: float  # seconds from one batch's start to the next one's
    idle: float  # seconds an idle job waits for a wake-up before it ends (0: at once)
    drain: float  # seconds after which the job hands over to a fresh one
    started: float = field(default_factory=time.monotonic)
    last: float | None = None

    async def start_batch(self, *, paced: bool = True) -> None:
        """Sleep until ``pace`` after the previous batch's start (unless ``paced`` is False),
        then drop the wake-up token: what it announced is committed, and the claim that
        follows takes it (whatever commits later leaves a new one)."""
        if self.last is not None:
            wait = self.pace - (time.monotonic() - self.last) if paced else 0.0
            if wait > 0:
                await asyncio.sleep(wait)
            await self.queue.clear_wake(self.kind, self.tenant_id)
        # the first batch keeps a token left from before the job started: one spare wake-up
        self.last = time.monotonic()

    def expired(self) -> bool:
        return time.monotonic() - self.started > self.drain

    async def woken(self) -> bool:
        """Wait (up to ``idle``) for new work; False: none came, the job may end."""
        return await self.queue.wait_for_wake(self.kind, self.tenant_id, self.idle)


# what an event may spend waiting for its apply, then in the apply, its recompute and the live
# update they make (the rest of the 250 ms target goes to the subscription and to jitter).
# Each apply + recompute pair costs about 15 ms of CPU whatever it carries (worker and
# PostgreSQL), so the budget sets how many a steady stream pays: at 100 events/s, 0.16 s made
# about 8.7 pairs a second, 0.20 s makes about 6.5 (about 0.3 ms of CPU less per event; the
# event->subscription p99 went from ~160 to ~205 ms, bench/realtime.py).
LATENCY_BUDGET = 0.20
MIN_PACE = 0.04
MAX_PACE = 0.18
UNSEEN_RECOMPUTE = 0.05  # a recompute's time before this process has done one
BATCH_TIMES = "batch_times"  # ctx key of the worker process's BatchTimes


@dataclass
class BatchTimes:
    """How long recent applies and recomputes took (seconds, moving averages), shared by the
    jobs of one worker process: arq gives each job a copy of ``ctx``, whose values are the
    same objects (workers.settings.startup puts one there)."""

    apply: float | None = None
    recompute: float | None = None  # its hooks included: the live update is in them

    def record(self, kind: str, seconds: float) -> None:
        before = getattr(self, kind)
        setattr(self, kind, seconds if before is None else 0.8 * before + 0.2 * seconds)

    def apply_pace(self) -> float:
        """Seconds from one apply's start to the next one's: the latency budget less what
        an apply and its recompute take lately, within [MIN_PACE, MAX_PACE]."""
        recompute = UNSEEN_RECOMPUTE if self.recompute is None else self.recompute
        busy = (self.apply or 0.0) + recompute
        return min(MAX_PACE, max(MIN_PACE, LATENCY_BUDGET - busy))


def batch_times(ctx: dict[str, Any]) -> BatchTimes:
    """The process's ``BatchTimes`` (one of the job's own if the worker has none: a test)."""
    found = ctx.get(BATCH_TIMES)
    if not isinstance(found, BatchTimes):
        found = ctx[BATCH_TIMES] = BatchTimes()
    return found


def apply_pace(ctx: dict[str, Any]) -> float:
    """The applies' pace (``BatchTimes.apply_pace``); ``ctx["batch_pause"]`` fixes it."""
    fixed = ctx.get("batch_pause")
    return float(fixed) if fixed is not None else batch_times(ctx).apply_pace()
