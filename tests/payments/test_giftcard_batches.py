"""Gift card payout batches against the Tremendous-style stand-in on 127.0.0.1: the tenant's
provider sealed and checked when set; one order per item with the amount to the cent,
whatever is retried or killed (SIGKILL between any two steps of an item); an order held for
approval submitted until payout ops confirm it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from tortoise.transactions import in_transaction

from api.settings import DEVELOPMENT_PAYOUT_DETAILS_SECRET as SECRET
from domain.kit.errors import Forbidden, InvalidInput
from payments.batches import service
from payments.batches.models import BatchStatus, ItemStatus, PayoutBatch, PayoutItem
from payments.methods.models import Provider, ProviderConfig
from payments.methods.sandbox.giftcards import GiftCardStandIn, running
from payments.methods.service import gift_card_config, set_gift_card_config
from payments.payouts.models import PayoutMethod
from payments.payouts.service import set_payout_details
from payments.statements.models import Statement
from tests.payments.helpers import World, approved_october, execute_in_process, make_world

KEY = "TEST_tremendous_standin_key_0001"


@pytest.fixture
async def standin() -> AsyncIterator[GiftCardStandIn]:
    async with running(GiftCardStandIn(api_key=KEY)) as s:
        yield s


async def _world(standin: GiftCardStandIn) -> World:
    """October approved for ann, bob and cat; ann and bob take gift cards, cat has no
    payout details; the tenant's provider is the stand-in."""
    w = await make_world()
    await approved_october(w)
    for key in ("ann", "bob"):
        await set_payout_details(viewer=w.viewer("ops"), secret=SECRET, rep_id=w[key].id,
                                 method=PayoutMethod.GIFT_CARD,
                                 gift_card_email=f"{key}@example.com")  # fmt: skip
    await set_gift_card_config(viewer=w.viewer("ops"), secret=SECRET, api_key=KEY,
                               api_base=standin.url, products=["OKMHM2X2OHYV"])  # fmt: skip
    return w


async def _approved(w: World) -> PayoutBatch:
    async with in_transaction():
        batch = await service.create_batch(viewer=w.viewer("ops"), period="2026-10",
                                           method=PayoutMethod.GIFT_CARD)  # fmt: skip
    async with in_transaction():
        await service.approve_batch(viewer=w.viewer("admin"), batch_id=batch.id)
    return batch


async def _statuses(batch: PayoutBatch) -> dict[str, ItemStatus]:
    items = await PayoutItem.filter(batch_id=batch.id).prefetch_related("user")
    return {i.user.external_id: i.status for i in items}


async def test_given_a_gift_card_batch_when_executed_then_one_order_a_payee_to_the_cent(
    db, standin: GiftCardStandIn
):
    w = await _world(standin)
    batch = await _approved(w)
    async with in_transaction():
        await service.start_execution(viewer=w.viewer("ops"), batch_id=batch.id)

    summary = await service.execute_batch(tenant_id=w.tenant.id, batch_id=batch.id, secret=SECRET)

    assert (summary.paid, summary.failed, summary.done) == (2, 1, True)
    assert await _statuses(batch) == {"ann": ItemStatus.PAID, "bob": ItemStatus.PAID,
                                      "cat": ItemStatus.FAILED}  # fmt: skip
    totals = {s.user_id: Decimal(s.total) for s in await Statement.filter(tenant_id=w.tenant.id)}
    by_order = {i.provider_id: i for i in await PayoutItem.filter(batch_id=batch.id)}
    order_of = {o["external_id"]: o["id"] for o in standin.orders}
    assert len(standin.orders) == len(standin.requests) == 2
    for request in standin.requests:
        sent = json.loads(request["body"], parse_float=Decimal)
        item = by_order[order_of[sent["external_id"]]]
        denomination = sent["reward"]["value"]["denomination"]
        assert denomination == totals[item.user_id]
        assert denomination.as_tuple().exponent == -2  # 25.10, never 25.100000
        assert sent["reward"]["recipient"]["email"].endswith("@example.com")
    statuses = sorted(
        await Statement.filter(tenant_id=w.tenant.id).values_list("status", flat=True)
    )
    assert statuses == ["approved", "paid", "paid"]
    assert (await PayoutBatch.get(id=batch.id)).status is BatchStatus.DONE


async def test_given_orders_held_for_approval_then_submitted_until_confirmed(
    db, standin: GiftCardStandIn
):
    standin.status = "PENDING_APPROVAL"
    w = await _world(standin)
    batch = await _approved(w)
    async with in_transaction():
        await service.start_execution(viewer=w.viewer("ops"), batch_id=batch.id)
    await service.execute_batch(tenant_id=w.tenant.id, batch_id=batch.id, secret=SECRET)
    assert await _statuses(batch) == {"ann": ItemStatus.SUBMITTED, "bob": ItemStatus.SUBMITTED,
                                      "cat": ItemStatus.FAILED}  # fmt: skip
    statuses = await Statement.filter(tenant_id=w.tenant.id).values_list("status", flat=True)
    assert sorted(statuses) == ["approved"] * 3
    standin.decide("EXECUTED")  # approved in the provider's dashboard

    async with in_transaction():
        await service.confirm_batch(viewer=w.viewer("ops"), batch_id=batch.id, secret=SECRET)

    assert (await _statuses(batch))["ann"] is ItemStatus.PAID
    assert len(standin.orders) == 2


