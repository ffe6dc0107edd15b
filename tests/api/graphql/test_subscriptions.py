"""`earningsUpdated` end to end: a real uvicorn on 127.0.0.1 (in this event loop), real
websockets speaking graphql-transport-ws, real Redis pub/sub, the worker's publish hook.

A rep receives their own updates, to the cent, and nobody else's: not a colleague's, not
another tenant's. A connection_init without a valid token is closed with 4403.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from graphql import print_ast
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from api.app import api_client_name, create_app
from api.settings import Settings
from domain.notifications.channels import earnings_channel
from domain.org.models import User
from domain.tenants.models import Tenant
from tests.api.graphql import helpers as h
from tests.api.graphql.test_contract import operation_document
from tests.domain.notifications.plans import AE_PLAN
from workers.heartbeat import beat_once
from workers.realtime import publish_earnings

ON_EARNINGS = print_ast(operation_document("OnEarnings"))
PROTOCOL = "graphql-transport-ws"
PERIOD = "2026-10"


@asynccontextmanager
async def server(settings: Settings) -> AsyncIterator[str]:
    """The app on a real socket; yields its ws:// URL."""
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=0, log_level="warning", lifespan="on"
    )
    running = uvicorn.Server(config)
    task = asyncio.create_task(running.serve())
    try:
        for _ in range(200):
            if running.started:
                break
            await asyncio.sleep(0.025)
        assert running.started
        port = running.servers[0].sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        running.should_exit = True
        await asyncio.wait_for(task, 10)


@dataclass
class People:
    acme: Tenant
    ana: User
    bob: User
    globex: Tenant
    carol: User


async def people() -> People:
    acme, globex = await h.tenant("acme"), await h.tenant("globex")
    ana = await h.person(acme, "ana", locale="de-DE")
    bob = await h.person(acme, "bob")
    carol = await h.person(globex, "carol")
    versions = {
        t.id: await h.publish(t, AE_PLAN, effective_from=date(2026, 10, 1)) for t in (acme, globex)
    }
    for t, rep, amount in ((acme, ana, "12345.67"), (acme, bob, "1000"), (globex, carol, "500")):
        await h.assign(t, versions[t.id], rep, date(2026, 10, 1))
        await h.quota(t, rep, PERIOD, "100000")
        await h.deal(t, rep, f"{rep.external_id}-1", amount, date(2026, 10, 5))
        await h.recompute(t, rep, PERIOD)
    return People(acme, ana, bob, globex, carol)


async def receive(ws: ClientConnection, wait: float = 5.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), wait))


async def nothing_within(ws: ClientConnection, wait: float = 0.5) -> bool:
    try:
        await asyncio.wait_for(ws.recv(), wait)
    except TimeoutError:
        return True
    return False


async def listeners(redis: Redis, channel: str) -> int:
    counts = await redis.pubsub_numsub(channel)
    return int(counts[0][1])


async def until_listening(redis: Redis, channel: str, count: int = 1) -> None:
    for _ in range(200):
        if await listeners(redis, channel) == count:
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"{channel} never had {count} listener(s)")


