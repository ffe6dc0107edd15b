"""Every CRM format against the real app (its lifespan running, real PostgreSQL): limits on
the number of events and records per request (413 naming the limit), linear work and
storage for a Salesforce CDC message of many records, hardened SOAP parsing, and generated
bodies of each format, properly signed so they reach the parsers: never a 5xx, and a valid
event among the garbage still lands."""

from __future__ import annotations

import json
import time
from typing import Any
from xml.sax.saxutils import escape

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.webhooks.signatures import hubspot_signature, outbound_url_secret
from domain.ingest.adapters import MAX_EXPANDED_BYTES, MAX_NOTIFICATIONS
from domain.ingest.events import MAX_EVENTS
from domain.ingest.mapping import set_field_mapping
from domain.ingest.models import DeadLetter, InboxEvent
from domain.tenants.models import Tenant
from tests.domain.builders import make_tenant, make_user, system_viewer
from tests.workers.ingest_helpers import deal, signed_headers

BASE_URL = "http://podium.test"
OWNER = "005RM000001vI54YAE"
HUBSPOT_OWNER = "87654321"
ORG = "00DRM000000XyZ1"
COMMIT = 1791021600000


async def world() -> Tenant:
    tenant = await make_tenant(slug="acme")
    await make_user(tenant=tenant, external_id="ana")
    await make_user(tenant=tenant, external_id=OWNER)
    await make_user(tenant=tenant, external_id=HUBSPOT_OWNER)
    await set_field_mapping(
        viewer=system_viewer(tenant), source="salesforce", mapping={"organization_id": ORG}
    )
    return tenant


def cdc(change: str, record_ids: list[Any], *, key: str = "k1", **fields: Any) -> dict[str, Any]:
    return {
        "data": {
            "payload": {
                "ChangeEventHeader": {
                    "entityName": "Opportunity",
                    "recordIds": record_ids,
                    "changeType": change,
                    "transactionKey": key,
                    "sequenceNumber": 1,
                    "commitTimestamp": COMMIT,
                    "changedFields": [],
                },
                **fields,
            },
            "event": {"replayId": 1},
        },
        "channel": "/data/OpportunityChangeEvent",
    }


def cdc_created(record: str, key: str) -> dict[str, Any]:
    return cdc(
        "CREATE",
        [record],
        key=key,
        Amount="100.00",
        CloseDate="2026-10-03",
        OwnerId=OWNER,
        StageName="Closed Won",
        CurrencyIsoCode="EUR",
    )


def hubspot_created(event_id: int, record: int) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "occurredAt": int(time.time() * 1000),
        "subscriptionType": "deal.creation",
        "objectId": record,
        "properties": {
            "amount": "250.00",
            "closedate": "2026-10-03",
            "hubspot_owner_id": HUBSPOT_OWNER,
            "dealstage": "closedwon",
            "deal_currency_code": "EUR",
        },
    }


def hubspot_headers(secret: str, path: str, body: bytes) -> dict[str, str]:
    stamp = str(int(time.time() * 1000))
    return {
        "content-type": "application/json",
        "x-hubspot-request-timestamp": stamp,
        "x-hubspot-signature-v3": hubspot_signature(secret, "POST", BASE_URL + path, body, stamp),
    }


def notification(nid: str, fields: dict[str, str], object_type: str = "Opportunity") -> str:
    cells = "".join(f"<sf:{name}>{escape(value)}</sf:{name}>" for name, value in fields.items())
    return (
        f"<Notification><Id>{escape(nid)}</Id>"
        f'<sObject xsi:type="sf:{escape(object_type)}" '
        f'xmlns:sf="urn:sobject.enterprise.soap.sforce.com">{cells}</sObject></Notification>'
    )


def soap(*notifications: str, prolog: str = '<?xml version="1.0" encoding="UTF-8"?>') -> str:
    return (
        f"{prolog}"
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
        '<notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
        f"<OrganizationId>{ORG}</OrganizationId>{''.join(notifications)}"
        "</notifications></soapenv:Body></soapenv:Envelope>"
    )


def valid_notification(nid: str, record: str) -> str:
    return notification(
        nid,
        {
            "Id": record,
            "Amount": "75.50",
            "CloseDate": "2026-10-07",
            "CurrencyIsoCode": "EUR",
            "OwnerId": OWNER,
            "StageName": "Closed Won",
            "SystemModstamp": "2026-10-07T09:30:00.000Z",
        },
    )


