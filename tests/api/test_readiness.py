"""`/ready` sees the workers: their heartbeat in Redis and the age of the oldest CRM event
still waiting to be applied. A dead worker makes it 503 with the reason."""

from __future__ import annotations

import time
from datetime import timedelta

from redis.asyncio import Redis

from api.app import INBOX_TOO_OLD_AFTER, WORKER_SILENT_AFTER
from domain.ingest.models import InboxEvent, InboxStatus
from domain.kit.clock import utc_now
from tests.api.graphql import fixtures as _fixtures
from tests.api.graphql import helpers as h
from tests.api.graphql.helpers import Api
from workers.heartbeat import HEARTBEAT_KEY, beat_once

api = _fixtures.api
settings = _fixtures.settings


async def pending_event(age: float) -> None:
    tenant = await h.tenant("acme")
    event = await InboxEvent.create(
        tenant_id=tenant.id,
        event_id="evt-1",
        source="crm",
        type="transaction.upserted",
        record_id="opp-1",
        body="{}",
        status=InboxStatus.PENDING,
    )
    await InboxEvent.filter(id=event.id).update(received_at=utc_now() - timedelta(seconds=age))


async def test_given_no_worker_ever_ran_when_ready_then_503_saying_so(api: Api):
    response = await api.http.get("/ready")

    assert response.status_code == 503
    assert response.json()["checks"]["worker"].startswith("no heartbeat")


async def test_given_a_stale_heartbeat_when_ready_then_503_with_its_age(api: Api, redis: Redis):
    await redis.set(HEARTBEAT_KEY, f"{time.time() - WORKER_SILENT_AFTER - 12:.3f}")

    response = await api.http.get("/ready")

    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    worker = response.json()["checks"]["worker"]
    assert worker.startswith("silent for 4"), worker  # 42 s, give or take the request


async def test_given_a_fresh_heartbeat_and_an_old_pending_event_when_ready_then_503(
    api: Api, redis: Redis
):
    await beat_once(redis)
    await pending_event(INBOX_TOO_OLD_AFTER + 60)

    response = await api.http.get("/ready")

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["worker"] == "ok"
    assert checks["inbox"].startswith("the oldest unapplied CRM event is 18"), checks


async def test_given_a_fresh_heartbeat_and_a_recent_pending_event_when_ready_then_200(
    api: Api, redis: Redis
):
    await beat_once(redis)
    await pending_event(5)

    response = await api.http.get("/ready")

    assert response.status_code == 200, response.json()
