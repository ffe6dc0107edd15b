"""A person's name is one line of plain text: a newline, a tab or another control character
in it is refused, naming the field, wherever a name comes in (the CRM webhook's
rep.upserted, `podium import reps`, creating a person); nothing is written. A name with a
newline once added a stray line to `podium people list` and `podium payouts report`."""

from __future__ import annotations

import io
import json

import pytest
from tortoise.transactions import in_transaction

from domain.crm.service import import_reps
from domain.ingest.errors import InvalidEvent
from domain.ingest.events import loads_exact, parse_event
from domain.kit.errors import DataError, InvalidInput
from domain.org.models import User
from domain.org.service import create_user
from tests.domain.builders import make_tenant, system_viewer
from tests.workers.ingest_helpers import rep_event

BAD = ["Ana\nEVIL  admin", "Ana\tDíaz", "Ana\x01", "Ana\u2028Díaz", "Ana\x85"]


@pytest.mark.parametrize("name", BAD)
def test_given_a_control_character_in_a_rep_event_name_then_refused_naming_it(name: str):
    with pytest.raises(InvalidEvent) as refused:
        parse_event(loads_exact(json.dumps(rep_event("r1", "ana", name=name))))
    assert refused.value.field == "data.name"
    assert "control character" in refused.value.message


def test_given_a_name_in_another_script_then_accepted():
    event = parse_event(loads_exact(json.dumps(rep_event("r1", "ana", name="क्\u200dष Díaz"))))
    assert event.rep is not None
    assert event.rep.name == "क्\u200dष Díaz"


async def test_given_a_control_character_in_an_imported_name_then_refused_nothing_written(db):
    tenant = await make_tenant()
    sheet = 'id,name,manager_id,hire_date,end_date\nann,Ann,,,\nbob,"Bob\nEVIL",,,\n'

    with pytest.raises(DataError) as refused:
        async with in_transaction():  # as `podium import` runs it
            await import_reps(viewer=system_viewer(tenant), lines=io.StringIO(sheet).readlines())

    assert (refused.value.column, refused.value.row) == ("name", 3)
    assert "control character (U+000A)" in str(refused.value)
    assert await User.filter(tenant_id=tenant.id).count() == 0


async def test_given_a_control_character_in_a_new_persons_name_then_refused(db):
    tenant = await make_tenant()

    with pytest.raises(InvalidInput) as refused:
        await create_user(viewer=system_viewer(tenant), external_id="ann", display_name="A\nB")

    assert refused.value.field == "displayName"
    assert await User.filter(tenant_id=tenant.id).count() == 0
