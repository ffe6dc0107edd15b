"""Confirming a gift card batch asks the provider about each submitted item (`confirm_batch`),
against the Tremendous-style stand-in on 127.0.0.1 and real PostgreSQL: an order the
provider shows executed is paid; a canceled one fails and its statement goes to the next
batch; one still held for approval stays submitted, named in the answer; a provider that
cannot be asked (a 500, a garbled list, none configured) about any item refuses the whole
confirmation (field `id`) and writes nothing; one it cannot be asked about one item leaves
that item submitted with the reason. Through the service, `podium payouts confirm` and
`confirmPayoutBatch`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from tortoise.transactions import in_transaction

from api.settings import DEVELOPMENT_PAYOUT_DETAILS_SECRET as SECRET
from domain.audit.models import AuditEntry
from payments.batches import service
from payments.batches.errors import ProviderNotChecked
from payments.batches.models import ItemStatus, PayoutBatch, PayoutItem
from payments.methods.models import Provider, ProviderConfig
from payments.methods.sandbox.giftcards import GiftCardStandIn, running
from payments.payouts.models import PayoutMethod
from payments.statements.models import Statement
from tests.api.cli_runner import podium
from tests.api.graphql.helpers import Api
from tests.payments.helpers import World
from tests.payments.test_giftcard_batches import KEY, _approved, _world
from tests.payments.test_giftcard_batches import standin as standin  # noqa: F401 - the fixture

CONFIRM = """mutation ($id: ID!) { confirmPayoutBatch(id: $id) { __typename
  ... on PayoutBatch { id status confirmedItems { reference status reason providerAsked } }
  ... on UserError { code message field } } }"""


async def _held(w: World) -> tuple[PayoutBatch, dict[str, PayoutItem]]:
    """The October gift card batch executed with every order held for approval: ann's and
    bob's items submitted (cat, without payout details, failed)."""
    batch = await _approved(w)
    async with in_transaction():
        await service.start_execution(viewer=w.viewer("ops"), batch_id=batch.id)
    await service.execute_batch(tenant_id=w.tenant.id, batch_id=batch.id, secret=SECRET)
    items = await _items(batch)
    assert (items["ann"].status, items["bob"].status) == (ItemStatus.SUBMITTED,) * 2
    return batch, items


async def _items(batch: PayoutBatch) -> dict[str, PayoutItem]:
    found = await PayoutItem.filter(batch_id=batch.id).prefetch_related("user")
    return {i.user.external_id: i for i in found}


async def _statement(item: PayoutItem) -> str:
    return (await Statement.get(id=item.statement_id)).status


async def _confirm(w: World, batch: PayoutBatch) -> Any:
    async with in_transaction():
        return await service.confirm_batch(viewer=w.viewer("ops"), batch_id=batch.id,
                                           secret=SECRET)  # fmt: skip


async def _audit(action: str) -> list[AuditEntry]:
    return await AuditEntry.filter(action=action).order_by("id")


@pytest.fixture
def held(standin: GiftCardStandIn) -> GiftCardStandIn:  # noqa: F811
    standin.status = "PENDING_APPROVAL"
    return standin


async def test_given_one_order_executed_and_one_canceled_when_confirmed_then_paid_and_failed_for_the_next_batch(  # noqa: E501
    db, held: GiftCardStandIn
):
    w = await _world(held)
    batch, items = await _held(w)
    held.decide("EXECUTED", items["ann"].provider_id or "")
    held.decide("CANCELED", items["bob"].provider_id or "")
    asked = len(held.lookups)

    confirmed = await _confirm(w, batch)

    after = await _items(batch)
    assert (after["ann"].status, await _statement(after["ann"])) == (ItemStatus.PAID, "paid")
    assert (after["bob"].status, await _statement(after["bob"])) == (ItemStatus.FAILED, "approved")
    assert after["bob"].failure_code == "order_failed"
    assert (
        after["bob"].failure_reason == f"the gift card order {items['bob'].provider_id} is CANCELED"
    )
    assert len(held.lookups) == asked + 2  # one question per submitted item
    [paid] = await _audit("payout_item.paid")
    assert "(executed)" in paid.after["lookup"]
    assert items["ann"].provider_id in paid.after["lookup"]
    [failed] = [
        e for e in await _audit("payout_item.failed") if e.entity_id == str(items["bob"].id)
    ]
    assert failed.after["lookup"].endswith("is CANCELED")
    assert {(i.reference, i.became) for i in confirmed.items} == {
        (items["ann"].reference, ItemStatus.PAID), (items["bob"].reference, ItemStatus.FAILED)
    }  # fmt: skip
    async with in_transaction():  # bob's statement is the next batch's (with cat's)
        again = await service.create_batch(viewer=w.viewer("ops"), period="2026-10",
                                           method=PayoutMethod.GIFT_CARD)  # fmt: skip
    taken = await PayoutItem.filter(batch_id=again.id).values_list("statement_id", flat=True)
    assert items["bob"].statement_id in taken
    assert items["ann"].statement_id not in taken


