"""Balances between statements and payouts: what a statement owes is one figure (a partner's
in their invoices' terms, anyone else's its total), which decides everywhere whether it is
paid (above zero: a payout batch) or owed by the payee (below zero: carried into their next
statement); a balance is never lost, nor recovered or paid twice."""

from __future__ import annotations

import asyncio

import pytest
from tortoise.transactions import in_transaction

from domain.audit.models import AuditEntry
from domain.kit.errors import DomainError
from domain.plans.models import PlanAssignment
from payments.batches import service as batches
from payments.batches.models import PayoutItem
from payments.draws.service import balance_of, set_draw
from payments.invoices.models import Invoice
from payments.invoices.service import set_partner_profile, set_tax_rule
from payments.payouts.models import PayoutMethod
from payments.statements.models import Statement, StatementLine
from payments.statements.service import (
    add_adjustment,
    approve_statements,
    balances_owed,
    build_statements,
    mark_paid,
    owed_statements,
)
from tests.payments.helpers import D, World, close, current, deal, lines_of, make_world
from tests.payments.statements.test_carry_forward import _waits_for_a_row_lock

pytestmark = pytest.mark.usefixtures("db")


async def _partner(w: World, **rates: str) -> None:
    """ann an Italian partner whose tax rules are ``rates`` (kind -> percent of the fee)."""
    admin = w.viewer("admin")
    await set_partner_profile(
        viewer=admin, rep_id=w["ann"].id, legal_name="Sole Impianti S.r.l.",
        address="Via Roma 1, 20121 Milano", country="IT", tax_id="IT 00743110157",
    )  # fmt: skip
    await _rules(w, **rates)


async def _rules(w: World, **rates: str) -> None:
    for kind, rate in rates.items():
        share = D("0.5") if kind == "withholding" and rate == "23" else D("1")
        await set_tax_rule(viewer=w.viewer("admin"), country="IT", kind=kind, rate=D(rate),
                           base_share=share)  # fmt: skip


ITALY = {"vat": "22", "withholding": "23", "social_security": "0"}  # 500.00 -> 552.50
# withheld more than the fee: a fee above zero leaves a payable below it, and the reverse
OVERWITHHELD = {"vat": "0", "withholding": "100", "social_security": "50"}


async def _october(w: World, adjustment: str | None = None) -> Statement:
    """ann earns 250.00 in October (less ``adjustment``), closed, built and approved."""
    await deal(w["ann"], "o1", "8000", "2026-10-05")
    await deal(w["bob"], "o2", "4000", "2026-10-06")
    await close(w, "2026-10")
    if adjustment is not None:
        await add_adjustment(viewer=w.viewer("ops"), rep_id=w["ann"].id, period="2026-10",
                             amount=D(adjustment), currency="EUR",
                             reason="Kit not returned")  # fmt: skip
    await build_statements(viewer=w.system, period="2026-10")
    await approve_statements(viewer=w.viewer("ops"), period="2026-10")
    return await current(w, "ann", "2026-10")


async def _november(w: World) -> Statement:
    """ann earns 500.00 in November, closed, built and approved."""
    await deal(w["ann"], "n1", "13000", "2026-11-05")
    await close(w, "2026-11")
    await build_statements(viewer=w.system, period="2026-11")
    await approve_statements(viewer=w.viewer("ops"), period="2026-11")
    return await current(w, "ann", "2026-11")


async def _batch_item(w: World, period: str) -> D | None:
    """What a batch of ``period`` made now pays ann (None: no item for her)."""
    try:
        async with in_transaction():
            batch = await batches.create_batch(viewer=w.viewer("ops"), period=period,
                                               method=PayoutMethod.STRIPE,
                                               rep_ids=[w["ann"].id])  # fmt: skip
    except batches.BatchError:
        return None
    return D((await PayoutItem.get(batch_id=batch.id)).amount)


async def _payables(w: World) -> list[D]:
    return [D(i.payable) for i in await Invoice.filter(user_id=w["ann"].id).order_by("sequence")]


async def test_given_a_fee_above_zero_whose_payable_is_below_then_it_is_owed_and_carried():
    """October's fee is 250.00, but 100% withholding and 50% social security leave the partner
    owing 125.00: no batch pays it, so it is a balance the payee owes, which `statements pay`
    must not settle as paid and November must recover, under November's own tax terms."""
    w = await make_world()
    await _partner(w, **OVERWITHHELD)
    october = await _october(w)
    assert (D(october.total), await _payables(w)) == (D("250"), [D("-125")])
    assert await _batch_item(w, "2026-10") is None  # nothing to pay

    assert await owed_statements(viewer=w.viewer("ops"), period="2026-10") == 1
    assert await mark_paid(viewer=w.viewer("ops"), period="2026-10") == 2  # bob, cat
    assert (await Statement.get(id=october.id)).status == "approved"

    await _rules(w, **ITALY)  # November's terms differ
    november = await _november(w)

    lines = [(ln.kind, D(ln.amount), ln.source) for ln in await lines_of(november)]
    assert lines == [("earnings", D("500"), lines[0][2]),
                     ("carry_forward", D("250"), f"carry:{october.id}")]  # fmt: skip
    settled = await Statement.get(id=october.id)
    assert (settled.status, settled.carried_into_period) == ("carried", "2026-11")
    # November's 552.50 less the 125.00 October left owed: what the two invoices net to
    assert await _batch_item(w, "2026-11") == D("427.50") == sum(await _payables(w))