@asynccontextmanager
async def subscribed(url: str, init: dict[str, Any]) -> AsyncIterator[ClientConnection]:
    async with connect(url, subprotocols=[PROTOCOL]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": init}))
        assert await receive(ws) == {"type": "connection_ack"}
        await ws.send(
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": ON_EARNINGS}})
        )
        yield ws


def bearer(t: Tenant, user: User) -> str:
    return f"Bearer {h.token(t, user)}"


async def test_given_three_listeners_when_each_rep_is_published_then_each_gets_only_their_own(
    db: str, redis: Redis, settings: Settings
):
    p = await people()
    ctx = {"redis": redis}

    async with (
        server(settings) as url,
        subscribed(url, {"Authorization": bearer(p.acme, p.ana)}) as ana,
        subscribed(url, {"authorization": bearer(p.acme, p.bob)}) as bob,
        subscribed(url, {"Authorization": bearer(p.globex, p.carol)}) as carol,
    ):
        for t, rep in ((p.acme, p.ana), (p.acme, p.bob), (p.globex, p.carol)):
            await until_listening(redis, earnings_channel(t.id, rep.id))

        await publish_earnings(ctx, tenant_id=p.acme.id, user_id=p.ana.id, period=PERIOD)
        got = await receive(ana)

        assert got["type"] == "next"
        assert got["id"] == "1"
        assert got["payload"] == {
            "data": {
                "earningsUpdated": {
                    "period": PERIOD,
                    # 12345.67 x 2% = 246.9134, spiff 123.4567: 370.3701 -> 370.37
                    "total": {"amount": "370.37", "currency": "EUR", "formatted": "370,37\u00a0€"},
                    "payable": {
                        "amount": "370.37",
                        "currency": "EUR",
                        "formatted": "370,37\u00a0€",
                    },
                    "pending": {"amount": "0.00", "currency": "EUR", "formatted": "0,00\u00a0€"},
                }
            }
        }
        assert await nothing_within(bob)
        assert await nothing_within(carol, 0.1)

        await publish_earnings(ctx, tenant_id=p.acme.id, user_id=p.bob.id, period=PERIOD)
        bobs = await receive(bob)

        assert bobs["payload"]["data"]["earningsUpdated"]["total"]["formatted"] == "€30.00"
        assert await nothing_within(ana)
        assert await nothing_within(carol, 0.1)


async def test_given_a_payload_naming_someone_else_on_a_reps_channel_then_it_is_dropped(
    db: str, redis: Redis, settings: Settings
):
    p = await people()
    ana_channel = earnings_channel(p.acme.id, p.ana.id)
    forged = json.dumps(
        {
            "tenant_id": str(p.acme.id),
            "user_id": str(p.bob.id),
            "period": PERIOD,
            "currency": "EUR",
            "total": "1",
            "payable": "1",
            "pending": "0",
            "updated_at": None,
        }
    )

    async with (
        server(settings) as url,
        subscribed(url, {"Authorization": bearer(p.acme, p.ana)}) as ana,
    ):
        await until_listening(redis, ana_channel)
        await redis.publish(ana_channel, forged)
        await redis.publish(ana_channel, "not json")

        assert await nothing_within(ana)


async def test_given_a_subscription_when_completed_or_closed_then_the_channel_is_left(
    db: str, redis: Redis, settings: Settings
):
    p = await people()
    channel = earnings_channel(p.acme.id, p.ana.id)

    async with server(settings) as url:
        async with subscribed(url, {"Authorization": bearer(p.acme, p.ana)}) as ana:
            await until_listening(redis, channel)
            await ana.send(json.dumps({"id": "1", "type": "complete"}))
            await until_listening(redis, channel, 0)
            await ana.send(
                json.dumps({"id": "2", "type": "subscribe", "payload": {"query": ON_EARNINGS}})
            )
            await until_listening(redis, channel)
        await until_listening(redis, channel, 0)


@pytest.mark.parametrize(
    "init",
    [
        {},
        {"Authorization": "Bearer not-a-jwt"},
        {"authorization": "Basic YW5hOnB3"},
        {"Authorization": 42},
    ],
    ids=["no-token", "bad-token", "not-bearer", "not-a-string"],
)
async def test_given_no_valid_token_at_connection_init_then_closed_4403(
    db: str, redis: Redis, settings: Settings, init: dict[str, Any]
):
    await people()

    async with server(settings) as url, connect(url, subprotocols=[PROTOCOL]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": init}))
        with pytest.raises(ConnectionClosed) as closed:
            await receive(ws)

    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403


async def test_given_an_expired_token_then_closed_4403_and_never_subscribed(
    db: str, redis: Redis, settings: Settings
):
    p = await people()
    expired = h.token(p.acme, p.ana, ttl=-timedelta(hours=1))

    async with server(settings) as url, connect(url, subprotocols=[PROTOCOL]) as ws:
        await ws.send(
            json.dumps(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {expired}"}}
            )
        )
        with pytest.raises(ConnectionClosed) as closed:
            await receive(ws)

    assert closed.value.rcvd.code == 4403
    assert await listeners(redis, earnings_channel(p.acme.id, p.ana.id)) == 0


async def test_given_subscribe_before_connection_init_then_closed_4401(
    db: str, redis: Redis, settings: Settings
):
    async with server(settings) as url, connect(url, subprotocols=[PROTOCOL]) as ws:
        await ws.send(
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": ON_EARNINGS}})
        )
        with pytest.raises(ConnectionClosed) as closed:
            await receive(ws)

    assert closed.value.rcvd.code == 4401


async def test_given_a_subscription_over_http_then_400_pointing_to_websocket(
    db: str, redis: Redis, settings: Settings
):
    p = await people()
    app = create_app(settings)

    async with h.serve(app) as http:
        response = await http.post(
            "/graphql",
            json={"query": ON_EARNINGS},
            headers={"Authorization": bearer(p.acme, p.ana)},
        )

    assert response.status_code == 400
    assert "subscriptions are not allowed when using POST" in response.text


async def pubsub_clients(redis: Redis) -> int:
    """The pub/sub clients of this process's API servers (the Redis server is shared with
    other test processes, whose servers have names of their own)."""
    mine = api_client_name()
    return sum(
        1 for c in await redis.client_list() if int(c.get("sub", 0)) > 0 and c.get("name") == mine
    )


async def test_given_one_rep_with_60_sockets_then_one_redis_pubsub_client_and_the_cap_refuses(
    db: str, redis: Redis, settings: Settings
):
    p = await people()
    cap = settings.limits.max_subscriptions_per_person
    ana_channel = earnings_channel(p.acme.id, p.ana.id)

    async with server(settings) as url, AsyncExitStack() as stack:
        sockets = [
            await stack.enter_async_context(
                subscribed(url, {"Authorization": bearer(p.acme, p.ana)})
            )
            for _ in range(60)
        ]
        bob = await stack.enter_async_context(
            subscribed(url, {"Authorization": bearer(p.acme, p.bob)})
        )
        await until_listening(redis, ana_channel)
        await until_listening(redis, earnings_channel(p.acme.id, p.bob.id))
        first = await asyncio.gather(*(receive(ws, 1.5) for ws in sockets), return_exceptions=True)
        refused = [m for m in first if isinstance(m, dict)]
        waiting = [ws for ws, m in zip(sockets, first, strict=True) if not isinstance(m, dict)]

        assert len(waiting) == cap
        assert len(refused) == 60 - cap
        for message in refused:
            # an execution error of graphql-transport-ws: `next` with errors, then `complete`
            assert message["type"] == "next", message
            (error,) = message["payload"]["errors"]
            assert error["extensions"] == {"code": "TOO_MANY_SUBSCRIPTIONS", "max": cap}
            assert f"at most {cap} live subscriptions" in error["message"]
        assert await pubsub_clients(redis) == 1
        assert await listeners(redis, ana_channel) == 1
        http = url.replace("ws://", "http://").removesuffix("/graphql")
        await beat_once(redis)  # /ready also wants a live worker
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{http}/ready")).status_code == 200

        await publish_earnings(
            {"redis": redis}, tenant_id=p.acme.id, user_id=p.ana.id, period=PERIOD
        )
        updates = await asyncio.gather(*(receive(ws) for ws in waiting))

        assert {u["type"] for u in updates} == {"next"}
        assert {u["payload"]["data"]["earningsUpdated"]["total"]["amount"] for u in updates} == {
            "370.37"
        }
        assert await nothing_within(bob, 0.2)

        # a completed subscription frees its place under the cap
        late = next(ws for ws in sockets if ws not in waiting)
        assert (await receive(late))["type"] == "complete"  # after its refusal
        await waiting[0].send(json.dumps({"id": "1", "type": "complete"}))
        await late.send(
            json.dumps({"id": "2", "type": "subscribe", "payload": {"query": ON_EARNINGS}})
        )
        await asyncio.sleep(0.3)
        await publish_earnings(
            {"redis": redis}, tenant_id=p.acme.id, user_id=p.ana.id, period=PERIOD
        )
        again = await receive(late)
        assert (again["id"], again["type"]) == ("2", "next")
        assert "errors" not in again["payload"]


@pytest.mark.parametrize(
    "message",
    ["[" * 100_000 + "]" * 100_000, '{"type": "ping", "payload": {"a": "\\u0000"}}', "null x"],
    ids=["deep", "nul", "not-json"],
)
async def test_given_a_hostile_message_on_a_socket_then_closed_4400_and_the_server_lives(
    db: str, redis: Redis, settings: Settings, message: str
):
    p = await people()

    async with server(settings) as url:
        async with subscribed(url, {"Authorization": bearer(p.acme, p.ana)}) as ws:
            await ws.send(message)
            with pytest.raises(ConnectionClosed) as closed:
                await receive(ws)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 4400
        async with subscribed(url, {"Authorization": bearer(p.acme, p.ana)}):
            await until_listening(redis, earnings_channel(p.acme.id, p.ana.id))


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        ("subscription { nope }", {}, "GRAPHQL_VALIDATION_FAILED"),
        ('subscription { leaderboardChanged(id: "\\u0000") { id } }', {}, "BAD_USER_INPUT"),
        ("subscription($id: ID!) { leaderboardChanged(id: $id) { id } }", {}, "BAD_USER_INPUT"),
    ],
)
async def test_given_a_subscription_graphql_refuses_then_an_error_message_coded_by_the_step(
    db: str, settings: Settings, query: str, variables: dict[str, Any], code: str
):
    """On the socket as over HTTP, a refused request is answered with its coded errors (the
    ones our parsing raises got a bare "complete" before), and the socket stays usable."""
    p = await people()

    async with server(settings) as url, connect(url, subprotocols=[PROTOCOL]) as ws:
        init = {"type": "connection_init", "payload": {"Authorization": bearer(p.acme, p.ana)}}
        await ws.send(json.dumps(init))
        assert await receive(ws) == {"type": "connection_ack"}
        payload = {"query": query, "variables": variables}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        answer = await receive(ws)
        await ws.send(
            json.dumps({"id": "2", "type": "subscribe", "payload": {"query": ON_EARNINGS}})
        )
        still = await nothing_within(ws)

    assert answer["type"] == "error", answer
    assert [e["extensions"]["code"] for e in answer["payload"]] == [code], answer
    assert still  # subscribed, no error, nothing published yet


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("subscription { earningsUpdated { ", "Syntax Error: Expected Name, found <EOF>."),
        ("subscription { " + "a " * 5000 + "}", "Syntax Error: Document contains more than 4000"),
    ],
)
async def test_given_a_subscription_that_does_not_parse_then_closed_4400_naming_the_error(
    db: str, settings: Settings, query: str, reason: str
):
    """graphql-transport-ws: an invalid subscribe message closes the socket 4400 (strawberry's
    answer to a syntax error); before, the client got a bare "complete"."""
    p = await people()

    async with server(settings) as url, connect(url, subprotocols=[PROTOCOL]) as ws:
        init = {"type": "connection_init", "payload": {"Authorization": bearer(p.acme, p.ana)}}
        await ws.send(json.dumps(init))
        assert await receive(ws) == {"type": "connection_ack"}
        payload = {"query": query}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        with pytest.raises(ConnectionClosed) as closed:
            await receive(ws)

    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4400
    assert closed.value.rcvd.reason.startswith(reason)
