"""A local stand-in for the parts of Stripe Connect Podium uses, on 127.0.0.1.

localstripe has no Connect and stripe-mock keeps no state (ECOSYSTEM.md), so this server
checks each request the way Stripe documents it: a secret key as Bearer token, form-encoded
bodies, only known parameters, the `Stripe-Account` header scoping a request to a connected
account, and idempotency: a key (at most 255 characters, scoped to the account) seen with the
same parameters replays the first response (`Idempotent-Replayed: true`), with other
parameters it is Stripe's `idempotency_error`. Transfers (platform → connected account) and
payouts (on a connected account) are recorded once each.

It can be told to fail: refuse the next requests before executing them (5xx or 429: nothing
stored, a retry may succeed), hold them unanswered and unexecuted until the client gives up
(a Stripe that times out), or execute them and then drop the connection before answering
(the client never hears; a retry with the same key gets the stored answer), or execute them
and garble the answer (`payments.methods.sandbox.garbled`; ``shapeless``: a transfer without
id, ``other``: another transfer than asked, of another amount and reference). Its lists
(`GET /v1/transfers` by group, `GET /v1/payouts` of a connected account, what a run a day
later reads) can be garbled too (``Faults.garble_list``): the same ways, ``shapeless`` a list
without its data, ``other`` a list of other objects than asked (a transfer of another group;
transfers for payouts), ``plain`` not at all (to garble a later list), or a test's own JSON
served as the answer. A refusal may carry a Retry-After header (``Faults.refuse``).

It counts the transfers it made per idempotency key and per Podium reference (the item's
`transfer_group`): more than one for either is a payment made twice. The tests serve it in
their own event loop (`running`), `podium dev` as the demo's Stripe sandbox, and `python -m
payments.methods.sandbox.stripe_connect` in a process of its own (for benchmarks), with those
counts and its CPU time at `GET /_standin/stats`."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from payments.methods.sandbox import garbled, served

TRANSFER_PARAMS = {"amount", "currency", "destination", "transfer_group", "description"}
PAYOUT_PARAMS = {"amount", "currency", "description", "statement_descriptor"}


@dataclass
class Faults:
    # the next requests refused: a status, or a status and the Retry-After header it carries
    refuse: list[int | tuple[int, str]] = field(default_factory=list)
    drop: int = 0  # the next requests executed, then the connection dropped unanswered
    hang: int = 0  # the next requests neither executed nor answered: held till the client quits
    delay: float = 0.0  # seconds each request waits before executing
    garble: list[str] = field(default_factory=list)  # how the next answers are garbled
    # how the next list answers (GET) are garbled: a mode, or a JSON document served instead
    garble_list: list[str | dict[str, Any]] = field(default_factory=list)


@dataclass
class StripeStandIn:
    api_key: str = "sk_test_podium_standin"
    accounts: set[str] = field(default_factory=set)  # connected accounts that exist
    platform_balance: dict[str, int] = field(default_factory=dict)  # currency → minor units
    transfers: list[dict[str, Any]] = field(default_factory=list)
    payouts: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)  # every request, as received
    faults: Faults = field(default_factory=Faults)
    _keys: dict[tuple[str, str], tuple[dict[str, Any], int, dict[str, Any]]] = field(
        default_factory=dict
    )
    _in_flight: set[tuple[str, str]] = field(default_factory=set)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    transfers_per_key: Counter[str] = field(default_factory=Counter)
    transfers_per_reference: Counter[str] = field(default_factory=Counter)
    url: str = ""

    # ---------------------------------------------------------------- helpers for tests

    def balance_of(self, account: str, currency: str) -> int:
        received = sum(
            t["amount"]
            for t in self.transfers
            if t["destination"] == account and t["currency"] == currency
        )
        paid_out = sum(
            p["amount"]
            for p in self.payouts
            if p["account"] == account and p["currency"] == currency
        )
        return received - paid_out

    def stats(self) -> dict[str, Any]:
        """What was asked and made; a duplicate is a second transfer for one idempotency key
        or one item (reference)."""
        return {
            "requests": len(self.requests),
            "transfers": len(self.transfers),
            "payouts": len(self.payouts),
            "duplicates_per_key": sum(n - 1 for n in self.transfers_per_key.values()),
            "duplicates_per_reference": sum(n - 1 for n in self.transfers_per_reference.values()),
            "cpu_seconds": time.process_time(),  # of the process serving it
        }

    # ---------------------------------------------------------------- the server

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/transfers", self._transfers)
        app.router.add_get("/v1/transfers", self._list_transfers)
        app.router.add_post("/v1/payouts", self._payouts)
        app.router.add_get("/v1/payouts", self._list_payouts)
        app.router.add_get("/_standin/stats", self._stats)
        return app

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    async def _transfers(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, self._create_transfer)

    def forget_keys(self) -> None:
        """What Stripe does to an idempotency key after (at least) 24 hours: forgets it, so
        the same key executes again."""
        self._keys.clear()

    async def _list_transfers(self, request: web.Request) -> web.StreamResponse:
        """`GET /v1/transfers?transfer_group=...&limit=...`: the platform's transfers of a
        group, newest first, as a Stripe list."""
        refused = self._list_refusal(request, {"transfer_group", "limit", "destination"})
        if refused is not None:
            return refused
        if request.headers.get("Stripe-Account"):
            return _error(400, "invalid_request_error",
                          "Podium lists the platform's transfers, never as a connected account",
                          None)  # fmt: skip
        found = [
            t for t in reversed(self.transfers)
            if all(t.get(k) == request.query[k] for k in ("transfer_group", "destination")
                   if k in request.query)
        ]  # fmt: skip
        return await self._list(request, "/v1/transfers", found)

    async def _list_payouts(self, request: web.Request) -> web.StreamResponse:
        """`GET /v1/payouts?limit=...` with `Stripe-Account`: the connected account's payouts,
        newest first, as a Stripe list."""
        refused = self._list_refusal(request, {"limit"})
        if refused is not None:
            return refused
        account = request.headers.get("Stripe-Account")
        if account is None or account not in self.accounts:
            return _error(400, "invalid_request_error",
                          "payouts of connected accounts need their Stripe-Account header",
                          "parameter_missing")  # fmt: skip
        found = [
            {k: v for k, v in p.items() if k != "account"}
            for p in reversed(self.payouts)
            if p["account"] == account
        ]
        return await self._list(request, "/v1/payouts", found)

    def _list_refusal(self, request: web.Request, known: set[str]) -> web.Response | None:
        self.requests.append({"path": request.path, "method": "GET",
                              "headers": dict(request.headers),
                              "body": request.query_string})  # fmt: skip
        if request.headers.get("Authorization", "") != f"Bearer {self.api_key}":
            return _error(401, "invalid_request_error", "Invalid API Key provided", None)
        unknown = set(request.query) - known
        if unknown:
            return _error(400, "invalid_request_error",
                          f"Received unknown parameter: {sorted(unknown)[0]}",
                          "parameter_unknown")  # fmt: skip
        limit = request.query.get("limit", "10")
        if not limit.isdigit() or not 1 <= int(limit) <= 100:
            return _error(400, "invalid_request_error", "limit must be 1 to 100", None)
        if self.faults.refuse:
            return _refused(self.faults.refuse.pop(0))
        return None

    async def _list(
        self, request: web.Request, url: str, found: list[dict[str, Any]]
    ) -> web.StreamResponse:
        limit = int(request.query.get("limit", "10"))
        answer: dict[str, Any] = {"object": "list", "url": url, "has_more": len(found) > limit,
                                  "data": found[:limit]}  # fmt: skip
        if not self.faults.garble_list:
            return web.json_response(answer)
        how = self.faults.garble_list.pop(0)
        if isinstance(how, dict):
            return web.json_response(how)
        if how == "shapeless":
            answer = {k: v for k, v in answer.items() if k != "data"}
        elif how == "other" and url == "/v1/transfers":  # another group's transfer
            made = answer["data"] or [{"id": "tr_00000000000000", "object": "transfer",
                                       "amount": 100, "currency": "eur"}]  # fmt: skip
            answer["data"] = [{**t, "transfer_group": "PB0-1", "amount": t["amount"] + 1}
                              for t in made]  # fmt: skip
        elif how == "other":  # transfers where payouts were asked
            answer["data"] = [{**p, "object": "transfer", "metadata": {}} for p in answer["data"]]
        return await garbled(request, how, answer)

    async def _payouts(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, self._create_payout)

    async def _handle(self, request: web.Request, create: Any) -> web.StreamResponse:
        body = await request.text()
        account = request.headers.get("Stripe-Account")
        key = request.headers.get("Idempotency-Key")
        self.requests.append({"path": request.path, "headers": dict(request.headers), "body": body})
        if self.faults.hang:
            self.faults.hang -= 1
            # aiohttp tells a handler its client left only by cancelling it, which stays off
            # here: a request the client gave up on still executes, as at Stripe
            while request.transport is not None and not request.transport.is_closing():  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            raise web.HTTPException()  # the client is gone: nothing to answer
        auth = request.headers.get("Authorization", "")
        if auth != f"Bearer {self.api_key}":
            return _error(401, "invalid_request_error", "Invalid API Key provided", None)
        if not request.headers.get("Stripe-Version"):
            return _error(400, "invalid_request_error", "a Stripe-Version header is expected", None)
        if request.content_type != "application/x-www-form-urlencoded":
            return _error(400, "invalid_request_error", "form-encoded bodies only", None)
        if key is not None and not 1 <= len(key) <= 255:
            return _error(
                400,
                "invalid_request_error",
                "Idempotency-Key must be 1 to 255 characters",
                "idempotency_key",
            )
        try:
            params = _form(body)
        except ValueError as exc:
            return _error(400, "invalid_request_error", str(exc), "parameter_invalid")
        fingerprint = {"path": request.path, "params": params}
        scope = (account or "platform", key or "")
        if key is not None and scope in self._keys:
            first_fingerprint, status, answer = self._keys[scope]
            if first_fingerprint != fingerprint:
                return _error(
                    400,
                    "idempotency_error",
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with. Try using a key other than "
                    f"'{key}' if you meant to execute a different request.",
                    None,
                )
            return web.json_response(answer, status=status, headers={"Idempotent-Replayed": "true"})
        if key is not None and scope in self._in_flight:
            return _error(
                409,
                "idempotency_error",
                "There is currently another in-progress "
                "request using this Stripe API idempotency key",
                None,
            )
        self._in_flight.add(scope)
        try:
            return await self._execute(request, scope, fingerprint, params, account, create)
        finally:
            self._in_flight.discard(scope)

    async def _execute(
        self,
        request: web.Request,
        scope: tuple[str, str],
        fingerprint: dict[str, Any],
        params: dict[str, Any],
        account: str | None,
        create: Any,
    ) -> web.StreamResponse:
        key = scope[1] or None
        if self.faults.delay:
            await asyncio.sleep(self.faults.delay)
        if self.faults.refuse:
            return _refused(self.faults.refuse.pop(0))
        status, answer = create(params, account)
        if status == 200 and answer.get("object") == "transfer":
            self.transfers_per_key[key or ""] += 1
        executed = status == 200 or answer["error"].get("code") == "balance_insufficient"
        if key is not None and executed:
            # Stripe stores a result once the request started executing (not for parameters
            # that failed validation)
            self._keys[scope] = (fingerprint, status, answer)
        if self.faults.drop:
            self.faults.drop -= 1
            assert request.transport is not None
            request.transport.close()  # executed, never answered
            raise web.HTTPException()
        if self.faults.garble and status == 200:
            how = self.faults.garble.pop(0)
            if how == "shapeless":
                answer = {k: v for k, v in answer.items() if k != "id"}
            elif how == "other":
                answer = {**answer, "amount": answer["amount"] - 1, "transfer_group": "PB0-1"}
            return await garbled(request, how, answer)
        return web.json_response(answer, status=status)

    def _check(self, params: dict[str, Any], allowed: set[str]) -> dict[str, Any] | None:
        for name in params:
            if name not in allowed and name != "metadata":
                return {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "parameter_unknown",
                        "param": name,
                        "message": f"Received unknown parameter: {name}",
                    }
                }
        metadata = params.get("metadata", {})
        if (
            not isinstance(metadata, dict)
            or len(metadata) > 50
            or any(len(k) > 40 or len(str(v)) > 500 for k, v in metadata.items())
        ):
            return _body(
                "invalid_request_error",
                "metadata: at most 50 keys of 40 characters, values of 500",
                "parameter_invalid",
                "metadata",
            )
        amount = params.get("amount")
        if not isinstance(amount, str) or not re.fullmatch(r"[1-9][0-9]{0,11}", amount):
            return _body(
                "invalid_request_error", "Invalid positive integer", "parameter_invalid", "amount"
            )
        currency = params.get("currency")
        if not isinstance(currency, str) or not re.fullmatch(r"[a-z]{3}", currency):
            return _body(
                "invalid_request_error", "Invalid currency", "parameter_invalid", "currency"
            )
        return None

    def _create_transfer(self, params: dict[str, Any], account: str | None) -> tuple[int, Any]:
        if account is not None:
            return 400, _body(
                "invalid_request_error",
                "Podium transfers from the platform, never as a connected account",
                "parameter_invalid",
                None,
            )
        refused = self._check(params, TRANSFER_PARAMS)
        if refused:
            return 400, refused
        destination = params.get("destination")
        if destination not in self.accounts:
            return 400, _body(
                "invalid_request_error",
                f"No such destination: '{destination}'",
                "resource_missing",
                "destination",
            )
        amount, currency = int(params["amount"]), params["currency"]
        available = self.platform_balance.get(currency, 0)
        if available < amount:
            return 400, _body(
                "invalid_request_error",
                "You have insufficient available funds in your Stripe account.",
                "balance_insufficient",
                None,
            )
        self.platform_balance[currency] = available - amount
        transfer = {
            "id": f"tr_{next(self._ids):014d}",
            "object": "transfer",
            "amount": amount,
            "currency": currency,
            "destination": destination,
            "transfer_group": params.get("transfer_group"),
            "description": params.get("description"),
            "metadata": params.get("metadata", {}),
            "reversed": False,
            "livemode": False,
        }
        self.transfers.append(transfer)
        self.transfers_per_reference[str(transfer["transfer_group"])] += 1
        return 200, transfer

    def _create_payout(self, params: dict[str, Any], account: str | None) -> tuple[int, Any]:
        if account is None or account not in self.accounts:
            return 400, _body(
                "invalid_request_error",
                "payouts of connected accounts need their Stripe-Account header",
                "parameter_missing",
                None,
            )
        refused = self._check(params, PAYOUT_PARAMS)
        if refused:
            return 400, refused
        amount, currency = int(params["amount"]), params["currency"]
        if self.balance_of(account, currency) < amount:
            return 400, _body(
                "invalid_request_error",
                "insufficient funds in the account",
                "balance_insufficient",
                None,
            )
        payout = {
            "id": f"po_{next(self._ids):014d}",
            "object": "payout",
            "account": account,
            "amount": amount,
            "currency": currency,
            "metadata": params.get("metadata", {}),
            "status": "pending",
            "livemode": False,
        }
        self.payouts.append(payout)
        return 200, {k: v for k, v in payout.items() if k != "account"}

    # ---------------------------------------------------------------- events, as Stripe sends

    def event(
        self, kind: str, obj: dict[str, Any], account: str | None = None, **changes: Any
    ) -> dict[str, Any]:
        """A webhook event about ``obj`` (a transfer or payout recorded here)."""
        body = {**{k: v for k, v in obj.items() if k != "account"}, **changes}
        event: dict[str, Any] = {
            "id": f"evt_{next(self._ids):014d}",
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": 1_796_000_000,
            "type": kind,
            "livemode": False,
            "data": {"object": body},
        }
        if account:
            event["account"] = account
        return event


def _body(kind: str, message: str, code: str | None, param: str | None) -> dict[str, Any]:
    error: dict[str, Any] = {"type": kind, "message": message}
    if code:
        error["code"] = code
    if param:
        error["param"] = param
    return {"error": error}


def _error(status: int, kind: str, message: str, code: str | None) -> web.Response:
    return web.json_response(_body(kind, message, code, None), status=status)


def _refused(how: int | tuple[int, str]) -> web.Response:
    """A request refused before it executed: a status, with a Retry-After header if given."""
    status, retry_after = how if isinstance(how, tuple) else (how, None)
    kind = "rate_limit_error" if status == 429 else "api_error"
    response = _error(status, kind, "the stand-in was told to fail this request", None)
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    return response


def _form(body: str) -> dict[str, Any]:
    """Stripe's form encoding: ``metadata[key]=value`` nests one level."""
    out: dict[str, Any] = {}
    for name, value in parse_qsl(body, keep_blank_values=True, strict_parsing=bool(body)):
        if m := re.fullmatch(r"([a-z_]+)\[([^\]]+)\]", name):
            out.setdefault(m[1], {})[m[2]] = value
        elif "[" in name or name in out:
            raise ValueError(f"cannot read parameter {name!r}")
        else:
            out[name] = value
    return out


