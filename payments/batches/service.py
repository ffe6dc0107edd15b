"""Payout batches: create from approved, unpaid statements; approve with four eyes; execute
(a worker, or `podium payouts execute`) paying each item exactly once; apply providers'
webhook events; reconcile (what each payee was paid in a year). Services never commit: the
caller owns the transaction, except `execute_batch`, which commits each item on its own.

Exactly once: an item's payment carries an idempotency key derived from its reference, and
is sent inside the transaction that holds the item's row lock and records the answer. A
crash before the commit rolls the item back to pending and a rerun sends the same request
with the same key, which the provider answers with the first payment; two executors never
hold one item (SKIP LOCKED). An answer that says nothing certain (timeout, 5xx) leaves the
item pending, its reason shown, for the next run: never released to be paid again under
another key. When the provider never answers for sure, payout ops settle the item by hand
(`settle_item`): paid, or failed for the next batch once Podium has asked the provider
itself and it shows no payment (or, when it cannot be asked, on ops' word), audited with
who, why, a reference and what the provider showed; a provider reporting a payment for such
an item later is flagged on it, and no item whose statement is paid is sent. A gift card
item sent before is looked for by its external id before it is ordered again; a gift card
batch's submitted items are confirmed only as far as the provider shows them executed
(`confirm_batch`)."""

from __future__ import annotations

import asyncio
import os
import signal
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

from tortoise import connections
from tortoise.transactions import in_transaction

from domain.audit.service import Change, record, record_many
from domain.kit.clock import utc_now
from domain.kit.errors import Forbidden, NotFound, quoted
from domain.kit.money import is_currency
from domain.kit.periods import parse_period
from domain.kit.text import control_character
from domain.org.models import User
from domain.org.viewer import Viewer
from payments.batches.errors import (
    BatchError,
    BatchStateError,
    ProviderNotChecked,
    ProviderShowsPayment,
)
from payments.batches.files import FILE_METHODS, batch_file, origin_of
from payments.batches.models import BatchStatus, ItemStatus, PayoutBatch, PayoutItem
from payments.invoices.service import DUE, OWED
from payments.methods.errors import MethodConfigError
from payments.methods.models import (
    REFERENCE,
    REVERSED,
    Failed,
    Lookup,
    Outcome,
    Paid,
    PayoutInstruction,
    Shown,
    Submitted,
    idempotency_key,
)
from payments.payouts.errors import DetailsChanged, NoPayoutDetails
from payments.payouts.models import PayoutMethod
from payments.payouts.service import payout_account
from payments.payouts.validation import PayoutAccount
from payments.statements.models import Statement, StatementStatus

# methods a batch pays: one provider call per item (Stripe, gift cards), or one file for the
# batch (the SAP journal: SAP pays every payee of the batch, whatever their own method)
EXECUTABLE = (PayoutMethod.STRIPE, PayoutMethod.GIFT_CARD, *FILE_METHODS)
# methods whose items wait, once handed over, for payout ops to confirm them paid
SETTLE_LATER = (PayoutMethod.GIFT_CARD, *FILE_METHODS)
CONCURRENCY = 4  # items paid at once by one executor (a database connection each)
LIVE = (ItemStatus.PENDING.value, ItemStatus.SUBMITTED.value, ItemStatus.PAID.value)
# how long after a batch's first execution its idempotency keys are trusted alone: Stripe
# keeps a key at least 24 hours; a run after that looks for each item's payment first
KEY_TRUSTED = timedelta(hours=23)


def _require_ops(viewer: Viewer, field: str) -> None:
    if not viewer.sees_whole_tenant:
        raise Forbidden("only admins and payout ops may do this", field=field)


async def create_batch(
    *,
    viewer: Viewer,
    period: str,
    method: PayoutMethod,
    rep_ids: Sequence[UUID | str] | None = None,
    currency: str | None = None,
) -> PayoutBatch:
    """A draft batch of the period's approved statements not paid and in no live item, in
    one currency, of payees paid by ``method`` (and of payees with no payout details, whose
    items fail with that reason: visible rather than silently left out; a SAP journal takes
    every payee, SAP paying them from its own master data); ``rep_ids`` keeps only those
    people. Each item pays its statement's total, a partner's what it owes in their
    invoices' terms (its invoice's payable plus what the balances carried into it owed), less
    what items of its earlier versions were paid (invoices.DUE). One owing exactly nothing
    is settled as paid by the batch that would have taken it (audited, ``owed`` 0); one
    owing below zero is a balance the payee owes, carried by their next statement. Audited."""
    _require_ops(viewer, "period")
    period_id = parse_period(period).id
    if method not in EXECUTABLE:
        raise BatchError(
            f"{method.value} batches are not available yet (only "
            f"{', '.join(m.value for m in EXECUTABLE)})",
            field="method",
        )
    if method in FILE_METHODS:
        try:
            await origin_of(viewer.tenant_id, method)
        except MethodConfigError as exc:
            raise BatchError(exc.message, field="method") from None
    wanted: list[UUID] | None = None
    if rep_ids is not None:
        try:
            wanted = [UUID(str(r)) for r in rep_ids]
        except ValueError:
            raise BatchError("rep ids must be ids of people", field="repIds") from None
        if not wanted:
            raise BatchError("give at least one rep, or leave repIds out", field="repIds")
        known = await User.filter(tenant_id=viewer.tenant_id, id__in=wanted).count()
        if known != len(set(wanted)):
            raise BatchError("a rep id is not a person of this tenant", field="repIds")
    db = connections.get("default")
    # one batch creation of a tenant at a time: a statement is never taken by two
    await db.execute_query(
        "SELECT pg_advisory_xact_lock(hashtextextended('payout-batches:' || $1::text, 0))",
        [str(viewer.tenant_id)],
    )
    # what each statement pays: a partner's, what it owes in their invoices' terms (its
    # invoice's payable, fee + VAT − withholdings, net of credit notes, in the invoice's
    # currency: the statement's; plus what the balances carried into it owed: OWED); anyone
    # else's, its total; less what items of its earlier versions were paid (a provider
    # reporting one paid after it was settled as failed and the statement changed): never
    # paid twice. The statements taken are locked until the caller commits: a change making
    # a new version (an adjustment, a dispute resolved with one) waits, then sees the item
    # and goes to the next period; one that locked the statement first is waited for, and
    # its version 1, no longer in force then, is not taken (else an item paid version 1 and
    # the next batch version 2 in full beside it)
    rows = await db.execute_query_dict(
        f"""
        SELECT s.id, s.user_id, s.currency, a.amount
        FROM statements s
        {OWED}
        CROSS JOIN LATERAL (SELECT {DUE} AS amount) a
        LEFT JOIN payout_details d ON d.tenant_id = s.tenant_id AND d.user_id = s.user_id
        WHERE s.tenant_id = $1 AND s.period = $2 AND s.current AND s.status = 'approved'
          AND a.amount >= 0
          AND ($3 = 'csv_file' OR d.method IS NULL OR d.method = $3)
          AND ($4::uuid[] IS NULL OR s.user_id = ANY($4::uuid[]))
          AND NOT EXISTS (
              SELECT 1 FROM payout_items i
              WHERE i.statement_id = s.id AND i.status = ANY($5::text[])
          )
        ORDER BY s.currency, s.user_id
        FOR UPDATE OF s
        """,
        [viewer.tenant_id, period_id, method.value, wanted, list(LIVE)],
    )
    # owing exactly nothing (a statement of 0.00, a partner's fee whose withholdings leave
    # 0.00): no item pays it; the batch that would have settles it as paid, below
    nothing = [r for r in rows if not r["amount"]]
    rows = [r for r in rows if r["amount"]]
    currencies = sorted({r["currency"] for r in rows})
    if currency is not None:
        currency = currency.upper()
        if not is_currency(currency):
            raise BatchError("an ISO 4217 currency code such as EUR", field="currency")
        rows = [r for r in rows if r["currency"] == currency]
    elif len(currencies) > 1:
        raise BatchError(
            f"the statements to pay are in {', '.join(currencies)}: a batch pays one "
            "currency, name it",
            field="currency",
        )
    if not rows:
        raise BatchError(
            f"no approved, unpaid statement of {period_id}"
            f"{f' in {currency}' if currency else ''} to pay by {method.value}",
            field="period",
        )
    now = utc_now()
    batch = PayoutBatch(
        id=uuid4(),
        tenant_id=viewer.tenant_id,
        period=period_id,
        method=method,
        currency=rows[0]["currency"],
        status=BatchStatus.DRAFT,
        total=sum((Decimal(r["amount"]) for r in rows), Decimal(0)),
        item_count=len(rows),
        created_by=viewer.user_id or viewer.tenant_id,
        created_at=now,
    )
    await batch.save(force_create=True)
    prefix = batch.id.hex[:16].upper()
    await PayoutItem.bulk_create(
        [
            PayoutItem(
                id=uuid4(),
                tenant_id=viewer.tenant_id,
                batch_id=batch.id,
                statement_id=r["id"],
                user_id=r["user_id"],
                position=n,
                reference=f"PB{prefix}-{n + 1}",
                amount=Decimal(r["amount"]),
                currency=r["currency"],
                updated_at=now,
            )
            for n, r in enumerate(rows)
        ]
    )
    await record(
        viewer=viewer, action="payout_batch.created", entity_type="payout_batch",
        entity_id=str(batch.id), before=None, after=_state(batch),
    )  # fmt: skip
    settled = [r["id"] for r in nothing if r["currency"] == batch.currency]
    if settled:
        await Statement.filter(id__in=settled).update(
            status=StatementStatus.PAID.value, paid_at=now
        )
        await record_many(viewer=viewer, changes=(Change(
            "statement.paid", "statement", str(i), {"status": StatementStatus.APPROVED.value},
            {"status": StatementStatus.PAID.value, "owed": "0", "batch": str(batch.id)},
        ) for i in settled))  # fmt: skip
    return batch


