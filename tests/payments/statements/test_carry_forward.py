"""A statement below zero, once approved, is carried into the payee's next statement built:
one CARRY_FORWARD line per source statement, exactly once, the source then settled
(``carried``) and no longer owed."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Any

import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from domain.audit.models import AuditEntry
from domain.earnings.close import reopen_period, start_close
from domain.earnings.service import recompute_many
from domain.kit.errors import DomainError
from domain.org.models import User
from payments.statements.models import Statement, StatementLine
from payments.statements.service import (
    add_adjustment,
    approve_statements,
    build_statements,
    mark_paid,
    owed_statements,
    prepare_reopen,
)
from payments.statements.texts import describe
from tests.domain.builders import (
    assign,
    make_transaction,
    make_user,
    plan_yaml,
    publish_plan,
    set_quota,
)
from tests.payments.helpers import D, World, close, current, deal, lines_of, make_world
from workers.tasks.earnings import close_chunks

pytestmark = pytest.mark.usefixtures("db")


async def _october_below_zero(*, approve: bool = True) -> World:
    """ann earns 250.00 in October, less an adjustment of 370.00: -120.00, approved."""
    world = await make_world()
    await deal(world["ann"], "o1", "8000", "2026-10-05")  # 100 + 3,000 at 5% = 250
    await deal(world["bob"], "o2", "4000", "2026-10-06")  # 80
    await close(world, "2026-10")
    await add_adjustment(
        viewer=world.viewer("ops"), rep_id=world["ann"].id, period="2026-10",
        amount=D("-370"), currency="EUR", reason="Demo kit not returned",
    )  # fmt: skip
    await build_statements(viewer=world.system, period="2026-10")
    if approve:
        await approve_statements(viewer=world.viewer("ops"), period="2026-10")
        await mark_paid(viewer=world.viewer("ops"), period="2026-10")
    assert D((await current(world, "ann", "2026-10")).total) == D("-120")
    return world


async def _carried(world: World, key: str, period: str) -> list[StatementLine]:
    return [ln for ln in await lines_of(await current(world, key, period))
            if ln.kind == "carry_forward"]  # fmt: skip


async def test_given_october_below_zero_when_november_is_built_then_the_balance_is_netted_there():
    world = await _october_below_zero()
    october = await current(world, "ann", "2026-10")
    assert await owed_statements(viewer=world.viewer("ops"), period="2026-10") == 1
    await deal(world["ann"], "n1", "13000", "2026-11-05")  # 100 + 8,000 at 5% = 500
    await close(world, "2026-11")

    summary = await build_statements(viewer=world.system, period="2026-11")

    assert summary.errors == []
    november = await current(world, "ann", "2026-11")
    lines = await lines_of(november)
    assert [(ln.kind, D(ln.amount)) for ln in lines] == [
        ("earnings", D("500")),
        ("carry_forward", D("-120")),
    ]
    carried = lines[1]
    assert carried.source == f"carry:{october.id}"
    assert carried.original_period == "2026-10"
    assert carried.params["statement"] == str(october.id)
    assert carried.params["version"] == 1
    assert describe(carried.kind, carried.params, "en") == (
        "Balance carried forward from October 2026"
    )
    assert D(november.total) == D("380")
    settled = await Statement.get(id=october.id)
    assert (settled.status, settled.carried_into_period) == ("carried", "2026-11")
    assert D(settled.total) == D("-120")  # it stays as it was approved
    assert await owed_statements(viewer=world.viewer("ops"), period="2026-10") == 0
    entry = await AuditEntry.get(action="statement.carried", entity_id=str(october.id))
    assert entry.before == {"status": "approved"}
    assert entry.after["status"] == "carried"
    assert entry.after["into"] == "2026-11"
    assert entry.after["statement"] == str(november.id)
    # bob had nothing to carry: his November is his earnings only
    assert await _carried(world, "bob", "2026-11") == []

    await approve_statements(viewer=world.viewer("ops"), period="2026-11")
    assert await mark_paid(viewer=world.viewer("ops"), period="2026-11") == 3
    assert D((await current(world, "ann", "2026-11")).total) == D("380")


async def test_given_a_carried_statement_then_it_takes_no_change_and_its_period_is_not_reopened():
    world = await _october_below_zero()
    await close(world, "2026-11")
    await build_statements(viewer=world.system, period="2026-11")

    with pytest.raises(DomainError) as caught:
        await add_adjustment(
            viewer=world.viewer("ops"), rep_id=world["ann"].id, period="2026-10",
            amount=D("20"), currency="EUR", reason="late fix",
        )  # fmt: skip
    assert caught.value.field == "period"
    assert "carried" in caught.value.message
    with pytest.raises(DomainError) as caught:
        await prepare_reopen(viewer=world.system, period="2026-10")
    assert caught.value.field == "period"
    assert await Statement.filter(user_id=world["ann"].id, period="2026-10").count() == 1


async def test_given_a_carried_balance_still_below_zero_then_it_carries_on_to_the_next_period():
    world = await _october_below_zero()
    await deal(world["ann"], "n1", "2500", "2026-11-05")  # 50
    await close(world, "2026-11")
    await build_statements(viewer=world.system, period="2026-11")
    november = await current(world, "ann", "2026-11")
    assert D(november.total) == D("-70")
    await approve_statements(viewer=world.viewer("ops"), period="2026-11")
    await mark_paid(viewer=world.viewer("ops"), period="2026-11")
    assert await owed_statements(viewer=world.viewer("ops"), period="2026-11") == 1
    await deal(world["ann"], "d1", "13000", "2026-12-05")  # 500
    await close(world, "2026-12")

    await build_statements(viewer=world.system, period="2026-12")

    december = await current(world, "ann", "2026-12")
    assert [(ln.kind, D(ln.amount), ln.original_period) for ln in await lines_of(december)] == [
        ("earnings", D("500"), None),
        ("carry_forward", D("-70"), "2026-11"),
    ]
    assert D(december.total) == D("430")
    assert (await Statement.get(id=november.id)).carried_into_period == "2026-12"
    assert (await current(world, "ann", "2026-10")).carried_into_period == "2026-11"


async def test_given_a_draft_below_zero_then_it_is_not_carried_until_approved():
    world = await _october_below_zero(approve=False)
    await close(world, "2026-11")
    await build_statements(viewer=world.system, period="2026-11")
    assert await _carried(world, "ann", "2026-11") == []
    assert (await current(world, "ann", "2026-10")).status == "draft"

    await approve_statements(viewer=world.viewer("ops"), period="2026-10")
    await close(world, "2026-12")
    await build_statements(viewer=world.system, period="2026-12")

    [line] = await _carried(world, "ann", "2026-12")
    assert (D(line.amount), line.original_period) == (D("-120"), "2026-10")
    assert (await current(world, "ann", "2026-10")).carried_into_period == "2026-12"


async def test_given_the_carrying_draft_discarded_by_a_reopen_then_the_balance_is_owed_again():
    world = await _october_below_zero()
    october = await current(world, "ann", "2026-10")
    await close(world, "2026-11")
    await build_statements(viewer=world.system, period="2026-11")

    async with in_transaction():  # as `podium close --reopen` does
        await reopen_period(viewer=world.viewer("admin"), period="2026-11")
        assert await prepare_reopen(viewer=world.viewer("admin"), period="2026-11") == 3

    freed = await Statement.get(id=october.id)
    assert (freed.status, freed.carried_into_period) == ("approved", None)
    assert await owed_statements(viewer=world.viewer("ops"), period="2026-10") == 1
    entry = await AuditEntry.get(action="statement.carry_released", entity_id=str(october.id))
    assert entry.after == {"status": "approved", "because": "period.reopened"}
    # the period closed again, its next build carries it, once
    await close(world, "2026-11")
    await build_statements(viewer=world.system, period="2026-11")
    [line] = await _carried(world, "ann", "2026-11")
    assert line.source == f"carry:{october.id}"
    assert (await Statement.get(id=october.id)).status == "carried"


async def test_given_the_carrying_statement_revised_then_the_new_version_carries_it_once():
    world = await _october_below_zero()
    await deal(world["ann"], "n1", "13000", "2026-11-05")  # 500
    await close(world, "2026-11")
    await build_statements(viewer=world.system, period="2026-11")
    await approve_statements(viewer=world.viewer("ops"), period="2026-11")

    await add_adjustment(
        viewer=world.viewer("ops"), rep_id=world["ann"].id, period="2026-11",
        amount=D("20"), currency="EUR", reason="SPIFF",
    )  # fmt: skip

    revised = await current(world, "ann", "2026-11")
    assert (revised.version, D(revised.total)) == (2, D("400"))
    kinds = [ln.kind for ln in await lines_of(revised)]
    assert kinds == ["earnings", "carry_forward", "adjustment"]
    await approve_statements(viewer=world.viewer("ops"), period="2026-11")
    await close(world, "2026-12")
    await build_statements(viewer=world.system, period="2026-12")
    assert await _carried(world, "ann", "2026-12") == []
    assert (await current(world, "ann", "2026-10")).carried_into_period == "2026-11"


async def _dan_paid_in_dollars_from_november() -> tuple[World, User]:
    """ann's October as in _october_below_zero; dan's October in euros -45.00 (approved),
    his November in dollars only (50.00 USD)."""
    world = await _october_below_zero()
    dan = world.people["dan"] = await make_user(
        tenant=world.tenant, external_id="dan", manager=world["mia"]
    )
    euro = await publish_plan(tenant=world.tenant, document=plan_yaml(key="eu"))
    dollar = await publish_plan(tenant=world.tenant, document=plan_yaml(key="us", currency="USD"))
    await assign(user=dan, plan=euro, accepted=True, effective_to="2026-10-31")
    await assign(user=dan, plan=dollar, accepted=True, effective_from="2026-11-01")
    for period in ("2026-10", "2026-11"):
        await set_quota(user=dan, period=period, value="10000")
    await recompute_many(viewer=world.system, pairs=[(dan.id, "2026-10")])
    # October is built already: the adjustment makes dan's statement of it, -45.00
    await add_adjustment(
        viewer=world.viewer("ops"), rep_id=dan.id, period="2026-10", amount=D("-45"),
        currency="EUR", reason="Phone not returned",
    )  # fmt: skip
    await approve_statements(viewer=world.viewer("ops"), period="2026-10", rep_ids=[dan.id])
    await make_transaction(rep=dan, external_id="u1", amount="1000", on="2026-11-05",
                           currency="USD")  # 50.00 USD  # fmt: skip
    await recompute_many(viewer=world.system, pairs=[(dan.id, "2026-11")])
    return world, dan


async def test_given_a_payee_paid_in_another_currency_later_then_the_balance_is_left_owed():
    world, dan = await _dan_paid_in_dollars_from_november()
    await close(world, "2026-11")

    summary = await build_statements(viewer=world.system, period="2026-11")

    assert summary.errors == [
        ("dan", "2026-10's balance of -45.00 EUR is left owed: no EUR statement in 2026-11 "
                "to carry it into (paid in USD)"),
    ]  # fmt: skip
    assert summary.error_lines() == [f"dan: {summary.errors[0][1]}"]  # as the CLI prints it
    [usd] = await Statement.filter(user_id=dan.id, period="2026-11")
    assert (usd.currency, D(usd.total)) == ("USD", D("50"))
    assert [ln.kind for ln in await lines_of(usd)] == ["earnings"]
    owed = await current(world, "dan", "2026-10")
    assert (owed.status, owed.carried_into_period) == ("approved", None)
    # ann's, in EUR, was carried as always: dan's is the one still owed
    assert len(await _carried(world, "ann", "2026-11")) == 1
    assert await owed_statements(viewer=world.viewer("ops"), period="2026-10") == 1


async def _waits_for_a_row_lock(task: asyncio.Task[Any]) -> bool:
    while not task.done():
        rows = await connections.get("default").execute_query_dict(
            "SELECT count(*) AS n FROM pg_locks WHERE NOT granted"
        )
        if rows[0]["n"]:
            return True
        await asyncio.sleep(0.01)
    return False


@pytest.mark.parametrize("first_commits", [True, False])
async def test_given_two_builds_at_once_then_the_balance_is_carried_exactly_once(
    first_commits: bool,
):
    world = await _october_below_zero()
    october = await current(world, "ann", "2026-10")
    await close(world, "2026-11")
    await close(world, "2026-12")
    started, finish = asyncio.Event(), asyncio.Event()

    class Rollback(Exception):
        pass

    async def build_november() -> None:  # a connection of its own, its transaction held open
        try:
            async with in_transaction():
                await build_statements(viewer=world.system, period="2026-11")
                started.set()
                await finish.wait()
                if not first_commits:
                    raise Rollback
        except Rollback:
            pass

    async def build_december() -> None:
        async with in_transaction():
            await build_statements(viewer=world.system, period="2026-12")

    async with asyncio.timeout(30):
        first = asyncio.create_task(build_november())
        await started.wait()
        second = asyncio.create_task(build_december())
        waited = await _waits_for_a_row_lock(second)
        finish.set()
        await first
        await second

    assert waited  # December's build waited for November's lock on October's statement
    lines = await StatementLine.filter(
        source=f"carry:{october.id}", statement__current=True
    ).prefetch_related("statement")
    into = "2026-11" if first_commits else "2026-12"
    assert [(ln.statement.period, D(ln.amount)) for ln in lines] == [(into, D("-120"))]
    assert (await Statement.get(id=october.id)).carried_into_period == into
    assert await AuditEntry.filter(action="statement.carried").count() == 1
    assert Decimal((await current(world, "ann", "2026-12")).total) == D(
        "0" if first_commits else "-120"
    )


async def test_given_a_dispute_of_a_carried_statement_then_its_adjustment_goes_to_the_next_month():
    from payments.disputes.service import raise_dispute, resolve_dispute

    world = await _october_below_zero()
    october = await current(world, "ann", "2026-10")
    await close(world, "2026-11")
    await build_statements(viewer=world.system, period="2026-11")
    dispute, _ = await raise_dispute(
        viewer=world.viewer("ann"), statement_id=str(october.id), line_id=None,
        message="The kit was returned",
    )  # fmt: skip

    resolved, _ = await resolve_dispute(
        viewer=world.viewer("mia"), dispute_id=str(dispute.id), accept=True,
        comment="Found it", adjustment=D("370"),
    )  # fmt: skip

    assert resolved.status == "accepted"
    november = await current(world, "ann", "2026-11")
    assert [(ln.kind, D(ln.amount)) for ln in await lines_of(november)][-2:] == [
        ("carry_forward", D("-120")),
        ("adjustment", D("370")),
    ]
    assert D(november.total) == D("250")
    unchanged = await Statement.get(id=october.id)
    assert (unchanged.status, D(unchanged.total), unchanged.version) == ("carried", D("-120"), 1)


async def test_given_the_workers_close_then_a_balance_left_owed_is_logged_naming_the_payee(
    caplog: pytest.LogCaptureFixture,
):
    world, _ = await _dan_paid_in_dollars_from_november()
    await recompute_many(
        viewer=world.system, pairs=[(world[k].id, "2026-11") for k in ("ann", "bob", "cat")]
    )
    async with in_transaction():
        run = await start_close(viewer=world.system, period="2026-11")

    with caplog.at_level(logging.WARNING, logger="podium.workers.earnings"):
        await close_chunks({}, str(world.tenant.id), run.id)

    assert await Statement.filter(period="2026-11").count() == 4
    assert [r.getMessage() for r in caplog.records if "2026-11" in r.getMessage()] == [
        f"statements of {world.tenant.id} 2026-11: dan: 2026-10's balance of -45.00 EUR is "
        "left owed: no EUR statement in 2026-11 to carry it into (paid in USD)"
    ]
