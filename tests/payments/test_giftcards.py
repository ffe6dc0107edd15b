"""The gift card adapter against a Tremendous-style stand-in on 127.0.0.1: one order per
instruction whatever times out, fails or is sent again (external_id idempotency); exact
amounts; a provider that keeps failing is a retryable failure naming why."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal

import pytest

from payments.methods.giftcards import WAITING, GiftCardConfig, TremendousGiftCards
from payments.methods.models import Failed, Paid, Submitted
from payments.methods.sandbox.giftcards import GiftCardStandIn, running
from tests.payments.factories import GIFT_ACCOUNT, STRIPE_ACCOUNT, instruction


@pytest.fixture
async def standin() -> AsyncIterator[GiftCardStandIn]:
    async with running(GiftCardStandIn()) as s:
        yield s


def _adapter(s: GiftCardStandIn, **changes) -> TremendousGiftCards:
    values = {"products": ("OKMHM2X2OHYV",), "retry_delay": 0.01, **changes}
    return TremendousGiftCards(GiftCardConfig(api_key=s.api_key, api_base=s.url, **values))


async def test_given_an_instruction_when_ordered_then_one_order_with_the_exact_amount(
    standin: GiftCardStandIn,
):
    item = instruction(1, GIFT_ACCOUNT, amount="25.100000", currency="USD")  # as stored
    adapter = _adapter(standin)

    outcome = await adapter.pay(item)
    await adapter.close()

    [order] = standin.orders
    assert outcome == Paid(item.reference, provider_id=order["id"])  # executed, e-mail to follow
    assert order["external_id"] == item.idempotency_key
    [request] = standin.requests
    assert b'"denomination":25.10,' in request["body"]  # the Decimal's digits, no float
    sent = json.loads(request["body"], parse_float=Decimal)
    assert sent["reward"]["recipient"] == {"name": item.payee_name, "email": "ana@example.com"}
    assert sent["reward"]["value"] == {"denomination": Decimal("25.10"), "currency_code": "USD"}


async def test_given_an_order_held_for_approval_then_submitted_not_paid(
    standin: GiftCardStandIn,
):
    standin.status = "PENDING_APPROVAL"
    item = instruction(1, GIFT_ACCOUNT, currency="USD")

    outcome = await _adapter(standin).pay(item)

    [order] = standin.orders
    assert outcome == Submitted(item.reference, provider_id=order["id"], state=WAITING)


async def test_given_an_order_when_sent_again_then_the_first_order_comes_back(
    standin: GiftCardStandIn,
):
    item = instruction(1, GIFT_ACCOUNT, currency="USD")

    first = await _adapter(standin).pay(item)
    again = await _adapter(standin).pay(item)
    both = await asyncio.gather(*(_adapter(standin).pay(item) for _ in range(5)))

    assert {first, again, *both} == {first}
    assert len(standin.orders) == 1


async def test_given_timeouts_drops_and_5xx_then_retried_with_the_same_external_id_once_paid(
    standin: GiftCardStandIn,
):
    standin.delivery = "SUCCEEDED"
    standin.late = 0.5
    timed_out = await _adapter(standin, timeout=0.2, max_attempts=2).pay(
        instruction(1, GIFT_ACCOUNT, currency="USD")
    )
    standin.late = 0
    standin.refuse = [503]  # then executed and the answer dropped, then the first order again
    standin.drop = 1
    recovered = await _adapter(standin).pay(instruction(2, GIFT_ACCOUNT, currency="USD"))
    again = await _adapter(standin).pay(instruction(1, GIFT_ACCOUNT, currency="USD"))

    assert isinstance(timed_out, Failed)
    assert timed_out.retryable
    assert timed_out.reason == "the gift card provider timed out (2 attempts)"
    assert isinstance(recovered, Paid)
    assert isinstance(again, Paid)  # the timed-out order had been placed: it comes back
    assert len(standin.orders) == 2
    assert len({r["body"] for r in standin.requests}) == 2  # every retry sent the same order


async def test_given_a_provider_answering_500_every_time_then_failed_retryable_with_the_reason(
    standin: GiftCardStandIn,
):
    standin.refuse = [500, 500, 429]

    outcome = await _adapter(standin).pay(instruction(1, GIFT_ACCOUNT, currency="USD"))

    assert outcome == Failed("item-000001",
                             "the gift card provider answered 429 (3 attempts)", "http_429",
                             retryable=True)  # fmt: skip
    assert standin.orders == []


async def test_given_what_the_provider_or_the_adapter_refuses_then_failed_not_retryable(
    standin: GiftCardStandIn,
):
    wrong_key = TremendousGiftCards(GiftCardConfig("nope", standin.url, ("OKMHM2X2OHYV",)))
    outcomes = [
        await _adapter(standin).pay(instruction(1, STRIPE_ACCOUNT, currency="USD")),
        await _adapter(standin).pay(instruction(2, GIFT_ACCOUNT, currency="JPY")),
        await _adapter(standin).pay(instruction(3, GIFT_ACCOUNT, currency="USD", amount="1.234")),
        await wrong_key.pay(instruction(4, GIFT_ACCOUNT, currency="USD")),
        await _adapter(standin, products=("UNKNOWN",)).pay(instruction(5, GIFT_ACCOUNT,
                                                                         currency="USD")),
        await _adapter(standin).pay(instruction(6, replace(GIFT_ACCOUNT, gift_card_email="x@y"),
                                                currency="USD")),
    ]  # fmt: skip

    assert [(o.code, o.retryable) for o in outcomes if isinstance(o, Failed)] == [
        ("method", False), ("currency", False), ("amount", False), ("http_401", False),
        ("http_400", False), ("http_400", False),
    ]  # fmt: skip
    assert outcomes[3].reason == "gift card: the gift card provider refused the API key"
    assert outcomes[4].reason == "gift card: unknown products"
    assert len(standin.requests) == 3
    assert standin.orders == []


@pytest.mark.parametrize("how", ["html", "empty", "cut", "huge", "shapeless", "trickle"])
async def test_given_an_order_executed_but_its_answer_garbled_then_retryable_then_paid_once(
    standin: GiftCardStandIn, how: str
):
    standin.garble = [how, how]  # both attempts: the order executed, its answer unreadable
    item = instruction(1, GIFT_ACCOUNT, currency="USD")

    garbled = await asyncio.wait_for(_adapter(standin, timeout=0.5, max_attempts=2).pay(item), 5)
    recovered = await _adapter(standin).pay(item)

    assert isinstance(garbled, Failed)
    assert garbled.retryable  # pending: the next run sends the same external id
    assert garbled.code in {"unreadable_answer", "unreachable", "timeout"}
    assert garbled.reason.endswith("(2 attempts)")
    [order] = standin.orders
    assert recovered == Paid(item.reference, provider_id=order["id"])


async def test_given_an_order_for_another_amount_than_asked_then_failed_naming_both_not_paid(
    standin: GiftCardStandIn,
):
    standin.garble = ["other"]
    item = instruction(1, GIFT_ACCOUNT, amount="25.10", currency="USD")

    outcome = await _adapter(standin).pay(item)

    [order] = standin.orders
    assert outcome == Failed(
        item.reference,
        f"the gift card order {order['id']} is for 2510.00 USD, not 25.10 USD asked: check it "
        "in the provider's dashboard",
        "order_mismatch",
    )


# --- Retry-After: waited as asked, within a bound ------------------------------------------


def _gap(standin: GiftCardStandIn) -> float:
    first, second = standin.requests[:2]
    return second["at"] - first["at"]


async def test_given_a_429_asking_to_wait_seconds_then_sent_again_no_sooner_and_paid_once(
    standin: GiftCardStandIn,
):
    standin.refuse = [(429, "1")]
    item = instruction(1, GIFT_ACCOUNT, currency="USD")

    outcome = await asyncio.wait_for(_adapter(standin).pay(item), 10)  # retry_delay: 0.01 s

    [order] = standin.orders
    assert outcome == Paid(item.reference, provider_id=order["id"])
    assert len(standin.requests) == 2
    assert _gap(standin) >= 0.95  # as asked, not after the 0.01 s backoff


async def test_given_a_503_asking_to_wait_till_an_http_date_then_sent_again_no_sooner(
    standin: GiftCardStandIn,
):
    from datetime import timedelta
    from email.utils import format_datetime

    from domain.kit.clock import utc_now

    # an HTTP date has whole seconds: two from now is more than one from now
    standin.refuse = [(503, format_datetime(utc_now() + timedelta(seconds=2), usegmt=True))]
    item = instruction(1, GIFT_ACCOUNT, currency="USD")

    outcome = await asyncio.wait_for(_adapter(standin).pay(item), 10)

    assert isinstance(outcome, Paid)
    assert len(standin.orders) == 1
    assert _gap(standin) >= 0.95


async def test_given_a_provider_asking_for_a_longer_wait_than_allowed_then_pending_at_once(
    standin: GiftCardStandIn,
):
    """Asked for 120 s, more than the 30 s a run waits: no wait, no second request, and no
    request for the client's next items either until then; each pending, naming the wait."""
    standin.refuse = [(429, "120")]
    adapter = _adapter(standin)
    started = asyncio.get_running_loop().time()

    first = await asyncio.wait_for(adapter.pay(instruction(1, GIFT_ACCOUNT, currency="USD")), 10)
    second = await asyncio.wait_for(adapter.pay(instruction(2, GIFT_ACCOUNT, currency="USD")), 10)

    assert asyncio.get_running_loop().time() - started < 2
    reason = ("the gift card provider asked to wait 120 s (Retry-After), more than the 30 s a "
              "run waits in all")  # fmt: skip
    assert first == Failed("item-000001", reason, "http_429", retryable=True)
    assert second == Failed("item-000002", reason, "provider_asked_to_wait", retryable=True)
    assert len(standin.requests) == 1
    assert standin.orders == []


