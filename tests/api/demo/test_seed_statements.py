"""The demo's statements: the first month closed and built, paid but for the north team's
drafts, a partner agent topped up to their draw, and a south rep's deal cancelled after
payment clawed back when the next month is closed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from tortoise.transactions import in_transaction

from api.demo.seed import seed_demo
from domain.earnings.models import EarningsLine, PeriodStatus
from domain.earnings.models import Period as StoredPeriod
from domain.earnings.service import close_period, recompute_many
from domain.org.models import User
from domain.org.viewer import Viewer
from payments.batches.models import BatchStatus, PayoutBatch, PayoutItem
from payments.invoices.models import Invoice
from payments.statements.models import Statement, StatementLine
from payments.statements.service import build_statements

TODAY = date(2026, 11, 23)


async def test_given_the_demo_then_a_month_of_statements_and_a_clawback_to_come(db):
    async with in_transaction():
        summary = await seed_demo(today=TODAY)
    first, second = summary.periods[0], summary.periods[1]
    assert (await StoredPeriod.get(key=first)).status is PeriodStatus.CLOSED
    people = {u.external_id: u for u in await User.filter(tenant_id=summary.tenant.id)}

    emil = await Statement.get(user_id=people["rep-north-01"].id, period=first)
    assert (emil.status, emil.version) == ("draft", 1)
    south = await Statement.get(user_id=people["rep-south-01"].id, period=first)
    assert south.status == "paid"
    # a west rep's month went below zero (an adjustment beyond their earnings): approved,
    # owed, not paid
    west = await Statement.get(user_id=people["rep-west-02"].id, period=first)
    assert (west.status, west.total) == ("approved", Decimal("-120"))
    agent = await Statement.get(user_id=people["agent-north-01"].id, period=first)
    lines = await StatementLine.filter(statement_id=agent.id)
    earned = sum(ln.amount for ln in lines if ln.kind == "earnings")
    draws = [ln.amount for ln in lines if ln.kind == "draw"]
    assert draws == ([800 - earned] if earned < 800 else [])

    # a partner approved in the seed has its self-billing invoice; the north one waits
    south_agent = await Statement.get(user_id=people["agent-south-01"].id, period=first)
    invoice = await Invoice.get(statement_id=south_agent.id)
    assert invoice.items[0]["kind"] == "vat"
    assert invoice.payable == invoice.net + Decimal(invoice.items[0]["amount"])
    assert not await Invoice.filter(statement_id=agent.id).exists()

    # the partner agents paid through Stripe Connect wait in a batch for a second approver
    [batch] = await PayoutBatch.filter(tenant_id=summary.tenant.id)
    assert (batch.status, batch.method, batch.period) == (BatchStatus.DRAFT, "stripe", first)
    assert batch.created_by == people["payout-ops"].id
    paid_to = set(await PayoutItem.filter(batch_id=batch.id).values_list("user_id", flat=True))
    assert people["agent-south-01"].id in paid_to
    assert not {people["agent-north-01"].id, people["rep-south-01"].id} & paid_to
    # the gift card ambassadors and the US partners: approved, for a batch of their method
    for key in ("agent-south-05", "agent-west-05", "agent-us-01", "agent-us-02", "agent-us-03"):
        assert people[key].id not in paid_to
        waiting = await Statement.get(user_id=people[key].id, period=first)
        assert waiting.status == "approved"
    us = await Statement.get(user_id=people["agent-us-01"].id, period=first)
    assert us.currency == "USD"

    # next month closed: the cancelled deal comes back as a clawback naming October's line
    system = Viewer.system(summary.tenant.id, "test")
    everyone = [u.id for u in people.values()]
    async with in_transaction():
        await recompute_many(viewer=system, pairs=[(u, second) for u in everyone])
        await close_period(viewer=system, period=second)
        await build_statements(viewer=system, period=second)
    november = await Statement.get(user_id=people["rep-south-01"].id, period=second)
    clawbacks = await StatementLine.filter(statement_id=november.id, kind="clawback")
    assert clawbacks
    for clawback in clawbacks:
        assert clawback.amount < 0
        assert clawback.original_period == first
        original = await EarningsLine.get(id=clawback.original_line_id)
        assert original.tenant_id == summary.tenant.id
    # and the west rep's balance is carried into their next statement, recovered from it
    carrying = await Statement.get(user_id=people["rep-west-02"].id, period=second)
    [carried] = await StatementLine.filter(statement_id=carrying.id, kind="carry_forward")
    assert (carried.amount, carried.original_period) == (Decimal("-120"), first)
    assert (await Statement.get(id=west.id)).status == "carried"


@pytest.mark.parametrize("method", ["csv_file", "payroll_file", "sepa_file"])
async def test_given_the_demo_then_file_batches_run_on_the_machine(db, method: str):
    """The demo's payers are set: the north team's statements, approved, go out as an ADP
    paydata file (its payroll employees), a SEPA file (the others) or a balanced SAP journal
    (everyone, whatever their own methods)."""
    from api.settings import DEVELOPMENT_PAYOUT_DETAILS_SECRET
    from payments.batches import service
    from payments.payouts.models import PayoutMethod
    from payments.statements.service import approve_statements
    from tests.domain.builders import viewer_of

    async with in_transaction():
        summary = await seed_demo(today=TODAY)
    first = summary.periods[0]
    people = {u.external_id: u for u in await User.filter(tenant_id=summary.tenant.id)}
    system = Viewer.system(summary.tenant.id, "test")
    async with in_transaction():
        await approve_statements(viewer=system, period=first)
        # the SAP journal takes every payee: the euro ones, not the US pilot's dollars
        batch = await service.create_batch(
            viewer=viewer_of(people["payout-ops"]), period=first, method=PayoutMethod(method),
            currency="EUR" if method == "csv_file" else None,
        )  # fmt: skip
    async with in_transaction():
        await service.approve_batch(viewer=viewer_of(people["admin"]), batch_id=batch.id)
        await service.start_execution(viewer=system, batch_id=batch.id)
    done = await service.execute_batch(tenant_id=summary.tenant.id, batch_id=batch.id,
                                       secret=DEVELOPMENT_PAYOUT_DETAILS_SECRET)  # fmt: skip

    assert done.done
    assert done.submitted == batch.item_count
    assert done.failed == 0
    stored = await PayoutBatch.get(id=batch.id)
    text = bytes(stored.file_content or b"").decode()
    in_batch = set(await PayoutItem.filter(batch_id=batch.id).values_list("user_id", flat=True))
    if method == "csv_file":
        rows = [r.split(",") for r in text.splitlines()[1:]]
        assert rows[0][:3] == ["H", "1000", "SA"]
        assert len([r for r in rows if r[0] == "L"]) == 2 * batch.item_count
        paid_by = {people[k].id for k in ("rep-north-01", "agent-north-01")}
        assert paid_by <= in_batch  # a SEPA rep and a Stripe agent alike
    elif method == "payroll_file":
        rows = text.splitlines()
        assert rows[0].startswith("Co Code,Batch ID,File #")
        assert len(rows) == 1 + batch.item_count
        assert all(r.startswith("HEL,") for r in rows[1:])
    else:
        assert text.startswith("<?xml")
        assert "pain.001.001.09" in text
