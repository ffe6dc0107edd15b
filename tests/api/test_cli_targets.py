"""`podium targets import|export|publish`: a spreadsheet's targets in, validated as a whole
(one line and exit 2 naming file, row and column otherwise), published as quotas, and out."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from domain.org.models import Role
from domain.plans.models import Quota
from domain.targets.models import Target, TargetPlan
from tests.api.cli_runner import podium
from tests.domain.builders import make_org, make_tenant

ORG = {"boss": None, "mia": "boss", "ana": "mia", "ben": "mia", "cy": "boss"}
HEADER = "plan,period,measure,currency,rep_id,value\n"
GOOD = HEADER + (
    "q4,2026-Q4,bookings,EUR,boss,90000\n"
    "q4,2026-Q4,bookings,EUR,mia,60000\n"
    "q4,2026-Q4,bookings,EUR,cy,30000\n"
    "q4,2026-Q4,bookings,EUR,ana,35000.50\n"
    "q4,2026-Q4,bookings,EUR,ben,24999.50\n"
)


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
    published = await podium(db, "targets", "publish", "--plan", "q4", "--tenant", "acme")
    exported = await podium(db, "targets", "export", "--tenant", "acme")

    assert imported.returncode == 0, imported.stderr
    assert imported.stdout == "targets.csv: 5 rows, plans q4 v1\n"
    assert published.stdout == "q4 v1 published for 2026-Q4\n", published.stderr
    assert await Target.filter().count() == 5
    ana = {q.period: q.value for q in await Quota.filter(user__external_id="ana")}
    assert sum(ana.values()) == Decimal("35000.50")
    lines = exported.stdout.splitlines()
    assert lines[0] == (
        "plan,period,measure,currency,rep_id,value,breakdown_field,breakdown_value,"
        "version,status,comment,accepted_at"
    )
    assert lines[1] == "q4,2026-Q4,bookings,EUR,boss,90000,,,1,published,,"
    # the export imports back: a published plan gets a new version
    path.write_text(exported.stdout, encoding="utf-8")
    again = await podium(db, "targets", "import", path, "--tenant", "acme")
    assert again.stdout == "targets.csv: 5 rows, plans q4 v2\n", again.stderr
    listed = await podium(db, "targets", "list", "--tenant", "acme", "--period", "2026-Q4")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert [r[:6] for r in rows] == [
        ["q4", "v1", "2026-Q4", "bookings", "90000 EUR", "published"],
        ["q4", "v2", "2026-Q4", "bookings", "90000 EUR", "draft"],
    ]
    assert rows[1][6] == "-"
    other = await podium(db, "targets", "list", "--tenant", "acme", "--period", "2027-Q1")
    assert other.stdout == "no target plans\n"
    bad = await podium(db, "targets", "list", "--tenant", "acme", "--period", "2026-Q9")
    assert bad.returncode == 2
    assert "period" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


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
            GOOD.replace("q4,2026-Q4,bookings,EUR,mia,60000\n", ""),
            ("column rep_id", "second top row"),
        ),
        (GOOD.replace("EUR,cy", "USD,cy"), ("row 4 column currency", "differs from row 2")),
        (
            GOOD.replace("2026-Q4,bookings,EUR,cy", "2026-Q9,bookings,EUR,cy"),
            ("row 4 column period",),
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
