from __future__ import annotations

from datetime import date

import pytest

from domain.audit.models import AuditEntry
from domain.kit.errors import DomainError
from domain.plans.models import PlanAssignment
from payments.draws.models import Draw, DrawEntry
from payments.draws.service import balance_of, set_draw
from payments.statements.service import build_statements
from payments.statements.texts import describe
from tests.payments.helpers import D, close, current, deal, lines_of, make_world

pytestmark = pytest.mark.usefixtures("db")


async def _draw(world, key="ann", **terms):
    assignment = await PlanAssignment.get(user_id=world[key].id)
    args = {"amount": D("200"), "recoverable": True, "recovery_share": D("0.5")} | terms
    return await set_draw(viewer=world.viewer("admin"), assignment_id=assignment.id, **args)


async def _month(world, period, amount=None, on=None):
    if amount:
        await deal(world["ann"], f"d-{period}", amount, on or f"{period}-10")
    await close(world, period)
    await build_statements(viewer=world.system, period=period)
    statement = await current(world, "ann", period)
    return statement, [(ln.kind, ln.amount) for ln in await lines_of(statement)]


async def test_given_a_recoverable_draw_then_paid_below_it_and_recovered_from_a_later_month():
    world = await make_world()
    await _draw(world)

    october, lines = await _month(world, "2026-10", "4000")  # earns 80
    assert lines == [("earnings", D("80")), ("draw", D("120"))]
    assert october.total == D("200")
    assert await balance_of(world.system, world["ann"].id, "EUR", "2026-10") == D("120")
    line = (await lines_of(october))[1]
    assert describe(line.kind, line.params, "en", "EUR") == "Draw (recoverable): guaranteed €200.00"

    november, lines = await _month(world, "2026-11", "12000")  # earns 100 + 350 = 450
    # min(balance 120, 50% of 450, 450 - 200)
    assert lines == [("earnings", D("450")), ("draw_recovery", D("-120"))]
    assert november.total == D("330")
    assert await balance_of(world.system, world["ann"].id, "EUR", "2026-11") == D("0")
    assert await balance_of(world.system, world["ann"].id, "EUR", "2026-10") == D("120")
    assert [e.kind for e in await DrawEntry.all().order_by("id")] == ["advance", "recovery"]


async def test_given_a_share_then_recovery_stops_at_it_and_the_rest_carries_over():
    world = await make_world()
    await _draw(world, recovery_share=D("0.1"))
    await _month(world, "2026-10")  # earns 0: the whole draw advanced
    _, lines = await _month(world, "2026-11", "12000")  # 10% of 450
    assert lines == [("earnings", D("450")), ("draw_recovery", D("-45"))]
    assert await balance_of(world.system, world["ann"].id, "EUR", "2026-11") == D("155")


async def test_given_a_non_recoverable_draw_then_nothing_is_owed_back():
    world = await make_world()
    await _draw(world, recoverable=False)
    _, lines = await _month(world, "2026-10", "4000")
    assert lines == [("earnings", D("80")), ("draw", D("120"))]
    _, lines = await _month(world, "2026-11", "12000")
    assert lines == [("earnings", D("450"))]
    assert await balance_of(world.system, world["ann"].id, "EUR", "2026-11") == D("0")
    assert await balance_of(world.system, world["bob"].id, "EUR", "2026-11") is None


@pytest.mark.parametrize(("rule", "owed"), [("forgive", D("0")), ("keep", D("200"))])
async def test_given_a_payee_who_leaves_then_the_balance_is_forgiven_or_kept(rule, owed):
    world = await make_world()
    await _draw(world, on_termination=rule)
    world["ann"].end_date = date(2026, 10, 31)
    await world["ann"].save(update_fields=["end_date"])
    await _month(world, "2026-10")
    assert await balance_of(world.system, world["ann"].id, "EUR", "2026-10") == owed


@pytest.mark.parametrize(
    ("who", "terms", "field"),
    [
        ("admin", {"recovery_share": D("1.5")}, "recoveryShare"),
        ("admin", {"amount": D("-5")}, "amount"),
        ("admin", {"amount": D("0.001")}, "amount"),
        ("admin", {"on_termination": "later"}, "onTermination"),
        ("mia", {}, "assignmentId"),
    ],
)
async def test_given_bad_draw_terms_then_a_field_error_and_nothing_stored(who, terms, field):
    world = await make_world()
    assignment = await PlanAssignment.get(user_id=world["ann"].id)
    args = {"amount": D("200"), "recoverable": True} | terms
    with pytest.raises(DomainError) as caught:
        await set_draw(viewer=world.viewer(who), assignment_id=assignment.id, **args)
    assert caught.value.field == field
    assert await Draw.all().count() == 0
    assert not await AuditEntry.filter(action="draw.set").exists()


async def test_given_plan_terms_then_draws_without_their_own_follow_them_and_own_terms_win():
    """The plan says the share and the rule on leaving; a draw with its own keeps them; a
    change of the plan's terms counts from the next statements built."""
    from payments.draws.service import set_plan_terms

    world = await make_world()
    assignment = await PlanAssignment.get(user_id=world["ann"].id)
    await set_plan_terms(viewer=world.viewer("admin"), plan_id=assignment.plan_id,
                         recovery_share=D("0.1"), on_termination="keep")  # fmt: skip
    await _draw(world, recovery_share=None)  # the plan's terms
    await _month(world, "2026-10")  # earns 0: the whole draw advanced
    _, lines = await _month(world, "2026-11", "12000")  # the plan's 10% of 450
    assert lines == [("earnings", D("450")), ("draw_recovery", D("-45"))]

    await set_plan_terms(viewer=world.viewer("admin"), plan_id=assignment.plan_id,
                         recovery_share=D("0.2"), on_termination="keep")  # fmt: skip
    _, lines = await _month(world, "2026-12", "12000")  # now 20% of 450 (155 owed)
    assert lines == [("earnings", D("450")), ("draw_recovery", D("-90"))]
    # the draw's own share wins over the plan's
    await _draw(world, recovery_share=D("0.5"), on_termination=None)
    world["ann"].end_date = date(2027, 1, 31)
    await world["ann"].save(update_fields=["end_date"])
    _, lines = await _month(world, "2027-01")
    owed = await balance_of(world.system, world["ann"].id, "EUR", "2027-01")
    assert owed is not None
    assert owed > 0
    actions = await AuditEntry.filter(action="plan.draw_terms_set").count()
    assert actions == 2


@pytest.mark.parametrize(
    ("who", "terms", "field"),
    [
        ("admin", {"recovery_share": D("-0.1")}, "recoveryShare"),
        ("admin", {"on_termination": "never"}, "onTermination"),
        ("admin", {"plan_id": "00000000-0000-0000-0000-000000000000"}, "planId"),
        ("admin", {"plan_id": "not-a-plan"}, "planId"),
        ("mia", {}, "planId"),
    ],
)
async def test_given_bad_plan_draw_terms_then_a_field_error_and_nothing_stored(who, terms, field):
    from payments.draws.models import PlanDrawTerms
    from payments.draws.service import set_plan_terms

    world = await make_world()
    assignment = await PlanAssignment.get(user_id=world["ann"].id)
    args = {"plan_id": assignment.plan_id, "recovery_share": D("0.5"),
            "on_termination": "forgive"} | terms  # fmt: skip
    with pytest.raises(DomainError) as caught:
        await set_plan_terms(viewer=world.viewer(who), **args)
    assert caught.value.field == field
    assert not await PlanDrawTerms.exists()
