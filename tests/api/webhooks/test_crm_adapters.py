"""Salesforce CDC, Salesforce Outbound Messages and HubSpot webhooks, with real payload
shapes, mapped to the same events as the generic webhook."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest

from api.observability import configure_logging
from api.webhooks.signatures import hubspot_signature, outbound_url_secret
from domain.crm.models import Transaction
from domain.ingest.adapters import ACK
from domain.ingest.mapping import field_mapping, set_field_mapping
from domain.kit.errors import InvalidInput
from domain.org.models import User
from tests.domain.builders import make_tenant, make_transaction, make_user, system_viewer
from tests.workers.ingest_helpers import Burst, dead_letters, inbox, signed_headers

OWNER = "005RM000001vI54YAE"
OPP = "006RM000001aBcDYAU"
ORG = "00DRM000000XyZ1"


async def world():
    tenant = await make_tenant(slug="acme")
    rep = await make_user(tenant=tenant, external_id=OWNER, display_name="Ana Ruiz")
    return tenant, rep


def cdc(
    change: str,
    *,
    replay: int,
    sequence: int = 1,
    changed: list[str] | None = None,
    record: str = OPP,
    commit: int = 1791021600000,
    **fields: Any,
) -> dict[str, Any]:
    return {
        "schema": "IeRuaY6cbI_HsV8Rv1Mc5g",
        "data": {
            "schema": "IeRuaY6cbI_HsV8Rv1Mc5g",
            "payload": {
                "ChangeEventHeader": {
                    "entityName": "Opportunity",
                    "recordIds": [record],
                    "changeType": change,
                    "changeOrigin": "com/salesforce/api/soap/58.0;client=SfdcInternalAPI/",
                    "transactionKey": f"0002343d-9d90-e395-ed20-cf416ba652{replay:02d}",
                    "sequenceNumber": sequence,
                    "commitTimestamp": commit,
                    "commitNumber": 10724471 + replay,
                    "commitUser": OWNER,
                    "changedFields": changed or [],
                    "diffFields": [],
                    "nulledFields": [],
                },
                **fields,
            },
            "event": {"replayId": replay},
        },
        "channel": "/data/OpportunityChangeEvent",
    }


def exact(document: Any) -> bytes:
    """JSON where "__num:1.5" strings become bare numbers (json has no Decimal)."""
    text = json.dumps(document)
    return text.replace('"__num:', "").replace('__"', "").encode()


CREATED = cdc(
    "CREATE",
    replay=1,
    Name="Solar roof Bavaria",
    AccountId="001RM000003sXyzYAE",
    StageName="Closed Won",
    Amount="__num:40000.0__",
    CloseDate="2026-10-03",
    Type="New Business",
    OwnerId=OWNER,
    CurrencyIsoCode="EUR",
    CreatedDate="2026-10-03T10:00:00.000Z",
    LastModifiedDate="2026-10-03T10:00:00.000Z",
)


async def test_given_cdc_create_then_update_when_posted_then_the_whole_record_is_applied(
    burst: Burst, http: httpx.AsyncClient, redis_url: str
):
    tenant, rep = await world()
    update = cdc(
        "UPDATE",
        replay=2,
        commit=1791021700000,
        changed=["Amount", "LastModifiedDate"],
        Amount="__num:45000.50__",
        LastModifiedDate="2026-10-03T11:00:00.000Z",
    )
    body = exact([CREATED, update])

    response = await http.post(
        "/webhooks/salesforce/acme",
        content=body,
        headers=signed_headers(body, tenant.webhook_secret),
    )
    await burst()

    assert response.status_code == 202
    assert response.json() == {"accepted": 2, "duplicates": 0, "rejected": []}
    stored = await Transaction.get(tenant_id=tenant.id, external_id=OPP)
    assert (stored.amount, stored.currency, stored.state, stored.type, str(stored.date)) == (
        Decimal("45000.50"),
        "EUR",
        "won",
        "New Business",
        "2026-10-03",
    )
    assert stored.rep_id == rep.id
    assert stored.version == 1791021700000 * 1000 + 1
    extra = (
        stored.extra_fields
        if isinstance(stored.extra_fields, dict)
        else json.loads(stored.extra_fields)
    )
    assert extra["Name"] == "Solar roof Bavaria"
    assert extra["AccountId"] == "001RM000003sXyzYAE"


async def test_given_cdc_gap_delete_and_unseen_update_then_gaps_dead_lettered_others_accepted(
    burst: Burst, http: httpx.AsyncClient, redis_url: str
):
    tenant, _ = await world()
    body = exact(
        [
            CREATED,
            cdc("GAP_UPDATE", replay=2, changed=["Amount"]),
            cdc("UPDATE", replay=3, record="006RM000009zzzzYAE", changed=["Amount"], Amount=5),
            cdc("DELETE", replay=4, commit=1791021800000),
        ]
    )
    response = await http.post(
        "/webhooks/salesforce/acme",
        content=body,
        headers=signed_headers(body, tenant.webhook_secret),
    )
    again = await http.post(
        "/webhooks/salesforce/acme",
        content=body,
        headers=signed_headers(body, tenant.webhook_secret),
    )
    await burst()

    answer = response.json()
    assert (answer["accepted"], answer["duplicates"]) == (2, 0)
    assert [r["index"] for r in answer["rejected"]] == [1, 2]
    assert answer["rejected"][0]["error"].startswith("changeType: Salesforce sent GAP_UPDATE")
    assert "never seen" in answer["rejected"][1]["error"]
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 2)
    assert [d.field for d in await dead_letters(tenant)] == ["changeType", "recordIds"]
    assert (await Transaction.get(tenant_id=tenant.id, external_id=OPP)).deleted


async def test_given_a_cdc_body_with_a_bad_signature_then_401(http: httpx.AsyncClient):
    await world()
    body = exact([CREATED])
    response = await http.post(
        "/webhooks/salesforce/acme", content=body, headers=signed_headers(body, "wrong")
    )
    assert response.status_code == 401


def outbound(*notifications: tuple[str, str, str], org: str = ORG) -> bytes:
    items = "".join(
        f"""
   <Notification>
    <Id>{nid}</Id>
    <sObject xsi:type="sf:Opportunity" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>{record}</sf:Id>
     <sf:Amount>{amount}</sf:Amount>
     <sf:CloseDate>2026-10-07</sf:CloseDate>
     <sf:CurrencyIsoCode>EUR</sf:CurrencyIsoCode>
     <sf:Name>Heat pump Leipzig</sf:Name>
     <sf:OwnerId>{OWNER}</sf:OwnerId>
     <sf:StageName>Closed Won</sf:StageName>
     <sf:Type xsi:nil="true"/>
     <sf:SystemModstamp>2026-10-07T09:30:00.000Z</sf:SystemModstamp>
    </sObject>
   </Notification>"""
        for nid, record, amount in notifications
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>{org}</OrganizationId>
   <ActionId>04kRM0000004CGnYAM</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/58.0/00DRM000000XyZ1</EnterpriseUrl>
   <PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/58.0/00DRM000000XyZ1</PartnerUrl>{items}
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>""".encode()


