"""The generic event's validation: every refusal names the field at fault."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from domain.ingest import service
from domain.ingest.errors import InvalidEnvelope, InvalidEvent
from domain.ingest.events import loads_exact, parse_envelope, parse_event
from domain.ingest.models import DeadLetter
from tests.domain.builders import make_tenant, system_viewer
from tests.workers.ingest_helpers import deal, rep_event


def with_data(**changes: Any) -> dict[str, Any]:
    event = deal("e1")
    event["data"] = {**event["data"], **changes}
    return event


@pytest.mark.parametrize(
    ("event", "field", "message"),
    [
        ({**deal("e1"), "type": "opp.won"}, "type", "'opp.won' is not one of"),
        ({**deal("e1"), "occurred_at": 5}, "occurred_at", "must be an ISO 8601"),
        ({**deal("e1"), "data": []}, "data", "must be an object"),
        (with_data(amount=None), "data.amount", "must be a decimal number"),
        (with_data(amount="1e400"), "data.amount", "is too large"),
        (with_data(amount="0.0000001"), "data.amount", "more than 6 decimals"),
        (with_data(amount="Infinity"), "data.amount", "not a finite number"),
        (with_data(amount=[1]), "data.amount", "not a list"),
        (with_data(currency="eur"), "data.currency", "not an ISO 4217 currency code"),
        (with_data(date=20261003), "data.date", "must be a YYYY-MM-DD string"),
        (with_data(rep_id=""), "data.rep_id", "must not be empty"),
        (with_data(version=True), "data.version", "whole number"),
        (with_data(version=-1), "data.version", "whole number"),
        (with_data(splits=[{"rep_id": "ana"}]), "data.splits[0].share", "is required"),
        (with_data(splits=[{"rep_id": "ana", "share": "1.5"}]), "data.splits[0].share", "(0, 1]"),
        (
            with_data(
                splits=[{"rep_id": "ana", "share": "0.5"}, {"rep_id": "ana", "share": "0.5"}]
            ),
            "data.splits",
            "a rep appears twice",
        ),
        (with_data(fields={"tags": ["a"]}), "data.fields.tags", "string, number, boolean"),
        (with_data(amout="1"), "data.amout", "unknown key"),
        (rep_event("r1", "ana", manager_id="ana"), "data.manager_id", "cannot manage themselves"),
        (
            rep_event("r1", "ana", hire_date="2026-10-02", end_date="2026-10-01"),
            "data.end_date",
            "before",
        ),
        (rep_event("r1", "ana", country="DEU"), "data.country", "longer than 2"),
        # date.min and date.max: stored as -infinity and infinity, no date arithmetic after
        (with_data(date="9999-12-31"), "data.date", "outside the dates Podium accepts"),
        (with_data(date="0001-01-01"), "data.date", "outside the dates Podium accepts"),
        (rep_event("r1", "ana", hire_date="0001-01-01"), "data.hire_date", "outside the dates"),
        (rep_event("r1", "ana", end_date="9999-12-31"), "data.end_date", "outside the dates"),
        # a text its index entry cannot carry (transactions_own_by_rep: 2,704 bytes at most)
        (
            with_data(fields={"description": "x" * 1001}),
            "data.fields.description",
            "is longer than 1000 characters",
        ),
        (
            with_data(fields={f"note{i}": "x" * 1000 for i in range(3)}),
            "data.fields",
            "the fields come to 3047 bytes stored, the id, type and state to 12: together at "
            "most 2400",
        ),
    ],
)
def test_given_an_invalid_event_when_parsed_then_the_error_names_the_field(
    event: dict[str, Any], field: str, message: str
):
    with pytest.raises(InvalidEvent) as error:
        parse_event(loads_exact(json.dumps(event)))
    assert error.value.field == field
    assert message in error.value.message


def test_given_exact_numbers_when_parsed_then_decimals_never_floats():
    event = parse_event(
        loads_exact(
            b'{"id": "e", "type": "transaction.upserted", "data": '
            b'{"id": "t", "rep_id": "ana", "amount": 0.1, '
            b'"currency": "EUR", "date": "2026-10-03", '
            b'"fields": {"margin": 0.35}}}'
        )
    )
    assert event.transaction is not None
    assert event.transaction.amount == Decimal("0.1")
    assert event.transaction.fields["margin"] == Decimal("0.35")


@pytest.mark.parametrize("body", [b"", b"null", b'{"events": null}', b'{"events": "x"}'])
def test_given_a_wrong_envelope_when_parsed_then_invalid_envelope(body: bytes):
    with pytest.raises(InvalidEnvelope):
        parse_envelope(body)


@pytest.mark.usefixtures("db")
async def test_given_oversized_ids_and_keys_when_ingested_then_dead_lettered_not_a_crash():
    tenant = await make_tenant(slug="acme")
    long_id = deal("x" * 300)
    long_key = with_data(fields={"k" * 300: {"nested": True}})
    async with in_transaction():
        result = await service.ingest_events(
            viewer=system_viewer(tenant), source="crm", events=[long_id, long_key]
        )
    assert [(r.index, r.id) for r in result.rejected] == [(0, None), (1, "e1")]
    assert result.rejected[0].error == "id: is longer than 200 characters"
    letters = await DeadLetter.filter(tenant_id=tenant.id).order_by("id")
    assert [len(d.field or "") for d in letters] == [2, 200]


@pytest.mark.parametrize(
    "name", ["id", "rep_id", "type", "amount", "amount_original", "currency", "date", "state"]
)
def test_given_an_extra_field_named_like_the_transactions_own_then_refused_naming_it(name: str):
    # plan expressions read the transaction's own `amount` (or id, date, ...) under that name:
    # an extra field of the same name could never be read, and was dropped without a word
    with pytest.raises(InvalidEvent) as error:
        parse_event(loads_exact(json.dumps(with_data(fields={"region": "DE", name: "5"}))))

    assert error.value.field == f"data.fields.{name}"
    assert "plan expressions" in error.value.message
    assert "another name" in error.value.message