def outbound_path(tenant: Tenant) -> str:
    return f"/webhooks/salesforce/acme/outbound/{outbound_url_secret(tenant.webhook_secret)}"


async def stored() -> tuple[int, int]:
    return await InboxEvent.all().count(), await DeadLetter.all().count()


# --- limits --------------------------------------------------------------------------------


async def test_given_more_events_than_the_limit_in_any_format_then_413_naming_it_nothing_stored(
    http: httpx.AsyncClient,
):
    tenant = await world()
    secret = tenant.webhook_secret
    generic = json.dumps({"events": [0] * (MAX_EVENTS + 1)}).encode()
    many_ids = json.dumps([cdc("GAP_UPDATE", [f"006{i:015d}" for i in range(MAX_EVENTS + 1)])])
    many_messages = json.dumps([0] * (MAX_EVENTS + 1)).encode()
    hubspot = json.dumps([0] * (MAX_EVENTS + 1)).encode()
    outbound = soap(
        *(valid_notification(f"04l{i}", f"006{i}") for i in range(MAX_NOTIFICATIONS + 1))
    ).encode()

    answers = [
        await http.post(
            "/webhooks/crm/acme", content=generic, headers=signed_headers(generic, secret)
        ),
        await http.post(
            "/webhooks/salesforce/acme",
            content=many_ids.encode(),
            headers=signed_headers(many_ids.encode(), secret),
        ),
        await http.post(
            "/webhooks/salesforce/acme",
            content=many_messages,
            headers=signed_headers(many_messages, secret),
        ),
        await http.post(
            "/webhooks/hubspot/acme",
            content=hubspot,
            headers=hubspot_headers(secret, "/webhooks/hubspot/acme", hubspot),
        ),
        await http.post(outbound_path(tenant), content=outbound),
    ]

    assert [a.status_code for a in answers] == [413] * 5
    for answer in answers[:4]:
        assert answer.json()["error"]["code"] == "too_many_events"
        assert f"at most {MAX_EVENTS}" in answer.json()["error"]["message"]
    assert f"at most {MAX_NOTIFICATIONS}" in answers[4].text
    assert await stored() == (0, 0)


async def test_given_exactly_the_limit_of_events_then_each_is_answered(http: httpx.AsyncClient):
    tenant = await world()
    body = json.dumps({"events": [0] * MAX_EVENTS}).encode()

    answer = await http.post(
        "/webhooks/crm/acme", content=body, headers=signed_headers(body, tenant.webhook_secret)
    )

    assert answer.status_code == 202
    assert len(answer.json()["rejected"]) == MAX_EVENTS
    assert await DeadLetter.all().count() == MAX_EVENTS


async def test_given_a_gap_update_of_1000_records_then_one_dead_letter_holding_it_once(
    http: httpx.AsyncClient,
):
    """A GAP event of 2,000 ids once stored 2,000 letters each holding the whole message
    (69 MiB, 17.8 s): the message is refused as a whole, once."""
    tenant = await world()
    ids = [f"006{i:015d}" for i in range(MAX_EVENTS)]
    body = json.dumps([cdc("GAP_UPDATE", ids)]).encode()

    answer = await http.post(
        "/webhooks/salesforce/acme",
        content=body,
        headers=signed_headers(body, tenant.webhook_secret),
    )

    assert answer.status_code == 202
    [rejection] = answer.json()["rejected"]
    assert "GAP_UPDATE" in rejection["error"]
    assert len(rejection["error"]) < 300
    [letter] = await DeadLetter.all()
    assert letter.field == "changeType"
    assert len(letter.body) < 1.2 * len(body)
    assert json.loads(letter.body)["data"]["payload"]["ChangeEventHeader"]["recordIds"] == ids


async def test_given_an_update_of_many_unseen_records_then_one_dead_letter_for_them(
    http: httpx.AsyncClient,
):
    tenant = await world()
    ids = [f"006{i:015d}" for i in range(500)]
    body = json.dumps([cdc("UPDATE", ids, Amount="5.00"), cdc_created("006NEW", "k2")]).encode()

    answer = await http.post(
        "/webhooks/salesforce/acme",
        content=body,
        headers=signed_headers(body, tenant.webhook_secret),
    )

    assert answer.status_code == 202
    assert answer.json()["accepted"] == 1
    [rejection] = answer.json()["rejected"]
    assert "500 records Podium has never seen" in rejection["error"]
    assert await DeadLetter.all().count() == 1
    assert [e.event_id for e in await InboxEvent.all()] == ["sfcdc:k2:1:006NEW"]