def _state(batch: PayoutBatch) -> dict[str, Any]:
    return {
        "status": batch.status.value,
        "method": batch.method.value,
        "period": batch.period,
        "currency": batch.currency,
        "total": format(Decimal(batch.total), "f"),
        "items": batch.item_count,
    }


async def _locked(viewer: Viewer, batch_id: UUID | str, field: str = "id") -> PayoutBatch:
    try:
        found = UUID(str(batch_id))
    except ValueError:
        raise NotFound(f"no payout batch {str(batch_id)[:40]}", field=field) from None
    batch = (
        await PayoutBatch.filter(id=found, tenant_id=viewer.tenant_id).select_for_update().first()
    )
    if batch is None:
        raise NotFound(f"no payout batch {batch_id}", field=field)
    return batch


async def approve_batch(*, viewer: Viewer, batch_id: UUID | str) -> PayoutBatch:
    """The second pair of eyes: someone other than its creator approves a draft. Audited."""
    _require_ops(viewer, "id")
    batch = await _locked(viewer, batch_id)
    if batch.status is not BatchStatus.DRAFT:
        raise BatchStateError(f"the batch is {batch.status.value}, not a draft", field="id")
    if viewer.user_id is None or viewer.user_id == batch.created_by:
        raise BatchError(
            "the batch's creator cannot approve it: another person must (four eyes)", field="id"
        )
    before = _state(batch)
    batch.status, batch.approved_by, batch.approved_at = (
        BatchStatus.APPROVED, viewer.user_id, utc_now(),
    )  # fmt: skip
    await batch.save(update_fields=["status", "approved_by", "approved_at"])
    await record(viewer=viewer, action="payout_batch.approved", entity_type="payout_batch",
                 entity_id=str(batch.id), before=before, after=_state(batch))  # fmt: skip
    return batch


async def start_execution(*, viewer: Viewer, batch_id: UUID | str) -> PayoutBatch:
    """An approved batch becomes executing (its job is then queued); an executing one is
    run again for its pending items (after a crash, or an answer that said nothing);
    anything else is refused. Two calls at once: one changes the state, both queue the same
    job, which runs once. Audited."""
    _require_ops(viewer, "id")
    batch = await _locked(viewer, batch_id)
    if batch.status is BatchStatus.DRAFT:
        raise BatchStateError("the batch is not approved yet: approve it first", field="id")
    if batch.status is BatchStatus.DONE:
        raise BatchStateError("the batch is done: every item is paid or failed", field="id")
    if batch.status is BatchStatus.APPROVED:
        before = _state(batch)
        batch.status, batch.executed_at = BatchStatus.EXECUTING, utc_now()
        await batch.save(update_fields=["status", "executed_at"])
        await record(viewer=viewer, action="payout_batch.executing",
                     entity_type="payout_batch", entity_id=str(batch.id), before=before,
                     after=_state(batch))  # fmt: skip
    return batch


# --- execution --------------------------------------------------------------------------

Payer = Callable[[PayoutInstruction], Awaitable[Outcome]]


@dataclass(frozen=True, slots=True)
class ExecutionSummary:
    paid: int
    submitted: int
    failed: int
    pending: int  # still to be sent again (an answer that said nothing)
    done: bool


def _kill_point(name: str, item: str | None = None) -> None:
    """The crash test's hook (tests/payments/test_batches.py): with PODIUM_TEST_KILL_AT set
    to ``name:n``, the process kills itself (SIGKILL) the n-th time it reaches ``name``; set
    to ``name@reference``, when it reaches ``name`` for that item (the lanes answer items in
    no fixed order). Unset (production), nothing."""
    wanted = os.environ.get("PODIUM_TEST_KILL_AT")
    if not wanted:
        return
    if "@" in wanted:
        if wanted == f"{name}@{item}":
            os.kill(os.getpid(), signal.SIGKILL)
        return
    point, _, count = wanted.partition(":")
    if point != name:
        return
    _KILL_COUNTS[name] = _KILL_COUNTS.get(name, 0) + 1
    if _KILL_COUNTS[name] == int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)


_KILL_COUNTS: dict[str, int] = {}