async def test_given_outbound_messages_when_posted_then_soap_ack_and_redelivery_deduplicated(
    burst: Burst, http: httpx.AsyncClient, redis_url: str
):
    tenant, rep = await world()
    await set_field_mapping(
        viewer=system_viewer(tenant), source="salesforce", mapping={"organization_id": ORG}
    )
    url = f"/webhooks/salesforce/acme/outbound/{outbound_url_secret(tenant.webhook_secret)}"
    body = outbound(("04lRM000000A1", "006A", "1234.56"), ("04lRM000000A2", "006B", "abc"))

    first = await http.post(url, content=body, headers={"content-type": "text/xml"})
    redelivered = await http.post(url, content=body, headers={"content-type": "text/xml"})
    await burst()

    for response in (first, redelivered):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/xml")
        assert "<Ack>true</Ack>" in response.text
        assert "notificationsResponse" in response.text
    assert [e.event_id for e in await inbox(tenant)] == ["sfob:04lRM000000A1"]
    [letter] = await dead_letters(tenant)
    assert (letter.event_id, letter.field) == ("sfob:04lRM000000A2", "data.amount")
    stored = await Transaction.get(tenant_id=tenant.id, external_id="006A")
    assert (stored.amount, stored.state, stored.type, stored.rep_id) == (
        Decimal("1234.56"),
        "won",
        None,
        rep.id,
    )


