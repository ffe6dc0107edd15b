"""`podium close` builds the period's statements; `podium statements show|pay|journal|build`
read and move them from the command line; bad input is one line and exit status 2."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from domain.kit.clock import utc_now
from payments.invoices.service import set_partner_profile, set_tax_rule
from payments.statements.models import Statement
from payments.statements.service import add_adjustment, approve_statements
from tests.api.cli_runner import podium
from tests.payments.helpers import deal, make_world

CLOSE = ("close", "--tenant", "acme", "--period", "2026-10")


async def test_given_a_close_then_statements_are_built_shown_paid_and_journaled(db, tmp_path):
    world = await make_world()
    await deal(world["ann"], "t1", "8000", "2026-10-05")  # 250
    await deal(world["bob"], "t2", "4000", "2026-10-06")  # 80

    closed = await podium(db, *CLOSE)
    assert closed.returncode == 0, closed.stderr
    assert "3 statement(s) for the period" in closed.stdout  # cat earned 0: a statement too
    assert await Statement.filter(period="2026-10", status="draft").count() == 3

    shown = await podium(db, "statements", "show", "--tenant", "acme", "--period", "2026-10")
    assert shown.stdout == "2026-10 EUR draft: 3, 330.00\n"
    rebuilt = await podium(db, "statements", "build", "--tenant", "acme", "--period", "2026-10")
    assert rebuilt.stdout == "2026-10: 0 statement(s) built, 3 in all\n"

    await approve_statements(viewer=world.system, period="2026-10")
    paid = await podium(db, "statements", "pay", "--tenant", "acme", "--period", "2026-10")
    assert paid.stdout == "2026-10: 3 statement(s) marked paid\n"
    out = tmp_path / "journal.csv"
    ran = await podium(
        db, "statements", "journal", "--tenant", "acme", "--period", "2026-10",
        "--company-code", "1000", "--posting-date", "2026-11-02", "-o", out,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    lines = [r for r in rows if r["record_type"] == "L"]
    assert sum(Decimal(r["debit"] or 0) - Decimal(r["credit"] or 0) for r in lines) == 0
    assert {r["gl_account"] for r in lines} == {"610000", "210000", "100000"}


async def test_given_a_balance_below_zero_then_show_tells_where_it_was_carried(db):
    world = await make_world()
    await deal(world["ann"], "t1", "8000", "2026-10-05")  # 250
    await deal(world["bob"], "t2", "4000", "2026-10-06")  # 80
    assert (await podium(db, *CLOSE)).returncode == 0
    await add_adjustment(
        viewer=world.system, rep_id=world["ann"].id, period="2026-10", amount=Decimal("-370"),
        currency="EUR", reason="Demo kit not returned",
    )  # fmt: skip
    await approve_statements(viewer=world.system, period="2026-10")
    paid = await podium(db, "statements", "pay", "--tenant", "acme", "--period", "2026-10")
    assert paid.stdout == (
        "2026-10: 2 statement(s) marked paid\n"
        "2026-10: 1 statement(s) below zero left approved: a balance the payee owes, not a "
        "payment; the payee's next statement built carries it\n"
    )
    await deal(world["ann"], "n1", "13000", "2026-11-05")  # 500
    closed = await podium(db, "close", "--tenant", "acme", "--period", "2026-11")
    assert closed.returncode == 0, closed.stderr

    october = await podium(db, "statements", "show", "--tenant", "acme", "--period", "2026-10")
    november = await podium(db, "statements", "show", "--tenant", "acme", "--period", "2026-11")

    assert october.stdout == (
        "2026-10 EUR carried: 1, -120.00\n"
        "2026-10 EUR paid: 2, 80.00\n"
        "  ann: -120.00 EUR carried forward into 2026-11\n"
    )
    assert november.stdout == (
        "2026-11 EUR draft: 3, 380.00\n"
        "  ann: balance carried forward from 2026-10 (version 1): -120.00 EUR\n"
    )


async def test_given_a_reapproved_partner_then_the_cli_lists_invoice_credit_note_invoice(db):
    world = await make_world()
    admin = world.viewer("admin")
    await set_partner_profile(
        viewer=admin, rep_id=world["ann"].id, legal_name="Sole Impianti S.r.l.",
        address="Via Roma 1, Milano", country="IT", tax_id="IT00743110157",
    )  # fmt: skip
    await set_tax_rule(viewer=admin, country="IT", kind="vat", rate=Decimal("22"))
    await deal(world["ann"], "t1", "8000", "2026-10-05")  # 250
    assert (await podium(db, *CLOSE)).returncode == 0
    await approve_statements(viewer=admin, period="2026-10")
    await add_adjustment(viewer=admin, rep_id=world["ann"].id, period="2026-10",
                         amount=Decimal("50"), currency="EUR", reason="SPIFF")  # fmt: skip
    await approve_statements(viewer=admin, period="2026-10")

    listed = await podium(db, "statements", "invoices", "--tenant", "acme", "--period", "2026-10")

    assert listed.returncode == 0, listed.stderr
    year = utc_now().year
    assert listed.stdout == (
        f"{year}-000001 invoice: ann v1 EUR net 250.00 vat 55.00 payable 305.00\n"
        f"{year}-000002 credit note for {year}-000001: ann v1 EUR net -250.00 vat -55.00 "
        "payable -305.00\n"
        f"{year}-000003 invoice: ann v2 EUR net 300.00 vat 66.00 payable 366.00\n"
    )
    # the journal books the invoice in force's VAT on the account given, the payable accrued
    journal = await podium(
        db, "statements", "journal", "--tenant", "acme", "--period", "2026-10",
        "--company-code", "1000", "--posting-date", "2026-11-02", "--input-vat-account", "1576",
    )  # fmt: skip
    assert journal.returncode == 0, journal.stderr
    lines = [r for r in csv.DictReader(io.StringIO(journal.stdout)) if r["record_type"] == "L"]
    assert sorted((r["gl_account"], r["debit"], r["credit"]) for r in lines) == [
        ("1576", "66.00", ""), ("210000", "", "366.00"), ("610000", "250.00", ""),
        ("610000", "50.00", ""),  # the commission, the adjustment
    ]  # fmt: skip
    none = await podium(db, "statements", "invoices", "--tenant", "acme", "--period", "2026-11")
    assert none.stdout == "2026-11: no invoices\n"
    bad = await podium(db, "statements", "invoices", "--tenant", "acme", "--period", "2026-13")
    bad.one_line_error("period")


async def test_given_bad_input_then_one_line_and_exit_2(db):
    await make_world()
    bad_period = await podium(db, "statements", "show", "--tenant", "acme", "--period", "2026-13")
    bad_period.one_line_error("period")
    not_closed = await podium(db, "statements", "build", "--tenant", "acme", "--period", "2026-10")
    not_closed.one_line_error("period", "not closed")
    code = await podium(
        db, "statements", "journal", "--tenant", "acme", "--period", "2026-10",
        "--company-code", "ten thousand",
    )  # fmt: skip
    code.one_line_error("companyCode")
    day = await podium(
        db, "statements", "journal", "--tenant", "acme", "--period", "2026-10",
        "--company-code", "1000", "--posting-date", "soon",
    )  # fmt: skip
    day.one_line_error("--posting-date")
    account = await podium(
        db, "statements", "journal", "--tenant", "acme", "--period", "2026-10",
        "--company-code", "1000", "--withholding-account", "17-41",
    )  # fmt: skip
    account.one_line_error("--withholding-account")


async def test_given_a_balance_owed_then_balances_lists_it_until_it_is_carried(db):
    world = await make_world()
    await deal(world["ann"], "t1", "8000", "2026-10-05")  # 250
    assert (await podium(db, *CLOSE)).returncode == 0
    await add_adjustment(
        viewer=world.system, rep_id=world["ann"].id, period="2026-10", amount=Decimal("-370"),
        currency="EUR", reason="Demo kit not returned",
    )  # fmt: skip
    await approve_statements(viewer=world.system, period="2026-10")
    october = await Statement.get(user_id=world["ann"].id, period="2026-10")

    listed = await podium(db, "statements", "balances", "--tenant", "acme")

    assert listed.returncode == 0, listed.stderr
    assert listed.stdout == (
        "EUR: 1 balance(s) owed, -120.00\n"
        f"  ann: -120.00 EUR owed since 2026-10 (version 1, statement {october.id}, approved "
        f"{utc_now().date().isoformat()}, 0 days ago)\n"
    )
    assert (await podium(db, "close", "--tenant", "acme", "--period", "2026-11")).returncode == 0
    carried = await podium(db, "statements", "balances", "--tenant", "acme")
    assert carried.stdout == "no balance owed\n"