async def execute_batch(
    *, tenant_id: UUID, batch_id: UUID, secret: bytes, payer: Payer | None = None
) -> ExecutionSummary:
    """Pay every pending item of an executing batch, each in a transaction of its own, at
    most CONCURRENCY at once; then, when none is pending, the batch is done. ``payer`` pays
    one instruction (default: the method's provider, from the tenant's configuration)."""
    system = Viewer.system(tenant_id, "payout-batch")
    batch = await PayoutBatch.filter(id=batch_id, tenant_id=tenant_id).first()
    if batch is None or batch.status is not BatchStatus.EXECUTING:
        return await _summary(batch_id, done=batch is not None and batch.status is BatchStatus.DONE)
    if batch.method in FILE_METHODS:
        await _write_file(system, batch_id, secret)
        return await _summary(batch_id, done=True)
    close: Callable[[], Awaitable[None]] | None = None
    if payer is None:
        payer, close = await _provider(tenant_id, batch.method, secret)
    try:
        pending = (
            await PayoutItem.filter(batch_id=batch_id, status=ItemStatus.PENDING)
            .order_by("position")
            .values_list("id", flat=True)
        )
        queue: asyncio.Queue[UUID] = asyncio.Queue()
        for item_id in pending:
            queue.put_nowait(UUID(str(item_id)))

        async def lane() -> None:
            while not queue.empty():
                await _pay_item(system, batch, queue.get_nowait(), payer, secret)

        await asyncio.gather(*(lane() for _ in range(CONCURRENCY)))
    finally:
        if close is not None:
            await close()
    _kill_point("before_finish")
    async with in_transaction():
        locked = await PayoutBatch.filter(id=batch_id).select_for_update().first()
        assert locked is not None
        left = await _finish(system, locked)
    return await _summary(batch_id, done=not left)


async def _finish(viewer: Viewer, batch: PayoutBatch) -> bool:
    """An executing batch (locked by the caller) none of whose items is pending is done;
    audited. True: items are still pending."""
    left = await PayoutItem.filter(batch_id=batch.id, status=ItemStatus.PENDING).exists()
    if not left and batch.status is BatchStatus.EXECUTING:
        before = _state(batch)
        batch.status, batch.finished_at = BatchStatus.DONE, utc_now()
        await batch.save(update_fields=["status", "finished_at"])
        await record(viewer=viewer, action="payout_batch.done", entity_type="payout_batch",
                     entity_id=str(batch.id), before=before, after=_state(batch))  # fmt: skip
    return left


async def _write_file(system: Viewer, batch_id: UUID, secret: bytes) -> None:
    """A file method's execution, in one transaction: the batch's file written and stored,
    each item in it submitted (or failed with the reason it was left out), the batch done.
    Killed before the commit, nothing of it is kept and the rerun writes the same bytes."""
    async with in_transaction():
        batch = await PayoutBatch.filter(id=batch_id).select_for_update().first()
        if batch is None or batch.status is not BatchStatus.EXECUTING:
            return
        items = await PayoutItem.filter(batch_id=batch_id, status=ItemStatus.PENDING).order_by(
            "position"
        )
        outcomes: dict[str, Outcome] = {}
        instructions = []
        for item in items:
            if (paid_already := await _paid_already(item)) is not None:
                outcomes[item.reference] = paid_already
                continue
            if batch.method is PayoutMethod.CSV_FILE:  # SAP pays by its own master data
                instructions.append(await _instruction(batch, item, PayoutAccount(batch.method)))
                continue
            try:
                account = await payout_account(
                    tenant_id=batch.tenant_id, user_id=item.user_id, secret=secret,
                    approved_at=batch.approved_at,
                )  # fmt: skip
            except NoPayoutDetails:
                outcomes[item.reference] = Failed(item.reference, "the payee has no payout "
                                                  "details", "no_payout_details")  # fmt: skip
                continue
            except DetailsChanged as exc:
                outcomes[item.reference] = Failed(item.reference, exc.message, exc.code)
                continue
            instructions.append(await _instruction(batch, item, account))
        try:
            origin = await origin_of(batch.tenant_id, batch.method)
        except MethodConfigError as exc:
            written = None
            for i in instructions:
                outcomes[i.reference] = Failed(i.reference, exc.message, "origin")
        else:
            written = batch_file(batch, origin, instructions)
            outcomes.update({o.reference: o for o in written.outcomes})
        _kill_point("file_written")
        for item in items:
            await _record_outcome(system, item, outcomes[item.reference], attempt=True,
                                  settles_later=True)  # fmt: skip
        before = _state(batch)
        if written is not None and written.content:
            batch.file_name, batch.file_media_type = written.filename, written.media_type
            batch.file_content = written.content
        batch.status, batch.finished_at = BatchStatus.DONE, utc_now()
        await batch.save()
        await record(viewer=system, action="payout_batch.done", entity_type="payout_batch",
                     entity_id=str(batch_id), before=before,
                     after={**_state(batch), "file": batch.file_name})  # fmt: skip


async def _instruction(batch: PayoutBatch, item: PayoutItem, account: Any) -> PayoutInstruction:
    found = await User.filter(id=item.user_id).values_list("display_name", "external_id")
    name, code = found[0] if found else ("", "")
    return PayoutInstruction(
        reference=item.reference,
        payee_id=item.user_id,
        payee_name=str(name),
        payee_code=str(code),
        account=account,
        amount=Decimal(item.amount),
        currency=item.currency,
        description=f"Commission {batch.period}",
        idempotency_key=idempotency_key(tenant_id=batch.tenant_id, reference=item.reference),
        look_first=(batch.executed_at is not None and utc_now() - batch.executed_at > KEY_TRUSTED)
        or (batch.method is PayoutMethod.GIFT_CARD and item.attempts > 0),
    )


@dataclass(frozen=True, slots=True)
class ItemConfirmed:
    """What confirming a batch made of one submitted item: ``became`` paid, failed, or
    still submitted; ``why`` in words (what the provider showed); ``asked``: the provider
    answered (False: it could not be asked, the item is left as it was)."""

    reference: str
    became: ItemStatus
    why: str
    asked: bool = True


@dataclass(frozen=True, slots=True)
class Confirmation:
    batch: PayoutBatch
    items: tuple[ItemConfirmed, ...]

    def count(self, status: ItemStatus) -> int:
        return sum(1 for i in self.items if i.became is status)


ON_OPS_WORD = "confirmed on payout ops' word (a {method} batch has no provider to ask)"


async def confirm_batch(*, viewer: Viewer, batch_id: UUID | str, secret: bytes) -> Confirmation:
    """Payout ops confirm a batch's submitted items, in the caller's transaction. A file
    batch's (SEPA, NACHA, payroll, SAP) are paid on their word, the bank statement's: no
    provider to ask. A gift card batch's are each asked of the provider first (`look_up`,
    as settling asks: `_looked_up_all`, ``secret`` unsealing its credentials): an executed
    order is paid (its statement too); a FAILED or CANCELED one fails as the provider's
    refusal would (its statement is paid by the next batch); one still waiting for approval,
    one the provider does not show as asked (no order, another amount, two orders), or one
    it could not be asked about (down, a timeout, an unreadable answer, no provider) is left
    submitted, the reason in the answer. When no item's provider could be asked, refused
    (``id``) and nothing is written. Each item paid or failed is audited with what the
    provider showed (``lookup``), the confirmation itself (``payout_batch.confirmed``) with
    each item left submitted and why."""
    _require_ops(viewer, "id")
    batch = await _locked(viewer, batch_id)
    if batch.method not in SETTLE_LATER or batch.status is not BatchStatus.DONE:
        raise BatchStateError(
            "only a file or gift card batch that was executed is confirmed", field="id"
        )
    submitted = await PayoutItem.filter(batch_id=batch.id, status=ItemStatus.SUBMITTED).order_by(
        "position"
    )
    if not submitted:
        raise BatchStateError("no item of the batch waits for confirmation", field="id")
    if batch.method is not PayoutMethod.GIFT_CARD:
        why = ON_OPS_WORD.format(method=batch.method.value)
        for item in submitted:
            await _record_outcome(viewer, item, Paid(item.reference, item.provider_id))
        return Confirmation(batch, tuple(ItemConfirmed(i.reference, ItemStatus.PAID, why)
                                         for i in submitted))  # fmt: skip
    lookups = await _looked_up_all(batch, submitted, secret)
    decided = [_confirmed(item, lookup) for item, lookup in zip(submitted, lookups, strict=True)]
    if not any(answer.asked for _, answer in decided):
        reasons = sorted({lookup.shown for lookup in lookups})
        raise ProviderNotChecked(
            f"nothing confirmed: Podium could not ask the provider about any of the "
            f"{len(submitted)} submitted item(s): {reasons[0]}"
            + (f" (and {len(reasons) - 1} other reason(s))" if len(reasons) > 1 else "")
            + "; try again later, or look at the orders in the provider's dashboard",
            field="id",
        )
    for item, lookup, (outcome, _) in zip(submitted, lookups, decided, strict=True):
        if outcome is not None:
            await _record_outcome(viewer, item, outcome, lookup=lookup.shown)
    answers = tuple(answer for _, answer in decided)
    confirmation = Confirmation(batch, answers)
    await record(viewer=viewer, action="payout_batch.confirmed", entity_type="payout_batch",
                 entity_id=str(batch.id), before={"submitted": len(submitted)},
                 after={"paid": confirmation.count(ItemStatus.PAID),
                        "failed": confirmation.count(ItemStatus.FAILED),
                        "submitted": confirmation.count(ItemStatus.SUBMITTED),
                        "left": {a.reference: a.why for a in answers
                                 if a.became is ItemStatus.SUBMITTED}})  # fmt: skip
    return confirmation


