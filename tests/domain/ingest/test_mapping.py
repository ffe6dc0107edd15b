"""CRM field mappings: only admins (and the system) change them, every change is audited,
and a reset goes back to the defaults."""

from __future__ import annotations

import pytest
from tortoise.transactions import in_transaction

from domain.audit.models import AuditEntry
from domain.ingest.mapping import (
    DEFAULTS,
    field_mapping,
    field_mapping_overrides,
    reset_field_mapping,
    set_field_mapping,
)
from domain.ingest.models import FieldMapping
from domain.kit.errors import Forbidden, InvalidInput
from domain.org.models import Role
from tests.domain.builders import make_tenant, make_user, system_viewer, viewer_of

pytestmark = pytest.mark.usefixtures("db")


async def audit_entries() -> list[AuditEntry]:
    return await AuditEntry.filter(entity_type="crm_field_mapping").order_by("id")


@pytest.mark.parametrize("role", [Role.REP, Role.MANAGER, Role.PAYOUT_OPS])
async def test_given_a_non_admin_when_changing_a_mapping_then_forbidden_and_nothing_written(
    role: Role,
):
    tenant = await make_tenant(slug="acme")
    viewer = viewer_of(await make_user(tenant=tenant, external_id="someone", role=role))
    await set_field_mapping(
        viewer=system_viewer(tenant), source="salesforce", mapping={"date": "Booked__c"}
    )
    before = await audit_entries()

    with pytest.raises(Forbidden):
        await set_field_mapping(viewer=viewer, source="salesforce", mapping={"date": "Other__c"})
    with pytest.raises(Forbidden):
        await reset_field_mapping(viewer=viewer, source="salesforce")

    assert await field_mapping_overrides(viewer=viewer, source="salesforce") == {
        "date": "Booked__c"
    }
    assert len(await audit_entries()) == len(before)


async def test_given_an_admin_when_setting_then_resetting_then_each_change_audited():
    tenant = await make_tenant(slug="acme")
    admin = await make_user(tenant=tenant, external_id="boss", role=Role.ADMIN)
    viewer = viewer_of(admin, request_id="req-1")

    async with in_transaction():
        first = await set_field_mapping(
            viewer=viewer, source="salesforce", mapping={"date": "Commission_Date__c"}
        )
    async with in_transaction():
        await set_field_mapping(
            viewer=viewer,
            source="salesforce",
            mapping={"date": "Commission_Date__c", "type": "Deal_Type__c"},
        )
    async with in_transaction():
        reset = await reset_field_mapping(viewer=viewer, source="salesforce")

    assert first == {**DEFAULTS["salesforce"], "date": "Commission_Date__c"}
    assert reset == DEFAULTS["salesforce"]
    assert await field_mapping(viewer=viewer, source="salesforce") == DEFAULTS["salesforce"]
    assert not await FieldMapping.filter(tenant_id=tenant.id).exists()
    entries = await audit_entries()
    assert [(e.action, e.entity_id, e.before, e.after) for e in entries] == [
        ("crm_mapping.changed", "salesforce", None, {"date": "Commission_Date__c"}),
        (
            "crm_mapping.changed",
            "salesforce",
            {"date": "Commission_Date__c"},
            {"date": "Commission_Date__c", "type": "Deal_Type__c"},
        ),
        (
            "crm_mapping.changed",
            "salesforce",
            {"date": "Commission_Date__c", "type": "Deal_Type__c"},
            None,
        ),
    ]
    assert {(e.tenant_id, e.actor_id, e.actor_label, e.request_id) for e in entries} == {
        (tenant.id, admin.id, f"user:{admin.id}", "req-1")
    }


async def test_given_a_change_whose_transaction_rolls_back_then_no_mapping_and_no_audit():
    tenant = await make_tenant(slug="acme")
    viewer = system_viewer(tenant, "cli-mapping")

    async def change_then_fail() -> None:
        async with in_transaction():
            await set_field_mapping(viewer=viewer, source="hubspot", mapping={"date": "x"})
            raise RuntimeError("the caller fails after the change")

    with pytest.raises(RuntimeError):
        await change_then_fail()

    assert await field_mapping_overrides(viewer=viewer, source="hubspot") is None
    assert await audit_entries() == []


