from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest

from domain.kit.errors import DomainError
from domain.rewards.service import grant_reward
from payments.accruals.service import accruals, journal_csv
from payments.statements.service import (
    add_adjustment,
    approve_statements,
    build_statements,
    mark_paid,
)
from tests.domain.builders import TIERED
from tests.payments.helpers import D, close, deal, make_world

pytestmark = pytest.mark.usefixtures("db")


async def _october():
    world = await make_world()
    await deal(world["ann"], "t1", "8000", "2026-10-05")  # 250
    await deal(world["bob"], "t2", "4000", "2026-10-06")  # 80
    await deal(world["cat"], "t3", "1000", "2026-10-07")  # 20
    await grant_reward(
        viewer=world.system, user_id=world["ann"].id, period="2026-10", amount=D("50"),
        currency="EUR", source_kind="contest_prize", source_id="c1", reason="Sprint",
    )  # fmt: skip
    return world


def _figures(found):
    return [(a.currency, a.component, a.earned, a.approved, a.paid, a.outstanding) for a in found]


async def test_given_a_period_without_statements_then_earned_so_far_and_nothing_approved():
    world = await _october()
    await close(world, "2026-10")  # results frozen; statements not built yet
    await add_adjustment(
        viewer=world.viewer("ops"), rep_id=world["bob"].id, period="2026-10", amount=D("-5"),
        currency="EUR", reason="Phone",
    )  # fmt: skip
    found = await accruals(viewer=world.viewer("ops"), period="2026-10", by_component=True)
    assert _figures(found) == [
        ("EUR", "adjustment", D("-5"), 0, 0, D("-5")),
        ("EUR", "commission", D("350"), 0, 0, D("350")),
        ("EUR", "prize", D("50"), 0, 0, D("50")),
    ]


async def test_given_statements_approved_and_paid_then_each_figure_moves():
    world = await _october()
    await close(world, "2026-10")
    await build_statements(viewer=world.system, period="2026-10")
    await approve_statements(viewer=world.viewer("mia"), period="2026-10")  # ann, bob
    await mark_paid(viewer=world.viewer("ops"), period="2026-10")
    await approve_statements(viewer=world.viewer("ops"), period="2026-10")  # cat

    found = await accruals(viewer=world.viewer("admin"), period="2026-10")
    assert _figures(found) == [("EUR", None, D("400"), D("400"), D("380"), D("20"))]
    with pytest.raises(DomainError) as caught:
        await accruals(viewer=world.viewer("mia"), period="2026-10")
    assert caught.value.field == "period"


def _documents(text: str):
    rows = list(csv.DictReader(io.StringIO(text)))
    documents = defaultdict(list)
    headers = {}
    for row in rows:
        if row["record_type"] == "H":
            headers[row["reference"]] = row
        else:
            documents[row["reference"]].append(row)
    return headers, documents


async def test_given_a_paid_period_then_the_journal_documents_balance_and_reimport_is_detectable():
    world = await _october()
    await close(world, "2026-10")
    await build_statements(viewer=world.system, period="2026-10")
    await approve_statements(viewer=world.viewer("ops"), period="2026-10")
    await mark_paid(viewer=world.viewer("ops"), period="2026-10")
    args = {"viewer": world.viewer("ops"), "period": "2026-10", "company_code": "1000",
            "posting_date": date(2026, 11, 3)}  # fmt: skip

    text = await journal_csv(**args)

    headers, documents = _documents(text)
    assert set(headers) == set(documents)
    assert len(documents) == 2  # the accrual and the payment
    for reference, lines in documents.items():
        assert len(reference) == 16
        debit = sum(Decimal(r["debit"] or 0) for r in lines)
        credit = sum(Decimal(r["credit"] or 0) for r in lines)
        assert debit == credit == D("400")
        assert headers[reference]["company_code"] == "1000"
        assert headers[reference]["posting_date"] == "2026-11-03"
    accounts = sorted(
        (r["gl_account"], r["debit"], r["credit"]) for ls in documents.values() for r in ls
    )
    assert accounts == [
        ("100000", "", "400.00"),
        ("210000", "", "400.00"),
        ("210000", "400.00", ""),
        ("610000", "350.00", ""),
        ("610000", "50.00", ""),
    ]
    assert await journal_csv(**args) == text  # the same references: a re-import is refused

    small, _ = _documents(await journal_csv(**args, max_lines=2))
    _, split = _documents(await journal_csv(**args, max_lines=2))
    assert len(split) == 3  # commission and prize each in a document, then the payment
    for lines in split.values():
        assert len(lines) <= 2
        assert sum(Decimal(r["debit"] or 0) - Decimal(r["credit"] or 0) for r in lines) == 0
    assert len(small) == 3