def _confirmed(item: PayoutItem, lookup: Lookup) -> tuple[Outcome | None, ItemConfirmed]:
    """What a gift card item becomes from what its provider showed (None: left submitted)."""
    found, ref = lookup.found, item.reference
    if isinstance(found, Paid):
        return found, ItemConfirmed(ref, ItemStatus.PAID, lookup.shown)
    if lookup.shows is Shown.NO_PAYMENT and isinstance(found, Failed):  # FAILED, CANCELED
        refused = Failed(ref, found.reason, found.code)
        return refused, ItemConfirmed(ref, ItemStatus.FAILED, found.reason)
    if isinstance(found, Submitted):  # held for approval, or issued with its e-mail bounced
        from payments.methods.giftcards import WAITING

        held = "still waiting for approval" if found.state in (None, WAITING) else "not confirmed"
        return None, ItemConfirmed(ref, ItemStatus.SUBMITTED, f"{held}: {lookup.shown}")
    if lookup.shows is Shown.UNKNOWN:
        return None, ItemConfirmed(ref, ItemStatus.SUBMITTED, f"the provider could not be "
                                   f"asked: {lookup.shown}", asked=False)  # fmt: skip
    # no order of its external id, or one unlike it, or two: a person looks
    look = "look at it in the provider's dashboard, then confirm again or return the item"
    return None, ItemConfirmed(ref, ItemStatus.SUBMITTED, f"{lookup.shown}: {look}")


RETURNED = "returned"  # the code of an item the bank or provider gave back


async def return_item(
    *, viewer: Viewer, batch_id: UUID | str, reference: str, reason: str
) -> PayoutItem:
    """Payout ops record that the bank (or payroll, SAP, the gift card provider) did not pay
    one item of an executed batch, or gave its money back (a SEPA return, a NACHA return
    entry): the item fails with ``reason``; a paid statement becomes unpaid again, for the
    next batch. Stripe items are told by Stripe's webhooks instead. Audited."""
    _require_ops(viewer, "batchId")
    # shown on the item and in its audit: no control or invisible format character, as a
    # settle's reason
    reason = " ".join((_settle_text(str(reason), "reason", limit=100_000) or "").split())
    if not 3 <= len(reason) <= 500:
        raise BatchError("say why, in 3 to 500 characters (the bank's return reason)",
                         field="reason")  # fmt: skip
    batch = await _locked(viewer, batch_id, field="batchId")
    if batch.method not in SETTLE_LATER or batch.status is not BatchStatus.DONE:
        raise BatchStateError(
            "only an item of an executed file or gift card batch is returned by hand "
            "(Stripe's webhooks tell its reversals)", field="batchId",
        )  # fmt: skip
    item = None
    if REFERENCE.fullmatch(str(reference)):  # longer ones no item has (nor the column holds)
        item = await (
            PayoutItem.filter(batch_id=batch.id, reference=str(reference))
            .select_for_update()
            .first()
        )
    if item is None:
        raise NotFound(f"no item {quoted(str(reference), 50)} in the batch", field="reference")
    if item.status not in (ItemStatus.SUBMITTED, ItemStatus.PAID):
        raise BatchStateError(f"the item is {item.status.value}: nothing to return",
                              field="reference")  # fmt: skip
    before = {"status": item.status.value}
    if item.status is ItemStatus.PAID:
        await _statement_unpaid(viewer, item.statement_id)
    item.status, item.failure_code, item.failure_reason = ItemStatus.FAILED, RETURNED, reason
    item.updated_at = utc_now()
    await item.save(update_fields=["status", "failure_code", "failure_reason", "updated_at"])
    await record(viewer=viewer, action="payout_item.returned", entity_type="payout_item",
                 entity_id=str(item.id), before=before,
                 after={"status": item.status.value, "reason": reason})  # fmt: skip
    return item


class SettleAs(StrEnum):
    """What a person settling a pending item by hand says became of it."""

    PAID = "paid"  # the provider (or another way) paid it: its statement is paid
    FAILED = "failed"  # nothing was paid: its statement goes to the next batch


SETTLED_FAILED = "settled_failed"  # the code of an item settled by hand as failed
SETTLE_REFERENCE_LIMIT = 100


def _settle_text(text: str | None, field: str, *, limit: int) -> str | None:
    """``text`` stripped (None when empty), refused with ``field`` when it holds a control or
    invisible format character (a reference is copied into audits and listings) or runs
    past ``limit`` characters."""
    value = (text or "").strip()
    if (found := control_character(value)) or (
        found := next((f"U+{ord(c):04X}" for c in value if unicodedata.category(c) == "Cf"), None)
    ):
        raise BatchError(f"contains a control character ({found}): give plain text",
                         field=field)  # fmt: skip
    if len(value) > limit:
        raise BatchError(f"at most {limit} characters, not {len(value)}", field=field)
    return value or None