async def test_given_waits_asked_again_and_again_then_at_most_max_wait_in_all(
    standin: GiftCardStandIn,
):
    standin.refuse = [(429, "1"), (429, "1")]  # 2 s asked in all, 1.5 s allowed
    started = asyncio.get_running_loop().time()

    outcome = await asyncio.wait_for(
        _adapter(standin, max_wait=1.5).pay(instruction(1, GIFT_ACCOUNT, currency="USD")), 10
    )

    assert 0.95 <= asyncio.get_running_loop().time() - started < 1.5
    assert isinstance(outcome, Failed)
    assert outcome.retryable
    assert "asked to wait 1 s" in outcome.reason
    assert len(standin.requests) == 2
    assert standin.orders == []


@pytest.mark.parametrize("header", ["soon", "-1", "1.5", "1e9", "٣", "x" * 100])
async def test_given_an_unreadable_retry_after_then_the_usual_backoff(
    standin: GiftCardStandIn, header: str
):
    standin.refuse = [(429, header)]

    outcome = await asyncio.wait_for(
        _adapter(standin).pay(instruction(1, GIFT_ACCOUNT, currency="USD")), 10
    )

    assert isinstance(outcome, Paid)
    assert _gap(standin) < 0.5


async def test_given_a_question_answered_429_asking_to_wait_then_the_next_waits_as_asked(
    standin: GiftCardStandIn,
):
    """A confirm asks about each item in turn through one client: the provider's Retry-After
    on one question holds the next one back as long, as it holds orders."""
    from payments.methods.models import Shown

    adapter = _adapter(standin)
    first, second = (instruction(n, GIFT_ACCOUNT, currency="USD") for n in (1, 2))
    for item in (first, second):
        assert isinstance(await adapter.pay(item), Paid)
    standin.refuse_list = [(429, "1")]

    refused = await asyncio.wait_for(adapter.look_up(first), 10)
    shown = await asyncio.wait_for(adapter.look_up(second), 10)

    assert refused.shows is Shown.UNKNOWN
    assert refused.shown.startswith("the gift card provider answered 429 when asked for")
    assert shown.shows is Shown.PAYMENT
    assert isinstance(shown.found, Paid)
    asked_first, asked_second = standin.lookups[-2:]
    assert asked_second["at"] - asked_first["at"] >= 0.95  # as asked


