"""How the two draining jobs of a tenant (apply, recompute) pace their batches and wait for
work: what ``workers.tasks.ingest.apply_inbox_events`` and
``workers.tasks.earnings.recompute_requested`` share.

A job runs batches until it has nothing left to do. Between two batches it waits in Redis
for a wake-up (``JobQueue.wait_for_wake``: an enqueue refused because this job runs), so an
idle job costs nothing but a blocked connection, and a recompute job starts as soon as an
apply commits. A batch starts no sooner than ``pace`` after the previous one started (a full
batch, a backlog, waits for nothing): a steady stream is taken in a few batches a second,
each with the fixed costs of one, and an event waits at most ``pace`` for its batch.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

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
