"""Stripe Connect: a transfer from the platform to the payee's connected account per
instruction, and what Stripe's signed webhooks say became of it. The one module that imports
stripe.

Every request carries the instruction's own Idempotency-Key (derived from the item, never
random): stripe-python retries connection errors, 409s and 5xx with it, and a batch running an
item again after a crash sends the same key, so Stripe answers the first transfer instead of
making a second. Stripe forgets a key after about 24 hours: an instruction of a batch run
again later (``look_first``) is first looked for by its reference (the transfer's group),
and only asked for when no transfer has it. The same key with other parameters is Stripe's
idempotency error: Podium broke its own rule, so it raises ProviderBug rather than failing
the item quietly. The lists read then are believed only in Stripe's shape (``_paid_before``),
and the same look is what payout ops settling an item as failed get (``look_up``).

Transfers have no status of their own (since API 2017-04-06); money reaching the payee is the
connected account's payout. With ``payout_per_transfer`` (connected accounts on manual
payouts) a payout of the same amount follows each transfer on the connected account
(`Stripe-Account` header, key `<key>-payout`), carrying the instruction's reference, so its
`payout.paid` / `payout.failed` events name the item.

Retry-After: stripe-python 16 never reads it. It retries connection errors, 409s and 5xx
(a 503 too) after its own backoff (0.5 s doubled, at most 5 s, with jitter) and never a 429
(unless Stripe-Should-Retry says so); Podium adds nothing: a 429 is Failed and retryable at
once (pending for the next run, the same key), so nothing waits on Stripe's say
(tests/payments/test_stripe_connect.py shows both against the stand-in).

Stripe's answers are not trusted: at most ANSWER_LIMIT bytes of one are read; one that
stalls, is cut or runs past ``timeout`` is a connection error (retried by stripe-python with
the same key, then Failed and retryable); a transfer that cannot be read (no id, not a
transfer) says nothing certain and is Failed and retryable too; one for another amount,
currency or reference than asked is Failed with both shown, never taken as paid."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import stripe
from stripe import (
    APIConnectionError,
    APIError,
    IdempotencyError,
    RateLimitError,
    SignatureVerificationError,
    StripeClient,
    StripeError,
    StripeObject,
)

from domain.kit.documents import loads_json
from domain.kit.money import round_money
from payments.methods.errors import ProviderBug
from payments.methods.models import (
    REVERSED,
    Failed,
    Lookup,
    Outcome,
    Paid,
    PayoutInstruction,
    Shown,
    Submitted,
    in_minor_units,
    refusal,
)
from payments.payouts.models import PayoutMethod

# Stripe transfers in these (lower-case on the wire); others are Failed before any request
CURRENCIES = set(
    "EUR USD GBP CHF DKK NOK SEK PLN CZK HUF RON BGN CAD AUD NZD SGD HKD JPY MYR INR MXN".split()
)
WEBHOOK_TOLERANCE = 300  # seconds: an older signature is a replay
ANSWER_LIMIT = 1_000_000  # bytes: a transfer or a list of 100 payouts is far less
# `_paid_before`'s failures that still show a payment: one unlike what was asked, two of
# one item, a transfer whose payout cannot be told apart
SHOWS_PAYMENT = {"transfer_mismatch", "transfers_made_twice", "payout_unknown"}


@dataclass(frozen=True, slots=True)
class StripeConfig:
    api_key: str
    api_base: str | None = None  # None: Stripe itself; tests give the local stand-in
    payout_per_transfer: bool = False
    max_network_retries: int = 2
    timeout: float = 30.0


class _AnswerTooLarge(APIConnectionError):
    """An answer of more than ANSWER_LIMIT bytes: not read further, not retried at once."""


class _BoundedAIOHTTPClient(stripe.AIOHTTPClient):
    """stripe-python's aiohttp client (16.x: its request arguments and session) reading at
    most ANSWER_LIMIT bytes of an answer. A body that stalls past the timeout or is cut is a
    connection error, which stripe-python retries with the same key, as for a request that
    failed; before, aiohttp's own TimeoutError or ClientPayloadError escaped the adapter."""

    async def request_async(
        self, method: str, url: str, headers: Any, post_data: Any = None
    ) -> tuple[bytes, int, Any]:
        args, kwargs = self._get_request_args_kwargs(method, url, headers, post_data)
        body = bytearray()
        try:
            response = await self._session.request(*args, **kwargs)
            try:
                while len(body) <= ANSWER_LIMIT and (chunk := await response.content.read(65536)):
                    body += chunk
            finally:
                response.release()  # back to the pool when read whole, closed otherwise
        except Exception as exc:  # noqa: BLE001 - as stripe-python's own client does
            self._handle_request_error(exc)
        if len(body) > ANSWER_LIMIT:
            raise _AnswerTooLarge(f"Stripe answered more than {ANSWER_LIMIT} bytes",
                                  code="answer_too_large", should_retry=False)  # fmt: skip
        return bytes(body), response.status, response.headers