async def test_given_outbound_with_a_wrong_secret_or_org_or_xml_then_refused_nothing_stored(
    http: httpx.AsyncClient,
):
    tenant, _ = await world()
    await set_field_mapping(
        viewer=system_viewer(tenant), source="salesforce", mapping={"organization_id": ORG}
    )
    good = f"/webhooks/salesforce/acme/outbound/{outbound_url_secret(tenant.webhook_secret)}"
    one = ("04lRM000000A1", "006A", "1")

    wrong_secret = await http.post("/webhooks/salesforce/acme/outbound/0123", content=outbound(one))
    wrong_org = await http.post(good, content=outbound(one, org="00DOTHER0000001"))
    not_xml = await http.post(good, content=b"<notifications")
    entity = await http.post(
        good, content=b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'
    )

    assert [r.status_code for r in (wrong_secret, wrong_org, not_xml, entity)] == [
        401,
        401,
        400,
        400,
    ]
    assert "Fault" in wrong_org.text
    assert await inbox(tenant) == []


def hubspot_headers(
    secret: str, body: bytes, *, url: str, at_ms: int | None = None
) -> dict[str, str]:
    stamp = str(at_ms if at_ms is not None else int(time.time() * 1000))
    return {
        "content-type": "application/json",
        "x-hubspot-request-timestamp": stamp,
        "x-hubspot-signature-v3": hubspot_signature(secret, "POST", url, body, stamp),
    }


async def test_given_hubspot_events_with_a_v3_signature_then_deals_upserted_over_known_state(
    burst: Burst, http: httpx.AsyncClient, redis_url: str
):
    tenant, rep = await world()
    await make_user(tenant=tenant, external_id="87654321")
    await make_transaction(rep=rep, external_id="1001", amount="100", on="2026-10-02")
    now_ms = int(time.time() * 1000)
    events = [
        {  # the whole deal, as a relay workflow sends it
            "eventId": 3001, "subscriptionId": 2290, "portalId": 62515, "appId": 1160452,
            "occurredAt": now_ms, "subscriptionType": "deal.creation", "attemptNumber": 0,
            "objectId": 2002, "changeSource": "CRM",
            "properties": {"dealname": "Roof", "amount": "2500.25", "closedate": "1791072000000",
                           "dealstage": "closedwon", "hubspot_owner_id": "87654321",
                           "deal_currency_code": "EUR", "pipeline": "default"},
        },
        {  # one property of a deal Podium knows from the CSV import
            "eventId": 3002, "subscriptionId": 2291, "portalId": 62515, "appId": 1160452,
            "occurredAt": now_ms + 1, "subscriptionType": "deal.propertyChange",
            "attemptNumber": 0, "objectId": 1001, "propertyName": "amount",
            "propertyValue": "150.75", "changeSource": "CRM",
        },
        {  # a bare creation: nothing to build a deal from
            "eventId": 3003, "subscriptionId": 2292, "portalId": 62515, "appId": 1160452,
            "occurredAt": now_ms + 2, "subscriptionType": "deal.creation", "attemptNumber": 0,
            "objectId": 9009, "changeSource": "CRM",
        },
    ]  # fmt: skip
    body = json.dumps(events).encode()
    url = "http://podium.test/webhooks/hubspot/acme"

    response = await http.post(
        url, content=body, headers=hubspot_headers(tenant.webhook_secret, body, url=url)
    )
    await burst()

    assert response.status_code == 202
    answer = response.json()
    assert (answer["accepted"], answer["duplicates"]) == (2, 0)
    assert [(r["index"], r["id"]) for r in answer["rejected"]] == [(2, "hs:3003")]
    created = await Transaction.get(tenant_id=tenant.id, external_id="2002")
    assert (created.amount, created.state, str(created.date)) == (
        Decimal("2500.25"),
        "won",
        "2026-10-04",
    )
    updated = await Transaction.get(tenant_id=tenant.id, external_id="1001")
    assert (updated.amount, str(updated.date), updated.rep_id) == (
        Decimal("150.75"),
        "2026-10-02",
        rep.id,
    )


