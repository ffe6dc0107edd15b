"""`podium mapping show|set|reset --tenant SLUG --source S` in a fresh interpreter, against
this worker's database; a Salesforce CDC webhook afterwards maps with what was set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain.audit.models import AuditEntry
from domain.crm.models import Transaction
from domain.ingest.mapping import DEFAULTS
from domain.ingest.models import FieldMapping
from tests.api.cli_runner import Ran, podium
from tests.api.webhooks.test_crm_adapters import OPP, cdc, exact, world
from tests.workers.ingest_helpers import Burst, signed_headers


async def mapping(database_url: str, *args: str | Path) -> Ran:
    return await podium(database_url, "mapping", *args)


def printed(ran: Ran) -> dict[str, Any]:
    """The effective mapping a command printed: JSON on stdout, nothing on stderr."""
    assert ran.returncode == 0, (ran.returncode, ran.stdout, ran.stderr)
    assert ran.stderr == ""
    document = json.loads(ran.stdout)
    assert isinstance(document, dict)
    return document


async def audit() -> list[tuple[str, str, str, Any, Any]]:
    entries = await AuditEntry.filter(entity_type="crm_field_mapping").order_by("id")
    return [(e.action, e.entity_id, e.actor_label, e.before, e.after) for e in entries]


@pytest.mark.usefixtures("db")
async def test_given_no_overrides_when_shown_then_the_defaults_as_json(db: str):
    await world()

    salesforce = await mapping(db, "show", "--tenant", "acme", "--source", "salesforce")
    hubspot = await mapping(db, "show", "--tenant", "acme", "--source", "hubspot")

    assert printed(salesforce) == DEFAULTS["salesforce"]
    assert printed(hubspot) == DEFAULTS["hubspot"]


async def test_given_overrides_set_when_a_cdc_event_arrives_then_mapped_with_them_and_audited(
    db: str, tmp_path: Path, burst: Burst, http: httpx.AsyncClient
):
    tenant, rep = await world()
    overrides = tmp_path / "mapping.json"
    overrides.write_text(
        json.dumps(
            {
                "date": "Commission_Date__c",
                "state_values": {"Booked": "won"},
                "ignore": ["NextStep"],
            }
        ),
        encoding="utf-8",
    )

    set_ = await mapping(
        db,
        "set",
        "--tenant",
        "acme",
        "--source",
        "salesforce",
        "--file",
        overrides,
        "--set",
        "type=Deal_Type__c",
    )
    more = await mapping(
        db, "set", "--tenant", "acme", "--source", "salesforce", "--set", "name=Opp_Name__c"
    )
    shown = await mapping(db, "show", "--tenant", "acme", "--source", "salesforce")
    body = exact(
        [
            cdc(
                "CREATE",
                replay=1,
                Name="Solar roof Bavaria",
                StageName="Booked",
                Amount="__num:40000.0__",
                CloseDate="2026-10-03",
                Commission_Date__c="2026-11-15",
                Deal_Type__c="Renewal",
                NextStep="Call the installer",
                OwnerId=rep.external_id,
                CurrencyIsoCode="EUR",
            )
        ]
    )
    response = await http.post(
        "/webhooks/salesforce/acme",
        content=body,
        headers=signed_headers(body, tenant.webhook_secret),
    )
    await burst()

    first = {
        "date": "Commission_Date__c",
        "state_values": {"Booked": "won"},
        "ignore": ["NextStep"],
        "type": "Deal_Type__c",
    }
    assert printed(set_) == {**DEFAULTS["salesforce"], **first}
    assert printed(more) == {**DEFAULTS["salesforce"], **first, "name": "Opp_Name__c"}
    assert printed(shown) == printed(more)
    assert response.status_code == 202, response.text
    stored = await Transaction.get(tenant_id=tenant.id, external_id=OPP)
    assert (str(stored.date), stored.state, stored.type) == ("2026-11-15", "won", "Renewal")
    extra = stored.extra_fields
    assert "NextStep" not in (extra if isinstance(extra, dict) else json.loads(extra))
    assert await audit() == [
        ("crm_mapping.changed", "salesforce", "system:cli-mapping", None, first),
        (
            "crm_mapping.changed",
            "salesforce",
            "system:cli-mapping",
            first,
            {**first, "name": "Opp_Name__c"},
        ),
    ]


@pytest.mark.usefixtures("db")
async def test_given_overrides_when_reset_then_the_defaults_again_and_audited(db: str):
    await world()
    await mapping(db, "set", "--tenant", "acme", "--source", "hubspot", "--set", "date=booked")

    reset = await mapping(db, "reset", "--tenant", "acme", "--source", "hubspot")
    shown = await mapping(db, "show", "--tenant", "acme", "--source", "hubspot")

    assert printed(reset) == DEFAULTS["hubspot"]
    assert printed(shown) == DEFAULTS["hubspot"]
    assert not await FieldMapping.exists()
    assert [(action, before, after) for action, _, _, before, after in await audit()] == [
        ("crm_mapping.changed", None, {"date": "booked"}),
        ("crm_mapping.changed", {"date": "booked"}, None),
    ]


@pytest.mark.usefixtures("db")
async def test_given_bad_input_then_exit_2_one_line_naming_it_and_nothing_stored(
    db: str, tmp_path: Path
):
    await world()
    unknown = tmp_path / "unknown.json"
    unknown.write_text('{"amout": "Amount__c"}', encoding="utf-8")
    broken = tmp_path / "broken.json"
    broken.write_text('{"date": "Commission_Date__c",}', encoding="utf-8")
    a_list = tmp_path / "list.json"
    a_list.write_text('["date"]', encoding="utf-8")
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    bad_ignore = tmp_path / "ignore.json"
    bad_ignore.write_text('{"ignore": ["Description", "NextStep", 3]}', encoding="utf-8")
    sf = ("--tenant", "acme", "--source", "salesforce")

    from_file = await mapping(db, "set", *sf, "--file", unknown)
    from_option = await mapping(db, "set", *sf, "--set", "colse_date=X")
    not_text = await mapping(db, "set", *sf, "--set", "date=")
    not_json = await mapping(db, "set", *sf, "--file", broken)
    not_object = await mapping(db, "set", *sf, "--file", a_list)
    too_deep = await mapping(db, "set", *sf, "--file", deep)
    missing = await mapping(db, "set", *sf, "--file", tmp_path / "missing.json")
    no_pair = await mapping(db, "set", *sf, "--set", "date")
    ignore_entry = await mapping(db, "set", *sf, "--file", bad_ignore)
    ignore_text = await mapping(db, "set", *sf, "--set", "ignore=Description")
    nobody = await mapping(db, "show", "--tenant", "nobody", "--source", "salesforce")
    nobody_set = await mapping(
        db, "set", "--tenant", "nobody", "--source", "hubspot", "--set", "date=x"
    )
    nobody_reset = await mapping(db, "reset", "--tenant", "nobody", "--source", "hubspot")
    source = await mapping(db, "show", "--tenant", "acme", "--source", "pipedrive")

    from_file.one_line_error("mapping.amout", "unknown mapping key")
    from_option.one_line_error("mapping.colse_date")
    not_text.one_line_error("mapping.date", "must be a field name")
    not_json.one_line_error(str(broken), "not JSON")
    not_object.one_line_error(str(a_list), "JSON object")
    too_deep.one_line_error(str(deep), "nested too deeply")
    missing.one_line_error(str(tmp_path / "missing.json"), "no such file")
    no_pair.one_line_error("--set", "key=value")
    ignore_entry.one_line_error("mapping.ignore[2]", "must be a field name")
    ignore_text.one_line_error("mapping.ignore", "JSON list")
    for ran in (nobody, nobody_set, nobody_reset):
        ran.one_line_error("--tenant", "no tenant 'nobody'")
    source.one_line_error("--source", "'pipedrive'")
    assert not await FieldMapping.exists()
    assert await audit() == []