async def test_given_records_whose_events_would_expand_past_the_limit_then_413(
    http: httpx.AsyncClient,
):
    tenant = await world()
    field = "x" * (MAX_EXPANDED_BYTES // 400 + 1)
    body = json.dumps([cdc("CREATE", [f"006{i}" for i in range(400)], Name=field)]).encode()

    answer = await http.post(
        "/webhooks/salesforce/acme",
        content=body,
        headers=signed_headers(body, tenant.webhook_secret),
    )

    assert answer.status_code == 413
    assert "fewer records per request" in answer.json()["error"]["message"]
    assert await stored() == (0, 0)


async def test_given_many_changes_to_a_large_record_then_413_before_storing_them(
    http: httpx.AsyncClient,
):
    """Each HubSpot change is laid over the whole deal: 999 one-property changes of a deal
    with a 30 KB field would store 30 MB from a 200 KB body. (The deal's name: a mapped field
    is kept, and each event is a dead letter holding it; an unmapped one is left out.)"""
    tenant = await world()
    created = hubspot_created(1, 77)
    created["properties"]["dealname"] = "x" * 30_000
    changes = [
        {
            "eventId": 1 + i,
            "occurredAt": created["occurredAt"] + i,
            "subscriptionType": "deal.propertyChange",
            "objectId": 77,
            "propertyName": "amount",
            "propertyValue": f"{i}.00",
        }
        for i in range(1, MAX_EVENTS)
    ]
    body = json.dumps([created, *changes]).encode()
    path = "/webhooks/hubspot/acme"

    answer = await http.post(
        path, content=body, headers=hubspot_headers(tenant.webhook_secret, path, body)
    )

    assert len(body) < 300_000
    assert answer.status_code == 413
    assert "fewer events per request" in answer.json()["error"]["message"]
    assert await stored() == (0, 0)


# --- SOAP ----------------------------------------------------------------------------------

ENTITIES = (
    '<!DOCTYPE soapenv:Envelope [<!ENTITY a "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA">'
    + "".join(
        f'<!ENTITY {n} "{("&" + p + ";") * 10}">' for p, n in zip("abcde", "bcdef", strict=True)
    )
    + "]>"
)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (
            soap(
                valid_notification("04lA", "006A").replace("75.50", "&f;"),
                prolog='<?xml version="1.0" encoding="UTF-16"?>' + ENTITIES,
            ).encode("utf-16"),
            "UTF-16 entity bomb",
        ),
        (
            soap(
                valid_notification("04lA", "006A").replace("75.50", "&f;"),
                prolog='<?xml version="1.0" encoding="UTF-16LE"?>' + ENTITIES,
            ).encode("utf-16-le"),
            "UTF-16LE without a BOM",
        ),
        (
            soap(
                valid_notification("04lA", "006A").replace("75.50", "&f;"),
                prolog='<?xml version="1.0" encoding="UTF-8"?>' + ENTITIES,
            ).encode(),
            "UTF-8 entity bomb",
        ),
        (
            soap(
                valid_notification("04lA", "006A").replace("75.50", "&x;"),
                prolog='<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
            ).encode(),
            "external entity",
        ),
        (
            soap(
                valid_notification("04lA", "006A"),
                prolog='<?xml version="1.0"?><!DOCTYPE e SYSTEM "http://127.0.0.1:9/x.dtd">',
            ).encode(),
            "external DTD",
        ),
        (
            soap(
                valid_notification("04lA", "006A"),
                prolog='<?xml version="1.0"?><!DOCTYPE e [<!ENTITY % p "x">]>',
            ).encode("utf-16"),
            "parameter entity in UTF-16",
        ),
        (b'<?xml version="1.0" encoding="ebcdic-x"?><a/>', "unknown encoding"),
        (b'<?xml version="1.0" encoding="utf-32"?><a/>', "multi-byte encoding"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
async def test_given_a_hostile_outbound_message_then_400_and_nothing_stored(
    http: httpx.AsyncClient, body: bytes, why: str
):
    tenant = await world()

    answer = await http.post(outbound_path(tenant), content=body)

    assert answer.status_code == 400, (why, answer.text)
    assert "Fault" in answer.text
    assert await stored() == (0, 0)


async def test_given_a_utf16_outbound_message_without_a_dtd_then_acknowledged(
    http: httpx.AsyncClient,
):
    tenant = await world()
    body = soap(
        valid_notification("04lU", "006U"), prolog='<?xml version="1.0" encoding="UTF-16"?>'
    ).encode("utf-16")

    answer = await http.post(outbound_path(tenant), content=body)

    assert answer.status_code == 200, answer.text
    assert "<Ack>true</Ack>" in answer.text
    assert [e.event_id for e in await InboxEvent.all()] == ["sfob:04lU"]


# --- generated bodies of each format -------------------------------------------------------

HOSTILE = [
    None,
    True,
    0,
    -1,
    10**400,
    2**63,
    "",
    "x" * 300,
    "\x00",
    "\ud800",
    "1e999999",
    "NaN",
    "١٢",
    "٢٠٢٦-10-03",
    "0000-01-01",
    "9999-12-31",
    "2026-10\n",
    "GAP_UPDATE",
    "DELETE",
    "UPDATE",
    "Opportunity",
    "User",
    OWNER,
    [],
    {},
    [[[]]],
]
JSON_VALUES = st.recursive(
    st.one_of(
        st.sampled_from(HOSTILE),
        st.text(max_size=10),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SLOWEST_ALLOWED = 1.0  # seconds: the bound for any request of the fuzz


def _mutated(document: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    """A deep copy of ``document`` with the value at ``path`` replaced."""
    out = json.loads(json.dumps(document))
    target = out
    for key in path[:-1]:
        if not isinstance(target.get(key), dict):
            target[key] = {}
        target = target[key]
    target[path[-1]] = value
    return out


class Sender:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.n = 0
        self.slowest = 0.0

    def next_id(self) -> int:
        self.n += 1
        return self.n

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        started = time.perf_counter()
        answer = await self.http.post(path, content=body, headers=headers)
        self.slowest = max(self.slowest, time.perf_counter() - started)
        assert answer.status_code < 500, answer.text
        assert self.slowest < SLOWEST_ALLOWED, (self.slowest, body[:200])
        return answer


async def landed(event_id: str) -> bool:
    return await InboxEvent.filter(event_id=event_id).exists()


@pytest.fixture
async def sender(http: httpx.AsyncClient) -> Sender:
    await world()
    return Sender(http)


@FUZZ
@given(
    garbage=st.lists(JSON_VALUES, max_size=4),
    hostile_events=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    ["id"],
                    ["type"],
                    ["data", "amount"],
                    ["data", "date"],
                    ["data", "rep_id"],
                    ["data", "version"],
                    ["data", "splits"],
                    ["data", "fields"],
                    ["occurred_at"],
                ]
            ),  # fmt: skip
            JSON_VALUES,
        ),
        max_size=3,
    ),
    position=st.integers(0, 8),
)
async def test_given_generated_generic_batches_then_no_5xx_and_the_valid_event_lands(
    sender: Sender, garbage: list[Any], hostile_events: list[Any], position: int
):
    tenant = await Tenant.get(slug="acme")
    n = sender.next_id()
    valid = deal(f"ok-{n}", f"opp-{n}", amount="12.50")
    events: list[Any] = [*garbage]
    events += [
        _mutated(deal(f"h-{n}-{i}", f"opp-h-{n}"), p, v) for i, (p, v) in enumerate(hostile_events)
    ]
    events.insert(min(position, len(events)), valid)
    body = json.dumps({"events": events}).encode()

    answer = await sender.post(
        "/webhooks/crm/acme", body, signed_headers(body, tenant.webhook_secret)
    )

    assert answer.status_code == 202, answer.text
    counts = answer.json()
    assert counts["accepted"] + counts["duplicates"] + len(counts["rejected"]) == len(events)
    assert await landed(f"ok-{n}")


@FUZZ
@given(
    garbage=st.lists(JSON_VALUES, max_size=3),
    hostile=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    ["data", "payload", "ChangeEventHeader", k]
                    for k in (
                        "changeType",
                        "recordIds",
                        "commitTimestamp",
                        "sequenceNumber",
                        "entityName",
                        "changedFields",
                        "transactionKey",
                    )
                ]
                + [["data", "payload", k] for k in ("Amount", "CloseDate", "OwnerId", "StageName")]
                + [["data", "event"], ["data"]]
            ),  # fmt: skip
            JSON_VALUES,
        ),
        max_size=3,
    ),
    wrapped=st.booleans(),
)
async def test_given_generated_salesforce_cdc_bodies_then_no_5xx_and_the_valid_event_lands(
    sender: Sender, garbage: list[Any], hostile: list[Any], wrapped: bool
):
    tenant = await Tenant.get(slug="acme")
    n = sender.next_id()
    messages: list[Any] = [*garbage]
    for i, (path, value) in enumerate(hostile):
        messages.append(_mutated(cdc_created(f"006H{n}x{i}", f"h{n}x{i}"), path, value))
    messages.append(cdc_created(f"006OK{n}", f"ok{n}"))
    document: Any = {"events": messages} if wrapped else messages
    body = json.dumps(document).encode()

    answer = await sender.post(
        "/webhooks/salesforce/acme", body, signed_headers(body, tenant.webhook_secret)
    )

    assert answer.status_code == 202, answer.text
    assert await landed(f"sfcdc:ok{n}:1:006OK{n}")


