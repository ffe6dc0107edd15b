"""Settling a pending item as failed asks its provider first (`settle_item`), against the
Stripe and gift card stand-ins on 127.0.0.1: a payment the provider shows refuses it (field
`outcome`, the payment named) and writes nothing; none shown settles it, the audit naming
the lookup; a provider that cannot be asked (down, a 500, an unreadable list, none
configured) refuses it unless payout ops say they checked, which the audit records. A gift
card item sent before is looked for before it is ordered again: never two cards."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest

from api.settings import DEVELOPMENT_PAYOUT_DETAILS_SECRET as SECRET
from domain.audit.models import AuditEntry
from payments.batches.errors import ProviderNotChecked, ProviderShowsPayment
from payments.batches.models import BatchStatus, ItemStatus, PayoutBatch, PayoutItem
from payments.methods.models import Provider, idempotency_key
from payments.methods.sandbox.giftcards import GiftCardStandIn
from payments.methods.sandbox.giftcards import running as giftcards_running
from payments.methods.sandbox.stripe_connect import StripeStandIn
from payments.methods.service import (
    remove_provider_config,
    set_gift_card_config,
    set_stripe_config,
)
from payments.payouts.models import PayoutMethod
from payments.payouts.service import set_payout_details
from tests.payments.helpers import World
from tests.payments.test_batches import _approved, _execute, _items, _world
from tests.payments.test_batches import standin as standin  # noqa: F401 - the fixture
from tests.payments.test_settle import (
    REASON,
    _approved_cards,
    _audit,
    _pending,
    _settle,
    _statement,
)

DOWN = "http://127.0.0.1:9"  # nothing listens there: connection refused


async def _never_answered(w: World, standin: StripeStandIn) -> tuple[PayoutBatch, PayoutItem]:
    """ann's item of a Stripe batch left pending with no transfer made: Stripe answered 503
    to the request and to stripe-python's two retries."""
    batch = await _approved(w, rep_ids=[w["ann"].id])
    standin.faults.refuse = [503] * 3
    assert (await _execute(w, batch)).pending == 1
    [item] = (await _items(batch)).values()
    assert (item.status, item.attempts, standin.transfers) == (ItemStatus.PENDING, 1, [])
    return batch, item


def _amount(item: PayoutItem) -> str:
    return f"{Decimal(item.amount):.2f} {item.currency}"


async def _nothing_written(w: World, item: PayoutItem, audited: int) -> None:
    kept = await PayoutItem.get(id=item.id)
    assert (kept.status, kept.settled_at, kept.failure_code) == (
        ItemStatus.PENDING, None, item.failure_code,
    )  # fmt: skip
    assert await AuditEntry.all().count() == audited
    assert await _statement(w, "cat" if item.user_id == w["cat"].id else "ann") == "approved"
    assert (await PayoutBatch.get(id=item.batch_id)).status is BatchStatus.EXECUTING


# --- Stripe --------------------------------------------------------------------------------


async def test_given_stripe_shows_the_transfer_when_settled_as_failed_then_refused_naming_it(
    db, standin: StripeStandIn
):
    """The transfer was made, its answer unreadable: Stripe's list of the item's group shows
    it, so settling as failed (even saying the provider was checked) is refused, naming the
    transfer and its amount; nothing is written and nothing is sent."""
    w = await _world(standin)
    batch, item = await _pending(w, standin)
    [transfer] = standin.transfers
    audited, sent = await AuditEntry.all().count(), len(standin.requests)

    for checked in (False, True):
        with pytest.raises(ProviderShowsPayment) as refused:
            await _settle(w, batch, item.reference, outcome="failed", provider_checked=checked)
        assert refused.value.field == "outcome"
        assert refused.value.message.startswith(
            f"Stripe shows transfer {transfer['id']} of {_amount(item)} in transfer group "
            f"{item.reference}: not settled as failed"
        )

    await _nothing_written(w, item, audited)
    asked = standin.requests[sent:]
    assert [(r["method"], r["path"]) for r in asked] == [("GET", "/v1/transfers")] * 2
    assert f"transfer_group={item.reference}" in asked[0]["body"]
    assert standin.transfers == [transfer]
    # what the refusal says to do
    await _settle(w, batch, item.reference, outcome="paid", reference=transfer["id"])
    assert await _statement(w, "ann") == "paid"


