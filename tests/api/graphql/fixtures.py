"""Fixtures for the API tests: the app on this worker's database and Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from api.app import create_app
from api.settings import Settings
from tests.api.graphql.helpers import Api, serve


@pytest.fixture
def settings(database_url: str, redis_url: str) -> Settings:
    return Settings(database_url=database_url, redis_url=redis_url, log_json=True)


@pytest.fixture
async def api(db: str, redis: Redis, settings: Settings) -> AsyncIterator[Api]:
    """The app on an empty database (the `db` fixture owns tortoise; the lifespan sees it open
    and leaves it to the fixture) and an empty Redis database."""
    async with serve(create_app(settings)) as client:
        yield Api(client)
