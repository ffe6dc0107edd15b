"""`leaderboardChanged` over a real websocket (uvicorn on 127.0.0.1, graphql-transport-ws,
Redis pub/sub): a recompute that moves the board pushes the board with its new ranks; a
burst of changes is folded into a few pushes; another team's board cannot be followed."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from graphql import print_ast
from redis.asyncio import Redis
from websockets.asyncio.client import connect

from api.settings import Settings
from domain.org.models import Role
from gamification.leaderboards.service import create_leaderboard, rebuild_board
from gamification.leaderboards.store import BoardStore, board_channel
from tests.api.graphql import helpers as h
from tests.api.graphql.test_contract import operation_document
from tests.api.graphql.test_subscriptions import (
    PROTOCOL,
    bearer,
    nothing_within,
    receive,
    server,
    until_listening,
)
from workers.tasks.leaderboards import update_leaderboards

ON_BOARD = print_ast(operation_document("OnLeaderboard"))


async def follow(ws: Any, board_id: str, sub: str = "1", init: str | None = None) -> None:
    """connection_init with ``init`` (a bearer; none: already initialised), then subscribe."""
    if init is not None:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": init}}))
        assert await receive(ws) == {"type": "connection_ack"}
    payload = {"query": ON_BOARD, "variables": {"id": board_id}}
    await ws.send(json.dumps({"id": sub, "type": "subscribe", "payload": payload}))


def not_found(message: dict[str, Any]) -> bool:
    """The subscription's error (strawberry sends it as a `next` carrying errors)."""
    errors = message["payload"]["errors"] if message["type"] == "next" else message["payload"]
    return [e["extensions"]["code"] for e in errors] == ["NOT_FOUND"]


async def test_given_a_follower_when_a_recompute_moves_the_board_then_pushed_coalesced(
    db: str, redis: Redis, settings: Settings
):
    t = await h.tenant("acme")
    north = await h.person(t, "mgr-north", role=Role.MANAGER)
    south = await h.person(t, "mgr-south", role=Role.MANAGER)
    period = h.this_period()
    version = await h.publish(t, effective_from=period.start)
    reps = {}
    for name, manager in (("ana", north), ("ben", north), ("cy", south)):
        rep = reps[name] = await h.person(t, name, manager=manager)
        await h.assign(t, version, rep, period.start)
        await h.quota(t, rep, period.id, "40000")
        await h.deal(t, rep, f"{name}-1", "1000", period.start)
        await h.recompute(t, rep, period.id)
    board = await create_leaderboard(
        viewer=h.system(t), name="North", metric="bookings", period_kind="month",
        team_id=north.id,
    )  # fmt: skip
    await rebuild_board(store=BoardStore(redis), board=board)
    ctx: dict[str, Any] = {"redis": redis}

    async with server(settings) as url, connect(url, subprotocols=[PROTOCOL]) as ws:
        await follow(ws, str(board.id), init=bearer(t, reps["ana"]))
        await until_listening(redis, board_channel(board.id))

        await h.deal(t, reps["ben"], "ben-2", "5000", period.start)
        await h.recompute(t, reps["ben"], period.id)
        await update_leaderboards(ctx, tenant_id=t.id, user_id=reps["ben"].id, period=period.id)
        pushed = await receive(ws)

        entries = pushed["payload"]["data"]["leaderboardChanged"]["entries"]
        assert [(e["rank"], e["rep"]["displayName"], e["score"]) for e in entries] == [
            (1, "Ben", "6000.00"),
            (2, "Ana", "1000.00"),
        ]
        # twenty changes at once: folded into at most two pushes (one per 250 ms)
        for _ in range(20):
            await redis.publish(board_channel(board.id), str(board.id))
        pushes = 0
        while not await nothing_within(ws, 0.6):
            pushes += 1
        assert 1 <= pushes <= 2

        await follow(ws, "00000000-0000-0000-0000-000000000000", sub="2")
        assert not_found(await receive(ws))

    async with server(settings) as url, connect(url, subprotocols=[PROTOCOL]) as ws:
        await follow(ws, str(board.id), init=bearer(t, reps["cy"]))
        assert not_found(await receive(ws))  # another team's board: as if it did not exist
        await asyncio.sleep(0)
