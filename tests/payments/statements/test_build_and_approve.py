from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import pytest

from domain.audit.models import AuditEntry
from domain.kit.errors import DomainError, NotFound
from domain.rewards.service import grant_reward
from payments.statements.models import Adjustment, Statement, StatementLine
from payments.statements.repository import StatementRepository
from payments.statements.service import (
    add_adjustment,
    approve_statements,
    build_statements,
    mark_paid,
    owed_statements,
)
from payments.statements.texts import describe
from tests.payments.helpers import D, close, current, deal, lines_of, make_world

pytestmark = pytest.mark.usefixtures("db")


async def _closed_october():
    world = await make_world()
    await deal(world["ann"], "t1", "8000", "2026-10-05")  # 5,000 at 2% + 3,000 at 5% = 250
    await deal(world["bob"], "t2", "4000", "2026-10-06")  # 80
    await deal(world["cat"], "t3", "1000", "2026-10-07")  # 20
    await close(world, "2026-10")
    return world


async def test_given_a_closed_period_when_built_then_one_draft_per_payee_from_the_frozen_results():
    world = await _closed_october()
    await grant_reward(
        viewer=world.system, user_id=world["ann"].id, period="2026-10", amount=D("50"),
        currency="EUR", source_kind="contest_prize", source_id="c1", reason="October sprint",
    )  # fmt: skip

    summary = await build_statements(viewer=world.system, period="2026-10")

    assert (summary.built, summary.errors) == (3, [])
    ann = await current(world, "ann", "2026-10")
    assert (ann.status, ann.version, ann.currency, ann.total) == ("draft", 1, "EUR", D("300"))
    assert len(ann.inputs_hash) == 64
    assert len(ann.plan_versions) == 1
    lines = await lines_of(ann)
    assert [(ln.kind, ln.amount) for ln in lines] == [("earnings", D("250")), ("prize", D("50"))]
    assert describe(lines[0].kind, lines[0].params, "en") == "Commission (AE v1)"
    assert describe(lines[1].kind, lines[1].params, "de") == "Preis: October sprint"
    assert (await current(world, "bob", "2026-10")).total == D("80")
    assert await AuditEntry.filter(action="statement.built").count() == 3

    again = await build_statements(viewer=world.system, period="2026-10")
    assert again.built == 0
    assert await Statement.all().count() == 3


async def test_given_an_open_period_when_built_then_a_period_error_and_nothing_built():
    world = await make_world()
    with pytest.raises(DomainError) as caught:
        await build_statements(viewer=world.system, period="2026-10")
    assert caught.value.field == "period"
    with pytest.raises(DomainError) as caught:
        await build_statements(viewer=world.viewer("mia"), period="2026-10")
    assert caught.value.field == "period"
    assert await Statement.all().count() == 0


async def test_given_a_manager_when_approving_the_period_then_only_their_subtree_is_approved():
    world = await _closed_october()
    await build_statements(viewer=world.system, period="2026-10")

    done = await approve_statements(viewer=world.viewer("mia"), period="2026-10")

    assert (done.approved, done.skipped) == (2, 0)
    assert (await current(world, "ann", "2026-10")).status == "approved"
    assert (await current(world, "cat", "2026-10")).status == "draft"
    approved = await current(world, "bob", "2026-10")
    assert approved.approved_by == world["mia"].id
    assert approved.approved_at is not None
    assert await AuditEntry.filter(action="statement.approved").count() == 2

    ops = await approve_statements(viewer=world.viewer("ops"), period="2026-10")
    assert ops.approved == 1  # cat; the others were approved already
    assert await mark_paid(viewer=world.viewer("ops"), period="2026-10") == 3
    assert (await current(world, "cat", "2026-10")).status == "paid"


