"""`leaderboardChanged` over a real websocket (uvicorn on 127.0.0.1, graphql-transport-ws,
Redis pub/sub): a recompute that moves the board pushes the board with its new ranks; other
people's churn is folded into at most a push per 1 s; a change of the follower's own entry
is pushed at once, and a burst of them a gap apart; the last change is always pushed; another
team's board cannot be followed."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any

import pytest
from graphql import print_ast
from redis.asyncio import Redis
from websockets.asyncio.client import connect

from api.graphql.gamification.leaderboards import subscriptions
from api.settings import Settings
from domain.kit.periods import Period
from domain.org.models import Role, User
from domain.tenants.models import Tenant
from gamification.leaderboards.models import Leaderboard
from gamification.leaderboards.service import create_leaderboard, rebuild_board
from gamification.leaderboards.store import BoardStore, board_channel, board_key
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


@dataclass
class North:
    """A tenant's board of the north team (ana and ben; cy is in the south team), its
    month, and a writer of scores as the workers write them."""

    t: Tenant
    board: Leaderboard
    period: Period
    reps: dict[str, User]
    store: BoardStore

    async def score(self, name: str, cents: int) -> None:
        """Set a rep's score and announce the board naming them (`BoardStore.update`, as the
        workers' after-recompute step does)."""
        rep = str(self.reps[name].id)
        key = board_key(self.board.id, self.period.id)
        await self.store.update({key: {rep: cents}}, announce={self.board.id: [rep]})


async def north(redis: Redis) -> North:
    t = await h.tenant("acme")
    managers = {
        "north": await h.person(t, "mgr-north", role=Role.MANAGER),
        "south": await h.person(t, "mgr-south", role=Role.MANAGER),
    }
    period = h.this_period()
    version = await h.publish(t, effective_from=period.start)
    reps = {}
    for name, team in (("ana", "north"), ("ben", "north"), ("cy", "south")):
        rep = reps[name] = await h.person(t, name, manager=managers[team])
        await h.assign(t, version, rep, period.start)
        await h.quota(t, rep, period.id, "40000")
        await h.deal(t, rep, f"{name}-1", "1000", period.start)
        await h.recompute(t, rep, period.id)
    board = await create_leaderboard(
        viewer=h.system(t), name="North", metric="bookings", period_kind="month",
        team_id=managers["north"].id,
    )  # fmt: skip
    store = BoardStore(redis)
    await rebuild_board(store=store, board=board)
    return North(t, board, period, reps, store)


def shown(message: dict[str, Any]) -> list[tuple[int, str, str]]:
    """A push's entries: (rank, display name, score)."""
    assert message["type"] == "next", message
    entries = message["payload"]["data"]["leaderboardChanged"]["entries"]
    return [(e["rank"], e["rep"]["displayName"], e["score"]) for e in entries]


async def pushes_until_quiet(ws: Any, quiet: float) -> list[tuple[float, dict[str, Any]]]:
    """Every push until none came for ``quiet`` seconds: (arrival, message); run it as a
    task beside what makes the pushes, or they arrive while nobody reads."""
    loop = asyncio.get_running_loop()
    found = []
    while True:
        try:
            message = await receive(ws, quiet)
        except TimeoutError:
            return found
        found.append((loop.time(), message))


async def test_given_a_follower_when_a_recompute_moves_the_board_then_pushed_coalesced(
    db: str, redis: Redis, settings: Settings
):
    w = await north(redis)

    async with server(settings) as url, connect(url, subprotocols=[PROTOCOL]) as ws:
        await follow(ws, str(w.board.id), init=bearer(w.t, w.reps["ana"]))
        await until_listening(redis, board_channel(w.board.id))

        await h.deal(w.t, w.reps["ben"], "ben-2", "5000", w.period.start)
        await h.recompute(w.t, w.reps["ben"], w.period.id)
        await update_leaderboards(
            {"redis": redis}, tenant_id=w.t.id, user_id=w.reps["ben"].id, period=w.period.id
        )
        assert shown(await receive(ws)) == [(1, "Ben", "6000.00"), (2, "Ana", "1000.00")]

        # other people's churn: ben's score changes every 25 ms for two seconds; folded into
        # at most one push per 1 s slot, and the last change is shown
        loop = asyncio.get_running_loop()
        started = loop.time()
        reading = asyncio.create_task(pushes_until_quiet(ws, subscriptions.INTERVAL + 0.35))
        for cents in range(600001, 600081):
            await w.score("ben", cents)
            await asyncio.sleep(0.025)
        churned = loop.time() - started
        pushes = await reading
        assert 2 <= len(pushes) <= churned / subscriptions.INTERVAL + 2, len(pushes)
        assert shown(pushes[-1][1]) == [(1, "Ben", "6000.80"), (2, "Ana", "1000.00")]

        await follow(ws, "00000000-0000-0000-0000-000000000000", sub="2")
        assert not_found(await receive(ws))
        await follow(ws, "not-an-id", sub="3")  # malformed: named, not a server error
        said = await receive(ws)
        while said.get("id") != "3":  # the complete of the one before
            said = await receive(ws)
        (error,) = said["payload"]["errors"]
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "id"}
        assert "'not-an-id' is not an id" in error["message"]

    async with server(settings) as url, connect(url, subprotocols=[PROTOCOL]) as ws:
        await follow(ws, str(w.board.id), init=bearer(w.t, w.reps["cy"]))
        assert not_found(await receive(ws))  # another team's board: as if it did not exist
        await asyncio.sleep(0)