async def test_given_hubspot_signature_wrong_or_older_than_5_minutes_then_401(
    http: httpx.AsyncClient,
):
    tenant, _ = await world()
    body = b"[]"
    url = "http://podium.test/webhooks/hubspot/acme"
    old = int(time.time() * 1000) - 301_000

    wrong = await http.post(url, content=body, headers=hubspot_headers("nope", body, url=url))
    stale = await http.post(
        url, content=body, headers=hubspot_headers(tenant.webhook_secret, body, url=url, at_ms=old)
    )
    other_uri = await http.post(
        url,
        content=body,
        headers=hubspot_headers(tenant.webhook_secret, body, url=url + "?x=1"),
    )
    fine = await http.post(
        url, content=body, headers=hubspot_headers(tenant.webhook_secret, body, url=url)
    )

    assert [r.status_code for r in (wrong, stale, other_uri, fine)] == [401, 401, 401, 202]


@pytest.mark.usefixtures("db")
async def test_given_a_field_mapping_when_saved_then_overrides_defaults_and_bad_keys_named():
    tenant, _ = await world()
    viewer = system_viewer(tenant)

    await set_field_mapping(viewer=viewer, source="salesforce", mapping={"date": "Booked__c"})
    mapping = await field_mapping(viewer=viewer, source="salesforce")

    assert (mapping["date"], mapping["amount"]) == ("Booked__c", "Amount")
    with pytest.raises(InvalidInput) as error:
        await set_field_mapping(viewer=viewer, source="salesforce", mapping={"amout": "X"})
    assert error.value.field == "mapping.amout"
    with pytest.raises(InvalidInput) as error:
        await set_field_mapping(viewer=viewer, source="hubspot", mapping={"default_currency": "EU"})
    assert error.value.field == "mapping.default_currency"


async def test_given_cdc_user_changes_then_reps_created_and_updated_with_their_manager(
    burst: Burst, http: httpx.AsyncClient
):
    tenant, boss = await world()
    created = cdc("CREATE", replay=7, record="005RM00000NEWREP", Name="Ben Okafor",
                  Email="ben@example.com", ManagerId=OWNER, LocaleSidKey="de_DE",
                  Country="DE", IsActive=True)  # fmt: skip
    created["data"]["payload"]["ChangeEventHeader"]["entityName"] = "User"
    renamed = cdc("UPDATE", replay=8, record="005RM00000NEWREP", commit=1791021700000,
                  changed=["Name"], Name="Ben O.", Email=None)  # fmt: skip
    renamed["data"]["payload"]["ChangeEventHeader"]["entityName"] = "User"
    body = exact([created, renamed])

    response = await http.post(
        "/webhooks/salesforce/acme",
        content=body,
        headers=signed_headers(body, tenant.webhook_secret),
    )
    await burst()

    assert response.json()["accepted"] == 2
    ben = await User.get(tenant_id=tenant.id, external_id="005RM00000NEWREP")
    assert (ben.display_name, ben.email, ben.manager_id, ben.locale, ben.country) == (
        "Ben O.",
        "ben@example.com",
        boss.id,
        "de-DE",
        "DE",
    )