async def test_given_an_approved_statement_when_adjusted_then_a_new_draft_and_the_old_stays():
    world = await _closed_october()
    await build_statements(viewer=world.system, period="2026-10")
    await approve_statements(
        viewer=world.viewer("mia"), period="2026-10", rep_ids=[world["ann"].id]
    )
    first = await current(world, "ann", "2026-10")

    adjustment = await add_adjustment(
        viewer=world.viewer("mia"), rep_id=str(world["ann"].id), period="2026-10",
        amount=D("-12.50"), currency="EUR", reason="Demo kit not returned",
    )  # fmt: skip

    second = await current(world, "ann", "2026-10")
    assert (second.version, second.status, second.total) == (2, "draft", D("237.50"))
    old = await Statement.get(id=first.id)
    assert (old.current, old.status, old.total) == (False, "approved", D("250"))
    assert [ln.kind for ln in await lines_of(old)] == ["earnings"]
    new_lines = await lines_of(second)
    assert [(ln.kind, ln.amount) for ln in new_lines] == [
        ("earnings", D("250")),
        ("adjustment", D("-12.50")),
    ]
    assert describe(new_lines[1].kind, new_lines[1].params, "en") == (
        "Adjustment: Demo kit not returned"
    )
    assert second.inputs_hash != old.inputs_hash
    entry = await AuditEntry.get(action="adjustment.added")
    assert entry.actor_id == world["mia"].id
    assert entry.after["amount"] == "-12.50"
    assert entry.entity_id == str(adjustment.id)
    revised = await AuditEntry.get(action="statement.revised")
    assert revised.after["previous"] == str(first.id)
    # the old version stays readable by its id
    assert (await StatementRepository(world.viewer("ann")).statement(first.id)).version == 1

    again = await approve_statements(
        viewer=world.viewer("mia"), period="2026-10", rep_ids=[world["ann"].id]
    )
    assert again.approved == 1
    assert (await current(world, "ann", "2026-10")).status == "approved"


async def test_given_a_draft_when_adjusted_then_the_same_version_takes_the_line():
    world = await _closed_october()
    await build_statements(viewer=world.system, period="2026-10")
    await add_adjustment(
        viewer=world.viewer("admin"), rep_id=world["cat"].id, period="2026-10",
        amount=D("5"), currency="EUR", reason="Rounding agreed with finance",
    )  # fmt: skip
    cat = await current(world, "cat", "2026-10")
    assert (cat.version, cat.total) == (1, D("25"))


async def test_given_an_adjustment_before_the_build_then_the_build_includes_it():
    world = await make_world()
    await deal(world["ann"], "t1", "1000", "2026-10-05")
    await add_adjustment(
        viewer=world.viewer("ops"), rep_id=world["ann"].id, period="2026-10",
        amount=D("100"), currency="EUR", reason="Sign-on bonus",
    )  # fmt: skip
    await close(world, "2026-10")
    await build_statements(viewer=world.system, period="2026-10")
    ann = await current(world, "ann", "2026-10")
    assert ann.total == D("120")
    assert [ln.kind for ln in await lines_of(ann)] == ["earnings", "adjustment"]


async def _snapshot():
    return (
        [
            (s.id, s.status, s.version, s.total, s.current)
            for s in await Statement.all().order_by("id")
        ],
        await StatementLine.all().count(),
        await Adjustment.all().count(),
        await AuditEntry.all().count(),
    )


@pytest.mark.parametrize(
    ("who", "overrides", "field"),
    [
        # approving another manager's rep
        ("mia", {"rep": "cat"}, "repId"),
        # a rep adjusting
        ("ann", {"rep": "bob"}, "repId"),
        # a manager adjusting themselves
        ("mia", {"rep": "mia"}, "repId"),
        # a currency the payee is not paid in
        ("mia", {"currency": "USD"}, "currency"),
        ("mia", {"currency": "EURO"}, "currency"),
        ("mia", {"amount": D("1.001")}, "amount"),
        ("mia", {"amount": D("0")}, "amount"),
        ("mia", {"amount": D("NaN")}, "amount"),
        ("mia", {"amount": D("1e15")}, "amount"),
        ("mia", {"reason": "  "}, "reason"),
        ("mia", {"reason": "x" * 501}, "reason"),
        ("mia", {"reason": "a\x00b"}, "reason"),
        # printed on the payee's statement: an escape sequence, a bell, DEL are no text
        ("mia", {"reason": "a\x1b[2Jb"}, "reason"),
        ("mia", {"reason": "a\x07b"}, "reason"),
        ("mia", {"reason": "a\x7fb"}, "reason"),
        ("mia", {"period": "2026-13"}, "period"),
        ("mia", {"rep": "nobody"}, "repId"),
    ],
)
async def test_given_a_bad_adjustment_then_a_field_error_and_nothing_changes(who, overrides, field):
    world = await _closed_october()
    await build_statements(viewer=world.system, period="2026-10")
    await approve_statements(viewer=world.viewer("ops"), period="2026-10")
    before = await _snapshot()
    rep = overrides.get("rep", "ann")
    args = {
        "viewer": world.viewer(who),
        "rep_id": "not-an-id" if rep == "nobody" else world[rep].id,
        "period": overrides.get("period", "2026-10"),
        "amount": overrides.get("amount", D("10")),
        "currency": overrides.get("currency", "EUR"),
        "reason": overrides.get("reason", "a reason"),
    }
    with pytest.raises(DomainError) as caught:
        await add_adjustment(**args)
    assert caught.value.field == field
    assert await _snapshot() == before