class StripeConnect:
    """One client per process and tenant: its HTTP connections are reused across items."""

    def __init__(self, config: StripeConfig) -> None:
        self.config = config
        options: dict[str, Any] = {}
        if config.api_base:
            options["base_addresses"] = {"api": config.api_base}
        # aiohttp: about half the CPU a request of httpx's client (bench/payouts.py)
        self._http = _BoundedAIOHTTPClient(timeout=config.timeout)
        self.client = StripeClient(
            config.api_key,
            max_network_retries=config.max_network_retries,
            http_client=self._http,
            **options,
        )

    async def close(self) -> None:
        await self._http.close_async()

    async def pay(self, instruction: PayoutInstruction) -> Outcome:
        i = instruction
        refused = refusal(
            i, method=PayoutMethod.STRIPE, currencies=CURRENCIES,
            not_this_method="the payee has no Stripe connected account",
        )  # fmt: skip
        if refused is not None:
            return refused
        account = i.account.stripe_account_id
        amount, currency = in_minor_units(i.amount, i.currency), i.currency.lower()
        metadata = {"podium_reference": i.reference, "podium_payee": str(i.payee_id)}
        try:
            if i.look_first and (found := await self._paid_before(i)) is not None:
                return found
            transfer = await self.client.v1.transfers.create_async(
                {
                    "amount": amount or 0,
                    "currency": currency,
                    "destination": account,
                    "transfer_group": i.reference,
                    "description": i.description[:350],
                    "metadata": metadata,
                },
                {"idempotency_key": i.idempotency_key},
            )
            if self.config.payout_per_transfer:
                await self.client.v1.payouts.create_async(
                    {"amount": amount or 0, "currency": currency, "metadata": metadata},
                    {"idempotency_key": f"{i.idempotency_key}-payout", "stripe_account": account},
                )
            if (unlike := _unlike(i, transfer, amount, currency)) is not None:
                return unlike
        except StripeError as exc:
            return _failed(i.reference, exc)
        return Submitted(i.reference, provider_id=transfer["id"])

    async def look_up(self, instruction: PayoutInstruction) -> Lookup:
        """Whether Stripe shows a payment of the instruction (before payout ops settle its
        item as failed), asked exactly as a late rerun asks before paying (`_paid_before`:
        the transfers of its group, believed only in Stripe's shape). A reversed transfer
        is no payment (the money came back); a transfer unlike the one asked, two of them or
        one whose payout cannot be found are; an error, or an answer that says nothing
        certain, is unknown."""
        i = instruction
        group = f"transfer group {i.reference}"
        try:
            found = await self._paid_before(i)
        except StripeError as exc:
            return Lookup(Shown.UNKNOWN, _failed(i.reference, exc).reason)
        if found is None:
            return Lookup(Shown.NO_PAYMENT, f"Stripe shows no transfer of {group}")
        if not isinstance(found, Failed):
            amount = f"{round_money(i.amount, i.currency)} {i.currency}"
            return Lookup(Shown.PAYMENT, f"Stripe shows transfer {found.provider_id} of "
                          f"{amount} in {group}", found.provider_id)  # fmt: skip
        if found.code == REVERSED:
            return Lookup(Shown.NO_PAYMENT, found.reason)
        return Lookup(Shown.PAYMENT if found.code in SHOWS_PAYMENT else Shown.UNKNOWN,
                      found.reason)  # fmt: skip

    async def _paid_before(self, i: PayoutInstruction) -> Outcome | None:
        """The instruction's transfer (and payout) if an earlier run made them: found by its
        reference (the transfer's group, the payout's metadata), since Stripe may have
        forgotten the idempotency keys. None: Stripe's list of the group's transfers is
        readable and empty, so nothing was made: ask for it.

        Only a list Stripe's way is believed (`object` list, `data` a list of transfers of
        the group asked, `has_more` true or false): anything else says nothing certain and
        is Failed and retryable (the item stays pending), never taken as paid and never
        followed by a transfer, which Stripe, having forgotten the key, would make a second
        time. More than one transfer of the group (a payment already made twice) stays
        pending too, for payout ops to look at and settle by hand (`podium payouts
        settle`), as does a transfer whose payout cannot be found."""
        listed = _listed(
            await self.client.v1.transfers.list_async({"transfer_group": i.reference, "limit": 1}),
            "transfer",
        )
        if isinstance(listed, str):
            return Failed(i.reference, f"Stripe answered the list of transfers {listed}",
                          "unreadable_answer", retryable=True)  # fmt: skip
        transfers, more = listed
        if not transfers:
            return None
        transfer = transfers[0]
        transfer_id = str(transfer["id"])[:40]
        if transfer.get("transfer_group") != i.reference:
            return Failed(i.reference, "Stripe answered the list of transfers of "
                          f"{i.reference} with transfer {transfer_id} of another group",
                          "unreadable_answer", retryable=True)  # fmt: skip
        if more:
            return Failed(i.reference, f"Stripe lists more than one transfer of {i.reference} "
                          "(made twice?): look at them in the Stripe dashboard, then settle the "
                          "item by hand", "transfers_made_twice", retryable=True)  # fmt: skip
        amount, currency = in_minor_units(i.amount, i.currency), i.currency.lower()
        if (unlike := _unlike(i, transfer, amount, currency)) is not None:
            return unlike
        if transfer.get("reversed") is True:
            return Failed(i.reference, f"Stripe: transfer {transfer_id}, made by an earlier run, "
                          "was reversed", REVERSED)  # fmt: skip
        if self.config.payout_per_transfer:
            account = i.account.stripe_account_id or ""
            payouts = _listed(
                await self.client.v1.payouts.list_async(
                    {"limit": 100}, {"stripe_account": account}
                ),
                "payout",
            )
            if isinstance(payouts, str):
                return Failed(i.reference, f"Stripe answered the list of payouts {payouts}",
                              "unreadable_answer", retryable=True)  # fmt: skip
            if not any(
                isinstance(p.get("metadata"), dict)
                and p["metadata"].get("podium_reference") == i.reference
                for p in payouts[0]
            ):
                return Failed(i.reference, f"Stripe: transfer {transfer_id} was made but its "
                              "payout cannot be told apart after a day: pay it out by hand, "
                              "then settle the item by hand", "payout_unknown",
                              retryable=True)  # fmt: skip
        return Submitted(i.reference, provider_id=str(transfer["id"]))


