"""Gift cards: a provider interface and its adapter for a Tremendous-style REST API.

An order is idempotent by its `external_id` (a repeat answers 201 with the first order), so
the instruction's idempotency key is the order's external id: a timeout, a 5xx or a 429 is
retried with the same external id (at most ``max_attempts`` times, then Failed and retryable
with the reason), and a batch running the item again after a crash gets the first order back
instead of a second card. An executed order is paid (funded and issued; its e-mail's
delivery may follow); one waiting for approval in the provider's dashboard is submitted, and
payout ops confirm it once approved. A card whose e-mail bounced is submitted too, never failed
(it is funded: a failed item would be ordered again, a second card): payout ops correct the
address and send it again in the dashboard, then confirm. Amounts go out as exact JSON
numbers written from the Decimal, never through a float.

An order is also looked for by its external id (`GET /orders?external_id=...`, Tremendous's
list filter): before an item sent before is ordered again (``look_first``: a provider that
no longer holds the external id idempotent makes no second card), and when payout ops
settle an item as failed or confirm a batch (`look_up`). Only a list in the provider's
shape is believed.

A provider's answer is not trusted: each attempt has ``timeout`` seconds in all (a provider
trickling bytes never holds the batch), an answer past ANSWER_LIMIT bytes is not read, and a
2xx whose order cannot be read (not JSON, an HTML page, no order id or status) says nothing
certain: retried with the same external id, then Failed and retryable like a 5xx. An order for
another amount, currency or external id than asked is Failed with both shown, never paid:
someone looks at it in the provider's dashboard. Its amounts are read as exact decimals.

A 429 or 503 carrying Retry-After (seconds, or an HTTP date) is sent again no sooner than
asked, and every other order of the same client (the lanes of one batch run) waits as long:
a rate-limited provider is not hammered by the next item. The questions about orders (a
confirm's or a settle's, a webhook's) wait as the orders do, and an answer to one that asks
to wait binds the client's next requests too. Waiting is bounded: a client waits
at most ``max_wait`` seconds in all for such requests (30); a provider asking for more gets
no wait and no request until the time it named has passed: those items are Failed and
retryable (pending for the next run), the reason naming the wait asked. Nothing hangs: a
run takes at most ``max_wait`` plus ``max_attempts`` times ``timeout`` (and the backoff)
an item.

Webhooks: the provider signs each event, compact JSON, with HMAC-SHA256 under the webhook's
private key, hex, in `Tremendous-Webhook-Signature` (``sha256=<hex>``), as Tremendous's own
sample receiver checks it (tremendous-rewards/tremendous-for-platforms-sample-app); the body
names the event (`ORDERS.APPROVED`, `REWARDS.DELIVERY.FAILED`, ...), its `uuid` and the
resource it is about (`payload.resource`: id and type; Tremendous's webhook docs), never its
state: the receiver asks (`order_of_reward`: a reward's `order_id`, in Tremendous's OpenAPI
spec as its official Python SDK is generated from it; `look_up`)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx

from domain.kit.clock import utc_now
from domain.kit.documents import loads_json, unstorable_path
from domain.kit.errors import InvalidInput
from domain.kit.money import round_money
from payments.methods.models import (
    Failed,
    Lookup,
    Outcome,
    Paid,
    PayoutInstruction,
    Shown,
    Submitted,
    refusal,
)
from payments.payouts.models import PayoutMethod

CURRENCIES = {"USD", "EUR", "GBP", "CAD", "AUD"}
_RETRY_STATUSES = {429, 500, 502, 503, 504}
_ASKS_TO_WAIT = {429, 503}  # the statuses whose Retry-After is honoured (RFC 9110, 10.2.3)
ANSWER_LIMIT = 1_000_000  # bytes: an order's answer is a few KB


class GiftCardProvider(Protocol):
    async def pay(self, instruction: PayoutInstruction) -> Outcome: ...

    async def look_up(self, instruction: PayoutInstruction) -> Lookup: ...


@dataclass(frozen=True, slots=True)
class GiftCardConfig:
    api_key: str
    api_base: str  # e.g. https://testflight.tremendous.com/api/v2
    products: tuple[str, ...]  # the catalogue products the payee may choose from
    funding_source_id: str = "BALANCE"
    timeout: float = 20.0
    max_attempts: int = 3
    retry_delay: float = 0.5  # seconds, doubled after each attempt
    max_wait: float = 30.0  # seconds a client waits in all when the provider asks (Retry-After)


def _json_with_exact_numbers(document: dict[str, Any], numbers: dict[str, Decimal]) -> bytes:
    """The document as JSON, each ``numbers`` placeholder string replaced by the Decimal's own
    digits (JSON numbers are exact text; only a float would round them)."""
    text = json.dumps(document, separators=(",", ":"))
    for placeholder, value in numbers.items():
        text = text.replace(json.dumps(placeholder), format(value, "f"))
    return text.encode()


class TremendousGiftCards:
    def __init__(self, config: GiftCardConfig, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self.http = client or httpx.AsyncClient(timeout=config.timeout)
        # the provider's Retry-After, shared by every order of this client (loop times)
        self._paused_until = 0.0  # no order is sent before: the provider asked
        self._waited = 0.0  # seconds of asked waits granted so far, at most max_wait
        self._refused_until = 0.0  # asked to wait longer than is left: none sent before
        self._refused_reason = ""

    async def close(self) -> None:
        await self.http.aclose()

    async def pay(self, instruction: PayoutInstruction) -> Outcome:
        i = instruction
        refused = refusal(
            i, method=PayoutMethod.GIFT_CARD, currencies=CURRENCIES,
            not_this_method="the payee takes no gift cards",
        )  # fmt: skip
        if refused is not None:
            return refused
        email = i.account.gift_card_email
        body = _json_with_exact_numbers(
            {
                "external_id": i.idempotency_key,
                "payment": {"funding_source_id": self.config.funding_source_id},
                "reward": {
                    "value": {"denomination": "@amount", "currency_code": i.currency},
                    "products": list(self.config.products),
                    "recipient": {"name": i.payee_name[:100], "email": email},
                    "delivery": {"method": "EMAIL"},
                },
            },
            {"@amount": round_money(i.amount, i.currency)},  # 25.10, not 25.100000
        )
        if i.look_first and (found := await self._ordered_before(i)) is not None:
            return found
        headers = {**self._headers(), "Content-Type": "application/json"}
        url = self.config.api_base.rstrip("/") + "/orders"
        loop = asyncio.get_running_loop()
        reason, code = "", ""
        for attempt in range(self.config.max_attempts):
            if loop.time() < self._refused_until:
                return Failed(i.reference, self._refused_reason, "provider_asked_to_wait",
                              retryable=True)  # fmt: skip
            backoff = self.config.retry_delay * 2 ** (attempt - 1) if attempt else 0.0
            delay = max(backoff, self._paused_until - loop.time())
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                async with asyncio.timeout(self.config.timeout):
                    status, answer, retry_after = await self._send("POST", url, headers,
                                                                   content=body)  # fmt: skip
            except (httpx.TimeoutException, TimeoutError):
                reason, code = "the gift card provider timed out", "timeout"
                continue
            except httpx.TransportError:
                reason, code = "the gift card provider could not be reached", "unreachable"
                continue
            if status in _RETRY_STATUSES:
                reason, code = f"the gift card provider answered {status}", f"http_{status}"
                wait = retry_after_seconds(retry_after) if status in _ASKS_TO_WAIT else None
                if wait is not None and not self._pause(wait):
                    return Failed(i.reference, self._refused_reason, code, retryable=True)
                if wait is not None:
                    reason += f" and asked to wait {wait:.0f} s"
                continue
            outcome = _outcome(i, status, answer)
            if isinstance(outcome, str):  # a 2xx that says nothing certain
                reason, code = outcome, "unreadable_answer"
                continue
            return outcome
        return Failed(i.reference, f"{reason} ({self.config.max_attempts} attempts)", code,
                      retryable=True)  # fmt: skip

    def _pause(self, wait: float) -> bool:
        """The provider asked for ``wait`` seconds: every order of this client waits till
        then, if what it adds to the waits granted fits in ``max_wait``. False: it does not;
        no order is sent till then (each Failed, retryable, naming the wait asked)."""
        now = asyncio.get_running_loop().time()
        until = now + wait
        added = max(0.0, until - max(now, self._paused_until))
        if self._waited + added > self.config.max_wait:
            self._refused_until = max(self._refused_until, until)
            self._refused_reason = (
                f"the gift card provider asked to wait {wait:.0f} s (Retry-After), more than "
                f"the {self.config.max_wait:.0f} s a run waits in all"
            )
            return False
        self._waited += added
        self._paused_until = max(self._paused_until, until)
        return True

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.api_key}", "Accept": "application/json"}

    async def look_up(self, instruction: PayoutInstruction) -> Lookup:
        """Whether the provider shows an order of the instruction (before payout ops settle
        its item as failed), asked exactly as a rerun asks before ordering again
        (`_ordered_before`). A FAILED or CANCELED order is no payment; an order for another
        amount, or two of one external id, are; an error, or an answer that says nothing
        certain, is unknown. ``found`` carries the order's state (Paid: executed; Submitted:
        waiting for approval; Failed: canceled, failed, or why nothing certain was said),
        which confirming a batch reads (`confirm_batch`)."""
        i = instruction
        key = f"external id {i.idempotency_key}"
        found = await self._ordered_before(i)
        if found is None:
            return Lookup(Shown.NO_PAYMENT, f"the gift card provider shows no order with {key}")
        if not isinstance(found, Failed):
            amount = f"{round_money(i.amount, i.currency)} {i.currency}"
            state = "executed" if isinstance(found, Paid) else found.state or WAITING
            return Lookup(Shown.PAYMENT, f"the gift card provider shows order "
                          f"{found.provider_id} of {amount} ({state}) with {key}",
                          found.provider_id, found)  # fmt: skip
        if found.code == ORDER_FAILED:
            return Lookup(Shown.NO_PAYMENT, found.reason, found=found)
        return Lookup(Shown.PAYMENT if found.code in SHOWS_PAYMENT else Shown.UNKNOWN,
                      found.reason, found=found)  # fmt: skip

    async def order_of_reward(self, reward_id: str) -> str | None | Failed:
        """The id of the order a reward belongs to (`GET /rewards/{id}`: a reward event
        names the reward, a payout item knows its order). None: the provider shows no such
        reward (404). Failed (retryable): it could not be asked, or its answer is not a
        reward of that id with an order id; nothing certain."""
        return await self._field_of("reward", reward_id, "order_id", "its order")

    async def external_id_of(self, order_id: str) -> str | None | Failed:
        """The external id of an order (`GET /orders/{id}`): the payout item's key, which
        names an item settled by hand before the provider gave its order id. None: the
        provider shows no such order (404). Failed (retryable): nothing certain."""
        return await self._field_of("order", order_id, "external_id", "its external id")

    async def _field_of(
        self, kind: str, resource_id: str, name: str, shown: str
    ) -> str | None | Failed:
        """Field ``name`` of the provider's ``kind`` (reward, order) ``resource_id``: `GET
        /{kind}s/{id}`, believed only as a ``kind`` of that id with that field a string."""
        url = f"{self.config.api_base.rstrip('/')}/{kind}s/{resource_id}"
        asked = f"{kind} {resource_id}"
        got = await self._get(url, resource_id, asked)
        if isinstance(got, Failed):
            return got
        status, answer = got
        if status == 404:
            return None
        found = answer.get(kind) if isinstance(answer, dict) else None
        if status != 200 or not isinstance(found, dict):
            return Failed(resource_id, f"the gift card provider answered {status} when asked "
                          f"for {asked}", f"http_{status}", retryable=True)  # fmt: skip
        value = found.get(name)
        if found.get("id") != resource_id or not isinstance(value, str) or not value:
            return Failed(resource_id, f"the gift card provider answered {asked} without "
                          f"{shown}", "unreadable_answer", retryable=True)  # fmt: skip
        return value

    async def _ordered_before(self, i: PayoutInstruction) -> Outcome | None:
        """The instruction's order if an earlier run made it, found by its external id
        (`GET /orders?external_id=...`: Tremendous's list of orders filtered by external
        id), so an order whose provider no longer holds its external id idempotent is not
        made twice. None: the provider's list is readable and empty: order it.

        Only a list the provider's way is believed (`orders` a list of orders, each of the
        external id asked: a provider ignoring the filter lists others; `total_count` a
        count agreeing with it): anything else, an error or a timeout (one attempt) says
        nothing certain and is Failed and retryable (the item stays pending), never
        followed by an order. Two orders of one external id stay pending too, for payout
        ops to look at and settle by hand."""
        key = i.idempotency_key
        url = self.config.api_base.rstrip("/") + "/orders"
        asked = f"the list of orders of external id {key}"
        got = await self._get(url, i.reference, asked, {"external_id": key, "limit": "2"})
        if isinstance(got, Failed):
            return got
        status, answer = got
        if status != 200:
            return Failed(i.reference, f"the gift card provider answered {status} when asked "
                          f"for {asked}", f"http_{status}", retryable=True)  # fmt: skip
        listed = _orders_listed(answer, key)
        if isinstance(listed, str):
            return Failed(i.reference, f"the gift card provider answered {asked} {listed}",
                          "unreadable_answer", retryable=True)  # fmt: skip
        orders, count = listed
        if not count:
            return None
        if count > 1:
            return Failed(i.reference, f"the gift card provider lists more than one order of "
                          f"external id {key} (made twice?): look at them in its dashboard, "
                          "then settle the item by hand", "orders_made_twice",
                          retryable=True)  # fmt: skip
        outcome = _outcome(i, 200, {"order": orders[0]})
        if isinstance(outcome, str):
            return Failed(i.reference, f"the gift card provider answered {asked} with an "
                          "unreadable order", "unreadable_answer", retryable=True)  # fmt: skip
        return outcome

    async def _get(
        self, url: str, reference: str, asked: str, params: dict[str, str] | None = None
    ) -> tuple[int, Any] | Failed:
        """One GET of ``url`` (one attempt, ``timeout`` seconds in all): its status and JSON
        (see `_send`), or Failed and retryable for ``reference`` when the provider timed out
        or could not be reached (``asked``: what, in the reason).

        The provider's Retry-After binds the questions as it binds the orders (a confirm
        asks about every item of a batch, four at once): a GET waits till the pause that an
        earlier answer asked for has passed, and one sent while a wait longer than the run
        allows is asked is not sent (Failed, retryable, naming the wait). A 429 or 503 asking
        to wait sets the pause for the client's next requests; its own answer stays a 429 or
        503 for the caller to name."""
        loop = asyncio.get_running_loop()
        if loop.time() < self._refused_until:
            return Failed(reference, self._refused_reason, "provider_asked_to_wait",
                          retryable=True)  # fmt: skip
        if (pause := self._paused_until - loop.time()) > 0:
            await asyncio.sleep(pause)
        try:
            async with asyncio.timeout(self.config.timeout):
                status, answer, retry_after = await self._send(
                    "GET", url, self._headers(), params=params
                )
        except (httpx.TimeoutException, TimeoutError):
            return Failed(reference, f"the gift card provider timed out when asked for {asked}",
                          "timeout", retryable=True)  # fmt: skip
        except httpx.TransportError:
            return Failed(reference, "the gift card provider could not be reached when asked "
                          f"for {asked}", "unreachable", retryable=True)  # fmt: skip
        if status in _ASKS_TO_WAIT and (wait := retry_after_seconds(retry_after)) is not None:
            self._pause(wait)  # refused if longer than is left: the next GETs are not sent
        return status, answer

    async def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        *,
        content: bytes | None = None,
        params: dict[str, str] | None = None,
    ) -> tuple[int, Any, str | None]:
        """The answer's status, JSON (exact decimals; None: not JSON, or over ANSWER_LIMIT
        bytes, which is not read further) and Retry-After header."""
        async with self.http.stream(
            method, url, content=content, params=params, headers=headers
        ) as response:
            retry_after = response.headers.get("Retry-After")
            raw = b""
            async for chunk in response.aiter_bytes():
                raw += chunk
                if len(raw) > ANSWER_LIMIT:
                    return response.status_code, None, retry_after
        try:
            return response.status_code, json.loads(raw, parse_float=Decimal), retry_after
        except ValueError:  # an HTML error page, an empty or cut body
            return response.status_code, None, retry_after


def retry_after_seconds(value: str | None) -> float | None:
    """How long a Retry-After header asks to wait: delay-seconds (ASCII digits) or an
    HTTP date (one in the past: 0); None when absent or unreadable (then the usual backoff)."""
    text = (value or "").strip()
    if not text or len(text) > 64:
        return None
    if re.fullmatch(r"[0-9]{1,10}", text):
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # an HTTP date is GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - utc_now()).total_seconds())


ORDER_FAILED = "order_failed"  # a FAILED or CANCELED order: nothing paid
WAITING = "waiting for approval"  # an order held in the provider's dashboard
DELIVERY_FAILED = (
    "issued, but its e-mail bounced: correct the payee's address and send the reward again "
    "in the provider's dashboard"
)
# `_ordered_before`'s failures that still show a payment: an order unlike the one asked, or
# two of one external id
SHOWS_PAYMENT = {"order_mismatch", "orders_made_twice"}


def _orders_listed(answer: Any, external_id: str) -> tuple[list[dict[str, Any]], int] | str:
    """The orders of a list of orders filtered by ``external_id`` and how many there are in
    all (a page may list fewer), or a str: why the answer is not one (completes "answered
    the list of orders ...")."""
    if not isinstance(answer, dict) or not isinstance(answer.get("orders"), list):
        return "without its orders"
    orders, count = answer["orders"], answer.get("total_count")
    if type(count) is not int or count < len(orders) or (count and not orders):
        return "with a total_count unlike its orders"
    if not all(isinstance(o, dict) for o in orders):
        return "with something else than orders in it"
    if any(o.get("external_id") != external_id for o in orders):
        return "with an order of another external id"
    return orders, count


def _outcome(i: PayoutInstruction, status_code: int, answer: Any) -> Outcome | str:
    """What the answer says of the order; a str: a 2xx that says nothing certain (why)."""
    reference = i.reference
    if status_code in (200, 201):
        order = answer.get("order") if isinstance(answer, dict) else None
        if not isinstance(order, dict):
            return f"the gift card provider answered {status_code} without an order"
        status, order_id = order.get("status"), order.get("id")
        rewards = order.get("rewards")
        reward = rewards[0] if isinstance(rewards, list) and rewards else None
        if (
            not isinstance(order_id, str)
            or not isinstance(status, str)
            or (not isinstance(reward, dict) or not isinstance(reward.get("value"), dict))
        ):
            return f"the gift card provider answered {status_code} with an unreadable order"
        if (mismatch := _mismatch(i, order, reward)) is not None:
            return Failed(reference, f"the gift card order {order_id[:40]} is {mismatch}: "
                          "check it in the provider's dashboard", "order_mismatch")  # fmt: skip
        delivery = reward.get("delivery")
        delivery = delivery.get("status") if isinstance(delivery, dict) else None
        if status in ("CANCELED", "FAILED"):
            return Failed(reference, f"the gift card order {order_id} is {status}",
                          ORDER_FAILED)  # fmt: skip
        if delivery == "FAILED":
            # The card is funded (or will be once approved): failing the item would order a
            # second one. Its e-mail bounced: the payee's address is corrected and the reward
            # sent again in the provider's dashboard, then the item confirmed.
            return Submitted(reference, provider_id=order_id, state=DELIVERY_FAILED)
        if status == "EXECUTED":  # funded and issued; the e-mail's delivery may follow
            return Paid(reference, provider_id=order_id)
        return Submitted(reference, provider_id=order_id, state=WAITING)  # PENDING_APPROVAL
    message = ""
    if isinstance(answer, dict):
        errors = answer.get("errors")
        message = errors.get("message", "") if isinstance(errors, dict) else ""
    if status_code == 401:
        message = "the gift card provider refused the API key"
    text = re.sub(r"\s+", " ", str(message))[:300] or f"answered {status_code}"
    return Failed(reference, f"gift card: {text}", f"http_{status_code}")


def _mismatch(i: PayoutInstruction, order: dict[str, Any], reward: dict[str, Any]) -> str | None:
    """How the order differs from what was asked (another external id, amount or currency),
    or None. The amount is read exactly: a JSON number or a plain decimal string."""
    if order.get("external_id", i.idempotency_key) != i.idempotency_key:
        return "for another external id"
    denomination, currency = (reward["value"].get(k) for k in ("denomination", "currency_code"))
    asked = f"{round_money(i.amount, i.currency)} {i.currency}"
    try:
        amount = (
            Decimal(str(denomination)) if isinstance(denomination, int | str | Decimal) else None
        )
    except ArithmeticError:  # "2,510", "25 USD"
        amount = None
    if isinstance(denomination, bool) or amount is None or not amount.is_finite():
        return f"for {str(denomination)[:20]!r} {str(currency)[:3]}, not {asked} asked"
    if amount != i.amount or currency != i.currency:
        return f"for {amount} {str(currency)[:3]}, not {asked} asked"
    return None


# --- webhooks ---------------------------------------------------------------------------

SIGNATURE_HEADER = "Tremendous-Webhook-Signature"
_HEX_SIGNATURE = re.compile(r"(?:sha256=)?([0-9a-f]{64})")
_EVENT_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
_EVENT_KIND = re.compile(r"[A-Z_]{1,40}(?:\.[A-Z_]{1,40}){1,4}")
_RESOURCE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def verify_webhook(body: bytes, header: str | None, secrets: Sequence[str]) -> bool:
    """Whether ``header`` is the HMAC-SHA256 under one of ``secrets`` (two during a
    rotation), compared in constant time, of the body as sent or of the body in compact JSON
    (`_compact`); the ``sha256=`` prefix is optional. Tremendous's own sample receiver
    (tremendous-rewards/tremendous-for-platforms-sample-app, webhooks_controller.rb) checks
    the HMAC of the parsed body written again as compact JSON (Ruby's ``to_json``), not of
    the bytes received: the same bytes when the provider sends compact JSON, as it signs;
    a body spaced out on its way (a proxy) still checks against its compact form."""
    found = _HEX_SIGNATURE.fullmatch((header or "").strip().lower())
    if found is None:
        return False
    given = found.group(1)

    def signed(form: bytes) -> bool:
        return any(
            hmac.compare_digest(hmac.new(s.encode(), form, hashlib.sha256).hexdigest(), given)
            for s in secrets
        )

    if signed(body):
        return True
    compact = _compact(body)
    return compact is not None and compact != body and signed(compact)


COMPACT_LIMIT = 64 * 1024  # bytes: an event is under 1 KiB; an unsigned body is not parsed


def _compact(body: bytes) -> bytes | None:
    """The body parsed and written again as compact JSON, as Ruby's ``to_json`` writes it
    (no spaces, text as UTF-8, keys in their order); None for a body that is no JSON, or
    longer than any event (a body whose signature failed costs no parse of a megabyte)."""
    if len(body) > COMPACT_LIMIT:
        return None
    try:
        document = json.loads(body)
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
    except (ValueError, RecursionError):  # UnicodeEncodeError: a lone surrogate
        return None


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """A verified event: ``order_id`` for an order's events (ORDERS.*), ``reward_id`` for a
    reward's (REWARDS.*); neither for the rest (campaigns, invoices, ...: nothing of ours)."""

    id: str
    kind: str
    document: dict[str, Any]
    order_id: str | None = None
    reward_id: str | None = None


def webhook_event(body: bytes) -> WebhookEvent:
    """The event a verified body carries; InvalidInput naming the field at fault."""
    try:
        document = loads_json(body)
    except ValueError as exc:  # not JSON, not UTF-8, NaN, or nested too deep
        raise InvalidInput(f"malformed JSON: {exc}", field="body") from None
    if not isinstance(document, dict):
        raise InvalidInput("an event object", field="body")
    event_id, kind = document.get("uuid"), document.get("event")
    if not isinstance(event_id, str) or not _EVENT_ID.fullmatch(event_id):
        raise InvalidInput("the event's uuid", field="uuid")
    if not isinstance(kind, str) or not _EVENT_KIND.fullmatch(kind):
        raise InvalidInput("an event name such as ORDERS.APPROVED", field="event")
    if (path := unstorable_path(document)) is not None:  # PostgreSQL's jsonb refuses it
        raise InvalidInput("a NUL character or an unpaired surrogate in the event",
                           field=path or "body")  # fmt: skip
    family = kind.split(".")[0]
    if family not in ("ORDERS", "REWARDS"):
        return WebhookEvent(event_id, kind, document)
    payload = document.get("payload")
    resource = payload.get("resource") if isinstance(payload, dict) else None
    if not isinstance(resource, dict):
        raise InvalidInput("the resource the event is about", field="payload.resource")
    resource_id = resource.get("id")
    if not isinstance(resource_id, str) or not _RESOURCE_ID.fullmatch(resource_id):
        raise InvalidInput("the resource's id", field="payload.resource.id")
    if family == "ORDERS":
        return WebhookEvent(event_id, kind, document, order_id=resource_id)
    return WebhookEvent(event_id, kind, document, reward_id=resource_id)