async def test_given_an_order_still_held_when_confirmed_then_left_submitted_and_named(
    db, held: GiftCardStandIn
):
    w = await _world(held)
    batch, items = await _held(w)
    held.decide("EXECUTED", items["ann"].provider_id or "")

    confirmed = await _confirm(w, batch)

    after = await _items(batch)
    assert (after["ann"].status, after["bob"].status) == (ItemStatus.PAID, ItemStatus.SUBMITTED)
    assert await _statement(after["bob"]) == "approved"
    [left] = [i for i in confirmed.items if i.became is ItemStatus.SUBMITTED]
    assert left.reference == items["bob"].reference
    assert left.why.startswith("still waiting for approval: the gift card provider shows order")
    assert left.asked
    [entry] = await _audit("payout_batch.confirmed")
    assert entry.after is not None
    assert (entry.after["paid"], entry.after["submitted"]) == (1, 1)
    assert entry.after["left"] == {items["bob"].reference: left.why}

    held.decide("EXECUTED")  # approved later in the dashboard: confirmed again
    await _confirm(w, batch)
    assert (await _items(batch))["bob"].status is ItemStatus.PAID


@pytest.mark.parametrize("fault", ["500", "garbled", "not configured"])
async def test_given_the_provider_cannot_be_asked_when_confirmed_then_refused_and_nothing_written(
    db, held: GiftCardStandIn, fault: str
):
    w = await _world(held)
    batch, items = await _held(w)
    held.decide("EXECUTED")  # what the provider would show, could it be asked
    if fault == "500":
        held.refuse_list = [500, 500]
    elif fault == "garbled":
        held.garble_list = ["shapeless", "shapeless"]
    else:
        await ProviderConfig.filter(tenant_id=w.tenant.id, provider=Provider.GIFT_CARDS).delete()
    audited = await AuditEntry.all().count()

    with pytest.raises(ProviderNotChecked) as refused:
        await _confirm(w, batch)

    assert refused.value.field == "id"
    assert "nothing confirmed" in refused.value.message
    after = await _items(batch)
    assert (after["ann"].status, after["bob"].status) == (ItemStatus.SUBMITTED,) * 2
    assert {await _statement(i) for i in after.values()} == {"approved"}
    assert await AuditEntry.all().count() == audited


