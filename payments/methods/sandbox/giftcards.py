"""A local stand-in for a Tremendous-style gift card API on 127.0.0.1: `POST /api/v2/orders`
with a Bearer key and a JSON order; idempotent by `external_id` (a repeat answers 201 with the
first order, whatever else it carries); each order recorded once. It checks the fields the
adapter must send and reads amounts as exact decimals, and can be told to refuse requests
before executing them (5xx, 429, with a Retry-After header if given: seconds or an HTTP
date), to execute and then drop the connection, to answer
late (past the client's timeout, after executing), or to garble its answer after executing
(`payments.methods.sandbox.garbled`; ``shapeless``: an order without id, ``other``: an order
for another amount).

`GET /api/v2/orders` lists orders as Tremendous does, newest first, filtered by
`external_id` (and `limit`, `offset`), as `{"orders": [...], "total_count": n}`; its own
faults: ``refuse_list`` (statuses, with a Retry-After header if given, as ``refuse``; the
reward and order GETs share it), ``garble_list`` (the same ways, ``shapeless`` a list
without its orders, ``other`` one ignoring the filter: another external id's order, or a
test's own JSON served instead). `forget` makes it what a provider whose external ids are
no longer idempotent is (a Tremendous-like API without that promise): the same external id
orders again; `decide` approves (or cancels) orders held for approval, as its dashboard
does. Orders asked are in ``requests``, lists in ``lookups``. The tests serve it in
their own event loop (`running`), `podium dev` as the demo's gift card sandbox.

`GET /api/v2/rewards/{id}` answers a reward with its `order_id` (404 for one it never made).
`deliver` sets rewards' delivery status (FAILED: the e-mail bounced; SUCCEEDED), and
`send_webhook` posts an event to a URL over real HTTP the way the provider does: a JSON body
naming the event, its uuid and the resource (id and type, never its state), signed with
HMAC-SHA256 of the raw body under the webhook's private key, hex, in
`Tremendous-Webhook-Signature: sha256=<hex>`. Events sent are in ``webhooks``."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
from aiohttp import web

from payments.methods.sandbox import garbled, served

EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass
class GiftCardStandIn:
    api_key: str = "tremendous_standin_key"
    products: set[str] = field(default_factory=lambda: {"OKMHM2X2OHYV", "Q24BD9EZ332Y"})
    delivery: str = "SCHEDULED"  # what new rewards' delivery status is
    status: str = "EXECUTED"  # what new orders' status is (PENDING_APPROVAL: held for approval)
    orders: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    # the next requests refused: a status, or a status and the Retry-After header it carries
    refuse: list[int | tuple[int, str]] = field(default_factory=list)
    drop: int = 0
    late: float = 0.0  # seconds to wait after executing, before answering
    garble: list[str] = field(default_factory=list)  # how the next answers are garbled
    lookups: list[dict[str, Any]] = field(default_factory=list)  # each list of orders asked
    # the next lists (and reward or order GETs) refused, as ``refuse``
    refuse_list: list[int | tuple[int, str]] = field(default_factory=list)
    # how the next lists are garbled: a mode, or a JSON document served instead
    garble_list: list[str | dict[str, Any]] = field(default_factory=list)
    url: str = ""
    webhook_secret: str = "tremendous_standin_webhook_private_key"
    webhooks: list[dict[str, Any]] = field(default_factory=list)  # each event sent
    _by_external_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/v2/orders", self._order)
        app.router.add_get("/api/v2/orders", self._list)
        app.router.add_get("/api/v2/rewards/{id}", self._reward)
        app.router.add_get("/api/v2/orders/{id}", self._one_order)
        return app

    def deliver(self, status: str, *order_ids: str) -> None:
        """The rewards' e-mail delivery of the orders named (all, when none is) becomes
        ``status``: FAILED (bounced), SUCCEEDED (delivered)."""
        for order in self.orders:
            if not order_ids or order["id"] in order_ids:
                for reward in order["rewards"]:
                    reward["delivery"]["status"] = status

    def reward_of(self, order_id: str) -> str:
        return str(next(o for o in self.orders if o["id"] == order_id)["rewards"][0]["id"])

    async def send_webhook(
        self,
        url: str,
        event: str,
        resource_id: str,
        *,
        event_id: str | None = None,
        secret: str | None = None,
        body: bytes | None = None,
    ) -> httpx.Response:
        """POSTs ``event`` about ``resource_id`` (an order for ORDERS.*, a reward for
        REWARDS.*) to ``url`` as the provider does, signed with ``secret`` (the stand-in's
        webhook private key unless given); ``body`` replaces the event (a test's own bytes,
        signed all the same). A redelivery sends the same ``event_id``."""
        kind = "orders" if event.startswith("ORDERS.") else "rewards"
        document = {
            "event": event,
            "uuid": event_id or str(uuid.uuid4()),
            "created_utc": "2026-12-07T09:00:00.000Z",
            "payload": {"resource": {"id": resource_id, "type": kind}, "meta": {}},
        }
        # compact JSON, as the provider (a Ruby app: ``to_json``) writes and signs it
        raw = body if body is not None else json.dumps(document, separators=(",", ":")).encode()
        signature = sign(raw, secret if secret is not None else self.webhook_secret)
        self.webhooks.append({"event": event, "resource": resource_id, "body": raw})
        async with httpx.AsyncClient(timeout=30) as client:
            return await client.post(url, content=raw, headers={
                "Content-Type": "application/json", "Tremendous-Webhook-Signature": signature,
            })  # fmt: skip

    async def _reward(self, request: web.Request) -> web.StreamResponse:
        """`GET /api/v2/rewards/{id}`: the reward with its order's id."""
        if (refused := self._refused(request)) is not None:
            return refused
        for order in self.orders:
            for reward in order["rewards"]:
                if reward["id"] == request.match_info["id"]:
                    return web.json_response({"reward": {**reward, "order_id": order["id"]}})
        return _error(404, "Reward not found")

    async def _one_order(self, request: web.Request) -> web.StreamResponse:
        """`GET /api/v2/orders/{id}`: the order."""
        if (refused := self._refused(request)) is not None:
            return refused
        for order in self.orders:
            if order["id"] == request.match_info["id"]:
                return web.json_response({"order": order})
        return _error(404, "Order not found")

    def _refused(self, request: web.Request) -> web.Response | None:
        """What a GET of one reward or order answers before it looks: 401 for a bad API
        key, or the failure the stand-in was told to give next."""
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _error(401, "Bad API key")
        if self.refuse_list:
            return _told_to_fail(self.refuse_list.pop(0))
        return None

    def decide(self, status: str, *order_ids: str) -> None:
        """What the provider's dashboard does to orders held for approval: the orders named
        (all, when none is) become ``status`` (EXECUTED once approved, CANCELED if not)."""
        for order in self.orders:
            if not order_ids or order["id"] in order_ids:
                order["status"] = status

    def forget(self) -> None:
        """The external ids of the orders made so far are no longer idempotent: the same
        one orders again (the orders stay, and are listed)."""
        self._by_external_id.clear()

    async def _list(self, request: web.Request) -> web.StreamResponse:
        """`GET /api/v2/orders?external_id=...&limit=...&offset=...`: the orders (of that
        external id), newest first, as Tremendous lists them."""
        self.lookups.append({"headers": dict(request.headers), "query": dict(request.query),
                             "at": asyncio.get_running_loop().time()})  # fmt: skip
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _error(401, "Bad API key")
        known = {"external_id", "campaign_id", "created_at[gte]", "created_at[lte]", "offset",
                 "limit"}  # fmt: skip
        if unknown := set(request.query) - known:
            return _error(400, f"unknown parameter {sorted(unknown)[0]}")
        limit, offset = request.query.get("limit", "10"), request.query.get("offset", "0")
        if not (limit.isdigit() and 1 <= int(limit) <= 500 and offset.isdigit()):
            return _error(400, "limit must be 1 to 500, offset a count")
        if self.refuse_list:
            return _told_to_fail(self.refuse_list.pop(0))
        found = [
            o for o in reversed(self.orders)
            if o["external_id"] == request.query.get("external_id", o["external_id"])
        ]  # fmt: skip
        page = found[int(offset) : int(offset) + int(limit)]
        answer: dict[str, Any] = {"orders": page, "total_count": len(found)}
        if not self.garble_list:
            return web.json_response(answer)
        how = self.garble_list.pop(0)
        if isinstance(how, dict):
            return web.json_response(how)
        if how == "shapeless":
            answer = {"total_count": len(found)}
        elif how == "other":  # the filter ignored: another external id's order listed
            other = {**(page or self.orders or [{"id": "ORD0000000000", "rewards": []}])[0],
                     "external_id": "someone-else"}  # fmt: skip
            answer = {"orders": [other, *page], "total_count": len(page) + 1}
        return await garbled(request, how, answer)

    async def _order(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        self.requests.append({"headers": dict(request.headers), "body": raw,
                              "at": asyncio.get_running_loop().time()})  # fmt: skip
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _error(401, "Bad API key")
        if request.content_type != "application/json":
            return _error(400, "JSON bodies only")
        try:
            order = json.loads(raw, parse_float=Decimal)
            problem = self._problem(order)
        except (ValueError, AttributeError, TypeError, KeyError) as exc:
            problem = f"unreadable order: {exc}"
        if problem:
            return _error(400, problem)
        if self.refuse:
            return _told_to_fail(self.refuse.pop(0))
        external_id = order["external_id"]
        first = self._by_external_id.get(external_id)
        if first is None:
            reward = order["reward"]
            first = {
                "id": f"ORD{next(self._ids):010d}",
                "external_id": external_id,
                "status": self.status,
                "payment": {"total": str(reward["value"]["denomination"])},
                "rewards": [{
                    "id": f"RWD{next(self._ids):010d}",
                    "value": {"denomination": str(reward["value"]["denomination"]),
                              "currency_code": reward["value"]["currency_code"]},
                    "recipient": reward["recipient"],
                    "delivery": {"method": "EMAIL", "status": self.delivery},
                }],
            }  # fmt: skip
            self._by_external_id[external_id] = first
            self.orders.append(first)
        if self.drop:
            self.drop -= 1
            assert request.transport is not None
            request.transport.close()
            raise web.HTTPException()
        if self.late:
            await asyncio.sleep(self.late)
        if self.garble:
            how = self.garble.pop(0)
            order = {k: v for k, v in first.items() if how != "shapeless" or k != "id"}
            if how == "other":
                value = order["rewards"][0]["value"]
                other = {**value, "denomination": str(Decimal(value["denomination"]) * 100)}
                order["rewards"] = [{**order["rewards"][0], "value": other}]
            return await garbled(request, how, {"order": order})
        return web.json_response({"order": first}, status=201)

    def _problem(self, order: dict[str, Any]) -> str | None:
        if not isinstance(order.get("external_id"), str) or not order["external_id"]:
            return "external_id is required"
        if order["payment"]["funding_source_id"] != "BALANCE":
            return "unknown funding source"
        reward = order["reward"]
        value = reward["value"]["denomination"]
        if not isinstance(value, Decimal) and not isinstance(value, int):
            return "denomination must be a number"
        value = Decimal(value)
        if value <= 0 or value.as_tuple().exponent < -2:  # type: ignore[operator]
            return f"denomination {value} must be positive with at most 2 decimals"
        if not re.fullmatch(r"[A-Z]{3}", reward["value"]["currency_code"]):
            return "currency_code must be ISO 4217"
        if not reward["products"] or not set(reward["products"]) <= self.products:
            return "unknown products"
        if not EMAIL.fullmatch(reward["recipient"]["email"]) or not reward["recipient"]["name"]:
            return "recipient needs a name and an e-mail"
        if reward["delivery"]["method"] != "EMAIL":
            return "delivery method must be EMAIL"
        return None


def sign(body: bytes, private_key: str) -> str:
    """The `Tremendous-Webhook-Signature` the provider sends with ``body``: ``sha256=`` and
    the hex HMAC-SHA256 of the body under the webhook's private key."""
    return "sha256=" + hmac.new(private_key.encode(), body, hashlib.sha256).hexdigest()


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"errors": {"message": message, "payload": {}}}, status=status)


def _told_to_fail(how: int | tuple[int, str]) -> web.Response:
    """The failure the stand-in was told to give: a status, or a status and the Retry-After
    header it carries."""
    status, retry_after = how if isinstance(how, tuple) else (how, None)
    refused = _error(status, "the stand-in was told to fail this request")
    if retry_after is not None:
        refused.headers["Retry-After"] = retry_after
    return refused


@asynccontextmanager
async def running(standin: GiftCardStandIn) -> AsyncIterator[GiftCardStandIn]:
    """The stand-in served on 127.0.0.1 (a free port) while the block runs."""
    async with served(standin.app()) as address:
        standin.url = f"{address}/api/v2"
        yield standin