async def test_given_bad_overrides_then_the_field_is_named_and_nothing_written():
    tenant = await make_tenant(slug="acme")
    viewer = system_viewer(tenant)

    for mapping, field in [
        ({"amout": "X"}, "mapping.amout"),
        ({"date": ""}, "mapping.date"),
        ({"state_values": ["won"]}, "mapping.state_values"),
        ({"default_currency": "EU"}, "mapping.default_currency"),
    ]:
        with pytest.raises(InvalidInput) as error:
            await set_field_mapping(viewer=viewer, source="salesforce", mapping=mapping)
        assert error.value.field == field
    with pytest.raises(InvalidInput) as error:
        await reset_field_mapping(viewer=viewer, source="pipedrive")
    assert error.value.field == "source"

    assert await field_mapping_overrides(viewer=viewer, source="salesforce") is None
    assert await audit_entries() == []


@pytest.mark.parametrize(
    ("mapping", "field"),
    [
        ({"date": "Close\x00Date"}, "mapping.date"),
        ({"date": "\ud800"}, "mapping.date"),
        ({"state_values": {"Won\x00": "won"}}, "mapping.state_values"),
        ({"date": "x" * 100_000}, "mapping.date"),
        ({"z" * 100_000: "x"}, "mapping." + "z" * 80),
    ],
)
async def test_given_unstorable_or_huge_values_when_mapping_set_then_invalid_input(
    db: str, mapping: dict, field: str
):
    tenant = await make_tenant(slug="acme")

    with pytest.raises(InvalidInput) as info:
        async with in_transaction():
            await set_field_mapping(
                viewer=system_viewer(tenant), source="salesforce", mapping=mapping
            )

    assert info.value.field == field
    assert len(info.value.message) < 200
    assert not await FieldMapping.exists()


async def test_given_an_ignore_list_then_stored_and_shown_with_the_mapping():
    tenant = await make_tenant(slug="acme")
    viewer = system_viewer(tenant)

    mapping = await set_field_mapping(
        viewer=viewer, source="hubspot", mapping={"ignore": ["description", "notes_last"]}
    )

    assert DEFAULTS["hubspot"]["ignore"] == []
    assert mapping == {**DEFAULTS["hubspot"], "ignore": ["description", "notes_last"]}
    assert await field_mapping(viewer=viewer, source="hubspot") == mapping


@pytest.mark.parametrize(
    ("ignore", "field", "says"),
    [
        ("Description", "mapping.ignore", "must be a list of CRM field names"),
        ({"Description": True}, "mapping.ignore", "must be a list of CRM field names"),
        (None, "mapping.ignore", "must be a list of CRM field names"),
        (["Description", "NextStep", 7], "mapping.ignore[2]", "must be a field name"),
        (["Description", ""], "mapping.ignore[1]", "must be a field name"),
        (["  "], "mapping.ignore[0]", "must be a field name"),
        ([["Description"]], "mapping.ignore[0]", "must be a field name"),
        ([{"name": "Description"}], "mapping.ignore[0]", "must be a field name"),
        (["x" * 201], "mapping.ignore[0]", "must be a field name"),
        (["Desc*"], "mapping.ignore[0]", "field names only, not patterns"),
        (["NextStep", "Amount"], "mapping.ignore[1]", "'Amount' is the mapped amount field"),
        (["Name"], "mapping.ignore[0]", "'Name' is the mapped name field"),
        (["Next\x00Step"], "mapping.ignore[0]", "NUL character"),
        (["Description"] * 1001, "mapping.ignore", "at most 1000 field names"),
    ],
)
async def test_given_a_bad_ignore_list_then_refused_naming_the_entry_and_nothing_written(
    ignore: object, field: str, says: str
):
    tenant = await make_tenant(slug="acme")
    viewer = system_viewer(tenant)

    with pytest.raises(InvalidInput) as error:
        await set_field_mapping(viewer=viewer, source="salesforce", mapping={"ignore": ignore})

    assert error.value.field == field
    assert says in error.value.message
    assert len(error.value.message) < 200
    assert await field_mapping_overrides(viewer=viewer, source="salesforce") is None
    assert await audit_entries() == []


async def test_given_an_ignored_field_then_mapping_it_is_refused_naming_the_ignore_entry():
    """Ignoring a field the mapping reads would leave the deal without it: the mapping that
    does both is refused, whichever key comes last."""
    tenant = await make_tenant(slug="acme")
    viewer = system_viewer(tenant)
    await set_field_mapping(viewer=viewer, source="salesforce", mapping={"ignore": ["Booked__c"]})

    with pytest.raises(InvalidInput) as error:
        await set_field_mapping(
            viewer=viewer,
            source="salesforce",
            mapping={"ignore": ["Booked__c"], "date": "Booked__c"},
        )

    assert error.value.field == "mapping.ignore[0]"
    assert "the mapped date field" in error.value.message
    assert await field_mapping_overrides(viewer=viewer, source="salesforce") == {
        "ignore": ["Booked__c"]
    }