@dataclass
class DownForOne(GiftCardStandIn):
    """The stand-in answering 503 to the lists of one external id (``down_for``)."""

    down_for: str = ""

    async def _list(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("external_id") == self.down_for:
            self.lookups.append({"query": dict(request.query)})
            return web.json_response({"errors": {"message": "down"}}, status=503)
        return await super()._list(request)


async def test_given_one_item_the_provider_cannot_be_asked_about_then_it_alone_stays_submitted(db):
    async with running(DownForOne(api_key=KEY, status="PENDING_APPROVAL")) as down:
        w = await _world(down)
        batch, items = await _held(w)
        down.decide("EXECUTED")
        down.down_for = next(o["external_id"] for o in down.orders
                             if o["id"] == items["ann"].provider_id)  # fmt: skip

        confirmed = await _confirm(w, batch)

    after = await _items(batch)
    assert (after["ann"].status, after["bob"].status) == (ItemStatus.SUBMITTED, ItemStatus.PAID)
    [left] = [i for i in confirmed.items if i.reference == items["ann"].reference]
    assert (left.became, left.asked) == (ItemStatus.SUBMITTED, False)
    assert left.why == (
        "the provider could not be asked: the gift card provider answered 503 when asked for "
        f"the list of orders of external id {down.down_for}"
    )


async def test_given_the_cli_then_one_line_per_item_and_a_summary_or_one_line_refusing(
    db: str, held: GiftCardStandIn
):
    w = await _world(held)
    batch, items = await _held(w)
    held.decide("EXECUTED", items["ann"].provider_id or "")
    held.refuse_list = [500, 500]

    refused = await podium(db, "payouts", "confirm", "--tenant", "acme", "--batch", batch.id)

    refused.one_line_error("podium: --batch: nothing confirmed: Podium could not ask the provider "
                           "about any of the 2 submitted item(s): the gift card provider answered "
                           "500 when asked for the list of orders")  # fmt: skip
    assert {i.status for i in (await _items(batch)).values()} >= {ItemStatus.SUBMITTED}

    ran = await podium(db, "payouts", "confirm", "--tenant", "acme", "--batch", batch.id)

    assert (ran.returncode, ran.stderr) == (0, ""), ran
    lines = ran.stdout.splitlines()
    ann, bob = items["ann"], items["bob"]
    key = {o["id"]: o["external_id"] for o in held.orders}
    assert sorted(lines[:2]) == sorted([
        f"{ann.reference}: paid: the gift card provider shows order {ann.provider_id} of "
        f"{ann.amount:.2f} {ann.currency} (executed) with external id "
        f"{key[ann.provider_id]}",
        f"{bob.reference}: left submitted: still waiting for approval: the gift card provider "
        f"shows order {bob.provider_id} of {bob.amount:.2f} {bob.currency} (waiting for "
        f"approval) with external id "
        f"{key[bob.provider_id]}",
    ])  # fmt: skip
    assert lines[2:] == [f"{batch.id}: 1 paid, 0 failed, 1 left submitted"]
    assert (await _items(batch))["ann"].status is ItemStatus.PAID


async def test_given_graphql_then_confirmed_items_or_a_user_error_naming_id(
    api: Api, held: GiftCardStandIn
):
    w = await _world(held)
    batch, items = await _held(w)
    ops = api.as_(w.tenant, w["ops"])
    held.refuse_list = [500, 500]

    refused = (await ops.gql(CONFIRM, {"id": str(batch.id)}))["data"]["confirmPayoutBatch"]

    assert (refused["__typename"], refused["code"], refused["field"]) == (
        "UserError", "PROVIDER_NOT_CHECKED", "id"
    )  # fmt: skip
    assert refused["message"].startswith("nothing confirmed")
    held.decide("CANCELED", items["bob"].provider_id or "")

    answer = await ops.gql(CONFIRM, {"id": str(batch.id)})

    assert "errors" not in answer, answer
    confirmed = answer["data"]["confirmPayoutBatch"]
    assert confirmed["__typename"] == "PayoutBatch"
    by_reference = {c["reference"]: c for c in confirmed["confirmedItems"]}
    assert by_reference[items["bob"].reference] == {
        "reference": items["bob"].reference, "status": "FAILED", "providerAsked": True,
        "reason": f"the gift card order {items['bob'].provider_id} is CANCELED",
    }  # fmt: skip
    ann = by_reference[items["ann"].reference]
    assert (ann["status"], ann["providerAsked"]) == ("SUBMITTED", True)
    assert ann["reason"].startswith("still waiting for approval")
    assert (await _items(batch))["bob"].status is ItemStatus.FAILED


async def test_given_a_card_whose_email_bounced_then_never_failed_and_confirmed_once_sent_again(
    db,
    standin: GiftCardStandIn,  # noqa: F811
):
    """An executed order whose e-mail bounced is a funded card: failing its item would have
    the next batch order a second one. It stays submitted, through the execution and the
    confirmation, until the card is sent again (the address corrected in the dashboard)."""
    standin.delivery = "FAILED"
    w = await _world(standin)
    batch, items = await _held(w)
    ann = items["ann"]
    ordered = len(standin.orders)

    confirmed = await _confirm(w, batch)

    after = await _items(batch)
    assert (after["ann"].status, after["bob"].status) == (ItemStatus.SUBMITTED,) * 2
    assert await _statement(after["ann"]) == "approved"
    [why] = [i.why for i in confirmed.items if i.reference == ann.reference]
    assert why.startswith(f"not confirmed: the gift card provider shows order {ann.provider_id}")
    assert "e-mail bounced" in why
    async with in_transaction():  # a next batch does not pay them again (only cat's)
        again = await service.create_batch(viewer=w.viewer("ops"), period="2026-10",
                                           method=PayoutMethod.GIFT_CARD)  # fmt: skip
    taken = await PayoutItem.filter(batch_id=again.id).values_list("statement_id", flat=True)
    assert ann.statement_id not in taken
    assert items["bob"].statement_id not in taken
    assert len(standin.orders) == ordered

    for order in standin.orders:  # sent again to a corrected address
        order["rewards"][0]["delivery"]["status"] = "SUCCEEDED"
    await _confirm(w, batch)
    after = await _items(batch)
    assert (after["ann"].status, await _statement(after["ann"])) == (ItemStatus.PAID, "paid")
    assert len(standin.orders) == ordered