async def test_given_stripe_shows_no_transfer_when_settled_as_failed_then_settled_naming_it(
    db, standin: StripeStandIn
):
    w = await _world(standin)
    batch, item = await _never_answered(w, standin)

    settled = await _settle(w, batch, item.reference, outcome="failed")

    assert (settled.status, settled.failure_code) == (ItemStatus.FAILED, "settled_failed")
    assert await _statement(w, "ann") == "approved"  # for the next batch
    [entry] = await _audit("payout_item.settled")
    assert entry.after is not None
    assert entry.after["lookup"] == f"Stripe shows no transfer of transfer group {item.reference}"
    assert (entry.after["as"], entry.after["reason"]) == ("failed", REASON)
    assert standin.transfers == []


async def _garbled(w: World, standin: StripeStandIn) -> str:
    standin.faults.garble_list = ["shapeless"]
    return "Stripe answered the list of transfers without its data"


async def _refusing(w: World, standin: StripeStandIn) -> str:
    standin.faults.refuse = [500] * 4
    return "Stripe: "


async def _down(w: World, standin: StripeStandIn) -> str:
    await set_stripe_config(viewer=w.system, secret=SECRET, api_key=standin.api_key,
                            webhook_secrets=["whsec_testSecret0000000000001"],
                            api_base=DOWN)  # fmt: skip
    return "Stripe: could not be reached"


async def _unconfigured(w: World, standin: StripeStandIn) -> str:
    await remove_provider_config(viewer=w.viewer("ops"), provider=Provider.STRIPE)
    return "the tenant has no Stripe provider configured"


Breakage = Callable[[World, StripeStandIn], Awaitable[str]]


@pytest.mark.parametrize("broken", [_garbled, _refusing, _down, _unconfigured])
async def test_given_stripe_cannot_be_asked_when_settled_as_failed_then_only_with_ops_word(
    db, standin: StripeStandIn, broken: Breakage
):
    """Podium cannot tell whether Stripe paid the item: settling it as failed is refused,
    naming the field and why, and nothing is written; once payout ops say they checked the
    provider themselves, it is settled and the audit says Podium did not check it."""
    w = await _world(standin)
    batch, item = await _never_answered(w, standin)
    why = await broken(w, standin)
    audited = await AuditEntry.all().count()

    with pytest.raises(ProviderNotChecked) as refused:
        await _settle(w, batch, item.reference, outcome="failed")

    assert refused.value.field == "outcome"
    assert refused.value.message.startswith(
        f"Podium could not ask the provider whether it paid the item: {why}"
    )
    assert "providerChecked" in refused.value.message
    assert "--checked-provider" in refused.value.message
    await _nothing_written(w, item, audited)

    await broken(w, standin)
    settled = await _settle(w, batch, item.reference, outcome="failed", provider_checked=True)

    assert settled.status is ItemStatus.FAILED
    [entry] = await _audit("payout_item.settled")
    assert entry.after is not None
    lookup = entry.after["lookup"]
    assert lookup.startswith(f"provider not checked by Podium: {why}"), lookup
    assert lookup.endswith("; ops confirmed")
    assert standin.transfers == []


# --- gift cards ----------------------------------------------------------------------------


@pytest.fixture
async def cards() -> AsyncIterator[GiftCardStandIn]:
    async with giftcards_running(GiftCardStandIn(api_key="TEST_tremendous_key_0002")) as s:
        yield s


async def _card_world(standin: StripeStandIn, cards: GiftCardStandIn, **config: Any) -> World:
    w = await _world(standin)
    await set_payout_details(viewer=w.viewer("ops"), secret=SECRET, rep_id=w["cat"].id,
                             method=PayoutMethod.GIFT_CARD,
                             gift_card_email="cat@example.com")  # fmt: skip
    await set_gift_card_config(viewer=w.viewer("ops"), secret=SECRET, api_key=cards.api_key,
                               api_base=config.get("api_base", cards.url),
                               products=["OKMHM2X2OHYV"])  # fmt: skip
    return w


async def _ordered_unanswered(
    w: World, cards: GiftCardStandIn
) -> tuple[PayoutBatch, PayoutItem, dict[str, Any]]:
    """cat's gift card ordered, every answer an HTML page: the order made, the item
    pending (sent once, three attempts with its external id)."""
    batch = await _approved_cards(w)
    cards.garble = ["html"] * 3
    assert (await _execute(w, batch)).pending == 1
    [item] = (await _items(batch)).values()
    [order] = cards.orders
    assert (item.status, item.attempts, len(cards.requests)) == (ItemStatus.PENDING, 1, 3)
    return batch, item, order


