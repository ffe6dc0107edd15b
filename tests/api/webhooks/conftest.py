from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from api.app import create_app
from api.settings import Settings
from tests.api.graphql.helpers import serve
from tests.workers.ingest_helpers import arq_pool, burst, queue_name, redis_url
from workers.queue import JobQueue

__all__ = ["redis_url", "burst", "http", "queue_name"]


@pytest.fixture
async def http(
    db: str, redis: Redis, database_url: str, redis_url: str, queue_name: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The app (its lifespan running) on this worker's database and Redis, over httpx; its
    jobs go to this test's own queue."""
    settings = Settings(database_url=database_url, redis_url=redis_url, log_json=True)
    app = create_app(settings)
    async with serve(app) as client:
        pool = await arq_pool(redis_url, queue_name)
        app.state.job_queue = JobQueue(pool)
        try:
            yield client
        finally:
            await pool.aclose()
