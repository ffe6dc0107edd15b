"""The committed migrations are the models: tortoise's own autodetector finds nothing to
migrate, and every money or quantity column is NUMERIC, never a float."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tortoise import connections
from tortoise.exceptions import IntegrityError

from domain.earnings.service import close_period, recompute_rep_period
from tests.domain.builders import (
    assign,
    make_fx_rate,
    make_tenant,
    make_user,
    publish_plan,
    set_quota,
    system_viewer,
)

ROOT = Path(__file__).resolve().parents[3]


def test_given_committed_migrations_when_makemigrations_runs_then_no_changes(
    database_url: str, tmp_path: Path
):
    # a copy, so a drift shows up as a failing test, never as a new file in the tree; the
    # gamification and payments models are in the same migrations, and copied so that this
    # tree's (not an installed checkout's) are compared
    for package in ("domain", "gamification", "payments"):
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    tortoise = Path(sys.executable).with_name("tortoise")

    done = subprocess.run(
        [str(tortoise), "-c", "domain.db.TORTOISE_ORM", "makemigrations"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path), "PODIUM_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert "No changes detected" in done.stdout, done.stdout + done.stderr
    created = sorted(p.name for p in (tmp_path / "domain" / "migrations").glob("0*.py"))
    committed = sorted(p.name for p in (ROOT / "domain" / "migrations").glob("0*.py"))
    assert created == committed


async def test_given_migrated_database_when_inspected_then_no_float_column_anywhere(db: str):
    rows = await connections.get("default").execute_query_dict(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND data_type IN ('real', 'double precision', 'money')"
    )

    assert rows == []


async def test_given_migrated_database_when_inspected_then_money_columns_are_numeric(db: str):
    money = {
        ("earnings_results", "total"),
        ("earnings_results", "payable"),
        ("earnings_results", "pending"),
        ("earnings_results", "cap_adjustment"),
        ("earnings_lines", "amount"),
        ("earnings_lines", "value"),
        ("transactions", "amount"),
        ("quotas", "value"),
        ("fx_rates", "rate"),
        ("statements", "total"),
        ("statement_lines", "amount"),
        ("adjustments", "amount"),
        ("draws", "amount"),
        ("draw_entries", "amount"),
        ("invoices", "net"),
        ("invoices", "payable"),
        ("tax_rules", "rate"),
    }
    rows = await connections.get("default").execute_query_dict(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'public'"
    )
    types = {(r["table_name"], r["column_name"]): r["data_type"] for r in rows}

    assert {column: types[column] for column in money} == dict.fromkeys(money, "numeric")


async def test_given_migrated_database_when_inspected_then_documents_and_fields_are_jsonb(
    db: str,
):
    columns = {
        ("plan_versions", "document"),
        ("transactions", "splits"),
        ("transactions", "extra_fields"),
        ("transactions", "credited_user_ids"),
        ("audit_log", "before"),
        ("audit_log", "after"),
        ("earnings_results", "components"),
    }
    rows = await connections.get("default").execute_query_dict(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'public'"
    )
    types = {(r["table_name"], r["column_name"]): r["data_type"] for r in rows}

    assert {column: types[column] for column in columns} == dict.fromkeys(columns, "jsonb")


@pytest.mark.parametrize(
    ("statement", "constraint"),
    [
        (
            "UPDATE plan_versions SET effective_to = effective_from - 1",
            "plan_versions_dates_ordered",
        ),
        (
            "UPDATE plan_assignments SET effective_to = effective_from - 1",
            "plan_assignments_dates_ordered",
        ),
        (
            "UPDATE users SET hire_date = '2026-10-10', end_date = '2026-10-01'",
            "users_employment_dates_ordered",
        ),
        ("UPDATE users SET manager_id = id", "users_not_own_manager"),
        ("UPDATE quotas SET value = -1", "quotas_value_not_negative"),
        ("UPDATE fx_rates SET rate = 0", "fx_rates_rate_positive"),
        ("UPDATE periods SET closed_at = NULL", "periods_closed_has_time"),
        ("UPDATE periods SET ends_on = starts_on - 1", "periods_dates_ordered"),
        ("UPDATE earnings_results SET status = 'error', error = NULL", "earnings_results_error"),
    ],
)
async def test_given_rows_when_an_invariant_is_broken_in_sql_then_database_refuses(
    db: str, statement: str, constraint: str
):
    tenant = await make_tenant()
    ana = await make_user(tenant=tenant, external_id="ana")
    await assign(user=ana, plan=await publish_plan(tenant=tenant))
    await set_quota(user=ana, value="10")
    await make_fx_rate(tenant=tenant, currency="GBP", rate="1.1", on="2026-10-01")
    await close_period(viewer=system_viewer(tenant), period="2026-09")
    await recompute_rep_period(viewer=system_viewer(tenant), user_id=ana.id, period="2026-10")

    with pytest.raises(IntegrityError, match=constraint):
        await connections.get("default").execute_query(statement)