async def test_given_a_fee_below_zero_whose_payable_is_above_then_it_is_paid_once_not_carried():
    """October's fee is -120.00, but the withholdings it reverses leave the partner owed
    60.00: a batch pays it; November must not carry it too (it would pay the 60.00 again)."""
    w = await make_world()
    await _partner(w, **OVERWITHHELD)
    october = await _october(w, adjustment="-370")
    assert (D(october.total), await _payables(w)) == (D("-120"), [D("60")])
    assert await owed_statements(viewer=w.viewer("ops"), period="2026-10") == 0
    assert await _batch_item(w, "2026-10") == D("60")

    await _rules(w, **ITALY)
    november = await _november(w)

    assert [ln.kind for ln in await lines_of(november)] == ["earnings"]
    assert (await Statement.get(id=october.id)).status == "approved"  # its item pays it
    assert await _batch_item(w, "2026-11") == D("552.50")
    assert not await AuditEntry.filter(action="statement.carried").exists()


# --- a statement changed after its version 1 was built --------------------------------


async def _november_built_before_october_approved(w: World) -> Statement:
    """ann's October below zero (-120.00) and November (500.00) both built; October
    approved only after November was built, so November's version 1 carries nothing."""
    await deal(w["ann"], "o1", "8000", "2026-10-05")
    await close(w, "2026-10")
    await add_adjustment(viewer=w.viewer("ops"), rep_id=w["ann"].id, period="2026-10",
                         amount=D("-370"), currency="EUR", reason="Kit not returned")  # fmt: skip
    await build_statements(viewer=w.system, period="2026-10")
    await deal(w["ann"], "n1", "13000", "2026-11-05")
    await close(w, "2026-11")
    await build_statements(viewer=w.system, period="2026-11")
    await approve_statements(viewer=w.viewer("ops"), period="2026-10")
    assert [ln.kind for ln in await lines_of(await current(w, "ann", "2026-11"))] == ["earnings"]
    return await current(w, "ann", "2026-10")


@pytest.mark.parametrize("approved", [True, False])
async def test_given_a_balance_owed_after_version_1_then_the_changed_statement_carries_it(
    approved: bool,
):
    w = await make_world()
    october = await _november_built_before_october_approved(w)
    if approved:
        await approve_statements(viewer=w.viewer("ops"), period="2026-11")

    await add_adjustment(viewer=w.viewer("ops"), rep_id=w["ann"].id, period="2026-11",
                         amount=D("20"), currency="EUR", reason="SPIFF")  # fmt: skip

    november = await current(w, "ann", "2026-11")
    assert november.version == (2 if approved else 1)
    assert [(ln.kind, D(ln.amount)) for ln in await lines_of(november)] == [
        ("earnings", D("500")), ("adjustment", D("20")), ("carry_forward", D("-120")),
    ]  # fmt: skip
    assert D(november.total) == D("400")
    settled = await Statement.get(id=october.id)
    assert (settled.status, settled.carried_into_period) == ("carried", "2026-11")
    entry = await AuditEntry.get(action="statement.carried", entity_id=str(october.id))
    assert entry.after["statement"] == str(november.id)
    # December carries it no more: it was recovered once
    await close(w, "2026-12")
    await build_statements(viewer=w.system, period="2026-12")
    december = await lines_of(await current(w, "ann", "2026-12"))
    assert "carry_forward" not in [ln.kind for ln in december]
    await approve_statements(viewer=w.viewer("ops"), period="2026-11")
    assert await _batch_item(w, "2026-11") == D("400")


# --- balances owed, outstanding ----------------------------------------------------------