@FUZZ
@given(
    garbage=st.lists(JSON_VALUES, max_size=3),
    hostile=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    ["eventId"],
                    ["occurredAt"],
                    ["subscriptionType"],
                    ["objectId"],
                    ["propertyName"],
                    ["propertyValue"],
                    ["properties"],
                    ["properties", "amount"],
                    ["properties", "closedate"],
                    ["properties", "hubspot_owner_id"],
                ]
            ),  # fmt: skip
            JSON_VALUES,
        ),
        max_size=3,
    ),
)
async def test_given_generated_hubspot_bodies_then_no_5xx_and_the_valid_event_lands(
    sender: Sender, garbage: list[Any], hostile: list[Any]
):
    tenant = await Tenant.get(slug="acme")
    n = sender.next_id()
    events: list[Any] = [*garbage]
    for i, (path, value) in enumerate(hostile):
        events.append(
            _mutated(hubspot_created(10_000 * n + i + 1, 10_000 * n + i + 1), path, value)
        )
    events.append(hubspot_created(10_000 * n, 10_000 * n))
    body = json.dumps(events).encode()
    path = "/webhooks/hubspot/acme"

    answer = await sender.post(path, body, hubspot_headers(tenant.webhook_secret, path, body))

    assert answer.status_code == 202, answer.text
    assert await landed(f"hs:{10_000 * n}")


