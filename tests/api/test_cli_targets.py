"""`podium targets import|export|publish|list`: a spreadsheet's targets in, validated as a
whole (one line and exit 2 naming file, row and column otherwise), published as quotas from an
effective date, and out. Periods are taken from today (next quarter, or one long over), so the
tests mean the same whatever day they run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from domain.earnings.service import close_period
from domain.kit.periods import period_containing
from domain.org.models import Role
from domain.plans.models import Quota
from domain.targets.models import PlanStatus, Target, TargetPlan
from tests.api.cli_runner import podium
from tests.domain.builders import make_org, make_tenant, system_viewer

ORG = {"boss": None, "mia": "boss", "ana": "mia", "ben": "mia", "cy": "boss"}
NEXT = period_containing(datetime.now(UTC).date(), "quarter").next()  # no tenant is there yet
MONTHS = [NEXT.start, (NEXT.start + timedelta(days=40)).replace(day=1)]
PAST = period_containing(datetime.now(UTC).date(), "quarter").previous().previous()
HEADER = "plan,period,measure,currency,rep_id,value\n"
ROWS = (
    "q,{p},bookings,EUR,boss,90000\n"
    "q,{p},bookings,EUR,mia,60000\n"
    "q,{p},bookings,EUR,cy,30000\n"
    "q,{p},bookings,EUR,ana,35000.50\n"
    "q,{p},bookings,EUR,ben,24999.50\n"
)
GOOD = HEADER + ROWS.format(p=NEXT.id)


async def _org():
    tenant = await make_tenant(slug="acme")
    await make_org(tenant=tenant, managers=ORG, roles={"boss": Role.MANAGER})
    return tenant


async def test_given_a_spreadsheet_when_imported_published_and_exported_then_round_trip(
    db, tmp_path: Path
):
    await _org()
    path = tmp_path / "targets.csv"
    path.write_text(GOOD, encoding="utf-8")

    imported = await podium(db, "targets", "import", path, "--tenant", "acme")
    published = await podium(db, "targets", "publish", "--plan", "q", "--tenant", "acme")
    exported = await podium(db, "targets", "export", "--tenant", "acme")

    assert imported.returncode == 0, imported.stderr
    assert imported.stdout == "targets.csv: 5 rows, plans q v1\n"
    assert published.stdout == (
        f"q v1 published for {NEXT.id}, effective {NEXT.start.isoformat()}\n"
    ), published.stderr
    assert await Target.filter().count() == 5
    ana = {q.period: q.value for q in await Quota.filter(user__external_id="ana")}
    assert sum(ana.values()) == Decimal("35000.50")
    lines = exported.stdout.splitlines()
    assert lines[0] == (
        "plan,period,measure,currency,rep_id,value,breakdown_field,breakdown_value,"
        "version,status,comment,accepted_at"
    )
    assert lines[1] == f"q,{NEXT.id},bookings,EUR,boss,90000,,,1,published,,"
    # the export imports back: a published plan gets a new version
    path.write_text(exported.stdout, encoding="utf-8")
    again = await podium(db, "targets", "import", path, "--tenant", "acme")
    assert again.stdout == "targets.csv: 5 rows, plans q v2\n", again.stderr
    listed = await podium(db, "targets", "list", "--tenant", "acme", "--period", NEXT.id)
    assert listed.returncode == 0, listed.stderr
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert [r[:6] for r in rows] == [
        ["q", "v1", NEXT.id, "bookings", "90000 EUR", "published"],
        ["q", "v2", NEXT.id, "bookings", "90000 EUR", "draft"],
    ]
    assert rows[0][7] == NEXT.start.isoformat()
    assert rows[1][6:] == ["-", "-"]
    other = await podium(db, "targets", "list", "--tenant", "acme", "--period", PAST.id)
    assert other.stdout == "no target plans\n"
    bad = await podium(db, "targets", "list", "--tenant", "acme", "--period", "2026-Q9")
    assert bad.returncode == 2
    assert "period" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


async def test_given_a_revision_when_published_from_a_date_then_that_month_mixes_by_day(
    db, tmp_path: Path
):
    await _org()
    path = tmp_path / "targets.csv"
    path.write_text(GOOD, encoding="utf-8")
    await podium(db, "targets", "import", path, "--tenant", "acme")
    await podium(db, "targets", "publish", "--plan", "q", "--tenant", "acme")
    # v2: cy's 30,000 becomes 60,000 and mia's 60,000 is 30,000
    path.write_text(
        GOOD.replace("mia,60000", "mia,30000")
        .replace("cy,30000", "cy,60000")
        .replace("ana,35000.50", "ana,15000.50")
        .replace("ben,24999.50", "ben,14999.50"),
        encoding="utf-8",
    )
    await podium(db, "targets", "import", path, "--tenant", "acme")
    second = MONTHS[1]
    mid = second + timedelta(days=10)

    published = await podium(
        db, "targets", "publish", "--plan", "q", "--tenant", "acme", "--effective-from", mid
    )

    assert published.stdout == f"q v2 published for {NEXT.id}, effective {mid.isoformat()}\n"
    cy = {q.period: q.value for q in await Quota.filter(user__external_id="cy")}
    first_id, second_id = (period_containing(m, "month").id for m in MONTHS)
    month = period_containing(second, "month")
    assert cy[first_id] == Decimal(10000)  # before the revision: the old share
    # the second month: 10 days of 10,000 a month and the rest of 20,000 a month
    exact = (Decimal(10000) * 10 + Decimal(20000) * (month.days - 10)) / month.days
    assert abs(cy[second_id] - exact) <= Decimal("0.01")
    assert cy[second_id] % Decimal("0.01") == 0
    assert [p.status for p in await TargetPlan.all().order_by("version")] == [
        PlanStatus.SUPERSEDED,
        PlanStatus.PUBLISHED,
    ]


@pytest.mark.parametrize(
    ("effective", "fragments"),
    [
        ("2020-01-01", ("--effective-from", f"is not in {NEXT.id}")),
        ("tomorrow", ("--effective-from", "is not a date")),
        ("closed", ("--effective-from", "is closed")),
    ],
)
async def test_given_a_bad_effective_date_when_published_then_one_line_exit_2_nothing_written(
    db, tmp_path: Path, effective: str, fragments: tuple[str, ...]
):
    tenant = await _org()
    path = tmp_path / "targets.csv"
    path.write_text(GOOD, encoding="utf-8")
    await podium(db, "targets", "import", path, "--tenant", "acme")
    if effective == "closed":
        await close_period(viewer=system_viewer(tenant), period=NEXT.start.strftime("%Y-%m"))
        effective = NEXT.start.isoformat()

    ran = await podium(
        db, "targets", "publish", "--plan", "q", "--tenant", "acme", "--effective-from", effective
    )

    ran.one_line_error(*fragments)
    assert await Quota.all().count() == 0
    assert (await TargetPlan.get()).status is PlanStatus.DRAFT


async def test_given_a_published_plan_whose_period_ended_when_reimported_then_refused(
    db, tmp_path: Path
):
    await _org()
    path = tmp_path / "targets.csv"
    path.write_text(HEADER + ROWS.format(p=PAST.id), encoding="utf-8")
    await podium(db, "targets", "import", path, "--tenant", "acme")
    first = await podium(db, "targets", "publish", "--plan", "q", "--tenant", "acme")
    assert first.returncode == 0, first.stderr  # a first version of a period not closed

    again = await podium(db, "targets", "import", path, "--tenant", "acme")

    again.one_line_error("targets.csv row 2 column plan", f"{PAST.id} ended on", "no longer")
    assert await TargetPlan.all().count() == 1


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (
            GOOD.replace("mia,60000", "mia,60001"),
            ("row 2 column value", "add up to 90001, not 90000"),
        ),
        (GOOD.replace("ben,24999.50", "ben,-1"), ("row 6 column value", "at least 0")),
        (GOOD.replace("cy,30000", "zed,30000"), ("row 4 column rep_id", "unknown person")),
        (
            GOOD.replace(f"q,{NEXT.id},bookings,EUR,mia,60000\n", ""),
            ("column rep_id", "second top row"),
        ),
        (GOOD.replace("EUR,cy", "USD,cy"), ("row 4 column currency", "differs from row 2")),
        (
            GOOD.replace(f"{NEXT.id},bookings,EUR,cy", "2026-Q9,bookings,EUR,cy"),
            ("row 4 column period",),
        ),
        (  # its publish once crashed: the day after 9999-12-31 overflows `date`
            HEADER + ROWS.format(p="9999-Q4"),
            ("row 2 column period", "year 9999 is outside the years Podium accepts"),
        ),
        (
            "plan,period,measure,currency,rep_id,value,breakdown_field,breakdown_value\n"
            f"q,{NEXT.id},bookings,EUR,boss,1,cat=x,y\n",
            ("row 2 column breakdown_field", "without [, ] or ="),
        ),
        (
            "plan,period,measure,currency,rep_id,value,breakdown_field,breakdown_value\n"
            f"q,{NEXT.id},bookings,EUR,boss,1,category,{'x' * 90}\n",
            ("row 2 column breakdown_value", "longer than 100"),
        ),
    ],
)
async def test_given_a_bad_row_when_imported_then_one_line_exit_2_and_nothing_written(
    db, tmp_path: Path, text: str, fragments: tuple[str, ...]
):
    await _org()
    path = tmp_path / "targets.csv"
    path.write_text(text, encoding="utf-8")

    ran = await podium(db, "targets", "import", path, "--tenant", "acme")

    ran.one_line_error("targets.csv", *fragments)
    assert await TargetPlan.filter().count() == 0
    assert await Target.filter().count() == 0


async def test_given_a_stored_plan_when_reimported_with_another_measure_then_refused(
    db, tmp_path: Path
):
    await _org()
    path = tmp_path / "targets.csv"
    path.write_text(GOOD, encoding="utf-8")
    await podium(db, "targets", "import", path, "--tenant", "acme")
    path.write_text(GOOD.replace("bookings", "units"), encoding="utf-8")

    ran = await podium(db, "targets", "import", path, "--tenant", "acme")

    ran.one_line_error("row 2 column measure", "'bookings'", "another plan key")
    assert (await TargetPlan.get()).measure == "bookings"
