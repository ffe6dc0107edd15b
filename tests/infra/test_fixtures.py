"""The shared fixtures really reach PostgreSQL and Redis, and really start each test empty."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis
from tortoise import connections

from domain.tenants.models import Tenant


async def test_given_db_fixture_when_a_tenant_is_written_then_it_is_in_postgresql(db: str):
    await Tenant.create(
        slug="acme", name="Acme", currency="EUR", jwt_secret="s" * 32, webhook_secret="w" * 32
    )

    rows = await connections.get("default").execute_query_dict("SELECT version() AS v")

    assert rows[0]["v"].startswith("PostgreSQL")
    assert await Tenant.filter(slug="acme").count() == 1


@pytest.mark.parametrize("attempt", [1, 2])
async def test_given_rows_from_an_earlier_test_when_db_fixture_starts_then_tables_are_empty(
    db: str, attempt: int
):
    assert await Tenant.all().count() == 0
    await Tenant.create(
        slug="left-behind", name="X", currency="EUR", jwt_secret="s", webhook_secret="w"
    )


async def test_given_redis_fixture_when_used_then_it_is_a_real_server(redis: Redis):
    await redis.set("podium:probe", "1")

    assert await redis.get("podium:probe") == b"1"
    assert (await redis.info("server"))["redis_version"]