async def test_given_balances_owed_then_payout_ops_see_each_until_it_is_carried():
    """ann's October -120.00 (no partner) and cat's, a partner whose 250.00 fee leaves her
    owing 125.00 after withholdings: both are listed, in what they owe, with their age;
    once November carries them, neither is."""
    w = await make_world()
    await set_partner_profile(
        viewer=w.viewer("admin"), rep_id=w["cat"].id, legal_name="Sole Impianti S.r.l.",
        address="Via Roma 1, 20121 Milano", country="IT", tax_id="IT 00743110157",
    )  # fmt: skip
    await _rules(w, **OVERWITHHELD)
    await deal(w["cat"], "c1", "8000", "2026-10-07")
    october = await _october(w, adjustment="-370")

    found = await balances_owed(viewer=w.viewer("ops"))

    assert [(b.external_id, b.currency, b.period, b.version, b.total, b.owed, b.age_days)
            for b in found] == [
        ("ann", "EUR", "2026-10", 1, D("-120"), D("-120"), 0),
        ("cat", "EUR", "2026-10", 1, D("250"), D("-125"), 0),
    ]  # fmt: skip
    assert found[0].statement_id == october.id
    assert found[0].line() == (
        f"ann: -120.00 EUR owed since 2026-10 (version 1, statement {october.id}, approved "
        f"{october.approved_at.date().isoformat()}, 0 days ago)"
    )
    with pytest.raises(DomainError) as refused:
        await balances_owed(viewer=w.viewer("mia"))
    assert refused.value.field == "tenant"

    await close(w, "2026-11")
    await build_statements(viewer=w.system, period="2026-11")

    assert await balances_owed(viewer=w.viewer("ops")) == []


# --- a recoverable draw and a carried balance in the same month --------------------------


async def test_given_a_draw_recovery_and_a_carried_balance_in_one_month_then_each_counts_once():
    """ann's recoverable draw of 200.00: October earns 80.00, the draw advances 120.00, an
    adjustment of -370.00 leaves -170.00, carried. November earns 450.00: the draw takes back
    its 120.00 (from earnings above the draw, as always: the carried balance is a debt netted
    after it, like an adjustment, not earnings) and the carried -170.00 once. What the payee
    is paid over both months is what they earned, less the adjustment: 160.00."""
    w = await make_world()
    assignment = await PlanAssignment.get(user_id=w["ann"].id)
    await set_draw(viewer=w.viewer("admin"), assignment_id=assignment.id, amount=D("200"),
                   recoverable=True, recovery_share=D("1"))  # fmt: skip
    await deal(w["ann"], "o1", "4000", "2026-10-05")  # 80.00
    await close(w, "2026-10")
    await add_adjustment(viewer=w.viewer("ops"), rep_id=w["ann"].id, period="2026-10",
                         amount=D("-370"), currency="EUR", reason="Kit not returned")  # fmt: skip
    await build_statements(viewer=w.system, period="2026-10")
    await approve_statements(viewer=w.viewer("ops"), period="2026-10")
    october = await current(w, "ann", "2026-10")
    assert D(october.total) == D("-170")
    assert await balance_of(w.system, w["ann"].id, "EUR", "2026-10") == D("120")

    await deal(w["ann"], "n1", "12000", "2026-11-05")  # 450.00
    await close(w, "2026-11")
    await build_statements(viewer=w.system, period="2026-11")
    await approve_statements(viewer=w.viewer("ops"), period="2026-11")

    november = await current(w, "ann", "2026-11")
    assert [(ln.kind, D(ln.amount)) for ln in await lines_of(november)] == [
        ("earnings", D("450")), ("carry_forward", D("-170")), ("draw_recovery", D("-120")),
    ]  # fmt: skip
    assert await balance_of(w.system, w["ann"].id, "EUR", "2026-11") == D("0")
    assert (await Statement.get(id=october.id)).status == "carried"
    assert await balances_owed(viewer=w.viewer("ops")) == []
    # paid over both months: 80.00 + 450.00 earned - 370.00 adjusted
    assert await _batch_item(w, "2026-11") == D("160") == D(november.total)
    assert await _batch_item(w, "2026-10") is None


@pytest.mark.parametrize("build_commits", [True, False])
async def test_given_a_build_and_a_revision_at_once_then_the_balance_is_carried_exactly_once(
    build_commits: bool,
):
    """December's build carries October's -120.00 in a transaction held open; November's
    adjustment, on a connection of its own, waits for October's row, then finds it carried
    (December committed) or still owed, and carries it (December rolled back)."""
    w = await make_world()
    october = await _november_built_before_october_approved(w)
    await approve_statements(viewer=w.viewer("ops"), period="2026-11")
    await close(w, "2026-12")
    started, finish = asyncio.Event(), asyncio.Event()

    class Rollback(Exception):
        pass

    async def build_december() -> None:
        try:
            async with in_transaction():
                await build_statements(viewer=w.system, period="2026-12")
                started.set()
                await finish.wait()
                if not build_commits:
                    raise Rollback
        except Rollback:
            pass

    async def adjust_november() -> None:
        async with in_transaction():
            await add_adjustment(viewer=w.viewer("ops"), rep_id=w["ann"].id, period="2026-11",
                                 amount=D("20"), currency="EUR", reason="SPIFF")  # fmt: skip

    async with asyncio.timeout(30):
        first = asyncio.create_task(build_december())
        await started.wait()
        second = asyncio.create_task(adjust_november())
        waited = await _waits_for_a_row_lock(second)
        finish.set()
        await first
        await second

    assert waited
    lines = await StatementLine.filter(
        source=f"carry:{october.id}", statement__current=True
    ).prefetch_related("statement")
    into = "2026-12" if build_commits else "2026-11"
    assert [(ln.statement.period, D(ln.amount)) for ln in lines] == [(into, D("-120"))]
    assert (await Statement.get(id=october.id)).carried_into_period == into
    assert await AuditEntry.filter(action="statement.carried").count() == 1
    assert D((await current(w, "ann", "2026-11")).total) == D("520" if build_commits else "400")


