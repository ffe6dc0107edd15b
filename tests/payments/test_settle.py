"""Settling a pending payout item by hand (`settle_item`), against the Stripe and gift card
stand-ins on 127.0.0.1: only an item whose provider never answered for sure; as paid, its
statement paid as a provider's success would; as failed, its statement to the next batch as
a provider's refusal would; audited with who, why and the reference; never sent again by a
rerun; a provider reporting a payment of it later flagged, the statement not paid again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from api.settings import DEVELOPMENT_PAYOUT_DETAILS_SECRET as SECRET
from domain.audit.models import AuditEntry
from domain.kit.errors import DomainError, Forbidden
from domain.org.viewer import Viewer
from payments.batches import service
from payments.batches.models import BatchStatus, ItemStatus, PayoutBatch, PayoutItem
from payments.methods.models import Paid, idempotency_key
from payments.methods.sandbox.giftcards import GiftCardStandIn
from payments.methods.sandbox.giftcards import running as giftcards_running
from payments.methods.sandbox.stripe_connect import StripeStandIn
from payments.methods.service import set_gift_card_config
from payments.methods.stripe_connect import outcome_of
from payments.payouts.models import PayoutMethod
from payments.payouts.service import set_payout_details
from payments.statements.models import Statement
from tests.payments.helpers import World
from tests.payments.test_batches import _approved, _execute, _items, _world
from tests.payments.test_batches import standin as standin  # noqa: F401 - the fixture

REASON = "Stripe dashboard checked by Mia on 5 Dec: see ticket OPS-4411"


async def _pending(w: World, standin: StripeStandIn) -> tuple[PayoutBatch, PayoutItem]:
    """ann's item of a Stripe batch left pending: the transfer made, its answer unreadable
    (what `podium payouts execute` leaves for the next run)."""
    batch = await _approved(w, rep_ids=[w["ann"].id])
    standin.faults.garble = ["shapeless"]
    summary = await _execute(w, batch)
    assert (summary.pending, summary.done) == (1, False)
    [item] = (await _items(batch)).values()
    assert (item.status, item.attempts) == (ItemStatus.PENDING, 1)
    return batch, item


async def _settle(w: World, batch: PayoutBatch, item: str, **kwargs: Any) -> PayoutItem:
    async with in_transaction():
        return await service.settle_item(
            viewer=kwargs.pop("viewer", w.viewer("ops")), batch_id=kwargs.pop("batch_id", batch.id),
            item=item, **{"reason": REASON, "secret": SECRET, **kwargs},
        )  # fmt: skip


async def _statement(w: World, key: str) -> str:
    return (await Statement.get(tenant_id=w.tenant.id, user_id=w[key].id)).status


async def _audit(action: str) -> list[AuditEntry]:
    return await AuditEntry.filter(action=action).order_by("id")


async def test_given_a_pending_item_when_settled_as_paid_then_paid_audited_and_never_sent_again(
    db, standin: StripeStandIn
):
    w = await _world(standin)
    batch, item = await _pending(w, standin)
    [transfer] = standin.transfers
    sent = len(standin.requests)

    settled = await _settle(w, batch, item.reference, outcome="paid", reference=transfer["id"])

    assert (settled.status, settled.provider_id) == (ItemStatus.PAID, transfer["id"])
    assert (settled.failure_code, settled.failure_reason) == (None, None)
    assert (settled.settled_by, settled.settle_reason, settled.settle_reference) == (
        w["ops"].id, REASON, transfer["id"],
    )  # fmt: skip
    assert await _statement(w, "ann") == "paid"  # as a provider's success would
    assert (await PayoutBatch.get(id=batch.id)).status is BatchStatus.DONE  # nothing pending
    [entry] = await _audit("payout_item.settled")
    assert (entry.actor_id, entry.entity_id) == (w["ops"].id, str(item.id))
    assert entry.before == {"status": "pending", "attempts": 1, "reason": item.failure_reason}
    assert entry.after == {"status": "paid", "as": "paid", "reason": REASON,
                           "reference": transfer["id"], "providerId": transfer["id"]}  # fmt: skip
    [paid] = await _audit("statement.paid")
    assert paid.actor_id == w["ops"].id
    assert [e.actor_id for e in await _audit("payout_batch.done")] == [w["ops"].id]

    # what a rerun does: the batch is done; an execution anyway sends nothing
    with pytest.raises(service.BatchStateError, match="done"):
        await service.start_execution(viewer=w.viewer("ops"), batch_id=batch.id)
    await service.execute_batch(tenant_id=w.tenant.id, batch_id=batch.id, secret=SECRET)
    assert (len(standin.requests), len(standin.transfers)) == (sent, 1)
    with pytest.raises(service.BatchError, match="no approved, unpaid statement"):
        await service.create_batch(viewer=w.viewer("ops"), period="2026-10",
                                   method=PayoutMethod.STRIPE, rep_ids=[w["ann"].id])  # fmt: skip

    # the provider reporting that transfer later changes nothing; another payment is flagged
    async with in_transaction():
        same = Paid(item.reference, provider_id=transfer["id"])
        assert await service.apply_event_outcome(tenant_id=w.tenant.id, outcome=same)
    assert (await PayoutItem.get(id=item.id)).failure_code is None
    async with in_transaction():
        other = Paid(item.reference, provider_id="po_00000000000099")
        assert await service.apply_event_outcome(tenant_id=w.tenant.id, outcome=other)
    flagged = await PayoutItem.get(id=item.id)
    assert (flagged.status, flagged.failure_code) == (ItemStatus.PAID, "paid_after_settle")
    assert flagged.failure_reason == (
        f"the provider reported it paid ('po_00000000000099') after it was settled by hand as "
        f"paid ('{transfer['id']}'): check that the payee was not paid twice"
    )
    assert len(await _audit("payout_item.paid_after_settle")) == 1
    assert await _statement(w, "ann") == "paid"


async def test_given_an_item_settled_as_failed_then_a_late_payment_is_flagged_not_paid_twice(
    db, standin: StripeStandIn
):
    """Settled as failed (wrongly: Stripe had made the transfer, but its list of the
    group's transfers was unreadable when Podium asked, and ops said they had checked),
    ann's statement goes to the next batch, as after a provider's refusal. A rerun of the
    first batch sends nothing. Stripe then reports the first item's payment: it is paid and
    flagged, naming the next batch's item, which is then not sent: one transfer in all."""
    w = await _world(standin)
    batch, item = await _pending(w, standin)
    [transfer] = standin.transfers
    standin.faults.garble_list = ["shapeless"]

    settled = await _settle(w, batch, str(item.id), outcome="FAILED", provider_checked=True)
    sent = len(standin.requests)

    assert (settled.status, settled.failure_code) == (ItemStatus.FAILED, "settled_failed")
    assert settled.failure_reason == f"settled by hand as failed: {REASON}"
    assert settled.settle_reference is None
    assert await _statement(w, "ann") == "approved"
    assert (await PayoutBatch.get(id=batch.id)).status is BatchStatus.DONE
    [entry] = await _audit("payout_item.settled")
    assert entry.after is not None
    assert (entry.actor_id, entry.after["as"], entry.after["reason"]) == (
        w["ops"].id, "failed", REASON,
    )  # fmt: skip
    await service.execute_batch(tenant_id=w.tenant.id, batch_id=batch.id, secret=SECRET)
    assert len(standin.requests) == sent  # a rerun never sends a settled item

    again = await _approved(w, rep_ids=[w["ann"].id])  # ann's statement, payable again
    [next_item] = (await _items(again)).values()
    payout = {"id": "po_00000000000007", "object": "payout",
              "metadata": {"podium_reference": item.reference}}  # fmt: skip
    event = standin.event("payout.paid", payout)
    late = outcome_of(event)
    assert late is not None
    async with in_transaction():
        assert await service.apply_event_outcome(tenant_id=w.tenant.id, outcome=late)

    flagged = await PayoutItem.get(id=item.id)
    assert (flagged.status, flagged.failure_code) == (ItemStatus.PAID, "paid_after_settle")
    assert flagged.failure_reason == (
        "the provider reported it paid ('po_00000000000007') after it was settled by hand as "
        "failed: check that the payee was not paid twice; the statement's other items: "
        f"{next_item.reference} (pending)"
    )
    assert await _statement(w, "ann") == "paid"
    [audited] = await _audit("payout_item.paid_after_settle")
    assert audited.before == {"status": "failed", "settled": "failed"}
    async with in_transaction():  # Stripe tells it again: flagged once
        assert await service.apply_event_outcome(tenant_id=w.tenant.id, outcome=late)
    assert len(await _audit("payout_item.paid_after_settle")) == 1
    assert (await PayoutItem.get(id=item.id)).failure_reason == flagged.failure_reason
    summary = await _execute(w, again)
    assert (summary.paid, summary.failed, summary.done) == (0, 1, True)
    assert (await PayoutItem.get(id=next_item.id)).failure_code == "statement_paid"
    assert standin.transfers == [transfer]  # not paid again


async def test_given_bad_input_when_settling_then_the_field_is_named_and_nothing_changes(
    db, standin: StripeStandIn
):
    w = await _world(standin)
    batch, item = await _pending(w, standin)
    paid_batch = await _approved(w, rep_ids=[w["bob"].id])
    await _execute(w, paid_batch)
    [bob] = (await _items(paid_batch)).values()
    unsent = await _approved(w, rep_ids=[w["cat"].id])
    [cat] = (await _items(unsent)).values()
    ref = item.reference
    cases: list[tuple[dict[str, Any], str]] = [
        ({"batch_id": "not-a-batch", "item": ref, "outcome": "failed"}, "batchId"),
        ({"batch_id": unsent.id, "item": ref, "outcome": "failed"}, "item"),  # not in it
        ({"batch_id": "00000000-0000-0000-0000-000000000001", "item": ref, "outcome": "failed"},
         "batchId"),
        ({"item": "PB0000000000000000-9", "outcome": "failed"}, "item"),
        ({"item": "x" * 10_000, "outcome": "failed"}, "item"),
        ({"batch_id": paid_batch.id, "item": bob.reference, "outcome": "failed"}, "item"),
        ({"batch_id": unsent.id, "item": cat.reference, "outcome": "failed"}, "item"),
        ({"item": ref, "outcome": "maybe"}, "outcome"),
        ({"item": ref, "outcome": "failed", "reason": ""}, "reason"),
        ({"item": ref, "outcome": "failed", "reason": "  ok  "}, "reason"),
        ({"item": ref, "outcome": "failed", "reason": "x" * 501}, "reason"),
        ({"item": ref, "outcome": "failed", "reason": "checked\x07 by Mia"}, "reason"),
        ({"item": ref, "outcome": "failed", "reason": "checked\nby Mia"}, "reason"),
        ({"item": ref, "outcome": "paid"}, "reference"),
        ({"item": ref, "outcome": "paid", "reference": "   "}, "reference"),
        ({"item": ref, "outcome": "paid", "reference": "tr_1\x1b[31m"}, "reference"),
        ({"item": ref, "outcome": "paid", "reference": "tr_\u202e1"}, "reference"),
        ({"item": ref, "outcome": "paid", "reference": "t" * 101}, "reference"),
        ({"item": ref, "outcome": "failed", "reference": "t\x00"}, "reference"),
    ]  # fmt: skip
    audited = await AuditEntry.all().count()
    for arguments, field in cases:
        with pytest.raises(DomainError) as refused:
            await _settle(w, batch, **arguments)
        assert refused.value.field == field, (arguments, refused.value)
    with pytest.raises(Forbidden):
        await _settle(w, batch, ref, outcome="failed", viewer=w.viewer("ann"))
    with pytest.raises(Forbidden) as system:
        await _settle(w, batch, ref, outcome="failed", viewer=Viewer.system(w.tenant.id))
    assert system.value.field == "by"

    assert await AuditEntry.all().count() == audited  # nothing half-written
    kept = await PayoutItem.get(id=item.id)
    assert (kept.status, kept.settled_at, kept.failure_reason) == (
        ItemStatus.PENDING, None, item.failure_reason,
    )  # fmt: skip
    assert await _statement(w, "ann") == "approved"
    assert (await PayoutBatch.get(id=batch.id)).status is BatchStatus.EXECUTING
    # one that does settle, once: the item is no longer pending
    await _settle(w, batch, ref, outcome="paid", reference="tr_00000000000001")
    with pytest.raises(service.BatchStateError, match="the item is paid"):
        await _settle(w, batch, ref, outcome="failed")


async def _approved_cards(w: World) -> PayoutBatch:
    async with in_transaction():
        batch = await service.create_batch(viewer=w.viewer("ops"), period="2026-10",
                                           method=PayoutMethod.GIFT_CARD)  # fmt: skip
    async with in_transaction():
        await service.approve_batch(viewer=w.viewer("admin"), batch_id=batch.id)
    return batch


@pytest.fixture
async def cards() -> AsyncIterator[GiftCardStandIn]:
    async with giftcards_running(GiftCardStandIn(api_key="TEST_tremendous_key_0002")) as s:
        yield s


async def test_given_a_gift_card_order_never_answered_when_settled_as_failed_then_not_ordered_again(
    db, standin: StripeStandIn, cards: GiftCardStandIn
):
    """The provider answered 503 to every attempt (no order made): payout ops settle it as
    failed, Podium having found no order of the item's external id at the provider (the
    audit says so); the rerun orders nothing; the next batch orders the card under its own
    external id."""
    w = await _world(standin)
    await set_payout_details(viewer=w.viewer("ops"), secret=SECRET, rep_id=w["cat"].id,
                             method=PayoutMethod.GIFT_CARD,
                             gift_card_email="cat@example.com")  # fmt: skip
    await set_gift_card_config(viewer=w.viewer("ops"), secret=SECRET, api_key=cards.api_key,
                               api_base=cards.url, products=["OKMHM2X2OHYV"])  # fmt: skip
    cards.refuse = [503] * 3
    batch = await _approved_cards(w)
    assert (await _execute(w, batch)).pending == 1
    [item] = (await _items(batch)).values()

    await _settle(w, batch, item.reference, outcome="failed")
    await service.execute_batch(tenant_id=w.tenant.id, batch_id=batch.id, secret=SECRET)

    key = idempotency_key(tenant_id=w.tenant.id, reference=item.reference)
    [entry] = await _audit("payout_item.settled")
    assert entry.after is not None
    assert entry.after["lookup"] == f"the gift card provider shows no order with external id {key}"
    assert [lookup["query"]["external_id"] for lookup in cards.lookups] == [key]
    assert (len(cards.requests), cards.orders) == (3, [])
    again = await _approved_cards(w)
    assert (await _execute(w, again)).paid == 1
    [order] = cards.orders
    assert order["external_id"] != idempotency_key(tenant_id=w.tenant.id, reference=item.reference)
    assert await _statement(w, "cat") == "paid"


async def test_given_an_execution_sending_the_item_when_settling_then_refused_not_waited_for(
    db: str, standin: StripeStandIn
):
    """An execution holds the item's row lock while it waits for the provider: settling
    then is refused at once (its answer may pay it), not queued behind the lock."""
    import asyncpg

    w = await _world(standin)
    batch, item = await _pending(w, standin)
    holder = await asyncpg.connect(db)
    try:
        async with holder.transaction():
            await holder.execute("SELECT 1 FROM payout_items WHERE id = $1 FOR UPDATE", item.id)
            with pytest.raises(service.BatchStateError, match="sending the item right now") as busy:
                await _settle(w, batch, item.reference, outcome="failed")
    finally:
        await holder.close()

    assert busy.value.field == "item"
    assert (await PayoutItem.get(id=item.id)).status is ItemStatus.PENDING


async def test_given_the_command_line_then_settled_as_the_named_person_or_the_option_named(
    db: str, standin: StripeStandIn
):
    from tests.api.cli_runner import podium

    w = await _world(standin)
    batch, item = await _pending(w, standin)
    base = ("payouts", "settle", "--tenant", "acme", "--batch", str(batch.id), "--item",
            item.reference, "--by", "ops", "--as", "paid", "--reference", "tr_00000000000001",
            "--reason", REASON)  # fmt: skip

    def changed(**options: str) -> list[str]:
        args = list(base)
        for name, value in options.items():
            args[args.index(f"--{name}") + 1] = value
        return args

    cases = [
        (changed(tenant="nope"), "--tenant"),
        (changed(batch="not-a-batch"), "--batch"),
        (changed(item="PB0000000000000000-9"), "--item"),
        (changed(**{"as": "maybe"}), "--as"),
        (changed(reason="ok"), "--reason"),
        (changed(reason="checked\x07"), "--reason"),
        (changed(reference="tr_1\x1b[31m"), "--reference"),
        (changed(reference="t" * 101), "--reference"),
        (changed(reference=" "), "--reference"),
        (changed(by="nobody"), "--by"),
        (changed(by="ann"), "--by"),  # a rep
    ]
    for args, option in cases:
        (await podium(db, *args)).one_line_error(option)
    assert (await PayoutItem.get(id=item.id)).status is ItemStatus.PENDING
    assert await _audit("payout_item.settled") == []

    ran = await podium(db, *base)

    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == f"{batch.id}: {item.reference} settled as paid by ops\n"
    [entry] = await _audit("payout_item.settled")
    assert (entry.actor_id, entry.actor_label) == (w["ops"].id, f"user:{w['ops'].id}")
    assert entry.after is not None
    assert (entry.after["reason"], entry.after["reference"]) == (REASON, "tr_00000000000001")
    assert await _statement(w, "ann") == "paid"
    (await podium(db, *base)).one_line_error("--item", "the item is paid")


SETTLE = """mutation ($b: ID!, $i: String!, $o: SettledAs!, $r: String!, $ref: String) {
  settlePayoutItem(batchId: $b, item: $i, outcome: $o, reason: $r, reference: $ref) {
    __typename ... on UserError { code message field }
    ... on PayoutBatch { status items { edges { node { reference status providerId idempotencyKey
      failureReason settledAt settleReason settleReference settledBy { id } } } } } } }"""


async def test_given_graphql_then_payout_ops_settle_and_bad_input_is_a_user_error_naming_it(
    api: Any, standin: StripeStandIn
):
    w = await _world(standin)
    batch, item = await _pending(w, standin)
    ops, ann = api.as_(w.tenant, w["ops"]), api.as_(w.tenant, w["ann"])
    good = {"b": str(batch.id), "i": item.reference, "o": "PAID", "r": REASON,
            "ref": "tr_00000000000001"}  # fmt: skip

    forbidden = await ann.gql(SETTLE, good)
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    for changes, field in [
        ({"b": "not-a-batch"}, "batchId"),
        ({"i": "PB0000000000000000-9"}, "item"),
        ({"r": "no"}, "reason"),
        ({"r": "checked\nby Mia"}, "reason"),
        ({"ref": None}, "reference"),
        ({"ref": "tr_1\x1b[31m"}, "reference"),
        ({"ref": "t" * 101}, "reference"),
    ]:
        answer = await ops.gql(SETTLE, {**good, **changes})
        refused = answer["data"]["settlePayoutItem"]
        assert (refused["__typename"], refused["field"]) == ("UserError", field), changes
    assert (await PayoutItem.get(id=item.id)).status is ItemStatus.PENDING
    assert await _audit("payout_item.settled") == []

    answer = await ops.gql(SETTLE, good)

    settled = answer["data"]["settlePayoutItem"]
    assert settled["status"] == "DONE"
    [edge] = settled["items"]["edges"]
    node = edge["node"]
    assert (node["status"], node["providerId"], node["failureReason"]) == (
        "PAID", "tr_00000000000001", None,
    )  # fmt: skip
    assert (node["settleReason"], node["settleReference"]) == (REASON, "tr_00000000000001")
    assert node["settledAt"] is not None
    assert node["settledBy"] == {"id": str(w["ops"].id)}
    # what ops searched the provider for: the key the stand-in saw on the transfer request
    assert standin.transfers_per_key[node["idempotencyKey"]] == 1
    [entry] = await _audit("payout_item.settled")
    assert entry.actor_id == w["ops"].id
    again = (await ops.gql(SETTLE, good))["data"]["settlePayoutItem"]
    assert (again["__typename"], again["field"]) == ("UserError", "item")
