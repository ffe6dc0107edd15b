"""Payout batches against the local Stripe stand-in (stripe-python over HTTP on 127.0.0.1):
created from approved, unpaid statements; approved by someone other than their creator;
executed paying each item exactly once, whatever is retried, run twice at once or killed
(SIGKILL) between any two steps; failed items back to unpaid; Stripe's webhooks applied;
what each payee was paid in a year, 1099-NEC flagged."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from api.settings import DEVELOPMENT_PAYOUT_DETAILS_SECRET as SECRET
from domain.audit.models import AuditEntry
from domain.kit.errors import DomainError, Forbidden, NotFound
from payments.accruals.service import accruals
from payments.batches import service
from payments.batches.errors import BatchError, BatchStateError
from payments.batches.models import BatchStatus, ItemStatus, PayoutBatch, PayoutItem
from payments.methods.models import Failed, Paid
from payments.methods.sandbox.stripe_connect import StripeStandIn, running
from payments.methods.service import set_stripe_config
from payments.payouts.models import PayoutMethod
from payments.payouts.service import set_payout_details
from payments.statements.models import Statement
from tests.payments.helpers import World, approved_october, execute_in_process, make_world

ACCOUNTS = {"ann": "acct_1AnnAnnAnnAnn01", "bob": "acct_1BobBobBobBob02"}


@pytest.fixture
async def standin() -> AsyncIterator[StripeStandIn]:
    s = StripeStandIn(api_key="sk_test_51PodiumStandInKey0000000", accounts=set(ACCOUNTS.values()),
                      platform_balance={"eur": 10**9})  # fmt: skip
    async with running(s):
        yield s


async def _world(standin: StripeStandIn) -> World:
    """October closed with ann, bob and cat paid commission, their statements approved;
    ann and bob paid through Stripe, cat with no payout details."""
    w = await make_world()
    await approved_october(w)
    for key, account in ACCOUNTS.items():
        await set_payout_details(viewer=w.viewer("ops"), secret=SECRET, rep_id=w[key].id,
                                 method=PayoutMethod.STRIPE, stripe_account_id=account)  # fmt: skip
    await set_stripe_config(viewer=w.system, secret=SECRET, api_key=standin.api_key,
                            webhook_secrets=["whsec_testSecret0000000000001"],
                            api_base=standin.url)  # fmt: skip
    return w


async def _approved(w: World, **kwargs: Any) -> PayoutBatch:
    async with in_transaction():
        batch = await service.create_batch(
            viewer=w.viewer("ops"), period="2026-10", method=PayoutMethod.STRIPE, **kwargs
        )
    async with in_transaction():
        await service.approve_batch(viewer=w.viewer("admin"), batch_id=batch.id)
    return batch


async def _execute(w: World, batch: PayoutBatch) -> service.ExecutionSummary:
    async with in_transaction():
        await service.start_execution(viewer=w.viewer("ops"), batch_id=batch.id)
    return await service.execute_batch(tenant_id=w.tenant.id, batch_id=batch.id, secret=SECRET)


async def _items(batch: PayoutBatch) -> dict[str, PayoutItem]:
    items = await PayoutItem.filter(batch_id=batch.id).prefetch_related("user")
    return {i.user.external_id: i for i in items}


def _transfers_per_key(standin: StripeStandIn) -> dict[str, int]:
    keys: dict[str, int] = {}
    for t in standin.transfers:
        group = t["transfer_group"]
        keys[group] = keys.get(group, 0) + 1
    return keys


async def test_given_approved_statements_when_batched_approved_and_executed_then_paid_once(
    db, standin: StripeStandIn
):
    w = await _world(standin)
    statements = {
        s.user_id: s for s in await Statement.filter(tenant_id=w.tenant.id, period="2026-10")
    }
    async with in_transaction():
        batch = await service.create_batch(
            viewer=w.viewer("ops"), period="2026-10", method=PayoutMethod.STRIPE
        )
    assert batch.status is BatchStatus.DRAFT
    assert batch.item_count == 3  # cat too: no payout details, to fail visibly
    assert batch.total == sum(Decimal(s.total) for s in statements.values())

    # four eyes: the creator cannot approve; nobody executes a draft
    with pytest.raises(BatchError, match="four eyes") as refused:
        await service.approve_batch(viewer=w.viewer("ops"), batch_id=batch.id)
    assert refused.value.field == "id"
    with pytest.raises(BatchStateError, match="approve it first"):
        await service.start_execution(viewer=w.viewer("ops"), batch_id=batch.id)
    with pytest.raises(Forbidden):
        await service.approve_batch(viewer=w.viewer("ann"), batch_id=batch.id)
    async with in_transaction():
        await service.approve_batch(viewer=w.viewer("admin"), batch_id=batch.id)

    summary = await _execute(w, batch)

    assert (summary.paid, summary.failed, summary.pending, summary.done) == (2, 1, 0, True)
    items = await _items(batch)
    assert items["cat"].status is ItemStatus.FAILED
    assert items["cat"].failure_reason == "the payee has no payout details"
    for key in ("ann", "bob"):
        item = items[key]
        assert item.status is ItemStatus.PAID
        [transfer] = [t for t in standin.transfers if t["transfer_group"] == item.reference]
        assert transfer["destination"] == ACCOUNTS[key]
        assert transfer["amount"] == int(item.amount * 100)
        assert item.provider_id == transfer["id"]
    assert _transfers_per_key(standin) == {items["ann"].reference: 1, items["bob"].reference: 1}
    [accrual] = await accruals(viewer=w.viewer("ops"), period="2026-10")
    assert accrual.paid == items["ann"].amount + items["bob"].amount  # moved from approved
    assert accrual.approved == sum(i.amount for i in items.values())  # approved or paid
    assert accrual.outstanding == items["cat"].amount
    paid = {s.user_id: s.status for s in await Statement.filter(tenant_id=w.tenant.id)}
    assert paid == {w["ann"].id: "paid", w["bob"].id: "paid", w["cat"].id: "approved"}
    assert (await PayoutBatch.get(id=batch.id)).status is BatchStatus.DONE
    with pytest.raises(BatchStateError, match="done"):
        await service.start_execution(viewer=w.viewer("ops"), batch_id=batch.id)
    actions = set(
        await AuditEntry.filter(entity_type="payout_batch").values_list("action", flat=True)
    )
    assert actions == {"payout_batch.created", "payout_batch.approved",
                       "payout_batch.executing", "payout_batch.done"}  # fmt: skip

    # the failed amount is unpaid again: cat, once set up, is the next batch, alone
    await set_payout_details(
        viewer=w.viewer("ops"), secret=SECRET, rep_id=w["cat"].id,
        method=PayoutMethod.STRIPE, stripe_account_id="acct_1CatCatCatCat03",
    )  # fmt: skip
    standin.accounts.add("acct_1CatCatCatCat03")
    again = await _approved(w)
    assert again.item_count == 1
    assert (await _execute(w, again)).paid == 1
    assert len(standin.transfers) == 3
    with pytest.raises(BatchError, match="no approved, unpaid statement") as nothing:
        await service.create_batch(viewer=w.viewer("ops"), period="2026-10",
                                   method=PayoutMethod.STRIPE)  # fmt: skip
    assert nothing.value.field == "period"


async def test_given_bad_input_when_creating_then_named_and_nothing_stored(
    db, standin: StripeStandIn
):
    w = await _world(standin)
    cases = [
        ({"period": "2026-13", "method": PayoutMethod.STRIPE}, "period"),
        ({"period": "2026-10", "method": PayoutMethod.SEPA_FILE}, "method"),
        ({"period": "2026-10", "method": PayoutMethod.STRIPE, "rep_ids": ["nope"]}, "repIds"),
        (
            {
                "period": "2026-10",
                "method": PayoutMethod.STRIPE,
                "rep_ids": ["00000000-0000-0000-0000-000000000001"],
            },
            "repIds",
        ),  # fmt: skip
        ({"period": "2026-10", "method": PayoutMethod.STRIPE, "currency": "USD"}, "period"),
        ({"period": "2026-10", "method": PayoutMethod.STRIPE, "currency": "E$"}, "currency"),
        ({"period": "2026-11", "method": PayoutMethod.STRIPE}, "period"),
    ]
    for arguments, field in cases:
        with pytest.raises(DomainError) as refused:
            async with in_transaction():
                await service.create_batch(viewer=w.viewer("ops"), **arguments)
        assert refused.value.field == field, arguments
    with pytest.raises(Forbidden):
        await service.create_batch(viewer=w.viewer("mia"), period="2026-10",
                                   method=PayoutMethod.STRIPE)  # fmt: skip
    with pytest.raises(NotFound):
        await service.approve_batch(viewer=w.viewer("admin"), batch_id="not-a-batch")
    assert await PayoutBatch.all().count() == 0
    assert await PayoutItem.all().count() == 0

    # only the named reps; a statement in a live batch is not taken twice
    one = await _approved(w, rep_ids=[w["ann"].id])
    assert one.item_count == 1
    rest = await _approved(w)
    assert {i for i in await _items(rest)} == {"bob", "cat"}


async def test_given_a_provider_that_answers_500_then_pending_and_sent_again_with_its_key(
    db, standin: StripeStandIn
):
    w = await _world(standin)
    batch = await _approved(w, rep_ids=[w["ann"].id])
    standin.faults.refuse = [500, 500, 500]  # stripe-python tries 3 times (2 retries)

    first = await _execute(w, batch)

    assert (first.paid, first.pending, first.done) == (0, 1, False)
    [item] = (await _items(batch)).values()
    assert item.status is ItemStatus.PENDING
    assert "sent again with the same key" in (item.failure_reason or "")
    assert (await PayoutBatch.get(id=batch.id)).status is BatchStatus.EXECUTING
    keys = {r["headers"]["Idempotency-Key"] for r in standin.requests}
    assert len(keys) == 1
    assert len(standin.requests) == 3

    second = await _execute(w, batch)  # the provider is back

    assert (second.paid, second.pending, second.done) == (1, 0, True)
    assert {r["headers"]["Idempotency-Key"] for r in standin.requests} == keys
    assert len(standin.transfers) == 1


async def test_given_an_answer_lost_after_the_transfer_then_the_retry_gets_the_same_transfer(
    db, standin: StripeStandIn
):
    w = await _world(standin)
    batch = await _approved(w, rep_ids=[w["ann"].id])
    standin.faults.drop = 1  # executed, the connection dropped before the answer

    assert (await _execute(w, batch)).paid == 1

    assert len(standin.transfers) == 1  # the retry (same key) was answered with the first
    assert len(standin.requests) == 2
    assert len({r["headers"]["Idempotency-Key"] for r in standin.requests}) == 1
    [item] = (await _items(batch)).values()
    assert item.provider_id == standin.transfers[0]["id"]


async def test_given_a_rerun_after_stripe_forgot_the_key_then_the_first_transfer_is_found(
    db: str, standin: StripeStandIn
):
    """Stripe keeps an idempotency key about 24 hours: the executor killed after ann's
    transfer was made, and run again a day later, looks for the transfer by its reference
    before asking for one."""
    w = await _world(standin)
    batch = await _approved(w, rep_ids=[w["ann"].id])

    killed, said = await execute_in_process(db, batch.id, PODIUM_TEST_KILL_AT="item_answered:1")
    assert killed == -9, said
    [made] = standin.transfers
    # a day later: Stripe has forgotten the key
    standin.forget_keys()
    stored = await PayoutBatch.get(id=batch.id)
    await PayoutBatch.filter(id=batch.id).update(
        executed_at=stored.executed_at - timedelta(hours=25)
    )

    code, said = await execute_in_process(db, batch.id)

    assert code == 0, said
    assert len(standin.transfers) == 1  # not made twice
    [item] = (await _items(batch)).values()
    assert (item.status, item.provider_id) == (ItemStatus.PAID, made["id"])
    looked = [r for r in standin.requests if r.get("method") == "GET" and
              f"transfer_group={item.reference}" in r["body"]]  # fmt: skip
    assert len(looked) == 1


async def test_given_two_executions_at_once_then_each_item_is_paid_once(db, standin: StripeStandIn):
    w = await _world(standin)
    batch = await _approved(w)
    standin.faults.delay = 0.05
    async with in_transaction():
        await service.start_execution(viewer=w.viewer("ops"), batch_id=batch.id)

    runs = await asyncio.gather(
        *(
            service.execute_batch(tenant_id=w.tenant.id, batch_id=batch.id, secret=SECRET)
            for _ in range(2)
        )
    )

    assert any(r.done for r in runs)
    assert sorted(_transfers_per_key(standin).values()) == [1, 1]
    assert {i.status for i in (await _items(batch)).values()} == {ItemStatus.PAID,
                                                                 ItemStatus.FAILED}  # fmt: skip


KILL_POINTS = [
    "item_locked:1",
    "item_answered:1",
    "item_committed:1",
    "item_locked:2",
    "item_answered:2",
    "item_committed:2",
    "before_finish:1",
]


@pytest.mark.parametrize("point", KILL_POINTS)
async def test_given_the_executor_killed_between_any_two_steps_when_rerun_then_paid_once(
    db: str, standin: StripeStandIn, point: str
):
    """`podium payouts execute` in a process of its own, killed (SIGKILL) at ``point``, then
    run again: every item paid, each transfer made once."""
    w = await _world(standin)
    batch = await _approved(w)

    killed, said = await execute_in_process(db, batch.id, PODIUM_TEST_KILL_AT=point)
    assert killed == -9, said
    code, said = await execute_in_process(db, batch.id)
    assert code == 0, said
    assert said.startswith(f"{batch.id}: 2 paid, 1 failed, 0 pending; done"), said

    assert sorted(_transfers_per_key(standin).values()) == [1, 1]
    items = await _items(batch)
    assert [items[k].status for k in ("ann", "bob", "cat")] == [
        ItemStatus.PAID, ItemStatus.PAID, ItemStatus.FAILED,
    ]  # fmt: skip
    assert (await PayoutBatch.get(id=batch.id)).status is BatchStatus.DONE
    statuses = sorted(
        await Statement.filter(tenant_id=w.tenant.id).values_list("status", flat=True)
    )
    assert statuses == ["approved", "paid", "paid"]


async def test_given_stripe_events_then_a_reversal_unpays_and_a_failed_payout_keeps_it_paid(
    db, standin: StripeStandIn
):
    w = await _world(standin)
    batch = await _approved(w, rep_ids=[w["ann"].id, w["bob"].id])
    await _execute(w, batch)
    items = await _items(batch)

    async with in_transaction():
        reversed_ = Failed(items["ann"].reference, "Stripe: the transfer was reversed",
                           "transfer_reversed")  # fmt: skip
        bounced = Failed(items["bob"].reference, "Stripe: the payout failed: account_closed",
                         "account_closed")  # fmt: skip
        assert await service.apply_event_outcome(tenant_id=w.tenant.id, outcome=reversed_)
        assert await service.apply_event_outcome(tenant_id=w.tenant.id, outcome=bounced)
        assert not await service.apply_event_outcome(
            tenant_id=w.tenant.id, outcome=Paid("someone-elses")
        )

    items = await _items(batch)
    assert items["ann"].status is ItemStatus.FAILED
    assert items["bob"].status is ItemStatus.PAID  # the money is in bob's Stripe balance
    assert items["bob"].failure_reason == "Stripe: the payout failed: account_closed"
    ann = await Statement.get(tenant_id=w.tenant.id, user_id=w["ann"].id)
    assert (ann.status, ann.paid_at) == ("approved", None)
    assert (await _approved(w, rep_ids=[w["ann"].id])).item_count == 1  # ann's, again


async def test_given_a_year_then_paid_per_payee_and_us_payees_over_the_threshold_flagged(
    db, standin: StripeStandIn
):
    w = await _world(standin)
    batch = await _approved(w)
    await _execute(w, batch)
    year = (await PayoutItem.filter(status=ItemStatus.PAID).first()).updated_at.year  # type: ignore[union-attr]

    rows = await service.paid_by_payee(viewer=w.viewer("ops"), year=year)

    assert [(r.external_id, r.currency, r.form_1099_nec) for r in rows] == [
        ("ann", "EUR", False), ("bob", "EUR", False),
    ]  # fmt: skip
    # a US payee paid in USD at or over the year's threshold is flagged; EUR never
    items = await _items(batch)
    await PayoutItem.filter(id=items["ann"].id).update(currency="USD", amount=Decimal("2000"))
    await PayoutItem.filter(id=items["bob"].id).update(currency="USD", amount=Decimal("1999.99"))
    await w["ann"].__class__.filter(id__in=[w["ann"].id, w["bob"].id]).update(country="US")
    rows = await service.paid_by_payee(viewer=w.viewer("ops"), year=year)
    flagged = {r.external_id: r.form_1099_nec for r in rows}
    assert flagged == {"ann": year >= 2026, "bob": False}
    assert service.nec_threshold(2025) == Decimal(600)
    assert service.nec_threshold(2026) == Decimal(2000)
    with pytest.raises(BatchError) as refused:
        await service.paid_by_payee(viewer=w.viewer("ops"), year=99)
    assert refused.value.field == "year"
    with pytest.raises(Forbidden):
        await service.paid_by_payee(viewer=w.viewer("ann"), year=year)


def test_kill_points_are_inert_without_the_variable():
    assert "PODIUM_TEST_KILL_AT" not in os.environ
    service._kill_point("item_locked")  # nothing happens


async def test_given_a_transfer_answered_without_its_id_then_pending_named_then_paid_once(
    db: str, standin: StripeStandIn
):
    w = await _world(standin)
    batch = await _approved(w, rep_ids=[w["ann"].id])
    standin.faults.garble = ["shapeless"]  # the transfer made, the answer without its id

    code, said = await execute_in_process(db, batch.id)

    assert (code, said) == (1, f"{batch.id}: 0 paid, 0 failed, 1 pending; run it again for "
                               "the pending ones\n")  # fmt: skip
    [item] = (await _items(batch)).values()
    assert item.status is ItemStatus.PENDING
    assert item.failure_reason == (
        "Stripe answered without a transfer; sent again with the same key by the next run"
    )

    code, said = await execute_in_process(db, batch.id)

    assert (code, said) == (0, f"{batch.id}: 1 paid, 0 failed, 0 pending; done\n")
    [transfer] = standin.transfers
    [item] = (await _items(batch)).values()
    assert (item.status, item.provider_id) == (ItemStatus.PAID, transfer["id"])


async def test_given_statements_paid_meanwhile_when_executed_then_their_items_are_not_sent(
    db, standin: StripeStandIn
):
    """The period's statements recorded paid by hand (`podium statements pay`) while a batch
    of them waits: its execution sends nothing for them (a second payment), failing each
    item with the reason; a new batch does not take them."""
    from payments.statements.service import mark_paid

    w = await _world(standin)
    batch = await _approved(w, rep_ids=[w["ann"].id, w["bob"].id])
    async with in_transaction():
        assert await mark_paid(viewer=w.viewer("ops"), period="2026-10") == 3

    summary = await _execute(w, batch)

    assert (summary.paid, summary.failed, summary.done) == (0, 2, True)
    assert standin.transfers == []
    assert standin.requests == []
    for item in (await _items(batch)).values():
        assert (item.status, item.failure_code) == (ItemStatus.FAILED, "statement_paid")
        assert item.failure_reason == "its statement was paid meanwhile (by hand): not sent"
    statuses = await Statement.filter(tenant_id=w.tenant.id).values_list("status", flat=True)
    assert set(statuses) == {"paid"}  # a failed item leaves a paid statement paid


async def test_given_a_statement_in_a_batch_when_adjusted_then_refused_and_paid_once(
    db, standin: StripeStandIn
):
    """An approved statement a batch is paying (its item pending, or handed over) takes no
    change: a new version would be approved and batched again, paying it in full a second
    time beside the first version's payment. addAdjustment is refused (``period``, nothing
    stored); a dispute resolved with an adjustment puts it on the next period, as for a paid
    statement."""
    from payments.disputes.service import raise_dispute, resolve_dispute
    from payments.statements.errors import AdjustmentError
    from payments.statements.models import Adjustment
    from payments.statements.service import add_adjustment, approve_statements

    w = await _world(standin)
    batch = await _approved(w, rep_ids=[w["ann"].id])
    [item] = (await _items(batch)).values()
    first = await Statement.get(id=item.statement_id)

    with pytest.raises(AdjustmentError, match="payout batch") as refused:
        async with in_transaction():
            await add_adjustment(viewer=w.viewer("admin"), rep_id=w["ann"].id,
                                 period="2026-10", amount=Decimal("-100.00"), currency="EUR",
                                 reason="Fix")  # fmt: skip
    assert refused.value.field == "period"
    assert not await Adjustment.filter(tenant_id=w.tenant.id).exists()
    async with in_transaction():
        dispute, _ = await raise_dispute(viewer=w.viewer("ann"), statement_id=str(first.id),
                                         line_id=None, message="A deal is missing")  # fmt: skip
        await resolve_dispute(viewer=w.viewer("mia"), dispute_id=str(dispute.id), accept=True,
                              comment="Added", adjustment=Decimal("45.00"))  # fmt: skip
    [made] = await Adjustment.filter(tenant_id=w.tenant.id)
    assert made.period == "2026-11"
    assert await Statement.filter(user_id=w["ann"].id).values_list("id", flat=True) == [first.id]

    await _execute(w, batch)
    async with in_transaction():
        await approve_statements(viewer=w.viewer("admin"), period="2026-10")
    with pytest.raises(BatchError, match="no approved, unpaid statement"):
        async with in_transaction():
            await service.create_batch(viewer=w.viewer("ops"), period="2026-10",
                                       method=PayoutMethod.STRIPE,
                                       rep_ids=[w["ann"].id])  # fmt: skip
    assert [t["amount"] for t in standin.transfers] == [int(first.total * 100)]


async def test_given_a_payment_told_about_next_year_then_it_stays_in_the_year_it_was_paid(
    db, standin: StripeStandIn, monkeypatch: pytest.MonkeyPatch
):
    """What a payee was paid in a year (1099-NEC) counts a payment in the year it was paid:
    a later event about it (Stripe's payout.failed on 3 January, which keeps the item paid
    and shows the reason) does not move it to the next year."""
    from datetime import UTC, datetime

    w = await _world(standin)
    batch = await _approved(w, rep_ids=[w["bob"].id])
    await _execute(w, batch)
    year = (await PayoutItem.get(batch_id=batch.id)).updated_at.year
    [item] = (await _items(batch)).values()
    monkeypatch.setattr(service, "utc_now", lambda: datetime(year + 1, 1, 3, 9, 0, tzinfo=UTC))
    async with in_transaction():
        bounced = Failed(item.reference, "Stripe: the payout failed: account_closed",
                         "account_closed")  # fmt: skip
        assert await service.apply_event_outcome(tenant_id=w.tenant.id, outcome=bounced)

    paid = await service.paid_by_payee(viewer=w.viewer("ops"), year=year)
    assert [(r.external_id, r.total) for r in paid] == [("bob", item.amount)]
    assert await service.paid_by_payee(viewer=w.viewer("ops"), year=year + 1) == []


async def test_given_payout_details_changed_after_approval_then_not_paid_there_until_approved_again(
    db, standin: StripeStandIn
):
    w = await _world(standin)
    batch = await _approved(w, rep_ids=[w["ann"].id, w["bob"].id])
    # after the second pair of eyes, someone points ann's payout at another account
    standin.accounts.add("acct_1EveEveEveEve09")
    await set_payout_details(viewer=w.viewer("ops"), secret=SECRET, rep_id=w["ann"].id,
                             method=PayoutMethod.STRIPE,
                             stripe_account_id="acct_1EveEveEveEve09")  # fmt: skip
    # the same details set again change nothing (and stop nothing)
    await set_payout_details(viewer=w.viewer("ops"), secret=SECRET, rep_id=w["bob"].id,
                             method=PayoutMethod.STRIPE,
                             stripe_account_id=ACCOUNTS["bob"])  # fmt: skip

    summary = await _execute(w, batch)

    assert (summary.paid, summary.failed, summary.done) == (1, 1, True)
    items = await _items(batch)
    assert items["bob"].status is ItemStatus.PAID
    assert items["ann"].status is ItemStatus.FAILED
    assert items["ann"].failure_code == "details_changed"
    assert "after the batch was approved" in (items["ann"].failure_reason or "")
    assert [t["destination"] for t in standin.transfers] == [ACCOUNTS["bob"]]
    ann = await Statement.get(tenant_id=w.tenant.id, user_id=w["ann"].id, current=True)
    assert ann.status == "approved"  # unpaid, for the next batch

    # the next batch shows the new account to its approver: paid there once approved
    again = await _approved(w, rep_ids=[w["ann"].id])
    assert (await _execute(w, again)).paid == 1
    destinations = [t["destination"] for t in standin.transfers]
    assert destinations == [ACCOUNTS["bob"], "acct_1EveEveEveEve09"]


async def test_given_an_item_sent_before_when_details_change_then_sent_again_with_its_key(
    db, standin: StripeStandIn
):
    """An item sent with no answer may have been paid: it is sent again as it was (its key
    finds the first transfer), not failed, which would pay its statement a second time."""
    w = await _world(standin)
    batch = await _approved(w, rep_ids=[w["ann"].id])
    standin.faults.refuse = [500, 500, 500]
    assert (await _execute(w, batch)).pending == 1
    standin.accounts.add("acct_1EveEveEveEve09")
    await set_payout_details(viewer=w.viewer("ops"), secret=SECRET, rep_id=w["ann"].id,
                             method=PayoutMethod.STRIPE,
                             stripe_account_id="acct_1EveEveEveEve09")  # fmt: skip

    assert (await _execute(w, batch)).paid == 1
    assert len(standin.transfers) == 1


async def test_given_a_provider_failure_code_longer_than_stored_then_the_item_fails_with_it_cut(
    db, standin: StripeStandIn
):
    w = await _world(standin)
    batch = await _approved(w, rep_ids=[w["ann"].id])
    async with in_transaction():
        await service.start_execution(viewer=w.viewer("ops"), batch_id=batch.id)

    async def refusing(instruction: Any) -> Failed:
        return Failed(instruction.reference, "refused by the provider", "x" * 300)

    summary = await service.execute_batch(
        tenant_id=w.tenant.id, batch_id=batch.id, secret=SECRET, payer=refusing
    )

    assert (summary.failed, summary.done) == (1, True)
    [item] = (await _items(batch)).values()
    assert (item.status, item.failure_code) == (ItemStatus.FAILED, "x" * 60)