async def settle_item(
    *,
    viewer: Viewer,
    batch_id: UUID | str,
    item: str,
    outcome: SettleAs | str,
    reason: str,
    secret: bytes,
    reference: str | None = None,
    provider_checked: bool = False,
) -> PayoutItem:
    """Payout ops settle by hand a pending item whose provider never answered for sure (a
    Stripe transfer or gift card order left pending by the executions), saying what became of
    it: ``paid`` (``reference``, required: the provider's transfer or order id, or the bank's
    reference of another payment) marks it paid and its statement paid, as a provider's
    success would; ``failed`` fails it as a provider's final refusal would (not a retryable
    one, which would leave it pending): its statement is unpaid, for the next batch, under a
    new reference and key. Before that, Podium asks the provider itself whether it paid the
    item (`_provider_check`: Stripe's transfers of its group, the gift card orders of its
    external id, as a rerun asks before paying again): refused (``outcome``) when the
    provider shows a payment, naming it; refused too when it cannot be asked (down, an
    unreadable answer, no provider configured), unless ``provider_checked``: the person says
    they looked themselves, which the audit records. What the provider showed is audited
    (``lookup``). ``secret`` unseals the provider's credentials and the payee's account.

    ``item`` is the item's reference (PB...-2) or id. Only a pending item sent at least once
    is settled, and not while an execution is sending it (refused, not waited for). The
    executions never send a settled item again; a provider reporting a payment of it later
    is flagged on it (`_record_outcome`). The batch is done when no item is left pending.
    Audited (`payout_item.settled`: who, the pending reason before, the reason and
    reference), in the caller's transaction; bad input changes nothing."""
    _require_ops(viewer, "batchId")
    if viewer.user_id is None:
        raise Forbidden("a person settles an item by hand: the audit names them", field="by")
    try:
        chosen = SettleAs(str(outcome).lower())
    except ValueError:
        raise BatchError("paid or failed", field="outcome") from None
    said = _settle_text(reason, "reason", limit=100_000) or ""
    said = " ".join(said.split())
    if not 3 <= len(said) <= 500:
        raise BatchError("say why, in 3 to 500 characters (what the provider shows, who "
                         "checked)", field="reason")  # fmt: skip
    ref = _settle_text(reference, "reference", limit=SETTLE_REFERENCE_LIMIT)
    if chosen is SettleAs.PAID and ref is None:
        raise BatchError("say where the payment is: the provider's transfer or order id, or "
                         "the bank's reference", field="reference")  # fmt: skip
    if chosen is SettleAs.PAID and provider_checked:
        raise BatchError("only settling as failed asks the provider (and takes your word when "
                         "it cannot be asked); settling as paid names the payment's "
                         "reference instead", field="providerChecked")  # fmt: skip
    batch = await _locked(viewer, batch_id, field="batchId")
    missing = NotFound(f"no item {quoted(str(item), 50)} in the batch", field="item")
    try:
        wanted = PayoutItem.filter(batch_id=batch.id, id=UUID(str(item)))
    except ValueError:
        if not REFERENCE.fullmatch(str(item)):
            raise missing from None
        wanted = PayoutItem.filter(batch_id=batch.id, reference=str(item))
    found = await wanted.select_for_update(skip_locked=True).first()
    if found is None:
        if await wanted.exists():
            raise BatchStateError("an execution is sending the item right now: settle "
                                  "it once done, if still pending", field="item")  # fmt: skip
        raise missing
    if found.status is not ItemStatus.PENDING:
        raise BatchStateError(f"the item is {found.status.value}: only a pending item, whose "
                              "provider never answered for sure, is settled by hand",
                              field="item")  # fmt: skip
    if found.attempts == 0:
        raise BatchStateError("the item was never sent: execute the batch (nothing to settle)",
                              field="item")  # fmt: skip
    lookup = None
    if chosen is SettleAs.FAILED:
        lookup = await _provider_check(batch, found, secret, provider_checked=provider_checked)
    result: Outcome = (
        Paid(found.reference, provider_id=ref)
        if chosen is SettleAs.PAID
        else Failed(found.reference, f"settled by hand as failed: {said}", SETTLED_FAILED)
    )
    await _record_outcome(viewer, found, result, settled=_Settlement(said, ref, lookup))
    await _finish(viewer, batch)
    return found


LOOKUP_TIMEOUT = 10.0  # seconds a settle's question to the provider may take (a person waits)


async def _provider_check(
    batch: PayoutBatch, item: PayoutItem, secret: bytes, *, provider_checked: bool
) -> str:
    """What the audit says the provider showed of the item's payment, before it is settled
    as failed: refused when the provider shows a payment (the next batch would pay again),
    or when it cannot be asked and the person settling did not say they checked it."""
    [lookup] = await _looked_up_all(batch, [item], secret)
    if lookup.shows is Shown.PAYMENT:
        raise ProviderShowsPayment(
            f"{lookup.shown}: not settled as failed (the next batch would pay it again); "
            "settle it as paid with that reference once checked", field="outcome",
        )  # fmt: skip
    if lookup.shows is Shown.NO_PAYMENT:
        return lookup.shown
    if not provider_checked:
        raise ProviderNotChecked(
            f"Podium could not ask the provider whether it paid the item: {lookup.shown}; "
            "look for its payment yourself, then settle it as failed saying you checked "
            "(providerChecked: true; podium payouts settle --checked-provider)",
            field="outcome",
        )  # fmt: skip
    return f"provider not checked by Podium: {lookup.shown}; ops confirmed"


async def _asking_client(method: PayoutMethod, tenant_id: UUID, secret: bytes) -> Any:
    """The tenant's client of ``method``'s provider for a person's questions (shorter waits
    than an execution's: someone is waiting), or a str: why there is none. File methods have
    no provider to ask; their items are never pending once sent (`_write_file`)."""
    from payments.methods.giftcards import TremendousGiftCards
    from payments.methods.service import gift_card_config, stripe_setup
    from payments.methods.stripe_connect import StripeConnect

    if method is PayoutMethod.STRIPE:
        setup = await stripe_setup(tenant_id=tenant_id, secret=secret)
        if setup is None:
            return "the tenant has no Stripe provider configured"
        return StripeConnect(replace(setup.config, timeout=LOOKUP_TIMEOUT, max_network_retries=1))
    if method is PayoutMethod.GIFT_CARD:
        cards = await gift_card_config(tenant_id=tenant_id, secret=secret)
        if cards is None:
            return "the tenant has no gift card provider configured"
        return TremendousGiftCards(replace(cards, timeout=LOOKUP_TIMEOUT))
    return f"Podium has no way to ask about a {method.value} payment"


async def _looked_up_all(
    batch: PayoutBatch, items: Sequence[PayoutItem], secret: bytes
) -> list[Lookup]:
    """What the batch's provider shows of each item's payment, in order, asked with the
    tenant's credentials through one client (`_asking_client`): the questions at most
    CONCURRENCY at once (the items' instructions read first, in the caller's transaction:
    one connection answers one query at a time)."""
    client = await _asking_client(batch.method, batch.tenant_id, secret)
    if isinstance(client, str):
        return [Lookup(Shown.UNKNOWN, client)] * len(items)
    try:
        instructions = []
        for item in items:
            try:
                account = await payout_account(
                    tenant_id=batch.tenant_id, user_id=item.user_id, secret=secret
                )
            except NoPayoutDetails:
                account = PayoutAccount(batch.method)
            if account.method is not batch.method:
                account = PayoutAccount(batch.method)
            instructions.append(await _instruction(batch, item, account))
        lanes = asyncio.Semaphore(CONCURRENCY)

        async def ask(instruction: PayoutInstruction) -> Lookup:
            async with lanes:
                return await client.look_up(instruction)

        return list(await asyncio.gather(*(ask(i) for i in instructions)))
    finally:
        await client.close()


async def _summary(batch_id: UUID, *, done: bool) -> ExecutionSummary:
    counts = {
        row["status"]: int(row["n"])
        for row in await connections.get("default").execute_query_dict(
            "SELECT status, count(*) AS n FROM payout_items WHERE batch_id = $1 GROUP BY status",
            [batch_id],
        )
    }
    return ExecutionSummary(
        paid=counts.get("paid", 0),
        submitted=counts.get("submitted", 0),
        failed=counts.get("failed", 0),
        pending=counts.get("pending", 0),
        done=done,
    )


