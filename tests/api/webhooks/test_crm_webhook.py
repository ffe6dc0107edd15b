"""POST /webhooks/crm/{tenant}: authentic, durable before 202, exactly-once, contained."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from redis.asyncio import Redis

from api.observability import configure_logging
from domain.crm.models import Transaction
from domain.ingest.models import InboxStatus
from domain.kit.clock import utc_now
from domain.org.models import User
from tests.domain.builders import count_rows, make_tenant, make_user
from tests.workers.ingest_helpers import (
    Burst,
    body_of,
    dead_letters,
    deal,
    inbox,
    rep_event,
    signed_headers,
)

URL = "/webhooks/crm/acme"


async def _setup():
    tenant = await make_tenant(slug="acme")
    await make_user(tenant=tenant, external_id="ana")
    await make_user(tenant=tenant, external_id="ben")
    return tenant


async def test_given_a_signed_batch_when_posted_then_202_and_every_event_committed_and_queued(
    queue_name: str, http: httpx.AsyncClient, redis: Redis
):
    tenant = await _setup()
    body = body_of(deal("e1", "opp-1"), deal("e2", "opp-2", rep="ben", amount="10.50"))

    response = await http.post(
        URL, content=body, headers=signed_headers(body, tenant.webhook_secret)
    )

    assert response.status_code == 202
    assert response.json() == {"accepted": 2, "duplicates": 0, "rejected": []}
    stored = await inbox(tenant)
    assert [(e.event_id, e.status) for e in stored] == [
        ("e1", InboxStatus.PENDING),
        ("e2", InboxStatus.PENDING),
    ]
    assert json.loads(stored[1].body)["data"]["amount"] == "10.50"
    queued = await redis.zrange(queue_name, 0, -1)
    assert queued == [f"apply:{tenant.id}".encode()]  # one job drains the tenant's inbox


async def test_given_no_wrong_or_expired_signature_when_posted_then_401_and_nothing_stored(
    http: httpx.AsyncClient,
):
    tenant = await _setup()
    body = body_of(deal("e1"))
    now = int(time.time())
    secret = tenant.webhook_secret
    attempts = {
        "missing": {"content-type": "application/json"},
        "wrong secret": signed_headers(body, "not-the-secret"),
        "too old": signed_headers(body, secret, at=now - 301),
        # (well past the bound: time passes before the request arrives; test_signatures.py
        # holds the bounds themselves)
        "too far ahead": signed_headers(body, secret, at=now + 600),
        "signed another body": signed_headers(body + b" ", secret),
        "garbled": {"podium-signature": "t=abc,v1=00"},
        "no v1": {"podium-signature": f"t={now}"},
    }
    for case, headers in attempts.items():
        response = await http.post(URL, content=body, headers=headers)
        assert response.status_code == 401, case
        assert response.json()["error"]["field"] == "Podium-Signature", case
    just_in_time = await http.post(
        URL, content=body, headers=signed_headers(body, secret, at=now - 290)
    )

    assert just_in_time.status_code == 202
    assert await count_rows("dead_letters") == {"dead_letters": 0}
    assert [e.event_id for e in await inbox(tenant)] == ["e1"]


@pytest.mark.parametrize("slug", ["nobody", "x" * 64, "x" * 300, "no%00body"])
async def test_given_an_unknown_tenant_when_posted_then_the_same_401(
    http: httpx.AsyncClient, slug: str
):
    await _setup()
    body = body_of(deal("e1"))
    response = await http.post(
        f"/webhooks/crm/{slug}", content=body, headers=signed_headers(body, "whatever")
    )
    assert response.status_code == 401


async def test_given_a_rotated_secret_when_signed_with_the_old_one_then_accepted_only_in_grace(
    http: httpx.AsyncClient,
):
    tenant = await _setup()
    old = tenant.webhook_secret
    tenant.webhook_secret_previous = old
    tenant.webhook_secret = "the-new-secret"
    tenant.webhook_secret_rotated_at = utc_now() - timedelta(hours=1)
    await tenant.save()

    by_new = body_of(deal("e-new", "opp-1"))
    by_old = body_of(deal("e-old", "opp-2"))
    assert (
        await http.post(URL, content=by_new, headers=signed_headers(by_new, "the-new-secret"))
    ).status_code == 202
    assert (
        await http.post(URL, content=by_old, headers=signed_headers(by_old, old))
    ).status_code == 202

    tenant.webhook_secret_rotated_at = utc_now() - timedelta(days=2)
    await tenant.save()
    late = body_of(deal("e-late", "opp-3"))
    assert (
        await http.post(URL, content=late, headers=signed_headers(late, old))
    ).status_code == 401
    assert [e.event_id for e in await inbox(tenant)] == ["e-new", "e-old"]


async def test_given_a_body_over_1_mib_when_posted_then_413_even_if_content_length_lies(
    http: httpx.AsyncClient,
):
    tenant = await _setup()
    big = body_of(deal("e1", fields={"note": "x" * (1024 * 1024)}))
    headers = signed_headers(big, tenant.webhook_secret)

    honest = await http.post(URL, content=big, headers=headers)

    async def chunks():
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    # streamed without a Content-Length: only reading with a cap can catch it
    streamed = await http.post(URL, content=chunks(), headers=headers)

    assert honest.status_code == 413
    assert streamed.status_code == 413
    assert "content-length" not in streamed.request.headers
    assert await count_rows("inbox_events") == {"inbox_events": 0}


async def test_given_malformed_json_or_a_wrong_envelope_when_posted_then_400_naming_the_field(
    http: httpx.AsyncClient,
):
    tenant = await _setup()
    cases = {
        b"{not json": "body",
        b"[1, 2]": "body",
        b'{"events": {"id": "x"}}': "events",
        b'{"evnts": []}': "events",
        b'{"events": [], "extra": 1}': "extra",
        b'{"events": [{"amount": NaN}]}': "body",
    }
    for body, field in cases.items():
        response = await http.post(
            URL, content=body, headers=signed_headers(body, tenant.webhook_secret)
        )
        assert response.status_code == 400, body
        assert response.json()["error"]["field"] == field, body
    assert await count_rows("inbox_events", "dead_letters") == {
        "inbox_events": 0,
        "dead_letters": 0,
    }


async def test_given_an_event_seen_before_when_sent_again_then_a_duplicate_changing_nothing(
    http: httpx.AsyncClient,
):
    tenant = await _setup()
    first = body_of(deal("e1"), deal("e1"))
    again = body_of(deal("e1", amount="999"), deal("e2", "opp-2"))

    one = await http.post(URL, content=first, headers=signed_headers(first, tenant.webhook_secret))
    two = await http.post(URL, content=again, headers=signed_headers(again, tenant.webhook_secret))

    assert one.json() == {"accepted": 1, "duplicates": 1, "rejected": []}
    assert two.json() == {"accepted": 1, "duplicates": 1, "rejected": []}
    stored = await inbox(tenant)
    assert [e.event_id for e in stored] == ["e1", "e2"]
    assert json.loads(stored[0].body)["data"]["amount"] == "40000.00"


async def test_given_a_mixed_batch_when_posted_then_invalid_events_dead_lettered_others_accepted(
    http: httpx.AsyncClient,
):
    tenant = await _setup()
    body = body_of(
        deal("ok-1", "opp-1"),
        deal("bad-rep", "opp-2", rep="zoe"),
        deal("bad-amount", "opp-3", amount="12,5"),
        deal("float-amount", "opp-4", amount=True),
        deal(
            "bad-shares",
            "opp-5",
            splits=[{"rep_id": "ana", "share": "0.6"}, {"rep_id": "ben", "share": "0.3"}],
        ),
        deal("bad-currency", "opp-6", currency="XYZ"),
        deal("bad-date", "opp-7", on="03/10/2026"),
        {"id": "bad-type", "type": "transaction.upserted", "data": {"id": 7}},
        "not an object",
        rep_event("new-rep", "zed", name="Zed", manager_id="ana"),
        deal("ok-for-new-rep", "opp-8", rep="zed"),
    )

    response = await http.post(
        URL, content=body, headers=signed_headers(body, tenant.webhook_secret)
    )

    assert response.status_code == 202
    answer = response.json()
    assert answer["accepted"] == 3
    assert answer["duplicates"] == 0
    assert [(r["index"], r["id"]) for r in answer["rejected"]] == [
        (1, "bad-rep"),
        (2, "bad-amount"),
        (3, "float-amount"),
        (4, "bad-shares"),
        (5, "bad-currency"),
        (6, "bad-date"),
        (7, "bad-type"),
        (8, None),
    ]
    errors = [r["error"] for r in answer["rejected"]]
    assert errors[0] == "data.rep_id: unknown rep 'zoe'"
    assert errors[1].startswith("data.amount: '12,5' is not a decimal number")
    assert errors[2].startswith("data.amount: must be a decimal number")
    assert errors[3] == "data.splits: shares add up to 0.9, not 1"
    assert errors[4] == "data.currency: 'XYZ' is not an ISO 4217 currency code"
    assert errors[5].startswith("data.date:")
    assert errors[6] == "data.id: must be a string, not a number"
    assert errors[7] == "event: must be an object"
    letters = await dead_letters(tenant)
    assert [(d.event_id, d.position, d.field) for d in letters][:2] == [
        ("bad-rep", 1, "data.rep_id"),
        ("bad-amount", 2, "data.amount"),
    ]
    assert len(letters) == 8
    assert [e.event_id for e in await inbox(tenant)] == ["ok-1", "new-rep", "ok-for-new-rep"]


async def test_given_a_batch_with_a_manager_cycle_and_unstorable_values_then_only_they_refused(
    burst: Burst, http: httpx.AsyncClient, redis_url: str
):
    """What was accepted and then could never be stored (a date of 9999-12-31, a 3,000-letter
    field), or was stored and broke the hierarchy (boss under ana, who reports to boss), is
    refused naming its field; the rest of the batch applies."""
    tenant = await _setup()
    await make_user(tenant=tenant, external_id="boss")
    await User.filter(tenant_id=tenant.id, external_id="ana").update(
        manager_id=(await User.get(tenant_id=tenant.id, external_id="boss")).id
    )
    letters = "".join(chr(ord("a") + (i * 7919) % 26) for i in range(3000))
    body = body_of(
        deal("end-of-time", "opp-1", on="9999-12-31"),
        deal("essay", "opp-2", fields={"description": letters}),
        rep_event("cycle", "boss", manager_id="ana"),
        deal("ok", "opp-3", rep="boss"),
        rep_event("ok-rep", "ben", manager_id="boss"),
    )

    response = await http.post(
        URL, content=body, headers=signed_headers(body, tenant.webhook_secret)
    )
    await burst()

    assert response.status_code == 202
    assert [(r["id"], r["error"]) for r in response.json()["rejected"]] == [
        (
            "end-of-time",
            "data.date: 9999-12-31 is outside the dates Podium accepts (1900-01-01 to 2199-12-31)",
        ),
        ("essay", "data.fields.description: is longer than 1000 characters"),
    ]
    assert [(e.event_id, e.status.value) for e in await inbox(tenant)] == [
        ("cycle", "dead"),
        ("ok", "applied"),
        ("ok-rep", "applied"),
    ]
    assert [(d.event_id, d.field, d.reason) for d in await dead_letters(tenant)][2:] == [
        ("cycle", "data.manager_id", "data.manager_id: manager cycle boss -> ana -> boss"),
    ]
    people = {u.external_id: u for u in await User.filter(tenant_id=tenant.id)}
    assert people["boss"].manager_id is None
    assert people["ben"].manager_id == people["boss"].id
    assert await Transaction.filter(tenant_id=tenant.id).values_list("external_id", flat=True) == [
        "opp-3"
    ]


async def test_given_amounts_as_exact_json_numbers_when_applied_then_stored_to_the_cent(
    burst: Burst, http: httpx.AsyncClient, redis_url: str
):
    tenant = await _setup()
    body = (
        b'{"events": ['
        + json.dumps(deal("e1", amount="__")).replace('"__"', "0.1").encode()
        + b"]}"
    )

    response = await http.post(
        URL, content=body, headers=signed_headers(body, tenant.webhook_secret)
    )
    await burst()

    assert response.json()["accepted"] == 1
    stored = await Transaction.get(tenant_id=tenant.id, external_id="opp-1")
    assert stored.amount == Decimal("0.1")


async def test_given_people_read_once_when_a_rep_appears_later_or_is_unknown_then_still_decided(
    http: httpx.AsyncClient,
):
    """The webhook reads a tenant's people once and trusts them afterwards (a person is never
    deleted): someone created since is still found, someone unknown still refused."""
    tenant = await _setup()
    first = body_of(deal("e1", "opp-1"))
    assert (
        await http.post(URL, content=first, headers=signed_headers(first, tenant.webhook_secret))
    ).json()["accepted"] == 1
    await make_user(tenant=tenant, external_id="cat")  # after the webhook read the people

    body = body_of(deal("e2", "opp-2", rep="cat"), deal("e3", "opp-3", rep="zoe"))
    answer = (
        await http.post(URL, content=body, headers=signed_headers(body, tenant.webhook_secret))
    ).json()

    assert answer["accepted"] == 1
    assert [(r["id"], r["error"]) for r in answer["rejected"]] == [
        ("e3", "data.rep_id: unknown rep 'zoe'")
    ]
    assert [e.event_id for e in await inbox(tenant)] == ["e1", "e2"]


async def test_given_an_event_seen_before_when_sent_again_invalid_then_a_duplicate_not_a_letter(
    http: httpx.AsyncClient,
):
    tenant = await _setup()
    first = body_of(deal("e1"))
    again = body_of(deal("e1", amount="12,5"), deal("e2", "opp-2"))

    await http.post(URL, content=first, headers=signed_headers(first, tenant.webhook_secret))
    two = await http.post(URL, content=again, headers=signed_headers(again, tenant.webhook_secret))

    assert two.json() == {"accepted": 1, "duplicates": 1, "rejected": []}
    assert await dead_letters(tenant) == []


async def test_given_a_webhook_call_then_one_access_line_with_its_counts(
    http: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
):
    configure_logging(json=True)  # onto the stderr capsys captures
    tenant = await _setup()
    body = body_of(deal("e1", "opp-1"), deal("e1", "opp-1"), deal("e2", "opp-2", rep="zoe"))
    capsys.readouterr()

    await http.post(URL, content=body, headers=signed_headers(body, tenant.webhook_secret))

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line[:1] == "{"]
    assert [
        {k: line.get(k) for k in ("event", "path", "status", "tenant", "accepted", "rejected")}
        | {"duplicates": line.get("duplicates")}
        for line in lines
    ] == [
        {
            "event": "request",
            "path": URL,
            "status": 202,
            "tenant": "acme",
            "accepted": 1,
            "rejected": 1,
            "duplicates": 1,
        }
    ]