async def test_given_a_change_of_my_own_entry_then_pushed_at_once_and_a_burst_keeps_the_gap(
    db: str, redis: Redis, settings: Settings, monkeypatch: pytest.MonkeyPatch
):
    # other people's changes wait for a slot of a second here: a push that waited shows
    interval = 1.0
    monkeypatch.setattr(subscriptions, "INTERVAL", interval)
    w = await north(redis)
    ana = w.reps["ana"]
    await h.deal(w.t, ana, "ana-2", "9000", w.period.start)
    await h.recompute(w.t, ana, w.period.id)
    loop = asyncio.get_running_loop()  # the server's too: its slots are on this clock

    async with server(settings) as url, connect(url, subprotocols=[PROTOCOL]) as ws:
        await follow(ws, str(w.board.id), init=bearer(w.t, ana))
        await until_listening(redis, board_channel(w.board.id))
        await asyncio.sleep(interval - loop.time() % interval + 0.01)  # a slot has begun
        slot_ends = (loop.time() // interval + 1) * interval

        await w.score("ben", 200000)
        assert shown(await receive(ws)) == [(1, "Ben", "2000.00"), (2, "Ana", "1000.00")]
        await w.score("ben", 300000)  # someone else again in this slot: held for the next
        sent = loop.time()
        await update_leaderboards(  # the workers' hook, after ana's recompute
            {"redis": redis}, tenant_id=w.t.id, user_id=ana.id, period=w.period.id
        )
        mine = await receive(ws)
        arrived = loop.time()
        # at once, not at the slot's end, with ben's change held before it
        assert arrived - sent < 0.5, arrived - sent
        assert arrived < slot_ends, slot_ends - arrived
        assert shown(mine) == [(1, "Ana", "10000.00"), (2, "Ben", "3000.00")]

        # a burst of ana's own changes (every 20 ms for 0.4 s): pushed a gap apart, not
        # once a slot, and the last one shown
        reading = asyncio.create_task(pushes_until_quiet(ws, interval + 0.2))
        started = loop.time()
        for cents in range(1000001, 1000021):
            await w.score("ana", cents)
            await asyncio.sleep(0.02)
        burst = loop.time() - started
        pushes = await reading
        times = [at for at, _ in pushes]
        # the gap holds where the pushes leave the hub; their arrival adds the time each
        # push takes to read and send the board, which varies a little
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert min(gaps) >= subscriptions.MIN_GAP / 2, gaps  # not one per change (20 ms)
        assert 3 <= len(pushes) <= burst / subscriptions.MIN_GAP + 2, gaps
        assert shown(pushes[-1][1]) == [(1, "Ana", "10000.20"), (2, "Ben", "3000.00")]


# the apps' OnLeaderboard with the follower's own entry (the realtime bench's subscription)
WITH_MINE = (
    "subscription OnLeaderboardAndMine($id: ID!) { leaderboardChanged(id: $id) { id "
    "entries(first: 10) { rank score rep { id displayName } } aroundMe(radius: 0) { rank score } "
    "} }"
)


async def follow_with_mine(ws: Any, board_id: str, init: str) -> None:
    await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": init}}))
    assert await receive(ws) == {"type": "connection_ack"}
    payload = {"query": WITH_MINE, "variables": {"id": board_id}}
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))


def mine(message: dict[str, Any]) -> list[tuple[int, str]]:
    assert message["type"] == "next", message
    return [
        (e["rank"], e["score"])
        for e in message["payload"]["data"]["leaderboardChanged"]["aroundMe"]
    ]