async def _pay_item(
    system: Viewer, batch: PayoutBatch, item_id: UUID, payer: Payer, secret: bytes
) -> None:
    async with in_transaction():
        item = (
            await PayoutItem.filter(id=item_id, status=ItemStatus.PENDING)
            .select_for_update(skip_locked=True)
            .first()
        )
        if item is None:
            return  # another executor holds it, or it was answered meanwhile
        _kill_point("item_locked", item.reference)
        outcome = await _paid_already(item) or await _paid_by(batch, item, payer, secret)
        _kill_point("item_answered", item.reference)
        await _record_outcome(system, item, outcome, attempt=True,
                              settles_later=batch.method in SETTLE_LATER)  # fmt: skip
    _kill_point("item_committed", item.reference)


async def _paid_by(batch: PayoutBatch, item: PayoutItem, payer: Payer, secret: bytes) -> Outcome:
    try:
        account = await payout_account(
            tenant_id=batch.tenant_id, user_id=item.user_id, secret=secret,
            # sent before (no answer): sent again as it was, whatever changed since
            approved_at=None if item.attempts else batch.approved_at,
        )  # fmt: skip
    except NoPayoutDetails:
        return Failed(item.reference, "the payee has no payout details", "no_payout_details")
    except DetailsChanged as exc:
        return Failed(item.reference, exc.message, exc.code)
    if account.method is not batch.method:
        return Failed(item.reference, f"the payee is paid by {account.method.value}, "
                      f"not {batch.method.value}", "method")  # fmt: skip
    return await payer(await _instruction(batch, item, account))


FAILURE_CODE_LIMIT = 60  # payout_items.failure_code
STATEMENT_PAID = "statement_paid"  # the code of an item whose statement was paid meanwhile


async def _paid_already(item: PayoutItem) -> Failed | None:
    """Why a pending item is not sent: its statement was paid meanwhile (by an item of
    another batch a provider reported paid late, or recorded paid by hand: `podium statements
    pay`); None: it is still to pay. Sending it would pay the statement twice."""
    status = await Statement.filter(id=item.statement_id).values_list("status", flat=True)
    if not status or status[0] != StatementStatus.PAID.value:
        return None
    other = (
        await PayoutItem.filter(statement_id=item.statement_id, status=ItemStatus.PAID)
        .exclude(id=item.id)
        .values_list("reference", flat=True)
    )
    by = f"by item {other[0]}" if other else "by hand"
    sent = (
        "; it was sent before without a certain answer: look for that payment at the provider"
        if item.attempts
        else ""
    )
    return Failed(item.reference, f"its statement was paid meanwhile ({by}): not sent{sent}",
                  STATEMENT_PAID)  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Settlement:
    """What the person settling an item by hand said (`settle_item`)."""

    reason: str
    reference: str | None
    lookup: str | None = None  # what the provider showed when asked (settled as failed)


async def _record_outcome(
    system: Viewer,
    item: PayoutItem,
    outcome: Outcome,
    *,
    attempt: bool = False,
    settles_later: bool = False,
    settled: _Settlement | None = None,
    lookup: str | None = None,
) -> None:
    """An item's new state from a provider's answer (or a webhook's, or a person's who
    settles it by hand: ``settled``), in the caller's transaction, the item locked. Audited,
    with what the provider showed when it was asked (``lookup``: confirming a batch).

    - Submitted or Paid: paid, and its statement with it. A Stripe transfer lands in the
      payee's connected account at once; Stripe pays it out to their bank on its schedule.
      An item written to a file, or a gift card order held for approval, is submitted
      (``settles_later``), paid when payout ops confirm it was (`confirm_batch`: a gift
      card order once the provider shows it executed).
    - A failure that says nothing certain (timeout, 5xx): still pending, the reason shown,
      sent again with the same key by the next execution.
    - A failure before payment: failed with its reason; the statement stays unpaid, for the
      next batch.
    - After payment: a reversed transfer (the money came back) fails the item and makes the
      statement unpaid again; a failed bank payout leaves the money in the payee's Stripe
      balance: the item stays paid, the reason shown (paying again would pay twice).
    - A provider reporting a payment of an item settled by hand (as failed; or as paid
      under another reference than the provider's) is believed, and flagged: the item is
      paid (its statement too if it still waits, so no batch pays it again, and an item of
      another batch holding it is not sent), code ``paid_after_settle``, the reason saying
      the payee may have been paid twice and naming the other items of the statement; once:
      a later report of it changes nothing."""
    before: dict[str, Any] = {"status": item.status.value}
    late = (
        settled is None
        and item.settled_at is not None
        and item.failure_code != PAID_AFTER_SETTLE  # flagged once, however often told
        and isinstance(outcome, Paid | Submitted)
        and (item.status is ItemStatus.FAILED or outcome.provider_id != item.settle_reference)
    )
    if late:
        before["settled"] = "failed" if item.status is ItemStatus.FAILED else "paid"
    if settled is not None:
        before.update(reason=item.failure_reason, attempts=item.attempts)
        item.settled_at, item.settled_by = utc_now(), system.user_id
        item.settle_reason, item.settle_reference = settled.reason, settled.reference
    if attempt:
        item.attempts += 1
    # a provider's code as it gave it, within what the column holds (a longer one from a
    # provider or an event must not fail the item's transaction)
    code = outcome.code[:FAILURE_CODE_LIMIT] if isinstance(outcome, Failed) else None
    if isinstance(outcome, Failed) and outcome.retryable:
        item.failure_code = code
        item.failure_reason = f"{outcome.reason}; sent again with the same key by the next run"
    elif isinstance(outcome, Failed):
        item.failure_code, item.failure_reason = code, outcome.reason
        if item.status is not ItemStatus.PAID:
            item.status = ItemStatus.FAILED
        elif outcome.code == REVERSED:
            item.status = ItemStatus.FAILED
            await _statement_unpaid(system, item.statement_id)
    elif isinstance(outcome, Submitted) and settles_later:
        item.provider_id = outcome.provider_id
        item.status, item.failure_code, item.failure_reason = ItemStatus.SUBMITTED, None, None
    else:
        item.provider_id = item.provider_id or outcome.provider_id
        if item.status is not ItemStatus.PAID:
            item.status, item.failure_code, item.failure_reason = ItemStatus.PAID, None, None
            await _statement_paid(system, item.statement_id)
    if late:
        item.failure_code = PAID_AFTER_SETTLE
        item.failure_reason = await _paid_after_settle(item, before["settled"], outcome)
    item.updated_at = utc_now()
    await item.save()
    if settled is not None:
        looked = {} if settled.lookup is None else {"lookup": settled.lookup}
        await record(viewer=system, action="payout_item.settled", entity_type="payout_item",
                     entity_id=str(item.id), before=before,
                     after={"status": item.status.value, "as": item.status.value,
                            "reason": settled.reason, "reference": settled.reference,
                            "providerId": item.provider_id, **looked})  # fmt: skip
    elif late:
        await record(viewer=system, action="payout_item.paid_after_settle",
                     entity_type="payout_item", entity_id=str(item.id), before=before,
                     after={"status": item.status.value, "reason": item.failure_reason,
                            "providerId": outcome.provider_id})  # fmt: skip
    elif before["status"] != item.status.value:
        shown = {} if lookup is None else {"lookup": lookup}
        await record(viewer=system, action=f"payout_item.{item.status.value}",
                     entity_type="payout_item", entity_id=str(item.id), before=before,
                     after={"status": item.status.value, "reason": item.failure_reason,
                            "providerId": item.provider_id, **shown})  # fmt: skip