@asynccontextmanager
async def running(standin: StripeStandIn) -> AsyncIterator[StripeStandIn]:
    """The stand-in served on 127.0.0.1 (a free port) while the block runs."""
    async with served(standin.app()) as address:
        standin.url = address
        yield standin


def dumps(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"))


async def serve(standin: StripeStandIn, port: int) -> None:
    """Serves until killed; the first line on stdout is the address."""
    async with served(standin.app(), port) as address:
        print(address, flush=True)  # noqa: T201
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The Stripe Connect stand-in on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a free port (printed)")
    parser.add_argument("--api-key", default=StripeStandIn.api_key)
    parser.add_argument("--balance", action="append", default=[], metavar="CUR=MINOR",
                        help="the platform's balance, e.g. eur=100000000 (repeatable)")  # fmt: skip
    parser.add_argument("--accounts", type=argparse.FileType(), default=None,
                        help="connected accounts that exist, one a line ('-': stdin)")  # fmt: skip
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port is 0 to 65535, not {args.port}")
    balance = {}
    for value in args.balance:
        currency, _, amount = value.partition("=")
        if not re.fullmatch(r"[a-z]{3}", currency) or not amount.isdigit():
            parser.error(f"--balance takes cur=minor units, not {value!r}")
        balance[currency] = int(amount)
    accounts = {line.strip() for line in args.accounts or () if line.strip()}
    standin = StripeStandIn(api_key=args.api_key, accounts=accounts, platform_balance=balance)
    try:
        asyncio.run(serve(standin, args.port))
    except KeyboardInterrupt:
        sys.exit(0)
    except OSError as exc:  # the port taken, say
        sys.stderr.write(f"stripe_connect.py: cannot serve on port {args.port}: {exc}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
