from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from arq.connections import ArqRedis
from redis.asyncio import Redis

from tests.workers.ingest_helpers import arq_pool, burst, queue_name

__all__ = ["burst", "pool", "queue_name"]


@pytest.fixture
async def pool(db: str, redis: Redis, redis_url: str, queue_name: str) -> AsyncIterator[ArqRedis]:
    """An arq pool on this worker's Redis database and this test's own queue, the ORM open on
    the test database."""
    client = await arq_pool(redis_url, queue_name)
    try:
        yield client
    finally:
        await client.aclose()
