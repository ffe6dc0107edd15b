"""1,000 malformed or hostile requests against the real app (ASGI, its lifespan running),
interleaved with valid signed events: never a 5xx, every valid event accepted and applied by
a real arq worker, every invalid one refused (400/401/413) or dead-lettered with its reason.

The payloads come from a seeded generator (deterministic): truncated and deeply nested JSON,
wrong envelopes, wrong types in every field, huge numbers (1e400, 10**400, "1e999999"),
NaN/Infinity, unicode, NUL characters and lone surrogates, very long ids, duplicate keys,
unknown reps, bad/missing/expired signatures, oversized bodies, more events than one request
may carry, hostile tenant paths, and the same against the Salesforce CDC, Salesforce Outbound
Message (SOAP: DTDs and entities in UTF-8 and UTF-16) and HubSpot endpoints.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

import httpx

import domain.earnings.service as earnings_service
from api.webhooks.signatures import hubspot_signature, outbound_url_secret, podium_signature
from domain.crm.models import Transaction
from domain.earnings.models import EarningsResult
from domain.ingest.events import MAX_EVENTS
from domain.ingest.mapping import set_field_mapping
from domain.ingest.models import DeadLetter, InboxEvent, InboxStatus, RecomputeRequest
from domain.tenants.models import Tenant
from tests.domain.builders import (
    assign,
    make_tenant,
    make_user,
    plan_yaml,
    publish_plan,
    system_viewer,
)
from tests.workers.ingest_helpers import Burst, deal, rep_event

SEED = 20261123
TOTAL = 1000
CRM = "/webhooks/crm/acme"
BASE_URL = "http://podium.test"
MIB = 1024 * 1024
ORG = "00DRM000000XyZ1"

# hostile values put in place of one field of an otherwise valid event
HOSTILE_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    10**400,
    2**63,
    "",
    " ",
    "x" * 201,
    "x" * 20_000,
    "\x00",
    "opp\x00-1",
    "\ud800",
    "a\udfffb",
    "é🎉\u202e",
    "1e999999",
    "-1e999999",
    "NaN",
    "Infinity",
    "-Infinity",
    "sNaN",
    "1.0000001",
    "123456789012345",
    "2026-02-30",
    "9999-99-99",
    "2026-10-03T25:00:00",
    "EURO",
    "xxx",
    [],
    {},
    [[[[]]]],
    {"rep_id": "ana", "share": "1"},
    [{"rep_id": "ana", "share": "0.5"}],
    [{"rep_id": "ana", "share": "0.5"}, {"rep_id": "ana", "share": "0.5"}],
    [{"rep_id": "zoe", "share": "1"}],
    [{"rep_id": "ana", "share": "NaN"}],
    {"nested": {"deep": [1, 2]}},
    {"k\x00": 1},
    {"big": 10**400},
    "zoe",
]
# JSON tokens Python would not write from a value: put in place of a field as raw text
RAW_TOKENS = [
    "1e400",
    "-1e400",
    "1e999999999",
    "1E-999999999",
    "NaN",
    "Infinity",
    "-Infinity",
    "10" + "0" * 400,
    "1" * 5000,
    "0.1e1",
    '"\\u0000"',
    '"\\ud800"',
    '"\\udc00\\ud800"',
]
TRANSACTION_PATHS = [
    ("id",),
    ("type",),
    ("occurred_at",),
    ("data",),
    ("data", "id"),
    ("data", "rep_id"),
    ("data", "type"),
    ("data", "amount"),
    ("data", "currency"),
    ("data", "date"),
    ("data", "state"),
    ("data", "version"),
    ("data", "splits"),
    ("data", "fields"),
    ("data", "fields", "category"),
    ("data", "unexpected"),
]
REP_PATHS = [
    ("data", "name"),
    ("data", "email"),
    ("data", "manager_id"),
    ("data", "hire_date"),
    ("data", "end_date"),
    ("data", "locale"),
    ("data", "country"),
    ("data", "version"),
]


@dataclass
class Sent:
    """One request and what the receiver may answer."""

    path: str
    content: bytes | Callable[[], AsyncIterator[bytes]]
    headers: dict[str, Any]
    allowed: set[int]
    what: str
    valid_ids: list[str] = field(default_factory=list)  # events that must be applied
    event_count: int | None = None  # a generic batch: the answer's counts must add up


def _not_a_number(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _event_count(body: bytes) -> int | None:
    """How many events a batch holds, or None when it is not strict JSON (NaN, Infinity or
    an integer of more than 4,300 digits, which the raw tokens can produce): a 400."""
    try:
        document = json.loads(body, parse_float=Decimal, parse_constant=_not_a_number)
    except ValueError:
        return None
    return len(document["events"])


class Hostile:
    """The seeded generator of requests."""

    def __init__(self, secret: str, seed: int = SEED) -> None:
        self.secret = secret
        self.rng = random.Random(seed)
        self.n = 0
        self.sent_bodies: list[bytes] = []

    def _id(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}-{self.n}"

    def sign(self, body: bytes, *, at: int | None = None, secret: str | None = None) -> str:
        return podium_signature(secret or self.secret, body, int(time.time()) if at is None else at)

    def signed(self, body: bytes) -> dict[str, Any]:
        return {"content-type": "application/json", "podium-signature": self.sign(body)}

    # --- valid events ------------------------------------------------------------------------

    def valid_deal(self) -> dict[str, Any]:
        rng = self.rng
        event_id = self._id("ok")
        amount = f"{rng.randint(1, 99_999)}.{rng.randint(0, 99):02d}"
        splits = None
        if rng.random() < 0.3:
            splits = [{"rep_id": "ana", "share": "0.6"}, {"rep_id": "ben", "share": "0.4"}]
        return deal(
            event_id,
            f"opp-{event_id}",
            rep=rng.choice(["ana", "ben"]),
            amount=amount,
            on=rng.choice(["2026-10-03", "2026-10-28", "2026-11-12"]),
            version=rng.randint(1, 5),
            splits=splits,
            fields={"category": rng.choice(["solar", "wind", "ünïcödé 🎉"])},
        )

    # --- hostile events ----------------------------------------------------------------------

    def hostile_event(self) -> tuple[dict[str, Any], dict[str, str]]:
        """A valid event with one field replaced by a hostile value, and the raw JSON tokens
        to substitute for placeholders once it is serialised."""
        rng = self.rng
        raw: dict[str, str] = {}
        if rng.random() < 0.25:
            event = rep_event(
                self._id("h"), f"rep-{self.n}", name="New Rep", hire_date="2026-01-01"
            )
            path = rng.choice(REP_PATHS)
        else:
            event = deal(self._id("h"), f"opp-h-{self.n}", amount="100.00")
            path = rng.choice(TRANSACTION_PATHS)
        if rng.random() < 0.3:
            token = rng.choice(RAW_TOKENS)
            placeholder = f"__raw_{self.n}__"
            raw[json.dumps(placeholder)] = token
            value: Any = placeholder
        else:
            value = rng.choice(HOSTILE_VALUES)
        target = event
        for key in path[:-1]:
            if not isinstance(target.get(key), dict):
                target[key] = {}
            target = target[key]
        target[path[-1]] = value
        return event, raw

    def batch_body(self, events: list[Any], raw: dict[str, str]) -> bytes:
        text = json.dumps({"events": events})
        for placeholder, token in raw.items():
            text = text.replace(placeholder, token)
        return text.encode()

    def event_batch(self) -> Sent:
        """Hostile events (and non-objects) mixed with valid ones: 202, each counted."""
        rng = self.rng
        events: list[Any] = []
        raw: dict[str, str] = {}
        valid: list[str] = []
        for _ in range(rng.randint(1, 5)):
            roll = rng.random()
            if roll < 0.35:
                event = self.valid_deal()
                valid.append(event["id"])
                events.append(event)
            elif roll < 0.45:
                events.append(rng.choice([5, "event", None, [], [1, 2], True, 1.5]))
            elif roll < 0.55:
                # an unknown rep, credited or split
                event = deal(self._id("h"), f"opp-h-{self.n}", rep="zoe-" + str(self.n))
                events.append(event)
            else:
                event, tokens = self.hostile_event()
                raw.update(tokens)
                events.append(event)
        body = self.batch_body(events, raw)
        count = _event_count(body)
        allowed = {400} if count is None else {202}
        self.sent_bodies.append(body)
        return Sent(CRM, body, self.signed(body), allowed, "event batch", valid, count)

    # --- whole requests ----------------------------------------------------------------------

    def malformed(self) -> Sent:
        rng = self.rng
        good = self.batch_body([deal(self._id("m"), "opp-m")], {})
        depth = rng.choice([33, 100, 1000, 5000, 100_000])
        bodies = [
            good[: rng.randint(0, len(good) - 1)],  # truncated
            b"[" * depth + b"]" * depth,
            b'{"events": ' + b"[" * depth + b"]" * depth + b"}",
            b'{"events": [' + b'{"a":' * depth + b"1" + b"}" * depth + b"]}",
            b"",
            b"null",
            b"42",
            b'"events"',
            b"[]",
            b'{"events": {}}',
            b'{"events": "all"}',
            b'{"events": null}',
            b'{"events": [], "extra": 1}',
            b'{"Events": []}',
            b'{"events": [], "events": 5}',  # duplicate keys: the last one wins
            b'{"events": [NaN]}',
            b'{"events": [Infinity]}',
            b'{"events": [1e400, -Infinity]}',
            b'{"events": [' + b"1" * 5000 + b"]}",
            b"\xff\xfe\x00\x00garbage",
            b'{"events": ["\xc3\x28"]}',  # invalid UTF-8
            bytes(rng.randrange(256) for _ in range(rng.randint(1, 300))),
            b'{"events": [}',
            b"{'events': []}",
            b'{"events": []} trailing',
            '{"events": ["\u0000"]'.encode(),
        ]
        body = rng.choice(bodies)
        return Sent(CRM, body, self.signed(body), {400}, f"malformed {body[:40]!r}")

    def bad_signature(self) -> Sent:
        rng = self.rng
        event = self.valid_deal()  # never accepted: its id is not expected anywhere
        body = self.batch_body([event], {})
        now = int(time.time())
        mac = self.sign(body).split("v1=")[1]
        headers: list[Any] = [
            None,
            "",
            self.sign(body, secret="not-the-secret"),
            self.sign(body, at=now - 301),
            self.sign(body, at=now - 10**6),
            # Far past the 300 s bound: the request is sent a while after it is made, and a
            # timestamp just past the bound ahead of time comes back within it (the bounds
            # themselves: test_signatures.py).
            self.sign(body, at=now + 600),
            self.sign(body + b" "),
            f"t={now}",
            f"v1={mac}",
            f"t=abc,v1={mac}",
            f"t={now},v1=",
            f"t={now},v1=zz",
            f"t={'9' * 5000},v1={mac}",
            f"t=-{now},v1={mac}",
            b"t=\xb2,v1=" + mac.encode(),  # a superscript two: isdigit() says yes
            f"t={now},v1=".encode() + "é".encode("latin-1") * 64,
            f"t={now},v1={mac[:-1]}\u00e9".encode("latin-1"),
            ",,,,=,=,t=,v1",
            f"t={now},v1={mac.upper()}",
            " " * 8000,
        ]
        header = rng.choice(headers)
        sent = {"content-type": "application/json"}
        if header is not None:
            sent["podium-signature"] = header
        return Sent(CRM, body, sent, {401}, f"bad signature {str(header)[:60]}")

    def hostile_path(self) -> Sent:
        rng = self.rng
        body = self.batch_body([deal(self._id("p"), "opp-p")], {})
        path = rng.choice(
            [
                "/webhooks/crm/nobody",
                "/webhooks/crm/%00",
                "/webhooks/crm/acme%00",
                "/webhooks/crm/" + "a" * 5000,
                "/webhooks/crm/%F0%9F%8E%89",
                "/webhooks/crm/%ED%A0%80",  # an encoded lone surrogate
                "/webhooks/crm/ACME",
                "/webhooks/salesforce/%00",
                "/webhooks/hubspot/%00",
                "/webhooks/salesforce/%00/outbound/x",
                "/webhooks/salesforce/acme/outbound/%00",
            ]
        )
        return Sent(path, body, self.signed(body), {401}, f"path {path[:60]}")

    def oversized(self) -> Sent:
        rng = self.rng
        padding = b" " * (MIB + rng.randint(1, 5000))
        body = b'{"events": []' + padding + b"}"
        if rng.random() < 0.5:
            return Sent(CRM, body, self.signed(body), {413}, "oversized")

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(body), 64 * 1024):
                yield body[start : start + 64 * 1024]

        # streamed: no Content-Length to refuse early
        return Sent(CRM, chunks, self.signed(body), {413}, "oversized, streamed")

    def replay(self) -> Sent:
        """A body sent before, sent again (a CRM's redelivery): duplicates, changing nothing."""
        body = self.rng.choice(self.sent_bodies)
        count = _event_count(body)
        allowed = {400} if count is None else {202}
        return Sent(CRM, body, self.signed(body), allowed, "replayed batch", [], count)

    def salesforce(self) -> Sent:
        rng = self.rng
        documents: list[Any] = [
            [],
            {},
            {"data": None},
            {"data": {"payload": {"ChangeEventHeader": {"recordIds": ["\x00"]}}}},
            {"data": {"payload": {"ChangeEventHeader": {"recordIds": [["x"]] * 3}}}},
            {
                "data": {
                    "payload": {
                        "ChangeEventHeader": {
                            "entityName": "Opportunity",
                            "recordIds": ["006" + "x" * 500],
                            "changeType": rng.choice(["CREATE", "UPDATE", "DELETE", "GAP_X", 5]),
                            "commitTimestamp": rng.choice([10**400, "x", None, -1]),
                        },
                        "Amount": rng.choice(HOSTILE_VALUES),
                        "OwnerId": rng.choice(HOSTILE_VALUES),
                        "CloseDate": rng.choice(HOSTILE_VALUES),
                    },
                    "event": {"replayId": rng.choice(HOSTILE_VALUES)},
                }
            },
            {"events": [rng.choice(HOSTILE_VALUES) for _ in range(3)]},
        ]
        body = json.dumps(rng.choice(documents)).encode()
        if rng.random() < 0.2:
            body = b"[" * 5000 + b"]" * 5000
        path = "/webhooks/salesforce/acme"
        return Sent(path, body, self.signed(body), {202, 400}, f"salesforce {body[:60]!r}")

    def hubspot(self) -> Sent:
        rng = self.rng
        events: Any = [
            {
                "eventId": rng.choice(HOSTILE_VALUES),
                "subscriptionType": rng.choice(
                    ["deal.creation", "deal.propertyChange", "deal.deletion", "x", None]
                ),
                "objectId": rng.choice(HOSTILE_VALUES),
                "propertyName": rng.choice(["amount", "closedate", "dealstage", None, 5]),
                "propertyValue": rng.choice(HOSTILE_VALUES),
                "occurredAt": rng.choice([10**400, "x", None, 1793700000000]),
            }
            for _ in range(rng.randint(1, 3))
        ]
        if rng.random() < 0.2:
            events = rng.choice([{}, None, "x", {"events": []}])
        body = json.dumps(events).encode()
        path = "/webhooks/hubspot/acme"
        timestamp = str(int(time.time() * 1000))
        if rng.random() < 0.3:
            headers = {
                "x-hubspot-signature-v3": rng.choice([b"", b"x", "é".encode("latin-1")]),
                "x-hubspot-request-timestamp": rng.choice(
                    [timestamp.encode(), "²".encode("latin-1"), b"9" * 5000, b""]
                ),
            }
            allowed = {401}
        else:
            headers = {
                "x-hubspot-signature-v3": hubspot_signature(
                    self.secret, "POST", BASE_URL + path, body, timestamp
                ),
                "x-hubspot-request-timestamp": timestamp,
            }
            allowed = {202, 400}
        headers["content-type"] = "application/json"
        return Sent(path, body, headers, allowed, f"hubspot {body[:60]!r}")

    def outbound(self) -> Sent:
        """Salesforce Outbound Messages: hostile field values, DTDs and entities in UTF-8
        and UTF-16, broken XML, too many notifications."""
        rng = self.rng
        nid = self._id("ob")
        value = rng.choice([v for v in HOSTILE_VALUES if isinstance(v, str)])
        value = value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
        item = (
            f'<Notification><Id>{nid}</Id><sObject xsi:type="sf:Opportunity" '
            'xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
            f"<sf:Id>006{nid}</sf:Id><sf:Amount>{escape(value)}</sf:Amount>"
            f"<sf:OwnerId>ana</sf:OwnerId><sf:CloseDate>{escape(value)}</sf:CloseDate>"
            "</sObject></Notification>"
        )
        count = rng.choice([1, 1, 1, 101])
        prolog = rng.choice(
            [
                '<?xml version="1.0" encoding="UTF-8"?>',
                '<?xml version="1.0" encoding="UTF-16"?>',
                '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "aaaa">]>',
                '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
            ]
        )
        text = (
            f'{prolog}<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'
            ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
            '<notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
            f"<OrganizationId>{ORG}</OrganizationId>{item * count}"
            "</notifications></soapenv:Body></soapenv:Envelope>"
        )
        if "ENTITY" in prolog:
            text = text.replace(
                "</sf:Amount>", "&a;</sf:Amount>" if "aaaa" in prolog else "&e;</sf:Amount>"
            )
        body = text.encode("utf-16" if "UTF-16" in prolog else "utf-8")
        allowed = {400} if "ENTITY" in prolog else {413} if count > 100 else {200, 400}
        if rng.random() < 0.1:
            body = body[: rng.randint(0, len(body) - 1)]  # cut short: malformed
            allowed = {400}
        path = f"/webhooks/salesforce/acme/outbound/{outbound_url_secret(self.secret)}"
        return Sent(path, body, {"content-type": "text/xml"}, allowed, f"outbound {body[:60]!r}")

    def too_many(self) -> Sent:
        """More events than one request may carry: 413 naming the limit, nothing stored."""
        body = json.dumps({"events": [0] * (MAX_EVENTS + self.rng.randint(1, 50))}).encode()
        return Sent(CRM, body, self.signed(body), {413}, "too many events")

    def next(self) -> Sent:
        kinds: list[tuple[float, Callable[[], Sent]]] = [
            (0.40, self.event_batch),
            (0.17, self.malformed),
            (0.12, self.bad_signature),
            (0.06, self.hostile_path),
            (0.02, self.oversized),
            (0.05, self.replay),
            (0.07, self.salesforce),
            (0.06, self.hubspot),
            (0.04, self.outbound),
            (0.01, self.too_many),
        ]
        roll = self.rng.random()
        for weight, make in kinds:
            if roll < weight:
                if make == self.replay and not self.sent_bodies:
                    return self.event_batch()
                return make()
            roll -= weight
        return self.event_batch()


async def _world() -> Tenant:
    tenant = await make_tenant(slug="acme")
    ana = await make_user(tenant=tenant, external_id="ana")
    ben = await make_user(tenant=tenant, external_id="ben")
    plan = await publish_plan(
        tenant=tenant, document=plan_yaml(rate="0.05"), effective_from="2026-01-01"
    )
    await assign(user=ana, plan=plan, effective_from="2026-01-01")
    await assign(user=ben, plan=plan, effective_from="2026-01-01")
    await set_field_mapping(
        viewer=system_viewer(tenant), source="salesforce", mapping={"organization_id": ORG}
    )
    return tenant


async def test_given_1000_hostile_requests_among_valid_events_then_no_5xx_and_no_valid_event_lost(
    http: httpx.AsyncClient, burst: Burst
):
    tenant = await _world()
    generator = Hostile(tenant.webhook_secret)
    valid: list[str] = []
    rejected_with_id: dict[str, str] = {}
    rejected_without_id = 0
    statuses: dict[int, int] = {}

    for _ in range(TOTAL):
        sent = generator.next()
        content = sent.content() if callable(sent.content) else sent.content
        response = await http.post(sent.path, content=content, headers=sent.headers)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert response.status_code < 500, (sent.what, response.text)
        assert response.status_code in sent.allowed, (
            sent.what,
            response.status_code,
            response.text,
        )
        if response.status_code != 202 or sent.path != CRM:
            continue
        answer = response.json()
        if sent.event_count is not None:
            assert (
                answer["accepted"] + answer["duplicates"] + len(answer["rejected"])
                == sent.event_count
            ), sent.what
        valid += sent.valid_ids
        for rejection in answer["rejected"]:
            assert rejection["error"], rejection
            assert rejection["id"] not in sent.valid_ids, rejection
            if rejection["id"] is None:
                rejected_without_id += 1
            else:
                rejected_with_id[rejection["id"]] = rejection["error"]

    await burst()

    # every request category was exercised, and refused the way it should be
    assert {400, 401, 413, 202} <= set(statuses), statuses
    assert sum(statuses.values()) == TOTAL
    assert len(valid) > 100
    # none lost: every valid event is in the inbox, applied, and its transaction stored
    stored = {e.event_id: e for e in await InboxEvent.filter(tenant_id=tenant.id)}
    assert [v for v in valid if v not in stored] == []
    assert [v for v in valid if stored[v].status is not InboxStatus.APPLIED] == []
    records = [f"opp-{v}" for v in valid]
    kept = await Transaction.filter(
        tenant_id=tenant.id, external_id__in=records, deleted=False
    ).values_list("external_id", flat=True)
    assert sorted(records) == sorted(str(k) for k in kept)
    # nothing left half done: no event pending, no recompute waiting
    assert [e.event_id for e in stored.values() if e.status is InboxStatus.PENDING] == []
    assert await RecomputeRequest.filter(tenant_id=tenant.id).count() == 0
    # every rejection is a dead letter with its reason, and an event the worker refused too
    letters = await DeadLetter.filter(tenant_id=tenant.id)
    by_event = {letter.event_id: letter for letter in letters if letter.event_id}
    for event_id in rejected_with_id:
        assert event_id in by_event, event_id
        assert by_event[event_id].reason, event_id
    assert sum(1 for letter in letters if letter.event_id is None) >= rejected_without_id
    for event in stored.values():
        if event.status is InboxStatus.DEAD:
            assert event.event_id in by_event, event.event_id
            assert event.outcome, event.event_id
    # the stored earnings are what a fresh recompute over the final data gives
    before = await _totals(tenant)
    assert before
    assert all(r.status == "ok" for r in await EarningsResult.filter(tenant_id=tenant.id))
    for user_id, period in before:
        await earnings_service.recompute_rep_period(
            viewer=system_viewer(tenant), user_id=user_id, period=period
        )
    assert await _totals(tenant) == before


async def _totals(tenant: Tenant) -> dict[tuple[Any, str], tuple[Decimal, Decimal, Decimal]]:
    return {
        (r.user_id, r.period): (Decimal(r.total), Decimal(r.payable), Decimal(r.pending))
        for r in await EarningsResult.filter(tenant_id=tenant.id)
    }