def _listed(answer: Any, kind: str) -> tuple[list[dict[str, Any]], bool] | str:
    """A Stripe list of ``kind`` objects (each with its id) as plain dicts, and whether it
    has more; a str: why the answer is not one (completes "Stripe answered the list ...")."""
    whole = answer.to_dict() if isinstance(answer, StripeObject) else None
    if not isinstance(whole, dict) or whole.get("object") != "list":
        return "with something else than a list"
    data, more = whole.get("data"), whole.get("has_more")
    if not isinstance(data, list) or not isinstance(more, bool):
        return "without its data"
    if not all(
        isinstance(o, dict) and o.get("object") == kind and isinstance(o.get("id"), str)
        for o in data
    ):
        return f"with something else than {kind}s in it"
    if more and not data:
        return "empty but with more to come"
    return data, more


def _unlike(
    i: PayoutInstruction, transfer: Any, amount: int | None, currency: str
) -> Failed | None:
    """None when ``transfer`` is a transfer of the instruction (its id, amount in minor
    units, currency and reference as asked); otherwise why not: retryable when it cannot be
    read (the same key asks again), not when it is another transfer than asked."""
    fields = transfer.to_dict(recursive=False) if isinstance(transfer, StripeObject) else transfer
    if not isinstance(fields, dict):
        fields = {}
    transfer_id = fields.get("id")
    if not isinstance(transfer_id, str) or fields.get("object", "transfer") != "transfer":
        return Failed(i.reference, "Stripe answered without a transfer", "unreadable_answer",
                      retryable=True)  # fmt: skip
    got = (fields.get("amount"), fields.get("currency"), fields.get("transfer_group"))
    if type(got[0]) is not int or got != (amount, currency, i.reference):
        shown = " ".join(str(g)[:40] for g in got)
        return Failed(i.reference, f"Stripe: transfer {transfer_id[:40]} is {shown}, not "
                      f"{amount} {currency} {i.reference} as asked: look at it in the Stripe "
                      "dashboard", "transfer_mismatch")  # fmt: skip
    return None