async def test_given_a_question_asked_to_wait_longer_than_a_run_waits_then_no_more_asked(
    standin: GiftCardStandIn,
):
    """Asked for 120 s while confirming: the other items are not asked about (no request),
    each left unknown at once, naming the wait; nor is an order sent by that client."""
    from payments.methods.models import Shown

    adapter = _adapter(standin)
    items = [instruction(n, GIFT_ACCOUNT, currency="USD") for n in (1, 2, 3)]
    for item in items[:2]:
        assert isinstance(await adapter.pay(item), Paid)
    asked = len(standin.lookups)
    standin.refuse_list = [(429, "120")]
    started = asyncio.get_running_loop().time()

    lookups = [await asyncio.wait_for(adapter.look_up(item), 10) for item in items[:2]]
    ordered = await asyncio.wait_for(adapter.pay(items[2]), 10)

    assert asyncio.get_running_loop().time() - started < 2
    reason = ("the gift card provider asked to wait 120 s (Retry-After), more than the 30 s a "
              "run waits in all")  # fmt: skip
    assert [lookup.shows for lookup in lookups] == [Shown.UNKNOWN, Shown.UNKNOWN]
    assert lookups[1].shown == reason
    assert ordered == Failed("item-000003", reason, "provider_asked_to_wait", retryable=True)
    assert len(standin.lookups) == asked + 1
    assert len(standin.orders) == 2