PAID_AFTER_SETTLE = "paid_after_settle"  # a provider reported a payment of a settled item


async def _paid_after_settle(item: PayoutItem, settled_as: str, outcome: Outcome) -> str:
    """The flag's reason: what the provider reported, what the person had settled, and the
    other items of the statement (a pending one will not be sent: the statement is paid)."""
    others = (
        await PayoutItem.filter(statement_id=item.statement_id)
        .exclude(id=item.id)
        .order_by("updated_at")
        .values_list("reference", "status")
    )
    shown = ", ".join(f"{reference} ({status})" for reference, status in others[-3:])
    provider_id = quoted(outcome.provider_id, 60) if outcome.provider_id else "no id"
    said = f"as {settled_as}" + (
        f" ({quoted(item.settle_reference, 60)})" if item.settle_reference else ""
    )
    return (
        f"the provider reported it paid ({provider_id}) after it was settled by hand {said}: "
        "check that the payee was not paid twice"
        + (f"; the statement's other items: {shown}" if shown else "")
    )


async def _statement_paid(system: Viewer, statement_id: UUID) -> None:
    statement = await Statement.filter(id=statement_id).select_for_update().first()
    if statement is None or statement.status != StatementStatus.APPROVED.value:
        return
    statement.status, statement.paid_at = StatementStatus.PAID.value, utc_now()
    await statement.save(update_fields=["status", "paid_at"])
    await record_many(viewer=system, changes=[Change(
        "statement.paid", "statement", str(statement_id),
        {"status": StatementStatus.APPROVED.value},
        {"status": StatementStatus.PAID.value, "total": format(Decimal(statement.total), "f")},
    )])  # fmt: skip


async def _statement_unpaid(system: Viewer, statement_id: UUID) -> None:
    statement = await Statement.filter(id=statement_id).select_for_update().first()
    if statement is None or statement.status != StatementStatus.PAID.value:
        return
    statement.status, statement.paid_at = StatementStatus.APPROVED.value, None
    await statement.save(update_fields=["status", "paid_at"])
    await record_many(viewer=system, changes=[Change(
        "statement.unpaid", "statement", str(statement_id),
        {"status": StatementStatus.PAID.value},
        {"status": StatementStatus.APPROVED.value},
    )])  # fmt: skip


async def _provider(
    tenant_id: UUID, method: PayoutMethod, secret: bytes
) -> tuple[Payer, Callable[[], Awaitable[None]] | None]:
    from payments.methods.giftcards import TremendousGiftCards
    from payments.methods.service import gift_card_config, stripe_setup
    from payments.methods.stripe_connect import StripeConnect

    async def unconfigured(i: PayoutInstruction) -> Outcome:
        return Failed(i.reference, f"the tenant has no {method.value} provider configured",
                      "provider_not_configured")  # fmt: skip

    if method is PayoutMethod.STRIPE:
        setup = await stripe_setup(tenant_id=tenant_id, secret=secret)
        if setup is None:
            return unconfigured, None
        client = StripeConnect(setup.config)
        return client.pay, client.close
    if method is PayoutMethod.GIFT_CARD:
        config = await gift_card_config(tenant_id=tenant_id, secret=secret)
        if config is None:
            return unconfigured, None
        cards = TremendousGiftCards(config)
        return cards.pay, cards.close
    raise BatchError(f"{method.value} batches are not available yet", field="method")


async def apply_event_outcome(*, tenant_id: UUID, outcome: Outcome) -> bool:
    """A provider's webhook says what became of an item (by its reference), in the caller's
    transaction: False when no item of the tenant has that reference (one no item can have,
    another integration's, is not even looked for: the column holds 35 characters)."""
    if not REFERENCE.fullmatch(outcome.reference):
        return False
    item = (
        await PayoutItem.filter(tenant_id=tenant_id, reference=outcome.reference)
        .select_for_update()
        .first()
    )
    if item is None:
        return False
    await _record_outcome(Viewer.system(tenant_id, "payout-webhook"), item, outcome)
    return True


@dataclass(frozen=True, slots=True)
class GiftCardEventApplied:
    """What a gift card webhook event made of our item: ``reference`` None when no item of
    the tenant is the order's (the event is acknowledged, nothing changes); ``became`` the
    item's status after; ``why`` in words; ``asked`` False when the provider could not be
    asked (nothing is written: the caller rolls back and the provider redelivers)."""

    reference: str | None
    became: ItemStatus | None
    why: str
    asked: bool = True


EVENT_VIEWER = "gift-card-webhook"


async def apply_gift_card_event(
    *, tenant_id: UUID, order_id: str | None, reward_id: str | None, secret: bytes
) -> GiftCardEventApplied:
    """A gift card webhook event about an order (or one of its rewards), in the caller's
    transaction. The event's word is not taken: the item whose order it is (its
    ``provider_id``) is asked of the provider exactly as confirming asks (`_looked_up_all`,
    `_confirmed`) and becomes what the provider shows: executed, paid (its statement too);
    FAILED or CANCELED, failed for the next batch; held for approval or with its e-mail
    bounced, still submitted, the reason on the item. An item settled by hand, as failed or
    as paid under another reference than this order, whose order shows executed is paid and
    flagged once (`_record_outcome`, ``paid_after_settle``: the payee may be paid twice).
    Any other item (paid, pending, failed) is left as it is. A reward event's order is
    asked of the provider first (`order_of_reward`)."""
    system = Viewer.system(tenant_id, EVENT_VIEWER)
    if order_id is None and reward_id is not None:
        found = await _gift_card_field(tenant_id, secret, lambda c: c.order_of_reward(reward_id))
        if isinstance(found, GiftCardEventApplied):
            return found
        if found is None:
            return GiftCardEventApplied(None, None, f"the gift card provider shows no "
                                        f"reward {reward_id}")  # fmt: skip
        order_id = found
    if order_id is None:
        return GiftCardEventApplied(None, None, "the event is about no order")
    item = (
        await PayoutItem.filter(
            tenant_id=tenant_id, provider_id=order_id, batch__method=PayoutMethod.GIFT_CARD
        )
        .select_for_update()
        .first()
    )
    if item is None:
        found = await _settled_before_its_order(tenant_id, order_id, secret)
        if isinstance(found, GiftCardEventApplied):
            return found
        item = found
    by_hand = _settled_by_hand(item)
    if item.status is not ItemStatus.SUBMITTED and not by_hand:
        why = f"nothing to change: the item is {item.status.value}"
        return GiftCardEventApplied(item.reference, item.status, why)
    batch = await PayoutBatch.get(id=item.batch_id)
    [lookup] = await _looked_up_all(batch, [item], secret)
    outcome, answer = _confirmed(item, lookup)
    if not answer.asked:
        return GiftCardEventApplied(item.reference, item.status, answer.why, asked=False)
    if by_hand:
        if isinstance(outcome, Paid):  # flagged unless settled as paid under this very order
            await _record_outcome(system, item, outcome, lookup=lookup.shown)
        return GiftCardEventApplied(item.reference, item.status, lookup.shown)
    if outcome is not None:
        await _record_outcome(system, item, outcome, lookup=lookup.shown)
        return GiftCardEventApplied(item.reference, item.status, answer.why)
    if item.failure_reason != answer.why:  # still submitted: why, shown on the item
        before = {"status": item.status.value, "reason": item.failure_reason}
        item.failure_reason, item.updated_at = answer.why, utc_now()
        await item.save(update_fields=["failure_reason", "updated_at"])
        await record(viewer=system, action="payout_item.still_submitted",
                     entity_type="payout_item", entity_id=str(item.id), before=before,
                     after={"status": item.status.value, "reason": answer.why,
                            "providerId": item.provider_id, "lookup": lookup.shown})  # fmt: skip
    return GiftCardEventApplied(item.reference, item.status, answer.why)


