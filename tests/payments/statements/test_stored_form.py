"""What a build stores, exactly: every kind of line (earnings, a prize, an adjustment, a
clawback naming its line, a draw), their order, amounts, params and sources, the
totals, and an inputs hash anyone can recompute from the statement's inputs and lines by the
documented formula. The build's speed work (issue 15) must leave this unchanged."""

from __future__ import annotations

import hashlib
import json

import pytest

from domain.crm.models import Transaction
from domain.earnings.models import EarningsLine, EarningsResult
from domain.kit.clock import utc_now
from domain.plans.models import PlanAssignment, PlanVersion
from domain.rewards.models import Reward
from domain.rewards.service import grant_reward
from payments.draws.models import Draw
from payments.draws.service import set_draw
from payments.statements.models import Adjustment, Statement
from payments.statements.service import (
    add_adjustment,
    approve_statements,
    build_statements,
    mark_paid,
)
from tests.payments.helpers import D, close, deal, late_change, lines_of, make_world

pytestmark = pytest.mark.usefixtures("db")


def _inputs_hash(inputs: list[list[str]], lines: list[list[str]]) -> str:
    """sha256 of {"inputs": each input as JSON, sorted; "lines": [kind, source, amount]}."""
    document = {"inputs": sorted(json.dumps(i) for i in inputs), "lines": lines}
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


async def test_given_every_kind_of_line_when_built_then_stored_exactly_so():
    world = await make_world()
    await deal(world["ann"], "t1", "3000", "2026-10-05")  # 60
    await deal(world["ann"], "t2", "5000", "2026-10-06")  # 190
    await close(world, "2026-10")
    for step in (build_statements, approve_statements, mark_paid):
        await step(viewer=world.system, period="2026-10")
    await Transaction.filter(external_id="t2").update(deleted=True, updated_at=utc_now())
    await late_change(world, world["ann"], "2026-10")
    await deal(world["ann"], "t3", "8000", "2026-11-03")  # 250
    await deal(world["bob"], "t4", "1000", "2026-11-04")  # 20
    await grant_reward(
        viewer=world.system, user_id=world["ann"].id, period="2026-11", amount=D("50"),
        currency="EUR", source_kind="contest_prize", source_id="c1", reason="November sprint",
    )  # fmt: skip
    await add_adjustment(viewer=world.viewer("mia"), rep_id=world["ann"].id, period="2026-11",
                         amount=D("-12.50"), currency="EUR", reason="Parking")  # fmt: skip
    assignment = await PlanAssignment.get(user_id=world["bob"].id)
    await set_draw(viewer=world.viewer("admin"), assignment_id=assignment.id, amount=D("200"),
                   recoverable=True, recovery_share=D("0.5"))  # fmt: skip
    await close(world, "2026-11")

    summary = await build_statements(viewer=world.system, period="2026-11")

    assert (summary.built, summary.lines, summary.errors) == (3, 7, [])
    version = await PlanVersion.get()
    plan = f"AE v{version.version}"
    results = {
        r.user_id: r for r in await EarningsResult.filter(period="2026-11").order_by("user_id")
    }
    ann, bob = results[world["ann"].id], results[world["bob"].id]
    october = await EarningsResult.get(period="2026-10", user_id=world["ann"].id)
    summary_line = await EarningsLine.get(
        result_id=october.id, component="commission", transaction_external_id=None
    )
    reward = await Reward.get()
    adjustment = await Adjustment.get()
    draw = await Draw.get()
    statements = {
        s.user_id: s for s in await Statement.filter(period="2026-11").order_by("user_id")
    }
    expected = {
        "ann": [
            ("earnings", D("250"), f"result:{ann.id}:commission",
             {"component": "commission", "component_name": "Commission", "plan": plan,
              "result": str(ann.id)}, None, None),
            ("prize", D("50"), f"reward:{reward.id}",
             {"reason": "November sprint", "source": "contest_prize"}, None, None),
            ("adjustment", D("-12.50"), f"adjustment:{adjustment.id}",
             {"reason": "Parking", "by": f"user:{world['mia'].id}"}, None, None),
            ("clawback", D("-190"), f"late:2026-10:{version.id}:commission",
             {"template": "clawback", "component": "commission", "component_name": "Commission",
              "period": "2026-10", "transactions": ["t2"], "line": summary_line.id},
             "2026-10", summary_line.id),
        ],
        "bob": [
            ("earnings", D("20"), f"result:{bob.id}:commission",
             {"component": "commission", "component_name": "Commission", "plan": plan,
              "result": str(bob.id)}, None, None),
            ("draw", D("180"), f"draw:{draw.id}",
             {"recoverable": "yes", "draw": "200.000000"}, None, None),
        ],
    }  # fmt: skip
    inputs = {
        "ann": [["result", str(ann.id), ann.fingerprint], ["reward", str(reward.id), "50.000000"],
                ["adjustment", str(adjustment.id), "-12.500000"],
                ["late", "2026-10", f"late:2026-10:{version.id}:commission", "-190.00"]],
        "bob": [["result", str(bob.id), bob.fingerprint],
                ["draw", str(draw.id), "draw", "180.000000"]],
    }  # fmt: skip
    # amounts as the build read them: earnings and prizes rounded to the currency, an
    # adjustment as stored
    hashed_amounts = {
        "ann": ["250.00", "50.00", "-12.500000", "-190.00"],
        "bob": ["20.00", "180.000000"],
    }
    for key in ("ann", "bob"):
        statement = statements[world[key].id]
        stored = [
            (ln.position, ln.kind, ln.amount, ln.source, ln.params, ln.original_period,
             ln.original_line_id, ln.tenant_id)
            for ln in await lines_of(statement)
        ]  # fmt: skip
        assert stored == [
            (i, kind, amount, source, params, original, line_id, world.tenant.id)
            for i, (kind, amount, source, params, original, line_id) in enumerate(expected[key])
        ], key
        assert (statement.version, statement.current, statement.status, statement.currency) == (
            1, True, "draft", "EUR",
        )  # fmt: skip
        assert statement.total == sum(line[1] for line in expected[key])
        assert statement.plan_versions == [str(version.id)]
        lines = [[kind, source, amount] for (kind, _, source, *_), amount in
                 zip(expected[key], hashed_amounts[key], strict=True)]  # fmt: skip
        assert statement.inputs_hash == _inputs_hash(inputs[key], lines), key
    cat = statements[world["cat"].id]  # earned nothing: a statement of 0 all the same
    assert [(ln.kind, ln.amount) for ln in await lines_of(cat)] == [("earnings", D("0"))]