async def test_given_crm_times_and_dates_outside_podiums_years_then_dead_letters_name_them(
    burst: Burst, http: httpx.AsyncClient, redis_url: str
):
    """A HubSpot closedate of 253402214400000 ms (9999-12-31) and a CDC CloseDate of
    0001-01-01 were stored as infinity and -infinity; a SystemModstamp of 0001-01-01 became
    a dead letter naming data.version, a field Salesforce never sent."""
    tenant, _ = await world()
    await make_user(tenant=tenant, external_id="87654321")
    await set_field_mapping(
        viewer=system_viewer(tenant), source="salesforce", mapping={"organization_id": ORG}
    )
    now_ms = int(time.time() * 1000)
    deal = {"amount": "10", "dealstage": "closedwon", "hubspot_owner_id": "87654321"}
    hubspot = json.dumps(
        [
            {"eventId": 1, "occurredAt": now_ms, "subscriptionType": "deal.creation",
             "objectId": 11, "properties": {**deal, "closedate": 253402214400000}},
            {"eventId": 2, "occurredAt": -1, "subscriptionType": "deal.creation",
             "objectId": 12, "properties": {**deal, "closedate": "2026-10-03"}},
            # a version of 9999: no later change of the deal would ever be newer
            {"eventId": 3, "occurredAt": 253402214400000, "subscriptionType": "deal.creation",
             "objectId": 13, "properties": {**deal, "closedate": "2026-10-03"}},
        ]
    ).encode()  # fmt: skip
    url = "http://podium.test/webhooks/hubspot/acme"
    record = {k: v for k, v in CREATED["data"]["payload"].items() if k != "ChangeEventHeader"}
    old_close = cdc("CREATE", replay=1, record="006OLD", **{**record, "CloseDate": "0001-01-01"})
    before_1970 = cdc("CREATE", replay=2, record="006NEG", commit=-5, **record)
    cdc_body = exact([old_close, before_1970])
    old_stamp = outbound(("04lRM000000A9", "006OB", "1")).replace(
        b"2026-10-07T09:30:00.000Z", b"0001-01-01T00:00:00+01:00"
    )

    answers = [
        await http.post(
            url, content=hubspot, headers=hubspot_headers(tenant.webhook_secret, hubspot, url=url)
        ),
        await http.post(
            "/webhooks/salesforce/acme",
            content=cdc_body,
            headers=signed_headers(cdc_body, tenant.webhook_secret),
        ),
        await http.post(
            f"/webhooks/salesforce/acme/outbound/{outbound_url_secret(tenant.webhook_secret)}",
            content=old_stamp,
            headers={"content-type": "text/xml"},
        ),
    ]
    await burst()

    assert [a.status_code for a in answers] == [202, 202, 200]
    letters = {(d.event_id, d.field, d.reason) for d in await dead_letters(tenant)}
    outside = "is outside the dates Podium accepts (1900-01-01 to 2199-12-31)"
    assert letters == {
        ("hs:1", "data.date", f"data.date: 9999-12-31 {outside}"),
        ("hs:2", "occurredAt", "occurredAt: must be epoch milliseconds from 1970 to 2199"),
        ("hs:3", "occurredAt", "occurredAt: must be epoch milliseconds from 1970 to 2199"),
        (_cdc_id(old_close), "data.date", f"data.date: 0001-01-01 {outside}"),
        (_cdc_id(before_1970), "commitTimestamp",
         "commitTimestamp: must be epoch milliseconds from 1970 to 2199"),
        ("sfob:04lRM000000A9", "sObject.SystemModstamp",
         "sObject.SystemModstamp: '0001-01-01T00:00:00+01:00' is not a time from 1970 to 2199"),
    }  # fmt: skip
    assert await Transaction.filter(tenant_id=tenant.id).count() == 0


def _cdc_id(message: dict[str, Any]) -> str:
    header = message["data"]["payload"]["ChangeEventHeader"]
    return f"sfcdc:{header['transactionKey']}:{header['sequenceNumber']}:{header['recordIds'][0]}"


# --- CRM fields too large to store, and the mapping's ignore list ------------------------------

# a Description as sales reps write them: 3,000 characters, no plan reads it
ESSAY = ("Customer wants the roof done before winter; call back after the site visit. " * 40)[:3000]
LEFT_OUT = "left out: 3,000 characters, over the 1,000 a field may hold"


def extra_fields(stored: Transaction) -> dict[str, Any]:
    extra = stored.extra_fields
    return extra if isinstance(extra, dict) else json.loads(extra)


def left_out_lines(err: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in err.splitlines() if line[:1] == "{"]
    return [
        {k: line.get(k) for k in ("level", "tenant", "source", "record_id", "fields")}
        for line in lines
        if line.get("event", "").startswith("crm fields left out")
    ]