def _settled_by_hand(item: PayoutItem) -> bool:
    """Whether ``item`` was settled by hand (as failed or as paid) and not flagged yet: its
    order's payment is asked about, and `_record_outcome` says whether it pays it twice."""
    return (
        item.settled_at is not None
        and item.failure_code != PAID_AFTER_SETTLE
        and item.status in (ItemStatus.FAILED, ItemStatus.PAID)
    )


async def _gift_card_field(
    tenant_id: UUID, secret: bytes, ask: Callable[[Any], Awaitable[str | None | Failed]]
) -> str | None | GiftCardEventApplied:
    """What the tenant's gift card provider answers ``ask`` (a reward's order, an order's
    external id; None: it shows no such thing), or, when it could not be asked, why
    (``asked`` False: the event's handling is rolled back)."""
    client = await _asking_client(PayoutMethod.GIFT_CARD, tenant_id, secret)
    if isinstance(client, str):
        return GiftCardEventApplied(None, None, client, asked=False)
    try:
        found = await ask(client)
    finally:
        await client.close()
    if isinstance(found, Failed):
        return GiftCardEventApplied(None, None, found.reason, asked=False)
    return found


async def _settled_before_its_order(
    tenant_id: UUID, order_id: str, secret: bytes
) -> PayoutItem | GiftCardEventApplied:
    """The gift card item settled by hand (as failed, or as paid) while pending, before the
    provider gave its order id, whose order ``order_id`` turns out to be (the order's external
    id is the item's key), locked; else why there is none. The provider is asked only when
    such items exist (`TremendousGiftCards.external_id_of`)."""
    none = GiftCardEventApplied(None, None, f"no payout item is order {order_id}")
    # Settled by hand (`_settled_by_hand`) with no order id: as failed, none known; as paid,
    # the payment's reference in the place of the unknown order id (`_record_outcome`).
    # Few: they were settled by hand.
    settled = [
        item
        for item in await PayoutItem.filter(
            tenant_id=tenant_id, settled_at__isnull=False, batch__method=PayoutMethod.GIFT_CARD
        )
        if _settled_by_hand(item) and item.provider_id in (None, item.settle_reference)
    ]
    if not settled:
        return none
    external = await _gift_card_field(tenant_id, secret, lambda c: c.external_id_of(order_id))
    if isinstance(external, GiftCardEventApplied):
        return external
    for item in settled:
        if idempotency_key(tenant_id=tenant_id, reference=item.reference) == external:
            return await PayoutItem.filter(id=item.id).select_for_update().get()
    return none


# --- reading ----------------------------------------------------------------------------


async def batch_of(*, viewer: Viewer, batch_id: UUID | str) -> PayoutBatch | None:
    _require_ops(viewer, "id")
    try:
        found = UUID(str(batch_id))
    except ValueError:
        return None
    return await PayoutBatch.filter(id=found, tenant_id=viewer.tenant_id).first()


async def batches_of(*, viewer: Viewer, period: str | None = None) -> list[PayoutBatch]:
    """The tenant's batches (of ``period``), newest first."""
    _require_ops(viewer, "period")
    found = PayoutBatch.filter(tenant_id=viewer.tenant_id)
    if period is not None:
        found = found.filter(period=parse_period(period).id)
    return await found.order_by("-created_at").limit(200)


async def items_of(
    *, viewer: Viewer, batch_id: UUID, first: int, after: int = -1
) -> list[PayoutItem]:
    _require_ops(viewer, "id")
    return (
        await PayoutItem.filter(tenant_id=viewer.tenant_id, batch_id=batch_id, position__gt=after)
        .order_by("position")
        .limit(first + 1)
    )


@dataclass(frozen=True, slots=True)
class PaidInYear:
    user_id: UUID
    external_id: str
    display_name: str
    country: str | None
    currency: str
    total: Decimal  # what was paid: a partner's invoice payable, net of what it withheld
    # Form 1099-NEC: box 1, the gross fee (a partner's invoice net, anyone else's payment);
    # box 4, the federal income tax withheld (a US partner's backup withholding, no TIN).
    # A balance carried forward counts where its recovery is paid (OWED): a partner's
    # October fee of -120.00 carried into November's 500.00 gives box 1 380.00 in the year
    # November is paid, and October's negative backup withholding reduces box 4 there; the
    # carried statement itself is never paid, so it is reported nowhere else
    nonemployee_compensation: Decimal
    federal_tax_withheld: Decimal
    # a US payee paid in USD at least the year's threshold, or with any backup withholding
    form_1099_nec: bool


def nec_threshold(year: int) -> Decimal:
    """The IRS 1099-NEC reporting threshold for payments made in ``year``: $600 through
    2025; $2,000 for payments made after 31 December 2025 (One Big Beautiful Bill Act, 2025,
    section 70433), indexed for inflation from 2027 (not yet published: the 2026 figure is
    used until it is)."""
    return Decimal(600) if year <= 2025 else Decimal(2000)


async def paid_by_payee(*, viewer: Viewer, year: int) -> list[PaidInYear]:
    """What each payee was paid through batches in ``year`` (by the item's payment time:
    its statement's, which a later event about the item, a failed bank payout, leaves as it
    was), per currency, with the 1099-NEC's boxes 1 and 4 (a partner's from the invoice the
    item paid); US payees paid in USD at or over the threshold, or with any backup
    withholding (reported whatever the amount, as the IRS instructions say), flagged."""
    _require_ops(viewer, "year")
    if not 2000 <= year <= 2100:
        raise BatchError("a year such as 2026", field="year")
    rows = await connections.get("default").execute_query_dict(
        f"""
        SELECT i.user_id, u.external_id, u.display_name, u.country, i.currency,
               sum(i.amount) AS total, sum(coalesce(owed.net, i.amount)) AS fee,
               sum(coalesce(owed.backup_withheld, 0)) AS withheld
        FROM payout_items i JOIN users u ON u.id = i.user_id
          JOIN statements s ON s.id = i.statement_id
          {OWED}
        WHERE i.tenant_id = $1 AND i.status = 'paid'
          AND coalesce(s.paid_at, i.updated_at) >= $2 AND coalesce(s.paid_at, i.updated_at) < $3
        GROUP BY 1, 2, 3, 4, 5 ORDER BY u.external_id, i.currency
        """,
        [viewer.tenant_id, date(year, 1, 1), date(year + 1, 1, 1)],
    )
    threshold = nec_threshold(year)
    return [
        PaidInYear(
            user_id=r["user_id"],
            external_id=r["external_id"],
            display_name=r["display_name"],
            country=r["country"],
            currency=r["currency"],
            total=Decimal(r["total"]),
            nonemployee_compensation=Decimal(r["fee"]),
            federal_tax_withheld=Decimal(r["withheld"]),
            form_1099_nec=(r["country"] or "").upper() == "US"
            and r["currency"] == "USD"
            and (Decimal(r["fee"]) >= threshold or Decimal(r["withheld"]) > 0),
        )  # fmt: skip
        for r in rows
    ]