def _failed(reference: str, exc: StripeError) -> Failed:
    if isinstance(exc, IdempotencyError) and exc.http_status == 400:
        raise ProviderBug(f"Stripe refused the idempotency key of {reference}: {exc.user_message}")
    code = exc.code or type(exc).__name__
    message = re.sub(r"\s+", " ", exc.user_message or str(exc) or code)[:300]
    retryable = isinstance(exc, APIConnectionError | RateLimitError | APIError | IdempotencyError)
    if isinstance(exc, APIConnectionError) and not isinstance(exc, _AnswerTooLarge):
        message = "could not be reached"
    return Failed(reference, f"Stripe: {message}", code, retryable=retryable)


class BadSignature(Exception):
    """A webhook whose Stripe-Signature does not verify with any of the endpoint's secrets."""


def verified_event(payload: bytes, signature: str | None, secrets: list[str]) -> dict[str, Any]:
    """The event of a signed webhook, checked with stripe-python's own signature check (HMAC
    of the timestamp and the raw body, at most WEBHOOK_TOLERANCE old) against each secret
    (several: the platform's and the Connect endpoint's, or a rotation)."""
    if not signature or not secrets:
        raise BadSignature("no Stripe-Signature header")
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(
                payload.decode("utf-8"), signature, secret, WEBHOOK_TOLERANCE
            )
        except SignatureVerificationError:
            continue
        except UnicodeDecodeError:
            break
        try:
            event = loads_json(payload)
        except ValueError:  # not JSON, NaN, or nested too deep
            raise BadSignature("not JSON") from None
        if not isinstance(event, dict):
            raise BadSignature("not an event")
        return event
    raise BadSignature("the signature does not verify")


def outcome_of(event: dict[str, Any]) -> Outcome | None:
    """What a Stripe event says about one of Podium's items (None: nothing, or not ours)."""
    obj = (event.get("data") or {}).get("object") or {}
    reference = (obj.get("metadata") or {}).get("podium_reference")
    if not isinstance(reference, str):
        return None
    kind = event.get("type")
    if kind == "transfer.reversed":
        return Failed(reference, "Stripe: the transfer was reversed", REVERSED)
    if kind == "payout.paid":
        return Paid(reference, provider_id=obj.get("id"))
    if kind == "payout.failed":
        code = obj.get("failure_code") or "payout_failed"
        message = obj.get("failure_message") or code
        return Failed(reference, f"Stripe: the payout failed: {message}", code)
    return None