async def test_given_the_provider_shows_the_gift_card_order_when_settled_as_failed_then_refused(
    db, standin: StripeStandIn, cards: GiftCardStandIn
):
    w = await _card_world(standin, cards)
    batch, item, order = await _ordered_unanswered(w, cards)
    audited = await AuditEntry.all().count()
    key = idempotency_key(tenant_id=w.tenant.id, reference=item.reference)

    with pytest.raises(ProviderShowsPayment) as refused:
        await _settle(w, batch, item.reference, outcome="failed", provider_checked=True)

    assert refused.value.field == "outcome"
    assert refused.value.message.startswith(
        f"the gift card provider shows order {order['id']} of {_amount(item)} (executed) "
        f"with external id {key}: not settled as failed"
    )
    await _nothing_written(w, item, audited)
    assert [lookup["query"] for lookup in cards.lookups] == [{"external_id": key, "limit": "2"}]
    assert (len(cards.requests), cards.orders) == (3, [order])  # nothing ordered


def _break(cards: GiftCardStandIn, fault: dict[str, Any]) -> None:
    """The stand-in's list faults set (again: one lookup takes them)."""
    for name in ("refuse_list", "garble_list"):
        if name in fault:
            setattr(cards, name, list(fault[name]))


@pytest.mark.parametrize(
    ("fault", "why"),
    [
        ({"refuse_list": [500]}, "the gift card provider answered 500 when asked for the list"),
        ({"garble_list": ["other"]}, "with an order of another external id"),
        ({"garble_list": ["html"]}, "without its orders"),
        ({"api_base": DOWN}, "the gift card provider could not be reached when asked"),
    ],
)
async def test_given_the_gift_card_provider_cannot_be_asked_then_settled_only_with_ops_word(
    db, standin: StripeStandIn, cards: GiftCardStandIn, fault: dict[str, Any], why: str
):
    w = await _card_world(standin, cards)
    batch = await _approved_cards(w)
    cards.refuse = [503] * 3  # no order made
    assert (await _execute(w, batch)).pending == 1
    [item] = (await _items(batch)).values()
    if "api_base" in fault:
        await set_gift_card_config(viewer=w.viewer("ops"), secret=SECRET, api_key=cards.api_key,
                                   api_base=DOWN, products=["OKMHM2X2OHYV"])  # fmt: skip
    audited = await AuditEntry.all().count()

    _break(cards, fault)
    with pytest.raises(ProviderNotChecked) as refused:
        await _settle(w, batch, item.reference, outcome="failed")
    assert refused.value.field == "outcome"
    assert why in refused.value.message, refused.value.message
    await _nothing_written(w, item, audited)

    _break(cards, fault)
    await _settle(w, batch, item.reference, outcome="failed", provider_checked=True)

    [entry] = await _audit("payout_item.settled")
    assert entry.after is not None
    assert entry.after["lookup"].startswith("provider not checked by Podium: the gift card")
    assert why in entry.after["lookup"]
    assert entry.after["lookup"].endswith("; ops confirmed")
    assert cards.orders == []


async def test_given_a_gift_card_sent_before_when_run_again_then_its_order_is_found_not_made_again(
    db, standin: StripeStandIn, cards: GiftCardStandIn
):
    """The first run ordered the card and never read an answer; the provider no longer holds
    the external id idempotent (a Tremendous-like API without that promise): the rerun looks
    for the order by its external id first, finds it executed, and orders nothing."""
    w = await _card_world(standin, cards)
    batch, item, order = await _ordered_unanswered(w, cards)
    cards.forget()

    summary = await _execute(w, batch)

    assert (summary.paid, summary.pending, summary.done) == (1, 0, True)
    assert cards.orders == [order]  # one card
    assert len(cards.requests) == 3  # no order asked again
    paid = await PayoutItem.get(id=item.id)
    assert (paid.status, paid.provider_id, paid.attempts) == (ItemStatus.PAID, order["id"], 2)
    assert await _statement(w, "cat") == "paid"


