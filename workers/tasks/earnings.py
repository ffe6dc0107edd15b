"""Recompute the requested (rep, period)s of a tenant in batches, then run the after-recompute
hooks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from tortoise.transactions import in_transaction

from domain.earnings import close as earnings_close
from domain.earnings import service as earnings_service
from domain.earnings.errors import PeriodClosed
from domain.earnings.models import CloseRun
from domain.ingest.repository import FailedRequest, IngestRepository, TakenRequest
from domain.notifications.service import stored_results
from domain.org.viewer import Viewer
from domain.tenants.repository import tenants_read_once
from payments.statements.service import build_statements
from workers.queue import RECOMPUTE_WAKE, JobQueue
from workers.tasks.draining import Pacer, batch_times
from workers.tasks.ingest import IDLE_WAIT
from workers.tasks.transient import is_data_failure, is_transient, retry_later

log = logging.getLogger("podium.workers.earnings")


RECOMPUTE_BATCH = 100  # (person, period)s recomputed per transaction
# failures of one request's recompute (other than on its data, or a deadlock) before it parks:
# retried by the sweeper every 30 s meanwhile, so a passing fault gets a few minutes
MAX_FAILURES = 5
# the pause between two batches' starts (see workers.tasks.draining): none, as the applies
# that wake this job are paced already (workers.tasks.draining.apply_pace) and each of their
# commits is best followed at once; ctx["recompute_pause"] overrides it (seconds)
RECOMPUTE_PAUSE = 0.0
# far inside RECOMPUTE_TIMEOUT; a hand-over costs the events in its gap a poll or two
DRAIN_SECONDS = 20.0
TENANT_READ_SECONDS = 5.0  # a long job reads its tenant again after this


async def recompute_requested(ctx: dict[str, Any], tenant_id: str, follow_up: bool = False) -> int:
    """Recompute every (person, period) the tenant's recompute requests name, oldest first,
    ``RECOMPUTE_BATCH`` per transaction (claimed with SKIP LOCKED, so concurrent runs share
    the work), deleting the requests in that transaction; after each commit run the
    after-recompute hooks. Between batches the job waits for a wake-up (an apply's commit,
    see workers.tasks.draining); a follow-up (``follow_up``) takes what is requested and
    ends. Returns how many pairs were recomputed.

    Idempotent: a request is gone once done. One that an apply renews meanwhile waits for
    our commit and comes back as a new request, for the next batch or the follow-up this
    job leaves at its end (an enqueue refused while we ran)."""
    tenant = UUID(tenant_id)
    viewer = Viewer.system(tenant, "worker-recompute")
    repo = IngestRepository(viewer)
    queue = JobQueue(ctx["redis"])
    pacer = Pacer(
        queue,
        RECOMPUTE_WAKE,
        tenant_id,
        pace=ctx.get("recompute_pause", RECOMPUTE_PAUSE),
        idle=0.0 if follow_up else ctx.get("idle_wait", IDLE_WAIT),
        drain=DRAIN_SECONDS,
    )
    behind = _Behind(ctx.get("behind_every", BEHIND_EVERY))
    try:
        done = await _drain(ctx, tenant_id, viewer, repo, queue, pacer, behind, follow_up)
    except Exception:
        await behind.flush()  # what committed batches gathered still runs (its hooks log)
        raise
    except BaseException:
        behind.cancel()  # cancelled (a timeout, a shutdown): nothing more runs
        raise
    await behind.flush()
    return done


async def _drain(
    ctx: dict[str, Any],
    tenant_id: str,
    viewer: Viewer,
    repo: IngestRepository,
    queue: JobQueue,
    pacer: Pacer,
    behind: _Behind,
    follow_up: bool,
) -> int:
    tenant = viewer.tenant_id
    done = 0
    full = False
    with contextlib.ExitStack() as reads:
        read_at = -TENANT_READ_SECONDS
        while True:
            await pacer.start_batch(paced=not full)
            if time.monotonic() - read_at >= TENANT_READ_SECONDS:
                # the tenant read once a while, not by every batch and hook
                reads.close()
                reads.enter_context(tenants_read_once())
                read_at = time.monotonic()
            batch_started = time.monotonic()
            try:
                async with in_transaction():
                    claimed = await repo.take_recompute_requests(RECOMPUTE_BATCH)
                    outcomes, failed = await _recompute_claimed(viewer, claimed)
                    await repo.restore_recompute_requests(failed)
                    # a CRM change to a closed period: kept as it was, flagged for the next,
                    # in the transaction that drops its request (a worker killed between two
                    # transactions lost the flag)
                    late = [
                        (o.user_id, o.period)
                        for o in outcomes
                        if isinstance(o.refused, PeriodClosed)
                    ]
                    await earnings_close.record_late_events(viewer=viewer, pairs=late)
            except Exception as exc:
                if is_transient(exc):  # rolled back: the requests are still there
                    raise retry_later(ctx.get("job_try")) from exc
                raise
            recomputed = [o for o in outcomes if o.refused is None]
            for o in outcomes:
                if o.refused is not None:
                    log.warning(
                        "recompute %s %s %s refused: %s", tenant_id, o.user_id, o.period, o.refused
                    )
            done += len(recomputed)
            ctx["recomputes"] = ctx.get("recomputes", 0) + len(recomputed)
            await _run_hooks(ctx, tenant, [(o.user_id, o.period) for o in recomputed], behind)
            if recomputed:
                batch_times(ctx).record("recompute", time.monotonic() - batch_started)
            full = len(claimed) >= RECOMPUTE_BATCH
            if claimed and pacer.expired():
                await queue.enqueue_recomputes(tenant_id, follow_up="more")
                return done
            if full:
                continue  # a backlog: the next batch at once
            if follow_up or pacer.expired() or not await pacer.woken():
                break
    if not follow_up:
        # a request written after our last claim had its enqueue refused while this job ran
        # (same id): the follow-up takes it (a failed job leaves none: arq runs it again)
        await queue.enqueue_recomputes(tenant_id, follow_up="after")
    return done


async def _recompute_claimed(
    viewer: Viewer, claimed: list[TakenRequest]
) -> tuple[list[earnings_service.Recomputed], list[FailedRequest]]:
    """The batch in one go (``recompute_many`` is a savepoint of its own); if it fails for a
    reason other than a deadlock, each pair on its own, so one person's bug does not hold
    back the others. Each failing pair is logged and returned, for its request to be put
    back with the error: parked at once when it failed on its data (``is_data_failure``: it
    would fail the same way every time), or at its MAX_FAILURES-th failure; otherwise the
    sweeper retries it. A parked request waits for a change to the person's data (which
    requests the recompute anew) or for `podium recompute`."""
    pairs = [(r.user_id, r.period) for r in claimed]
    if not pairs:
        return [], []
    try:
        return await earnings_service.recompute_many(viewer=viewer, pairs=pairs), []
    except Exception as exc:
        if is_transient(exc):
            raise
        log.exception("batch recompute of %d pairs failed; one by one", len(pairs))
    outcomes: list[earnings_service.Recomputed] = []
    failed: list[FailedRequest] = []
    for request in claimed:
        try:
            outcomes.extend(
                await earnings_service.recompute_many(
                    viewer=viewer, pairs=[(request.user_id, request.period)]
                )
            )
        except Exception as exc:
            if is_transient(exc):
                raise
            error = repr(exc)[:500]
            if is_data_failure(exc):
                log.exception(
                    "recompute %s %s failed on its data; parked until it changes",
                    request.user_id,
                    request.period,
                )
                failed.append(FailedRequest(request, error, parked=True))
                continue
            attempt = request.attempts + 1
            parked = attempt >= MAX_FAILURES
            log.exception(
                "recompute %s %s failed (attempt %d of %d%s)",
                request.user_id,
                request.period,
                attempt,
                MAX_FAILURES,
                "; parked" if parked else "",
            )
            failed.append(FailedRequest(request, error, parked=parked))
    return outcomes, failed


# A hook that runs behind (notifications) runs at most once every BEHIND_EVERY seconds: the
# batches that end meanwhile are gathered into its next run, so its fixed costs (a transaction
# and its statements) are paid three times a second under a stream of eight batches a second,
# not once a batch. Not longer: a run blocks the worker's loop for as long as its people take
# to decide (about 0.2 ms each), and the next batch's live updates wait for that (with 1 s,
# runs of 200 people at 200 events/s moved event->subscription p99 from ~160 to ~200 ms). A
# lone batch's run starts at once.
BEHIND_EVERY = 0.3


@dataclass
class _Gathered:
    """What the batches gathered for one hook's next run: each (person, period) once, with
    the stored results its latest batch read (a pair of a batch that read none is left out
    of ``results``: the hook reads it)."""

    many: Any
    ctx: dict[str, Any]
    tenant: UUID
    pairs: dict[tuple[UUID, str], None] = field(default_factory=dict)
    results: dict[tuple[UUID, str], list[Any]] = field(default_factory=dict)

    def add(
        self, pairs: list[tuple[UUID, str]], results: dict[tuple[UUID, str], list[Any]] | None
    ) -> None:
        for pair in pairs:
            self.pairs[pair] = None
            found = None if results is None else results.get(pair)
            if found is None:
                self.results.pop(pair, None)
            else:
                self.results[pair] = found


class _Behind:
    """The hooks of the batches that may run while the job goes on (notifications: nobody
    waits on them, while the next batch's live updates do): one run at a time, at most one
    every ``every`` seconds, each taking what every batch since the previous run gathered
    (in order: a hook's run sees the stored results of the batch that last recomputed each
    pair). ``flush`` runs what is gathered at once and awaits it: before the job ends."""

    def __init__(self, every: float = BEHIND_EVERY) -> None:
        self.every = every
        self.gathered: dict[Any, _Gathered] = {}  # hook -> its next run, in hook order
        self.task: asyncio.Task[None] | None = None
        self.last = -math.inf  # when the last run started (monotonic)
        self.now = asyncio.Event()  # set: run what is gathered without waiting

    def add(
        self,
        hook: Any,
        many: Any,
        ctx: dict[str, Any],
        tenant: UUID,
        pairs: list[tuple[UUID, str]],
        results: dict[tuple[UUID, str], list[Any]] | None,
    ) -> None:
        self.gathered.setdefault(hook, _Gathered(many, ctx, tenant)).add(pairs, results)
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._runs())

    async def _runs(self) -> None:
        while self.gathered:
            wait = self.last + self.every - time.monotonic()
            if wait > 0 and not self.now.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self.now.wait()
            gathered, self.gathered = self.gathered, {}
            self.last = time.monotonic()
            for hook, run in gathered.items():
                await _batch_hook(run.many, hook, run.ctx, run.tenant, list(run.pairs), run.results)

    async def flush(self) -> None:
        self.now.set()
        if self.task is not None:
            task, self.task = self.task, None
            await task

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.task = None
        self.gathered.clear()


async def _run_hooks(
    ctx: dict[str, Any],
    tenant: UUID,
    pairs: list[tuple[UUID, str]],
    behind: _Behind | None = None,
) -> None:
    """The after-recompute hooks, each pair in turn; a failing hook is logged and the others
    still run. A hook with a ``many`` attribute takes the whole batch at once, with the
    stored results of its pairs (``results``: read once, after the commit, for all of them);
    one whose ``runs_behind`` is true runs while the job goes on (``behind``), gathered with
    the other batches' since its previous run (at most one run every BEHIND_EVERY)."""
    if not pairs:
        return
    hooks = ctx.get("after_recompute", ())
    results: dict[tuple[UUID, str], list[Any]] | None = None
    if any(getattr(hook, "many", None) is not None for hook in hooks):
        try:
            results = await stored_results(tenant_id=tenant, pairs=pairs)
        except Exception:
            log.exception("reading the stored results of a batch failed; each hook reads")
    for hook in hooks:
        many = getattr(hook, "many", None)
        if many is not None:
            if behind is not None and getattr(hook, "runs_behind", False):
                behind.add(hook, many, ctx, tenant, pairs, results)
            else:
                await _batch_hook(many, hook, ctx, tenant, pairs, results)
            continue
        for user_id, period in pairs:
            try:
                await hook(ctx, tenant_id=tenant, user_id=user_id, period=period)
            except Exception:
                log.exception("after-recompute hook %r failed for %s %s", hook, user_id, period)


async def _batch_hook(
    many: Any,
    hook: Any,
    ctx: dict[str, Any],
    tenant: UUID,
    pairs: list[tuple[UUID, str]],
    results: dict[tuple[UUID, str], list[Any]] | None,
) -> None:
    try:
        await many(ctx, tenant_id=tenant, pairs=pairs, results=results)
    except Exception:
        log.exception("after-recompute hook %r failed for a batch", hook)


async def close_chunks(ctx: dict[str, Any], tenant_id: str, run_id: int) -> int:
    """Help a close under way (``podium close``): claim its chunks with SKIP LOCKED, one per
    transaction, until none is left to claim; the period itself is closed by whoever finds
    every chunk done. Returns how many people this job recomputed. Idempotent: a done chunk
    is never claimed again, and a killed job's chunk rolls back for the next claimer."""
    viewer = Viewer.system(UUID(tenant_id), "worker-close")
    people = 0
    while True:
        try:
            async with in_transaction():
                done = await earnings_close.close_next_chunk(viewer=viewer, run_id=run_id)
        except Exception as exc:
            if is_transient(exc):
                raise retry_later(ctx.get("job_try")) from exc
            raise
        if done is None:
            break
        people += done.people
    async with in_transaction():
        closed = await earnings_close.finish_close(viewer=viewer, run_id=run_id)
    if closed:
        # the payees' draft statements, after the close in a transaction of their own
        # (idempotent: a retried job, or a second closer, builds only what is missing)
        run = await CloseRun.get(id=run_id, tenant_id=viewer.tenant_id)
        async with in_transaction():
            built = await build_statements(viewer=viewer, period=run.period)
        # who got no statement, whose balance below zero was left owed: as `podium close` says
        for line in built.error_lines():
            log.warning("statements of %s %s: %s", tenant_id, run.period, line)
    return people