XML_TEXT = st.one_of(
    st.sampled_from(
        [h for h in HOSTILE if isinstance(h, str) and "\x00" not in h and "\ud800" not in h]
    ),
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\t\n<>&'\""),
        max_size=12,
    ),
)


@FUZZ
@given(
    hostile=st.lists(
        st.tuples(
            st.dictionaries(
                st.sampled_from(
                    [
                        "Id",
                        "Amount",
                        "CloseDate",
                        "OwnerId",
                        "StageName",
                        "SystemModstamp",
                        "CurrencyIsoCode",
                        "Name",
                    ]
                ),  # fmt: skip
                XML_TEXT,
                max_size=4,
            ),
            XML_TEXT,
            st.sampled_from(["Opportunity", "User", "Account", ""]),
        ),
        max_size=4,
    ),
    utf16=st.booleans(),
)
async def test_given_generated_outbound_messages_then_no_5xx_and_the_valid_event_lands(
    sender: Sender, hostile: list[Any], utf16: bool
):
    tenant = await Tenant.get(slug="acme")
    n = sender.next_id()
    items = [notification(nid, fields, kind) for fields, nid, kind in hostile]
    items.append(valid_notification(f"04lOK{n}", f"006OB{n}"))
    encoding = "UTF-16" if utf16 else "UTF-8"
    text = soap(*items, prolog=f'<?xml version="1.0" encoding="{encoding}"?>')
    body = text.encode("utf-16" if utf16 else "utf-8")

    answer = await sender.post(outbound_path(tenant), body, {"content-type": "text/xml"})

    assert answer.status_code == 200, answer.text
    assert await landed(f"sfob:04lOK{n}")