async def test_given_a_write_that_moves_nothing_a_follower_sees_then_not_pushed_until_it_does(
    db: str, redis: Redis, settings: Settings
):
    # the workers announce everyone a recompute wrote, moved or not (a deal of another
    # month, a recompute run again): a push would show the follower what they have
    w = await north(redis)
    async with (
        server(settings) as url,
        connect(url, subprotocols=[PROTOCOL]) as ana,
        connect(url, subprotocols=[PROTOCOL]) as ben,
    ):
        await follow(ana, str(w.board.id), init=bearer(w.t, w.reps["ana"]))
        await follow_with_mine(ben, str(w.board.id), bearer(w.t, w.reps["ben"]))
        await until_listening(redis, board_channel(w.board.id))
        # both subscriptions started (the channel is listened to from the first of them on):
        # ben above ana already, below the score the test writes first
        await _first_pushes(w, [ana, ben], base=150000)

        await w.score("ben", 200000)
        assert shown(await receive(ana)) == [(1, "Ben", "2000.00"), (2, "Ana", "1000.00")]
        assert mine(await receive(ben)) == [(1, "2000.00")]
        await w.score("ben", 200000)  # written again, the same
        await w.score("ana", 100000)
        assert await nothing_within(ana, subscriptions.INTERVAL + 0.3)
        assert await nothing_within(ben, 0.05)

        await w.score("ana", 300000)  # moves what both see: pushed
        assert shown(await receive(ana)) == [(1, "Ana", "3000.00"), (2, "Ben", "2000.00")]
        assert mine(await receive(ben)) == [(2, "2000.00")]
        await w.score("ana", 300000)
        assert await nothing_within(ana, subscriptions.INTERVAL + 0.3)
        assert await nothing_within(ben, 0.05)
        await w.score("ben", 300100)
        assert shown(await receive(ana)) == [(1, "Ben", "3001.00"), (2, "Ana", "3000.00")]
        assert mine(await receive(ben)) == [(1, "3001.00")]


async def test_given_followers_pushed_at_once_then_one_redis_read_serves_their_pushes(
    db: str, redis: Redis, settings: Settings, monkeypatch: pytest.MonkeyPatch
):
    interval = 1.0  # a wide slot: the followers' pushes of other people's change come at once
    monkeypatch.setattr(subscriptions, "INTERVAL", interval)
    pages: list[tuple[int, int]] = []  # (first, neighbourhoods) of each page the API reads
    page = BoardStore.page

    async def counted(self: BoardStore, key: str, first: int, around: Any = ()) -> Any:
        pages.append((first, len(around)))
        return await page(self, key, first, around)

    monkeypatch.setattr(BoardStore, "page", counted)
    w = await north(redis)
    loop = asyncio.get_running_loop()
    async with (
        server(settings) as url,
        connect(url, subprotocols=[PROTOCOL]) as ana,
        connect(url, subprotocols=[PROTOCOL]) as ben,
        connect(url, subprotocols=[PROTOCOL]) as boss,
    ):
        await follow_with_mine(ana, str(w.board.id), bearer(w.t, w.reps["ana"]))
        await follow_with_mine(ben, str(w.board.id), bearer(w.t, w.reps["ben"]))
        await follow(boss, str(w.board.id), init=bearer(w.t, await _manager(w)))
        await until_listening(redis, board_channel(w.board.id))
        await _first_pushes(w, [ana, ben, boss])  # the first push: each learns what it shows
        await asyncio.sleep(interval - loop.time() % interval + 0.01)  # a slot has begun
        pages.clear()

        await w.score("ben", 250000)  # ben's own change, and the others' first in the slot
        assert mine(await receive(ana)) == [(2, "1000.00")]
        assert mine(await receive(ben)) == [(1, "2500.00")]
        assert shown(await receive(boss)) == [(1, "Ben", "2500.00"), (2, "Ana", "1000.00")]
        # one script for the three pushes: the top and ana's and ben's own entries
        assert pages == [(10, 2)]


async def _first_pushes(w: North, followers: list[Any], base: int = 200000) -> None:
    """Every follower's first push, then nothing pending (ben's score ``base`` and up). The
    API listens on the board's channel from its first follower on (`until_listening`), so a
    follower whose subscription was still starting misses a write: that one is pushed a later
    write's board instead."""
    pushed: set[int] = set()
    for n in range(5):
        await w.score("ben", base + n * 100)
        for ws in followers:
            if id(ws) not in pushed:
                with contextlib.suppress(TimeoutError):
                    await receive(ws, wait=2.5)
                    pushed.add(id(ws))
        if len(pushed) == len(followers):
            break
    assert len(pushed) == len(followers)
    for ws in followers:  # the pushes the later writes made (a slot of others' changes: 1 s)
        while not await nothing_within(ws, 1.2):
            pass


async def _manager(w: North) -> User:
    return await User.get(tenant_id=w.t.id, external_id="mgr-north")
