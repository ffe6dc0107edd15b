"""arq's poll, as the worker runs it: a job this worker is running is not asked about again at
every poll (workers.settings wraps arq's Worker.start_jobs)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from arq.worker import Worker, func

import workers.settings as settings
from tests.workers.ingest_helpers import arq_pool
from tests.workers.ingest_helpers import redis_url as redis_url  # a private Redis


async def test_given_a_job_running_here_when_the_worker_polls_then_redis_is_not_asked_again(
    redis_url: str, queue_name: str, monkeypatch: pytest.MonkeyPatch
):
    asked: list[list[str]] = []
    real = settings._arq_start_jobs

    async def recording(worker: Worker, job_ids: list[bytes]) -> None:
        asked.append([j.decode() for j in job_ids])
        await real(worker, job_ids)

    monkeypatch.setattr(settings, "_arq_start_jobs", recording)
    started = asyncio.Event()

    async def long_job(ctx: dict[str, Any]) -> None:
        started.set()
        await asyncio.sleep(0.5)

    pool = await arq_pool(redis_url, queue_name)
    worker = Worker(
        functions=[func(long_job, name="long_job")],
        queue_name=queue_name,
        redis_settings=settings.redis_settings(redis_url),
        poll_delay=0.01,
        handle_signals=False,
    )
    try:
        await pool.enqueue_job("long_job", _job_id="drain:1")
        running = asyncio.create_task(worker.async_run())
        await asyncio.wait_for(started.wait(), 5)
        await asyncio.sleep(0.2)  # some twenty polls while it runs
        await pool.enqueue_job("long_job", _job_id="other:1")
        await asyncio.sleep(0.1)
        running.cancel()
    finally:
        await worker.close()
        await pool.aclose()

    polls_with_it = [ids for ids in asked if "drain:1" in ids]
    assert len(polls_with_it) == 1  # picked up once, never asked about again while it ran
    assert len(asked) > 10
    assert any("other:1" in ids for ids in asked)  # a job it does not run is still started
