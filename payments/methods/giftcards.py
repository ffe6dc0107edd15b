"""Gift cards: a provider interface and its adapter for a Tremendous-style REST API.

An order is idempotent by its `external_id` (a repeat answers 201 with the first order), so
the instruction's idempotency key is the order's external id: a timeout, a 5xx or a 429 is
retried with the same external id (at most ``max_attempts`` times, then Failed and retryable
with the reason), and a batch running the item again after a crash gets the first order back
instead of a second card. An executed order is paid (funded and issued; its e-mail's
delivery may follow); one waiting for approval in the provider's dashboard is submitted, and
payout ops confirm it once approved. Amounts go out as exact JSON numbers written from the Decimal,
never through a float."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import httpx

from domain.kit.money import round_money
from payments.methods.models import (
    Failed,
    Outcome,
    Paid,
    PayoutInstruction,
    Submitted,
    refusal,
)
from payments.payouts.models import PayoutMethod

CURRENCIES = {"USD", "EUR", "GBP", "CAD", "AUD"}
_RETRY_STATUSES = {429, 500, 502, 503, 504}


class GiftCardProvider(Protocol):
    async def pay(self, instruction: PayoutInstruction) -> Outcome: ...


@dataclass(frozen=True, slots=True)
class GiftCardConfig:
    api_key: str
    api_base: str  # e.g. https://testflight.tremendous.com/api/v2
    products: tuple[str, ...]  # the catalogue products the payee may choose from
    funding_source_id: str = "BALANCE"
    timeout: float = 20.0
    max_attempts: int = 3
    retry_delay: float = 0.5  # seconds, doubled after each attempt


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
        headers = {
            "Authorization": f"Bearer {self.config.api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        url = self.config.api_base.rstrip("/") + "/orders"
        reason, code = "", ""
        for attempt in range(self.config.max_attempts):
            if attempt:
                await asyncio.sleep(self.config.retry_delay * 2 ** (attempt - 1))
            try:
                response = await self.http.post(url, content=body, headers=headers)
            except httpx.TimeoutException:
                reason, code = "the gift card provider timed out", "timeout"
                continue
            except httpx.TransportError:
                reason, code = "the gift card provider could not be reached", "unreachable"
                continue
            if response.status_code in _RETRY_STATUSES:
                reason = f"the gift card provider answered {response.status_code}"
                code = f"http_{response.status_code}"
                continue
            return _outcome(i.reference, response)
        return Failed(i.reference, f"{reason} ({self.config.max_attempts} attempts)", code,
                      retryable=True)  # fmt: skip


def _outcome(reference: str, response: httpx.Response) -> Outcome:
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    if response.status_code in (200, 201) and isinstance(answer, dict):
        order = answer.get("order") or {}
        status = order.get("status")
        rewards = order.get("rewards") or [{}]
        delivery = (rewards[0].get("delivery") or {}).get("status")
        order_id = order.get("id")
        if status in ("CANCELED", "FAILED") or delivery == "FAILED":
            return Failed(reference, f"the gift card order {order_id} is {status or delivery}",
                          "order_failed")  # fmt: skip
        if status == "EXECUTED":  # funded and issued; the e-mail's delivery may follow
            return Paid(reference, provider_id=order_id)
        if isinstance(order_id, str):  # e.g. PENDING_APPROVAL in the provider's dashboard
            return Submitted(reference, provider_id=order_id)
    message = ""
    if isinstance(answer, dict):
        errors = answer.get("errors")
        message = errors.get("message", "") if isinstance(errors, dict) else ""
    if response.status_code == 401:
        message = "the gift card provider refused the API key"
    text = re.sub(r"\s+", " ", str(message))[:300] or f"answered {response.status_code}"
    return Failed(reference, f"gift card: {text}", f"http_{response.status_code}")