async def test_given_a_cdc_deal_with_a_3000_character_description_then_counted_without_it(
    burst: Burst, http: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
):
    """An unmapped Description too long to store made the whole Opportunity a dead letter:
    the deal never counted. It is left out, with a warning in the answer and the log."""
    configure_logging(json=True)  # onto the stderr capsys captures
    tenant, rep = await world()
    created = cdc("CREATE", replay=1, **{**CREATED["data"]["payload"], "Description": ESSAY})
    body = exact([created])
    capsys.readouterr()

    response = await http.post(
        "/webhooks/salesforce/acme",
        content=body,
        headers=signed_headers(body, tenant.webhook_secret),
    )
    again = await http.post(
        "/webhooks/salesforce/acme",
        content=body,
        headers=signed_headers(body, tenant.webhook_secret),
    )
    await burst()

    assert response.status_code == 202
    assert response.json() == {
        "accepted": 1,
        "duplicates": 0,
        "rejected": [],
        "warnings": [
            {
                "index": 0,
                "id": _cdc_id(created),
                "field": "data.fields.Description",
                "message": LEFT_OUT,
            }
        ],
    }
    assert again.json() == {"accepted": 0, "duplicates": 1, "rejected": []}
    assert left_out_lines(capsys.readouterr().err) == [
        {
            "level": "warning",
            "tenant": "acme",
            "source": "salesforce_cdc",
            "record_id": OPP,
            "fields": ["Description"],
        }
    ]
    assert await dead_letters(tenant) == []
    stored = await Transaction.get(tenant_id=tenant.id, external_id=OPP)
    assert (stored.amount, stored.state, stored.rep_id) == (Decimal("40000.0"), "won", rep.id)
    assert "Description" not in extra_fields(stored)
    assert extra_fields(stored)["Name"] == "Solar roof Bavaria"


async def test_given_a_hubspot_deal_with_a_3000_character_description_then_counted_without_it(
    burst: Burst, http: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
):
    configure_logging(json=True)
    tenant, _ = await world()
    owner = await make_user(tenant=tenant, external_id="87654321")
    now_ms = int(time.time() * 1000)
    events = [
        {"eventId": 4001, "occurredAt": now_ms, "subscriptionType": "deal.creation",
         "objectId": 2002, "properties": {
             "dealname": "Roof", "amount": "2500.25", "closedate": "1791072000000",
             "dealstage": "closedwon", "hubspot_owner_id": "87654321",
             "deal_currency_code": "EUR", "pipeline": "default", "description": ESSAY}},
        # the description edited later, still too long: left out again, the deal kept
        {"eventId": 4002, "occurredAt": now_ms + 1, "subscriptionType": "deal.propertyChange",
         "objectId": 2002, "propertyName": "description", "propertyValue": ESSAY + "!"},
    ]  # fmt: skip
    body = json.dumps(events).encode()
    url = "http://podium.test/webhooks/hubspot/acme"
    capsys.readouterr()

    response = await http.post(
        url, content=body, headers=hubspot_headers(tenant.webhook_secret, body, url=url)
    )
    await burst()

    assert response.status_code == 202
    assert response.json() == {
        "accepted": 2,
        "duplicates": 0,
        "rejected": [],
        "warnings": [
            {"index": 0, "id": "hs:4001", "field": "data.fields.description",
             "message": LEFT_OUT},
            {"index": 1, "id": "hs:4002", "field": "data.fields.description",
             "message": "left out: 3,001 characters, over the 1,000 a field may hold"},
        ],
    }  # fmt: skip
    assert [line["record_id"] for line in left_out_lines(capsys.readouterr().err)] == [
        "2002",
        "2002",
    ]
    stored = await Transaction.get(tenant_id=tenant.id, external_id="2002")
    assert (stored.amount, stored.state, stored.rep_id) == (Decimal("2500.25"), "won", owner.id)
    assert extra_fields(stored) == {"dealname": "Roof", "pipeline": "default"}


