"""A board moved by signed CRM events through the real path: the webhook over HTTP on a
real uvicorn, the inbox, a real arq worker with the after-recompute hooks WorkerSettings
registers, Redis; a deal takes a rep to the top, its deletion takes them back down, and a
rep following `leaderboardChanged` over a real websocket of the same app gets both moves."""

from __future__ import annotations

import json
from typing import Any

import httpx
from arq.connections import ArqRedis
from redis.asyncio import Redis
from websockets.asyncio.client import connect

from api.app import create_app
from api.settings import Settings
from domain.kit.clock import utc_now
from domain.kit.periods import period_containing
from gamification.leaderboards.service import board_view, create_leaderboard, rebuild_board
from gamification.leaderboards.store import BoardStore, board_channel
from tests.api.graphql.helpers import token
from tests.api.graphql.test_leaderboard_subscription import follow
from tests.api.graphql.test_subscriptions import PROTOCOL, receive, until_listening
from tests.domain.builders import (
    assign,
    make_tenant,
    make_user,
    publish_plan,
    set_quota,
    system_viewer,
    viewer_of,
)
from tests.domain.notifications.plans import AE_PLAN
from tests.workers.ingest_helpers import Burst, body_of, deal, deletion, signed_headers
from tests.workers.ingest_helpers import redis_url as redis_url  # a private Redis
from tests.workers.test_end_to_end import serving
from workers.queue import JobQueue
from workers.realtime import realtime_shutdown, realtime_startup


async def test_given_signed_events_then_the_board_follows_a_deal_and_its_deletion(
    burst: Burst, pool: ArqRedis, database_url: str, redis_url: str
):
    month = period_containing(utc_now().date(), "month")
    tenant = await make_tenant(slug="acme")
    version = await publish_plan(tenant=tenant, document=AE_PLAN, effective_from=month.start)
    people = {}
    for name in ("ana", "ben"):
        people[name] = await make_user(tenant=tenant, external_id=name)
        await assign(user=people[name], plan=version, effective_from=month.start)
        await set_quota(user=people[name], value="100000", period=month.id)
    board = await create_leaderboard(
        viewer=system_viewer(tenant), name="Bookings", metric="bookings", period_kind="month"
    )
    redis = Redis.from_url(redis_url)
    store = BoardStore(redis)
    await rebuild_board(store=store, board=board)
    app = create_app(Settings(database_url=database_url, redis_url=redis_url))
    day = month.start.isoformat()

    async def post_and_work(*events: dict[str, Any]) -> None:
        body = body_of(*events)
        async with httpx.AsyncClient(base_url=base) as http:
            answer = await http.post(
                "/webhooks/crm/acme", content=body,
                headers=signed_headers(body, tenant.webhook_secret),
            )  # fmt: skip
        assert answer.status_code == 202, answer.text
        ctx: dict[str, Any] = {"push_sender": None}
        await realtime_startup(ctx)  # the hooks WorkerSettings registers
        try:
            await burst(ctx=ctx)
        finally:
            await realtime_shutdown(ctx)

    async def ranks() -> list[tuple[int, str, str]]:
        view = await board_view(
            viewer=viewer_of(people["ana"]), store=store, board_id=board.id, first=10, radius=0
        )
        names = {p.id: n for n, p in people.items()}
        return [(e.rank, names[e.user_id], str(e.score)) for e in view.entries]

    async def pushed(ws: Any) -> list[tuple[int, str, str]]:
        """The next push of the board (ranks, user names, scores as the app shows them)."""
        message = await receive(ws)
        assert message["type"] == "next", message
        entries = message["payload"]["data"]["leaderboardChanged"]["entries"]
        names = {p.display_name: n for n, p in people.items()}
        return [(e["rank"], names[e["rep"]["displayName"]], e["score"]) for e in entries]

    async with serving(app) as base:
        app.state.job_queue = JobQueue(pool)
        await post_and_work(
            deal("e1", "opp-1", rep="ana", amount="1000", on=day),
            deal("e2", "opp-2", rep="ben", amount="5000", on=day),
        )
        assert await ranks() == [(1, "ben", "5000.00"), (2, "ana", "1000.00")]

        url = base.replace("http://", "ws://") + "/graphql"
        async with connect(url, subprotocols=[PROTOCOL]) as ws:
            await follow(ws, str(board.id), init=f"Bearer {token(tenant, people['ana'])}")
            await until_listening(redis, board_channel(board.id))

            await post_and_work(deal("e3", "opp-3", rep="ana", amount="9000", on=day))
            assert await ranks() == [(1, "ana", "10000.00"), (2, "ben", "5000.00")]
            assert await pushed(ws) == [(1, "ana", "10000.00"), (2, "ben", "5000.00")]

            await post_and_work(deletion("e4", "opp-3", version=2))
            assert await ranks() == [(1, "ben", "5000.00"), (2, "ana", "1000.00")]
            assert await pushed(ws) == [(1, "ben", "5000.00"), (2, "ana", "1000.00")]
            await ws.send(json.dumps({"id": "1", "type": "complete"}))
    await redis.aclose()