@pytest.mark.parametrize(("overrides", "field"), [
    ({"company_code": "10 00"}, "companyCode"),
    ({"company_code": "12345"}, "companyCode"),
    ({"max_lines": 1}, "maxLines"),
    ({"period": "2026-13"}, "period"),
])  # fmt: skip
async def test_given_bad_journal_options_then_a_field_error(overrides, field):
    world = await _october()
    args = {"viewer": world.viewer("ops"), "period": "2026-10", "company_code": "1000",
            "posting_date": date(2026, 11, 3)} | overrides  # fmt: skip
    with pytest.raises(DomainError) as caught:
        await journal_csv(**args)
    assert caught.value.field == field


async def test_given_a_capped_payee_then_accruals_and_journal_name_the_cap():
    world = await make_world(plan=TIERED + "cap: 200\n")
    await deal(world["ann"], "t1", "8000", "2026-10-05")  # 250, capped at 200
    await deal(world["bob"], "t2", "4000", "2026-10-06")  # 80
    await close(world, "2026-10")
    ops = world.viewer("ops")

    so_far = await accruals(viewer=ops, period="2026-10", by_component=True)
    assert _figures(so_far) == [
        ("EUR", "cap", D("-50"), 0, 0, D("-50")),
        ("EUR", "commission", D("330"), 0, 0, D("330")),
    ]
    await build_statements(viewer=world.system, period="2026-10")
    await approve_statements(viewer=ops, period="2026-10")
    built = await accruals(viewer=ops, period="2026-10", by_component=True)
    assert _figures(built) == [
        ("EUR", "cap", D("-50"), D("-50"), 0, D("-50")),
        ("EUR", "commission", D("330"), D("330"), 0, D("330")),
    ]

    text = await journal_csv(viewer=ops, period="2026-10", company_code="1000",
                             posting_date=date(2026, 11, 3))  # fmt: skip
    _, documents = _documents(text)
    (lines,) = documents.values()
    assert sorted((r["gl_account"], r["debit"], r["credit"], r["item_text"]) for r in lines) == [
        ("210000", "", "280.00", "Accrued commissions 2026-10"),
        ("610000", "", "50.00", "Commissions 2026-10 cap"),
        ("610000", "330.00", "", "Commissions 2026-10 commission"),
    ]


async def test_given_a_balance_carried_forward_then_its_expense_counts_once_and_cash_nets_it():
    world = await make_world()
    await deal(world["ann"], "t1", "8000", "2026-10-05")  # 250
    await close(world, "2026-10")
    await add_adjustment(
        viewer=world.viewer("ops"), rep_id=world["ann"].id, period="2026-10", amount=D("-370"),
        currency="EUR", reason="Demo kit not returned",
    )  # fmt: skip
    await build_statements(viewer=world.system, period="2026-10")
    await approve_statements(viewer=world.viewer("ops"), period="2026-10")
    await mark_paid(viewer=world.viewer("ops"), period="2026-10")  # ann's -120.00 left owed
    await deal(world["ann"], "n1", "13000", "2026-11-05")  # 500
    await close(world, "2026-11")
    await build_statements(viewer=world.system, period="2026-11")  # 500 - 120 = 380
    await approve_statements(viewer=world.viewer("ops"), period="2026-11")
    await mark_paid(viewer=world.viewer("ops"), period="2026-11")
    ops = world.viewer("ops")

    october = await accruals(viewer=ops, period="2026-10")
    november = await accruals(viewer=ops, period="2026-11", by_component=True)

    # October's -120.00 stays its own (earned and approved there, never paid in cash) ...
    assert _figures(october) == [("EUR", None, D("-120"), D("-120"), 0, D("-120"))]
    # ... November's expense is its earnings, its cash the 380.00 that left: the balance
    # carried is a settlement, not a second negative expense
    assert _figures(november) == [
        ("EUR", "carry_forward", 0, 0, D("-120"), D("120")),
        ("EUR", "commission", D("500"), D("500"), D("500"), 0),
    ]
    text = await journal_csv(viewer=ops, period="2026-11", company_code="1000",
                             posting_date=date(2026, 12, 2))  # fmt: skip
    _, documents = _documents(text)
    postings = defaultdict(Decimal)
    for rows in documents.values():
        for r in rows:
            postings[(r["gl_account"], r["item_text"])] += D(r["debit"] or "0") - D(
                r["credit"] or "0"
            )
    assert postings[("610000", "Commissions 2026-11 commission")] == D("500")
    assert not any("carry_forward" in text for _, text in postings)
    assert sum(v for (account, _), v in postings.items() if account == "100000") == D("-380")
