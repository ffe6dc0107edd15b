"""The arq worker: `arq workers.settings.WorkerSettings` (REDIS_URL, DATABASE_URL).

Start-up opens the database (``domain.db.init_db``) and prepares ``ctx["after_recompute"]``,
the list of async hooks ``hook(ctx, *, tenant_id, user_id, period)`` run after each
recompute commits. Other areas (live updates, notifications) register their start-up
function in ``STARTUP_EXTENSIONS``; it receives ``ctx`` and appends its hooks.

Started by arq's command line, the worker first checks its settings (``check_settings``):
one that cannot be used is one line on stderr naming it and exit status 2, as `podium
serve` says it, before arq connects to Redis or logs anything.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from arq import cron
from arq.connections import RedisSettings
from arq.worker import Worker, func

from domain.db import close_db, init_db
from workers import heartbeat
from workers.environment import WorkerSettingsError, check_settings, poll_delay
from workers.realtime import push_notifications, realtime_startup
from workers.tasks.contests import advance_contests, contests_startup
from workers.tasks.draining import BATCH_TIMES, BatchTimes
from workers.tasks.earnings import close_chunks, recompute_requested
from workers.tasks.ingest import SWEEP_AFTER, apply_inbox_events, sweep
from workers.tasks.payouts import execute_payout_batch

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/podium"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def _started_by_arq_cli() -> bool:
    """True in the process `arq workers.settings.WorkerSettings` (or `python -m arq ...`)
    starts, which imports this module before arq's Worker creates its event loop."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return (spec is not None and spec.name.partition(".")[0] == "arq") or os.path.basename(
        sys.argv[0]
    ) == "arq"


if _started_by_arq_cli():
    # here, as arq imports this module, not in on_startup: arq runs that only once Redis
    # answers (retrying for 5 s when it does not), then runs on_shutdown on a half-made ctx
    # and prints what on_startup raised as a traceback, exit status 1
    try:
        check_settings()
    except WorkerSettingsError as exc:
        sys.stderr.write(f"podium worker: {exc}\n")
        raise SystemExit(2) from None

if _started_by_arq_cli() and sys.platform != "win32":
    import uvloop

    # uvloop, as uvicorn gives the API: the worker's many small round trips to PostgreSQL
    # and Redis cost less CPU on it than on asyncio's own selector loop
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

Startup = Callable[[dict[str, Any]], Awaitable[None]]
STARTUP_EXTENSIONS: list[Startup] = [realtime_startup, contests_startup]

# arq's default poll of 0.5 s alone would eat twice the 250 ms real-time budget whenever a
# draining job has to be picked up (an idle tenant's first event, a follow-up): 50 ms keeps
# that wait small. A running draining job takes new work without a poll (it waits on its
# wake-up list), and arq's every poll re-checks each running job (four Redis round trips):
# 20 ms cost the worker and Redis about 35 ms of CPU a second at any load (bench/realtime.py
# measures both). PODIUM_WORKER_POLL_DELAY (seconds) overrides it.
POLL_DELAY = poll_delay(os.environ)
RECOMPUTE_TIMEOUT = 120  # seconds; a killed worker's job is retried after this + 10 s
APPLY_TIMEOUT = 30


async def startup(ctx: dict[str, Any]) -> None:
    await init_db(ctx.get("database_url") or os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    ctx.setdefault("after_recompute", [])
    ctx.setdefault("sweep_after", SWEEP_AFTER)
    ctx.setdefault(BATCH_TIMES, BatchTimes())  # the jobs' pacing (workers.tasks.draining)
    for extension in STARTUP_EXTENSIONS:
        await extension(ctx)
    heartbeat.start(ctx)  # /ready reads it: a silent worker is noticed


async def shutdown(ctx: dict[str, Any]) -> None:
    await heartbeat.stop(ctx)
    await close_db()


def redis_settings(url: str | None = None) -> RedisSettings:
    return RedisSettings.from_dsn(url or os.environ.get("REDIS_URL", DEFAULT_REDIS_URL))


FUNCTIONS = [
    # keep_result=0: a finished job's id is free again at once, so the next event of the
    # same rep can queue a new recompute (arq refuses an id whose result is still kept)
    func(apply_inbox_events, keep_result=0, timeout=APPLY_TIMEOUT, max_tries=5),
    func(recompute_requested, keep_result=0, timeout=RECOMPUTE_TIMEOUT, max_tries=5),
    # a close's helpers: one job per worker process that takes it (see JobQueue.enqueue_close)
    func(close_chunks, keep_result=0, timeout=3600, max_tries=5),
    # what a request put in people's inboxes (disputes), pushed after its commit
    func(push_notifications, keep_result=0, timeout=60, max_tries=3),
    # a payout batch's items, each paid exactly once (retried: what is paid stays paid)
    func(execute_payout_batch, keep_result=0, timeout=3600, max_tries=5),
]


class _QuietSweeps(logging.Filter):
    """arq logs every job twice; the sweeper runs every 10 s and logs itself when it re-queued
    something, so its routine runs stay out of the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        # only the job lines ("0.01s → cron:sweep()", "0.02s ← cron:sweep ● "): the start-up
        # line that lists the functions, cron:sweep among them, stays
        message = record.getMessage()
        return "cron:sweep" not in message or not ("→" in message or "←" in message)


logging.getLogger("arq.worker").addFilter(_QuietSweeps())

_arq_start_jobs = Worker.start_jobs


async def _start_jobs_not_running_here(self: Worker, job_ids: list[bytes]) -> None:
    """arq's ``Worker.start_jobs`` without the jobs this worker is running already. A job
    stays in arq's queue (a sorted set) until it ends, so every poll reads the draining jobs
    this worker runs and asks Redis about each (WATCH, EXISTS, ZSCORE, UNWATCH) only to find
    it running: four round trips a job and a poll, about 20 ms of CPU a second at a 50 ms
    poll with two draining jobs. Another worker's jobs are still asked about."""
    running = self.tasks
    await _arq_start_jobs(
        self,
        [j for j in job_ids if (task := running.get(j.decode())) is None or task.done()],
    )


Worker.start_jobs = _start_jobs_not_running_here  # type: ignore[method-assign]

CRON_JOBS = [
    cron(sweep, second=set(range(0, 60, 10)), run_at_startup=True, timeout=60),
    # contests start, end and are awarded (after their grace period) within 30 s of their time
    cron(advance_contests, second={5, 35}, run_at_startup=True, timeout=120),
]


class WorkerSettings:
    functions = FUNCTIONS
    cron_jobs = CRON_JOBS
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = redis_settings()
    poll_delay = POLL_DELAY
    max_jobs = 10
    # a failed job's result is kept this long (arq's default: an hour), and while it is kept
    # arq refuses a job with the same id: the fixed ids of the draining jobs must stay free
    keep_result = 0
    job_timeout = timedelta(seconds=RECOMPUTE_TIMEOUT)
