from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.crm.models import Transaction
from domain.earnings.models import EarningsLine, EarningsResult
from domain.earnings.service import run_plans
from domain.kit.clock import utc_now
from domain.kit.periods import parse_period
from payments.statements.models import Statement, StatementLine
from payments.statements.service import approve_statements, build_statements, mark_paid
from payments.statements.texts import describe
from tests.payments.helpers import (
    PERIODS,
    D,
    close,
    current,
    deal,
    late_change,
    lines_of,
    make_world,
)

pytestmark = pytest.mark.usefixtures("db")


async def _pay(world, period):
    await build_statements(viewer=world.system, period=period)
    await approve_statements(viewer=world.system, period=period)
    await mark_paid(viewer=world.system, period=period)


async def test_given_a_paid_deal_deleted_when_next_period_is_built_then_a_clawback_names_it():
    world = await make_world()
    await deal(world["ann"], "t1", "3000", "2026-10-05")  # 60
    await deal(world["ann"], "t2", "5000", "2026-10-06")  # 2,000 at 2% + 3,000 at 5% = 190
    await close(world, "2026-10")
    await _pay(world, "2026-10")
    assert (await current(world, "ann", "2026-10")).total == D("250")
    # tiers have no per-deal lines: the clawback names the component's line
    line = await EarningsLine.get(
        component="commission",
        result__period="2026-10",
        result__user_id=world["ann"].id,
        transaction_external_id=None,
    )

    await Transaction.filter(external_id="t2").update(deleted=True, updated_at=utc_now())
    await late_change(world, world["ann"], "2026-10")
    await deal(world["ann"], "t3", "1000", "2026-11-03")  # 20
    await close(world, "2026-11")
    await build_statements(viewer=world.system, period="2026-11")

    november = await current(world, "ann", "2026-11")
    lines = await lines_of(november)
    assert [(ln.kind, ln.amount) for ln in lines] == [
        ("earnings", D("20")),
        ("clawback", D("-190")),
    ]
    clawback = lines[1]
    assert (clawback.original_period, clawback.original_line_id) == ("2026-10", line.id)
    assert describe(clawback.kind, clawback.params, "en") == (
        f"Clawback: Commission, October 2026 (deal t2) [line {line.id}]"
    )
    assert november.total == D("-170")
    # October, paid, is as it was
    assert (await current(world, "ann", "2026-10")).total == D("250")


async def test_given_a_deal_made_payable_late_then_a_positive_line_in_the_next_period():
    world = await make_world()
    await deal(world["bob"], "t1", "1000", "2026-10-05")
    await close(world, "2026-10")
    await _pay(world, "2026-10")
    await deal(world["bob"], "t9", "1000", "2026-10-20")  # arrives after the close
    await late_change(world, world["bob"], "2026-10")
    await close(world, "2026-11")
    await build_statements(viewer=world.system, period="2026-11")
    lines = await lines_of(await current(world, "bob", "2026-11"))
    summary = await EarningsLine.get(result__period="2026-10", result__user_id=world["bob"].id)
    assert [(ln.kind, ln.amount, ln.original_line_id) for ln in lines] == [
        ("earnings", D("0"), None),
        ("earnings", D("20"), summary.id),
    ]
    assert describe(lines[1].kind, lines[1].params, "en") == (
        "Commission, October 2026: late change (deal t9)"
    )


async def _recomputed_payable(world, user, period) -> Decimal:
    runs = await run_plans(world.system, user, parse_period(period))
    return sum((r.rep_result.payable for r in runs if r.rep_result), Decimal(0))


async def _paid_for(user, period) -> Decimal:
    """What every statement in force pays for ``period``: its frozen result plus every late
    correction of it, whatever period carried it."""
    frozen = sum(
        [r.payable for r in await EarningsResult.filter(user_id=user.id, period=period)], Decimal(0)
    )
    corrections = await StatementLine.filter(
        original_period=period, statement__user_id=user.id, statement__current=True
    )
    return frozen + sum((ln.amount for ln in corrections), Decimal(0))


_slugs = itertools.count()
amounts = st.integers(min_value=1, max_value=20).map(lambda n: Decimal(n * 500))
# each later period: a change to October's deals (None: delete; an amount: the new amount)
changes = st.lists(
    st.dictionaries(st.integers(0, 3), st.one_of(st.none(), amounts), max_size=3),
    min_size=1,
    max_size=3,
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=st.lists(amounts, min_size=1, max_size=4), later=changes)
async def test_given_pay_then_claw_back_sequences_then_october_nets_to_one_final_recompute(
    first, later
):
    """Pay October; then, period after period, change or delete some of its deals after the
    close and pay each next period with its corrections. What October's deals were paid in
    total (frozen result + every correction) is what one recompute of the final data pays."""
    world = await make_world(slug=f"p{next(_slugs)}")
    ann = world["ann"]
    for i, amount in enumerate(first):
        await deal(ann, f"t{i}", str(amount), f"2026-10-{i + 1:02d}")
    await close(world, "2026-10")
    await _pay(world, "2026-10")
    for period, change in zip(PERIODS[1:], later, strict=False):
        touched = False
        for index, amount in change.items():
            if index >= len(first):
                continue
            touched = True
            if amount is None:
                await Transaction.filter(tenant_id=world.tenant.id, external_id=f"t{index}").update(
                    deleted=True, updated_at=utc_now()
                )
            else:
                await Transaction.filter(tenant_id=world.tenant.id, external_id=f"t{index}").update(
                    amount=amount, deleted=False, updated_at=utc_now()
                )
        if touched:
            await late_change(world, ann, "2026-10")
        await close(world, period)
        await _pay(world, period)

    assert await _paid_for(ann, "2026-10") == await _recomputed_payable(world, ann, "2026-10")
    # every correction is on a paid statement of a later period, never on October's
    corrections = await StatementLine.filter(original_period="2026-10").prefetch_related(
        "statement"
    )
    assert all(ln.statement.period > "2026-10" for ln in corrections)
    assert await Statement.filter(period="2026-10", user_id=ann.id).count() == 1