# --- a payout batch and a change to its statement at once ---------------------------------


@pytest.mark.parametrize("batch_first", [True, False])
async def test_given_a_batch_and_an_adjustment_at_once_then_one_version_is_paid_never_both(
    batch_first: bool,
):
    """November's 500.00 approved. A batch taking it and an adjustment making its version 2,
    each on a connection of its own, the first's transaction held open: the second waits for
    the statement's row, then the adjustment is refused (the batch pays version 1), or the
    batch finds no approved statement (version 2 is a draft). Before, each went ahead: an
    item paid version 1's 500.00 and the next batch version 2's 520.00 beside it."""
    w = await make_world()
    await deal(w["ann"], "n1", "13000", "2026-11-05")
    await close(w, "2026-11")
    await build_statements(viewer=w.system, period="2026-11")
    await approve_statements(viewer=w.viewer("ops"), period="2026-11")
    started, finish = asyncio.Event(), asyncio.Event()
    outcomes: dict[str, object] = {}

    async def batch() -> None:
        try:
            async with in_transaction():
                await batches.create_batch(viewer=w.viewer("ops"), period="2026-11",
                                           method=PayoutMethod.STRIPE,
                                           rep_ids=[w["ann"].id])  # fmt: skip
                started.set()
                await finish.wait()
            outcomes["batch"] = "created"
        except DomainError as exc:
            outcomes["batch"] = exc.field
        started.set()

    async def adjust() -> None:
        try:
            async with in_transaction():
                await add_adjustment(viewer=w.viewer("ops"), rep_id=w["ann"].id,
                                     period="2026-11", amount=D("20"), currency="EUR",
                                     reason="SPIFF")  # fmt: skip
                started.set()
                await finish.wait()
            outcomes["adjust"] = "adjusted"
        except DomainError as exc:
            outcomes["adjust"] = exc.field
        started.set()

    first_task, second_task = (batch, adjust) if batch_first else (adjust, batch)
    async with asyncio.timeout(30):
        first = asyncio.create_task(first_task())
        await started.wait()
        second = asyncio.create_task(second_task())
        waited = await _waits_for_a_row_lock(second)
        finish.set()
        await first
        await second

    assert waited
    if batch_first:
        assert outcomes == {"batch": "created", "adjust": "period"}
    else:
        assert outcomes == {"adjust": "adjusted", "batch": "period"}
    await approve_statements(viewer=w.viewer("ops"), period="2026-11")
    again = await _batch_item(w, "2026-11")
    items = await PayoutItem.filter(user_id=w["ann"].id).prefetch_related("statement")
    # what is paid, over every item, is what the version in force owes: once
    assert sum((D(i.amount) for i in items), D(0)) == D((await current(w, "ann", "2026-11")).total)
    assert again == (None if batch_first else D("520"))


async def test_given_statements_owing_nothing_then_the_batch_settles_them_as_paid():
    """ann a partner whose 250.00 fee is withheld in full (payable 0.00), cat with no deal
    (0.00), bob 80.00: the batch pays bob, and settles ann's and cat's as paid (nothing to
    pay), where before they stayed approved, unpaid, for ever."""
    w = await make_world()
    await _partner(w, vat="0", withholding="100")
    await _october(w)
    assert await _payables(w) == [D("0")]

    async with in_transaction():
        batch = await batches.create_batch(viewer=w.viewer("ops"), period="2026-10",
                                           method=PayoutMethod.STRIPE)  # fmt: skip

    items = await PayoutItem.filter(batch_id=batch.id)
    assert [(i.user_id, D(i.amount)) for i in items] == [(w["bob"].id, D("80"))]
    for key in ("ann", "cat"):
        settled = await current(w, key, "2026-10")
        assert settled.status == "paid"
        entry = await AuditEntry.get(action="statement.paid", entity_id=str(settled.id))
        assert entry.after == {"status": "paid", "owed": "0", "batch": str(batch.id)}
    assert (await current(w, "bob", "2026-10")).status == "approved"  # until its item pays
