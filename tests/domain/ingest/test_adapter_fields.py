"""An unmapped CRM field named like one of the transaction's own fields (HubSpot's `amount`
property when the tenant's amount is another property): kept for plan expressions under
``crm_<name>``, never dropped."""

from __future__ import annotations

from typing import Any

from domain.ingest.adapters import translate_hubspot
from domain.ingest.events import loads_exact, parse_event
from domain.ingest.mapping import DEFAULTS
from domain.kit.documents import dumps_exact

MAPPING: dict[str, Any] = {**DEFAULTS["hubspot"], "amount": "amount_in_eur"}


def _creation(event_id: int, **properties: Any) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "occurredAt": 1791072000000 + event_id,
        "subscriptionType": "deal.creation",
        "objectId": 2002,
        "properties": {
            "amount_in_eur": "900.00",
            "closedate": "2026-10-03",
            "dealstage": "closedwon",
            "hubspot_owner_id": "87654321",
            **properties,
        },
    }


def _fields_of(event: Any) -> dict[str, Any]:
    parsed = parse_event(loads_exact(dumps_exact(event)))  # what intake then accepts
    assert parsed.transaction is not None
    return parsed.transaction.fields


def test_given_an_unmapped_crm_field_named_amount_then_kept_as_crm_amount():
    out = translate_hubspot(
        [_creation(1, amount="1000.00", type="renewal", pipeline="default")],
        mapping=MAPPING,
        currency="EUR",
        bases={},
    )

    assert out.invalid == {}
    (event,) = out.events
    assert event["data"]["amount"] == "900.00"
    assert _fields_of(event) == {
        "crm_amount": "1000.00",
        "crm_type": "renewal",
        "pipeline": "default",
    }


def test_given_a_record_stored_with_such_a_field_then_its_update_keeps_it_renamed():
    # a deal stored before the renaming, its `amount` field among its fields
    base = {"id": "2002", "rep_id": "87654321", "amount": "900.00", "currency": "EUR",
            "date": "2026-10-03", "state": "won", "fields": {"amount": "1000.00"}}  # fmt: skip
    change = {"eventId": 2, "occurredAt": 1791072000002, "subscriptionType": "deal.propertyChange",
              "objectId": 2002, "propertyName": "pipeline", "propertyValue": "b2b"}  # fmt: skip

    out = translate_hubspot([change], mapping=MAPPING, currency="EUR", bases={"2002": base})

    assert out.invalid == {}
    assert _fields_of(out.events[0]) == {"crm_amount": "1000.00", "pipeline": "b2b"}


def test_given_both_amount_and_crm_amount_unmapped_then_refused_naming_them():
    out = translate_hubspot(
        [_creation(1, amount="1000.00", crm_amount="5")], mapping=MAPPING, currency="EUR", bases={}
    )

    (error,) = out.invalid.values()
    assert error.field == "data.fields.amount"
    assert "crm_amount" in error.message
    assert "ignore" in error.message