async def test_given_a_paid_statement_when_adjusted_then_a_period_error_and_nothing_changes():
    world = await _closed_october()
    await build_statements(viewer=world.system, period="2026-10")
    await approve_statements(viewer=world.viewer("ops"), period="2026-10")
    await mark_paid(viewer=world.viewer("ops"), period="2026-10")
    before = await _snapshot()
    with pytest.raises(DomainError) as caught:
        await add_adjustment(
            viewer=world.viewer("ops"), rep_id=world["ann"].id, period="2026-10",
            amount=D("10"), currency="EUR", reason="late",
        )  # fmt: skip
    assert caught.value.field == "period"
    assert await _snapshot() == before


@pytest.mark.parametrize(
    ("who", "reps", "field"),
    [
        ("mia", ["cat"], "repIds"),  # another manager's rep
        ("mia", ["ann", "cat"], "repIds"),  # one of them: none approved
        ("mia", ["mia"], "repIds"),  # themselves
        ("ann", None, "period"),  # a rep
        ("ops", ["ann"], "repIds"),  # a second approval of an approved version
        ("ops", None, "period"),  # bad period (below)
        ("ops", ["boss"], "repIds"),  # no statement
    ],
)
async def test_given_a_bad_approval_then_a_field_error_and_nothing_changes(who, reps, field):
    world = await _closed_october()
    await build_statements(viewer=world.system, period="2026-10")
    await approve_statements(
        viewer=world.viewer("ops"), period="2026-10", rep_ids=[world["ann"].id]
    )
    before = await _snapshot()
    period = "2026-1O" if (who, reps) == ("ops", None) else "2026-10"
    with pytest.raises(DomainError) as caught:
        await approve_statements(
            viewer=world.viewer(who),
            period=period,
            rep_ids=None if reps is None else [world[r].id for r in reps],
        )
    assert caught.value.field == field
    assert await _snapshot() == before


async def test_given_no_statements_when_approving_then_a_period_error():
    world = await make_world()
    with pytest.raises(DomainError) as caught:
        await approve_statements(viewer=world.viewer("ops"), period="2026-10")
    assert caught.value.field == "period"
    assert Decimal(0) == sum([s.total for s in await Statement.all()], Decimal(0))


@pytest.mark.parametrize("approved", [False, True])
async def test_given_adjustments_past_what_a_total_holds_then_an_amount_error_and_nothing_changes(
    approved,
):
    # each amount has 14 digits, as the column allows; ann's total (250 + it) would have 15
    world = await _closed_october()
    await build_statements(viewer=world.system, period="2026-10")
    if approved:  # the change would be version 2
        await approve_statements(viewer=world.viewer("ops"), period="2026-10")
    before = await _snapshot()
    with pytest.raises(DomainError) as caught:
        await add_adjustment(
            viewer=world.viewer("mia"), rep_id=world["ann"].id, period="2026-10",
            amount=D("99999999999999.99"), currency="EUR", reason="ovf",
        )  # fmt: skip
    assert caught.value.field == "amount"
    assert "total" in caught.value.message
    assert await _snapshot() == before


async def test_given_adjustments_before_the_build_past_what_a_total_holds_then_an_amount_error():
    world = await make_world()
    args = {"viewer": world.viewer("mia"), "rep_id": world["ann"].id, "period": "2026-10",
            "currency": "EUR", "reason": "ovf"}  # fmt: skip
    await add_adjustment(**args, amount=D("60000000000000"))
    with pytest.raises(DomainError) as caught:
        await add_adjustment(**args, amount=D("40000000000000"))
    assert caught.value.field == "amount"
    assert await Adjustment.all().count() == 1


async def test_given_an_adjustment_that_fits_alone_but_not_with_the_earnings_then_its_payee_named():
    """An adjustment made before the build fits alone (14 digits), but not with the
    earnings the build adds: that payee gets no statement and the summary says why; the
    others' are built (the whole build failed on the column's overflow)."""
    world = await make_world()
    await add_adjustment(viewer=world.viewer("mia"), rep_id=world["ann"].id, period="2026-10",
                         amount=D("99999999999999.99"), currency="EUR", reason="typo")  # fmt: skip
    await deal(world["ann"], "t1", "8000", "2026-10-05")
    await deal(world["bob"], "t2", "4000", "2026-10-06")
    await close(world, "2026-10")

    summary = await build_statements(viewer=world.system, period="2026-10")

    assert summary.built == 2
    [(who, why)] = summary.errors
    assert who == "ann"
    assert "more than a statement holds" in why
    assert not await Statement.filter(user_id=world["ann"].id).exists()
    assert (await current(world, "bob", "2026-10")).total == D("80")