async def test_given_an_outbound_message_with_a_long_description_then_counted_and_plain_ack(
    burst: Burst, http: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
):
    """The SOAP answer has no place for a warning: the Ack is as Salesforce expects it, the
    log says what was left out."""
    configure_logging(json=True)
    tenant, _ = await world()
    await set_field_mapping(
        viewer=system_viewer(tenant), source="salesforce", mapping={"organization_id": ORG}
    )
    url = f"/webhooks/salesforce/acme/outbound/{outbound_url_secret(tenant.webhook_secret)}"
    body = outbound(("04lRM000000A1", "006A", "1234.56")).replace(
        b"<sf:Name>", f"<sf:Description>{ESSAY}</sf:Description><sf:Name>".encode()
    )
    capsys.readouterr()

    response = await http.post(url, content=body, headers={"content-type": "text/xml"})
    await burst()

    assert (response.status_code, response.text) == (200, ACK)
    assert left_out_lines(capsys.readouterr().err) == [
        {
            "level": "warning",
            "tenant": "acme",
            "source": "salesforce_outbound",
            "record_id": "006A",
            "fields": ["Description"],
        }
    ]
    stored = await Transaction.get(tenant_id=tenant.id, external_id="006A")
    assert stored.amount == Decimal("1234.56")
    assert "Description" not in extra_fields(stored)


async def test_given_a_mapped_field_too_long_then_still_refused_naming_it(
    burst: Burst, http: httpx.AsyncClient
):
    """A field the mapping reads (the deal's name, here a custom one) is not left out: the
    event is refused, naming it, as before."""
    tenant, _ = await world()
    await set_field_mapping(
        viewer=system_viewer(tenant), source="salesforce", mapping={"name": "Deal_Title__c"}
    )
    created = cdc(
        "CREATE",
        replay=1,
        **{**CREATED["data"]["payload"], "Deal_Title__c": ESSAY, "Description": ESSAY},
    )
    body = exact([created])

    response = await http.post(
        "/webhooks/salesforce/acme",
        content=body,
        headers=signed_headers(body, tenant.webhook_secret),
    )
    await burst()

    answer = response.json()
    assert answer["accepted"] == 0
    assert [r["error"] for r in answer["rejected"]] == [
        "data.fields.Deal_Title__c: is longer than 1000 characters"
    ]
    # the dead letter lacks the unmapped Description: said, for when it is replayed
    assert [w["field"] for w in answer["warnings"]] == ["data.fields.Description"]
    assert [d.field for d in await dead_letters(tenant)] == ["data.fields.Deal_Title__c"]
    assert not await Transaction.filter(tenant_id=tenant.id).exists()


async def test_given_an_ignore_list_then_those_fields_are_left_out_whatever_their_size(
    burst: Burst, http: httpx.AsyncClient
):
    """Ignored fields are in no event: not the changes' (a 3,000-character one without a
    warning: the tenant chose), nor the ones stored before the list was set."""
    tenant, _ = await world()
    created = cdc("CREATE", replay=1, **{**CREATED["data"]["payload"], "NextStep": "Call Ana"})
    update = cdc(
        "UPDATE",
        replay=2,
        commit=1791021700000,
        changed=["Description", "LeadSource"],
        Description=ESSAY,
        LeadSource="Web",
    )
    first, then = exact([created]), exact([update])

    before = await http.post(
        "/webhooks/salesforce/acme",
        content=first,
        headers=signed_headers(first, tenant.webhook_secret),
    )
    await burst()
    await set_field_mapping(
        viewer=system_viewer(tenant),
        source="salesforce",
        mapping={"ignore": ["Description", "NextStep"]},
    )
    after = await http.post(
        "/webhooks/salesforce/acme",
        content=then,
        headers=signed_headers(then, tenant.webhook_secret),
    )
    await burst()

    assert before.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    assert after.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    stored = await Transaction.get(tenant_id=tenant.id, external_id=OPP)
    assert stored.version == 1791021700000 * 1000 + 1
    assert extra_fields(stored) == {
        "Name": "Solar roof Bavaria",
        "AccountId": "001RM000003sXyzYAE",
        "LeadSource": "Web",
    }
