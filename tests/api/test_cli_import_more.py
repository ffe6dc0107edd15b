"""`podium import`: a `role` column sets roles; an import says that stored earnings are stale
and `--recompute` recomputes the people and periods it changed; counts are pluralised."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from domain.crm.models import FxRate, Transaction
from domain.earnings.models import EarningsResult, LateEvent
from domain.earnings.service import close_period
from domain.org.models import Role, User
from tests.api.cli_runner import podium
from tests.domain.builders import (
    assign,
    make_tenant,
    make_user,
    plan_yaml,
    publish_plan,
    system_viewer,
)

TX = "id,rep_id,type,amount,currency,date,state,splits\nt1,ana,deal,1000,EUR,2026-10-03,won,\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def test_given_a_role_column_when_reps_are_imported_then_roles_are_set(db, tmp_path: Path):
    tenant = await make_tenant(slug="acme")
    await make_user(tenant=tenant, external_id="old", role=Role.MANAGER)
    reps = (
        "id,name,manager_id,hire_date,end_date,role,region\n"
        "boss,Bea,,,,manager,north\nops,Oli,,,,payout_ops,\nana,Ana,boss,,,,north\nold,Old,,,,,\n"
    )

    ran = await podium(db, "import", "reps", write(tmp_path, "reps.csv", reps), "--tenant", "acme")

    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "reps.csv: 4 rows, 3 new, 1 updated, 1 manager change\n"
    roles = dict(await User.filter(tenant_id=tenant.id).values_list("external_id", "role"))
    assert roles == {
        "boss": Role.MANAGER,
        "ops": Role.PAYOUT_OPS,
        "ana": Role.REP,
        "old": Role.MANAGER,  # an empty cell keeps the role
    }
    boss = await User.get(tenant_id=tenant.id, external_id="boss")
    assert boss.attributes == {"region": "north"}  # role is not stored as a field


async def test_given_an_unknown_role_when_imported_then_one_line_naming_row_and_column(
    db, tmp_path: Path
):
    await make_tenant(slug="acme")
    reps = "id,name,manager_id,hire_date,end_date,role\nana,Ana,,,,rep\nben,Ben,,,,boss\n"

    ran = await podium(db, "import", "reps", write(tmp_path, "reps.csv", reps), "--tenant", "acme")

    ran.one_line_error("row 3", "column role", "'boss' is not a role")
    assert await User.all().count() == 0


async def test_given_transactions_imported_then_a_hint_and_with_recompute_fresh_earnings(
    db, tmp_path: Path
):
    tenant = await make_tenant(slug="acme")
    ana = await make_user(tenant=tenant, external_id="ana")
    await assign(user=ana, plan=await publish_plan(tenant=tenant), accepted=True)
    one_row = write(tmp_path, "tx.csv", TX)

    plain = await podium(db, "import", "transactions", one_row, "--tenant", "acme")
    stale = await EarningsResult.filter(user_id=ana.id).count()
    again = await podium(db, "import", "transactions", one_row, "--tenant", "acme", "--recompute")

    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.startswith("tx.csv: 1 row, 1 new, 0 updated")
    assert (
        "hint: the stored earnings of 1 person in 2026-10 do not include this import yet: "
        "run it with --recompute, or podium recompute --tenant acme --period 2026-10"
    ) in plain.stderr
    assert stale == 0
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == "recomputed 1 earnings period of 1 person (2026-10)"
    result = await EarningsResult.get(user_id=ana.id, period="2026-10")
    assert Decimal(result.total) == Decimal("50.00")  # 5% of 1,000


async def test_given_a_closed_period_when_its_deals_are_imported_then_flagged_not_hinted(
    db, tmp_path: Path
):
    tenant = await make_tenant(slug="acme")
    ana = await make_user(tenant=tenant, external_id="ana")
    await assign(user=ana, plan=await publish_plan(tenant=tenant), accepted=True)
    await close_period(viewer=system_viewer(tenant), period="2026-10")

    ran = await podium(
        db, "import", "transactions", write(tmp_path, "tx.csv", TX), "--tenant", "acme"
    )

    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines()[-1] == (
        "1 late change to closed periods (their results stay final) flagged for the next "
        "open period"
    )
    assert "hint" not in ran.stderr  # recomputing a closed period is refused
    assert await LateEvent.filter(user_id=ana.id, period="2026-10", flagged_for="2026-11").exists()


async def test_given_a_rep_moved_to_another_team_by_an_import_then_the_managers_recomputed(
    db, tmp_path: Path
):
    tenant = await make_tenant(slug="acme")
    mia = await make_user(tenant=tenant, external_id="mia", role=Role.MANAGER)
    max_ = await make_user(tenant=tenant, external_id="max", role=Role.MANAGER)
    ana = await make_user(tenant=tenant, external_id="ana", manager=mia)
    team = await publish_plan(tenant=tenant, document=plan_yaml(key="team", scope="team"))
    for manager in (mia, max_):
        await assign(user=manager, plan=team, accepted=True)
    await assign(user=ana, plan=await publish_plan(tenant=tenant), accepted=True)
    await podium(db, "import", "transactions", write(tmp_path, "tx.csv", TX), "--tenant", "acme")
    await podium(db, "recompute", "--tenant", "acme", "--period", "2026-10")
    reps = write(tmp_path, "reps.csv", "id,name,manager_id,hire_date,end_date\nana,Ana,max,,\n")

    ran = await podium(db, "import", "reps", reps, "--tenant", "acme", "--recompute")

    assert ran.returncode == 0, ran.stderr
    # ana and both managers, in October (and in today's month, as a rep event asks)
    assert " of 3 people (2026-10" in ran.stdout.splitlines()[-1]
    team_totals = {
        r.user_id: Decimal(r.total)
        for r in await EarningsResult.filter(period="2026-10", user_id__in=[mia.id, max_.id])
    }
    assert team_totals == {mia.id: Decimal("0.00"), max_.id: Decimal("50.00")}


async def test_given_fx_rates_imported_then_the_gbp_deal_converted_and_a_bad_rate_one_line(
    db, tmp_path: Path
):
    tenant = await make_tenant(slug="acme")
    ana = await make_user(tenant=tenant, external_id="ana")
    await assign(user=ana, plan=await publish_plan(tenant=tenant), accepted=True)
    gbp = TX.replace("1000,EUR", "1000,GBP")
    await podium(db, "import", "transactions", write(tmp_path, "tx.csv", gbp), "--tenant", "acme")
    rates = "date,currency,quote_currency,rate\n2026-10-01,GBP,EUR,1.16\n"

    ran = await podium(db, "import", "fx", write(tmp_path, "fx.csv", rates), "--tenant", "acme",
                       "--recompute")  # fmt: skip
    bad = await podium(
        db, "import", "fx", write(tmp_path, "bad.csv", rates.replace("1.16", "0")),
        "--tenant", "acme",
    )  # fmt: skip

    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == [
        "fx.csv: 1 row, 1 new, 0 updated, 0 unchanged",
        "recomputed 1 earnings period of 1 person (2026-10)",
    ]
    result = await EarningsResult.get(user_id=ana.id, period="2026-10")
    assert Decimal(result.total) == Decimal("58.00")  # 5% of 1,000 GBP at 1.16
    bad.one_line_error("bad.csv row 2 column rate", "must be positive")


@pytest.mark.parametrize(
    ("kind", "text", "column"),
    [
        ("transactions", TX.replace("1000,EUR", "1000,XXX"), "currency"),
        ("fx", "date,currency,quote_currency,rate\n2026-10-01,XAU,EUR,1.16\n", "currency"),
        ("fx", "date,currency,quote_currency,rate\n2026-10-01,GBP,XDR,1.16\n", "quote_currency"),
    ],
)
async def test_given_an_iso_code_of_no_money_when_imported_then_one_line_naming_the_column(
    db, tmp_path: Path, kind: str, text: str, column: str
):
    tenant = await make_tenant(slug="acme")
    await make_user(tenant=tenant, external_id="ana")

    ran = await podium(db, "import", kind, write(tmp_path, "in.csv", text), "--tenant", "acme")

    ran.one_line_error(f"in.csv row 2 column {column}")
    assert await Transaction.filter(tenant_id=tenant.id).count() == 0
    assert await FxRate.filter(tenant_id=tenant.id).count() == 0