@pytest.mark.parametrize("period", ["2026-Q4", "2026", "2027-Q1"])
async def test_given_a_quarter_or_a_year_when_adjusting_then_a_period_error(period):
    world = await _closed_october()
    await build_statements(viewer=world.system, period="2026-10")
    before = await _snapshot()
    with pytest.raises(DomainError) as caught:
        await add_adjustment(
            viewer=world.viewer("mia"), rep_id=world["ann"].id, period=period,
            amount=D("10"), currency="EUR", reason="a reason",
        )  # fmt: skip
    assert caught.value.field == "period"
    assert "not a month" in caught.value.message
    assert await _snapshot() == before


@pytest.mark.parametrize(("who", "whose"), [("ann", "cat"), ("mia", "cat"), ("max", "ann")])
async def test_given_someone_outside_the_viewers_team_then_the_refusal_does_not_name_them(
    who, whose
):
    world = await _closed_october()
    await build_statements(viewer=world.system, period="2026-10")
    person = world[whose]
    for call in (
        add_adjustment(
            viewer=world.viewer(who), rep_id=person.id, period="2026-10", amount=D("10"),
            currency="EUR", reason="a reason",
        ),
        approve_statements(viewer=world.viewer(who), period="2026-10", rep_ids=[person.id]),
    ):  # fmt: skip
        with pytest.raises(DomainError) as caught:
            await call
        assert caught.value.field in ("repId", "repIds", "period")
        assert person.display_name not in caught.value.message
        assert person.external_id not in caught.value.message


async def test_given_an_unknown_or_another_tenants_person_then_not_found_names_rep_id():
    world = await _closed_october()
    other = await make_world(slug="other")
    await build_statements(viewer=world.system, period="2026-10")
    for rep_id in (uuid4(), other["ann"].id):
        with pytest.raises(NotFound) as caught:
            await add_adjustment(
                viewer=world.viewer("ops"), rep_id=rep_id, period="2026-10", amount=D("10"),
                currency="EUR", reason="a reason",
            )  # fmt: skip
        assert caught.value.field == "repId"
        with pytest.raises(NotFound) as caught:
            await approve_statements(viewer=world.viewer("ops"), period="2026-10",
                                     rep_ids=[rep_id])  # fmt: skip
        assert caught.value.field == "repIds"


async def test_given_a_build_when_it_runs_then_the_cyclic_collector_is_paused_and_on_after(
    monkeypatch: pytest.MonkeyPatch,
):
    import gc

    from payments.statements import service

    world = await _closed_october()
    during: list[bool] = []
    build = service._build

    async def watched(viewer, period_id):  # type: ignore[no-untyped-def]
        during.append(gc.isenabled())
        return await build(viewer, period_id)

    monkeypatch.setattr(service, "_build", watched)
    gc.enable()

    summary = await build_statements(viewer=world.system, period="2026-10")

    assert summary.built == 3
    assert during == [False]
    assert gc.isenabled()


async def test_given_a_statement_below_zero_when_marked_paid_then_left_approved_as_owed():
    world = await _closed_october()
    await build_statements(viewer=world.system, period="2026-10")
    ann = await current(world, "ann", "2026-10")
    await add_adjustment(
        viewer=world.viewer("ops"), rep_id=world["ann"].id, period="2026-10",
        amount=-(D(ann.total) + D("100")), currency="EUR", reason="a clawed-back deal",
    )  # fmt: skip
    await approve_statements(viewer=world.viewer("ops"), period="2026-10")

    paid = await mark_paid(viewer=world.viewer("ops"), period="2026-10")

    statuses = {s.user_id: (s.status, D(s.total)) for s in
                await Statement.filter(period="2026-10", current=True)}  # fmt: skip
    assert statuses[world["ann"].id] == ("approved", D("-100.00"))
    assert paid == len(statuses) - 1
    assert all(status == "paid" for u, (status, _) in statuses.items() if u != world["ann"].id)
    assert await owed_statements(viewer=world.viewer("ops"), period="2026-10") == 1