async def test_given_no_provider_then_the_items_fail_naming_it(db, standin: GiftCardStandIn):
    w = await _world(standin)
    await ProviderConfig.filter(tenant_id=w.tenant.id, provider=Provider.GIFT_CARDS).delete()
    batch = await _approved(w)
    async with in_transaction():
        await service.start_execution(viewer=w.viewer("ops"), batch_id=batch.id)
    await service.execute_batch(tenant_id=w.tenant.id, batch_id=batch.id, secret=SECRET)
    item = await PayoutItem.filter(batch_id=batch.id, user_id=w["ann"].id).first()
    assert item is not None
    assert item.status is ItemStatus.FAILED
    assert item.failure_reason == "the tenant has no gift_card provider configured"
    assert standin.orders == []


async def test_given_bad_provider_settings_then_named_and_nothing_stored(
    db, standin: GiftCardStandIn
):
    w = await make_world()
    good = {"secret": SECRET, "api_key": KEY, "api_base": standin.url, "products": ["P1"]}
    for changes, field in (
        ({"api_key": "short"}, "apiKey"),
        ({"api_base": "ftp://x"}, "apiBase"),
        ({"products": []}, "products"),
        ({"products": ["a b"]}, "products"),
        ({"funding_source_id": ""}, "fundingSourceId"),
    ):
        with pytest.raises(InvalidInput) as refused:
            await set_gift_card_config(viewer=w.viewer("ops"), **{**good, **changes})
        assert refused.value.field == field
    with pytest.raises(Forbidden):
        await set_gift_card_config(viewer=w.viewer("ann"), **good)
    assert await gift_card_config(tenant_id=w.tenant.id, secret=SECRET) is None
    stored = await set_gift_card_config(viewer=w.viewer("ops"), **good)
    assert KEY not in stored.sealed
    assert KEY not in stored.masked_key
    config = await gift_card_config(tenant_id=w.tenant.id, secret=SECRET)
    assert config is not None
    assert (config.api_key, config.products) == (KEY, ("P1",))


@pytest.mark.parametrize("step", ["item_locked", "item_answered", "item_committed"])
async def test_given_the_executor_killed_between_two_steps_when_rerun_then_one_order_each(
    db: str, standin: GiftCardStandIn, step: str
):
    w = await _world(standin)
    batch = await _approved(w)
    # killed at the step of a gift card payee's item, whose order is sent (cat's item, no
    # payout details, is answered without a request); named by its reference, as the lanes
    # answer the items in no fixed order (cat's, which sends nothing, often first)
    item = await PayoutItem.filter(batch_id=batch.id).exclude(user_id=w["cat"].id).first()
    assert item is not None
    point = f"{step}@{item.reference}"

    killed, said = await execute_in_process(db, batch.id, PODIUM_TEST_KILL_AT=point)
    assert killed == -9, said
    code, said = await execute_in_process(db, batch.id)
    assert code == 0, said
    assert said.startswith(f"{batch.id}: 2 paid, 1 failed, 0 pending; done"), said

    external_ids = [o["external_id"] for o in standin.orders]
    assert len(external_ids) == len(set(external_ids)) == 2
    if point.startswith("item_answered"):  # ordered, killed before the commit: asked again
        assert len(standin.requests) > 2  # with its external id, answered with the first


async def test_given_orders_executed_but_answered_with_an_html_page_then_pending_then_paid_once(
    db: str, standin: GiftCardStandIn
):
    w = await _world(standin)
    batch = await _approved(w)
    standin.garble = ["html"] * 6  # every attempt of ann's and bob's orders: a 200 error page

    code, said = await execute_in_process(db, batch.id)

    assert code == 1, said
    assert said == f"{batch.id}: 0 paid, 1 failed, 2 pending; run it again for the pending ones\n"
    item = await PayoutItem.get(batch_id=batch.id, user_id=w["ann"].id)
    assert item.status is ItemStatus.PENDING  # its order may exist: never failed, never paid
    assert item.failure_reason == (
        "the gift card provider answered 200 without an order (3 attempts); sent again with "
        "the same key by the next run"
    )
    statuses = await Statement.filter(tenant_id=w.tenant.id).values_list("status", flat=True)
    assert sorted(statuses) == ["approved"] * 3

    code, said = await execute_in_process(db, batch.id)  # the provider answers again

    assert (code, said) == (0, f"{batch.id}: 2 paid, 1 failed, 0 pending; done\n")
    external_ids = [o["external_id"] for o in standin.orders]
    assert len(external_ids) == len(set(external_ids)) == 2
