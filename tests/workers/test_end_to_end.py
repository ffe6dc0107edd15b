"""The whole real-time path in one test: a signed CRM webhook over HTTP to a real uvicorn
server, the inbox, a real arq worker with the real-time hooks, the recompute, a
graphql-transport-ws subscription message over a real websocket, and a push through the real
firebase-admin client to the FCM stand-in on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from arq.connections import ArqRedis
from redis.asyncio import Redis
from starlette.applications import Starlette

from api.app import create_app
from api.auth import mint_token
from api.settings import Settings
from domain.notifications.channels import earnings_channel
from domain.notifications.models import Device, DevicePlatform, Notification
from domain.notifications.service import register_device
from tests.api.graphql.test_subscriptions import receive, subscribed, until_listening
from tests.domain.builders import (
    assign,
    make_tenant,
    make_user,
    publish_plan,
    set_quota,
    viewer_of,
)
from tests.domain.notifications.plans import AE_PLAN
from tests.workers.fcm_standin import ACCESS_TOKEN, PROJECT, fcm_standin
from tests.workers.ingest_helpers import Burst, body_of, deal, signed_headers
from tests.workers.ingest_helpers import redis_url as redis_url  # a private Redis
from workers.queue import JobQueue
from workers.realtime import realtime_shutdown, realtime_startup


@asynccontextmanager
async def serving(app: Starlette) -> AsyncIterator[str]:
    """`app` on a real socket of 127.0.0.1; yields its http:// base URL."""
    running = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(running.serve())
    try:
        for _ in range(200):
            if running.started:
                break
            await asyncio.sleep(0.025)
        assert running.started
        port = running.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        running.should_exit = True
        await asyncio.wait_for(task, 10)


async def test_given_a_signed_deal_when_posted_then_the_rep_hears_it_live_and_gets_pushed(
    burst: Burst,
    pool: ArqRedis,
    database_url: str,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
):
    tenant = await make_tenant(slug="acme")
    ana = await make_user(tenant=tenant, external_id="ana")
    await assign(user=ana, plan=await publish_plan(tenant=tenant, document=AE_PLAN))
    await set_quota(user=ana, value="100000")
    await register_device(viewer=viewer_of(ana), token="ana-phone", platform=DevicePlatform.IOS)
    app = create_app(Settings(database_url=database_url, redis_url=redis_url))
    body = body_of(deal("evt-1", "opp-1", rep="ana", amount="85000", on="2026-10-05"))
    listening = Redis.from_url(redis_url)

    async with (
        fcm_standin() as fcm,
        serving(app) as base,
        subscribed(
            base.replace("http://", "ws://") + "/graphql",
            {"Authorization": f"Bearer {mint_token(tenant, ana)}"},
        ) as ws,
    ):
        app.state.job_queue = JobQueue(pool)  # the queue this test's worker listens to
        await until_listening(listening, earnings_channel(tenant.id, ana.id))
        async with httpx.AsyncClient(base_url=base) as http:
            answer = await http.post(
                "/webhooks/crm/acme",
                content=body,
                headers=signed_headers(body, tenant.webhook_secret),
            )
        assert answer.status_code == 202
        assert answer.json()["accepted"] == 1

        monkeypatch.setenv("FIREBASE_PROJECT_ID", PROJECT)
        monkeypatch.setenv("PODIUM_FCM_URL", fcm.url)
        monkeypatch.setenv("PODIUM_FCM_ACCESS_TOKEN", ACCESS_TOKEN)
        monkeypatch.delenv("PODIUM_ENV", raising=False)
        ctx: dict[str, Any] = {}
        await realtime_startup(ctx)  # the hooks WorkerSettings runs at start-up
        try:
            await burst(ctx=ctx)
        finally:
            await realtime_shutdown(ctx)
        live = await receive(ws)
    await listening.aclose()

    # 85,000 of a 100,000 quota: 2% of 50,000 + 5% of 35,000 = 2,750, spiff 1% = 850
    assert live["type"] == "next"
    update = live["payload"]["data"]["earningsUpdated"]
    assert update["period"] == "2026-10"
    assert update["total"] == {"amount": "3600.00", "currency": "EUR", "formatted": "€3,600.00"}
    assert update["payable"]["amount"] == "3600.00"
    assert update["pending"]["amount"] == "0.00"
    # 50% and 80% of quota crossed, commission tier 2 reached, earnings payable: each pushed
    # once to the registered phone and kept in the in-app inbox
    pushed = [m for m in fcm.messages if m["token"] == "ana-phone"]
    assert sorted(m["data"]["kind"] for m in pushed) == sorted(
        n.kind for n in await Notification.filter(user_id=ana.id)
    )
    assert len(pushed) == 4
    assert all(m["data"]["period"] == "2026-10" for m in pushed)
    assert await Device.filter(user_id=ana.id).count() == 1