async def test_given_a_gift_card_sent_before_when_its_order_cannot_be_looked_for_then_not_ordered(
    db, standin: StripeStandIn, cards: GiftCardStandIn
):
    """The rerun's list of orders is unreadable: the item stays pending with the reason,
    and no order is asked for (the provider, having forgotten the external id, would make a
    second card)."""
    w = await _card_world(standin, cards)
    batch = await _approved_cards(w)
    cards.refuse = [503] * 3
    assert (await _execute(w, batch)).pending == 1
    cards.garble_list = ["shapeless"]

    summary = await _execute(w, batch)

    assert (summary.pending, summary.done) == (1, False)
    assert (len(cards.requests), cards.orders) == (3, [])
    [item] = (await _items(batch)).values()
    assert item.failure_reason is not None
    assert "answered the list of orders of external id" in item.failure_reason
    assert "without its orders" in item.failure_reason

    assert (await _execute(w, batch)).paid == 1  # the list readable and empty: ordered
    assert len(cards.orders) == 1


# --- the command line and GraphQL --------------------------------------------------------


async def test_given_the_command_line_when_the_provider_shows_the_transfer_then_one_line_naming_as(
    db: str, standin: StripeStandIn
):
    from tests.api.cli_runner import podium

    w = await _world(standin)
    batch, item = await _pending(w, standin)
    [transfer] = standin.transfers
    base = ("payouts", "settle", "--tenant", "acme", "--batch", str(batch.id), "--item",
            item.reference, "--by", "ops", "--as", "failed", "--reason", REASON)  # fmt: skip

    (await podium(db, *base)).one_line_error("--as", f"Stripe shows transfer {transfer['id']}")
    (await podium(db, *base, "--checked-provider")).one_line_error("--as", transfer["id"])
    standin.faults.garble_list = ["shapeless"]
    (await podium(db, *base)).one_line_error("--as", "without its data", "--checked-provider")
    assert await _audit("payout_item.settled") == []

    paid = (*base[:-4], "--as", "paid", "--reference", "tr_elsewhere", "--reason", REASON)
    refused = await podium(db, *paid, "--checked-provider")
    refused.one_line_error("--checked-provider", "only settling as failed")
    assert (await PayoutItem.get(id=item.id)).status is ItemStatus.PENDING

    standin.faults.garble_list = ["shapeless"]
    ran = await podium(db, *base, "--checked-provider")

    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == f"{batch.id}: {item.reference} settled as failed by ops\n"
    [entry] = await _audit("payout_item.settled")
    assert entry.after is not None
    assert entry.after["lookup"] == (
        "provider not checked by Podium: Stripe answered the list of transfers without its "
        "data; ops confirmed"
    )


SETTLE = """mutation ($b: ID!, $i: String!, $r: String!, $checked: Boolean!) {
  settlePayoutItem(batchId: $b, item: $i, outcome: FAILED, reason: $r,
                   providerChecked: $checked) {
    __typename ... on UserError { code message field }
    ... on PayoutBatch { status items { edges { node { reference status } } } } } }"""


async def test_given_graphql_then_settling_as_failed_asks_the_provider_and_takes_ops_word(
    api: Any, standin: StripeStandIn
):
    w = await _world(standin)
    batch, item = await _pending(w, standin)
    ops = api.as_(w.tenant, w["ops"])
    asked = {"b": str(batch.id), "i": item.reference, "r": REASON, "checked": True}

    shown = (await ops.gql(SETTLE, asked))["data"]["settlePayoutItem"]
    assert (shown["__typename"], shown["code"], shown["field"]) == (
        "UserError", "PROVIDER_SHOWS_PAYMENT", "outcome",
    )  # fmt: skip
    assert standin.transfers[0]["id"] in shown["message"]

    standin.faults.garble_list = ["shapeless"]
    unknown = (await ops.gql(SETTLE, {**asked, "checked": False}))["data"]["settlePayoutItem"]
    assert (unknown["__typename"], unknown["code"], unknown["field"]) == (
        "UserError", "PROVIDER_NOT_CHECKED", "outcome",
    )  # fmt: skip
    assert (await PayoutItem.get(id=item.id)).status is ItemStatus.PENDING

    standin.faults.garble_list = ["shapeless"]
    settled = (await ops.gql(SETTLE, asked))["data"]["settlePayoutItem"]

    assert settled["status"] == "DONE"
    assert settled["items"]["edges"][0]["node"]["status"] == "FAILED"
    [entry] = await _audit("payout_item.settled")
    assert entry.after is not None
    assert entry.after["lookup"].startswith("provider not checked by Podium: ")
