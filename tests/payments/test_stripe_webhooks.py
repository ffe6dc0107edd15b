"""Stripe webhooks through the app: verified with stripe-python's signature check against the
tenant's sealed secrets, stored raw once, 202; a bad, stale or missing signature, an unknown
tenant or one without Stripe is 401 and stores nothing. What an event means for an item
(`outcome_of`): transfer.reversed and payout.failed (with its failure code) fail it,
payout.paid pays it."""

from __future__ import annotations

import time
from typing import Any

import pytest
import stripe

from api.settings import DEVELOPMENT_PAYOUT_DETAILS_SECRET as SECRET
from domain.audit.models import AuditEntry
from domain.kit.errors import Forbidden, InvalidInput
from domain.org.models import Role
from payments.methods.models import Failed, Paid, Provider, ProviderConfig, ProviderEvent
from payments.methods.sandbox.stripe_connect import StripeStandIn, dumps
from payments.methods.service import set_stripe_config, stripe_setup
from payments.methods.stripe_connect import outcome_of
from tests.api.graphql import helpers as h
from tests.api.graphql.helpers import Api

PLATFORM_SECRET = "whsec_platformSecret000000000001"
CONNECT_SECRET = "whsec_connectSecret0000000000002"
API_KEY = "sk_test_51PodiumStandInKey0000000"
ACCOUNT = "acct_1Nv0FGQ9RKHgCVdK"
TRANSFER = {"id": "tr_00000000000001", "object": "transfer", "amount": 4000, "currency": "eur",
            "destination": ACCOUNT, "metadata": {"podium_reference": "item-000001"}}  # fmt: skip
PAYOUT = {"id": "po_00000000000002", "object": "payout", "amount": 4000, "currency": "eur",
          "metadata": {"podium_reference": "item-000001"}, "status": "in_transit"}  # fmt: skip


async def _configured(slug: str = "acme") -> Any:
    t = await h.tenant(slug)
    await set_stripe_config(viewer=h.system(t), secret=SECRET, api_key=API_KEY,
                            webhook_secrets=[PLATFORM_SECRET, CONNECT_SECRET])  # fmt: skip
    return t


def _signed(event: dict[str, Any], secret: str = PLATFORM_SECRET, at: int | None = None):
    payload = dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(
        payload, secret, at or int(time.time())
    )
    return payload, {"Stripe-Signature": header, "Content-Type": "application/json"}


async def _post(api: Api, payload: str, headers: dict[str, str], slug: str = "acme"):
    return await api.http.post(f"/webhooks/stripe/{slug}", content=payload, headers=headers)


async def test_given_signed_events_when_posted_then_stored_once_and_each_says_what_happened(
    api: Api,
):
    t = await _configured()
    standin = StripeStandIn()
    events = [
        standin.event("transfer.reversed", TRANSFER, reversed=True),
        standin.event("payout.paid", PAYOUT, account=ACCOUNT, status="paid"),
        standin.event(
            "payout.failed",
            PAYOUT,
            account=ACCOUNT,
            status="failed",
            failure_code="account_closed",
            failure_message="The bank account has been closed.",
        ),  # fmt: skip
    ]

    answers = []
    for event, secret in zip(events, [PLATFORM_SECRET, CONNECT_SECRET, CONNECT_SECRET],
                             strict=True):  # fmt: skip
        answers.append(await _post(api, *_signed(event, secret)))
    again = await _post(api, *_signed(events[1], CONNECT_SECRET))  # Stripe redelivers

    assert [a.status_code for a in answers] == [202, 202, 202]
    assert again.status_code == 202
    assert again.json() == {"received": True, "duplicate": True}
    stored = await ProviderEvent.filter(tenant_id=t.id, provider=Provider.STRIPE).order_by("id")
    assert [e.kind for e in stored] == ["transfer.reversed", "payout.paid", "payout.failed"]
    assert stored[2].payload == events[2]
    outcomes = [outcome_of(e.payload) for e in stored]
    assert outcomes == [
        Failed("item-000001", "Stripe: the transfer was reversed", "transfer_reversed"),
        Paid("item-000001", provider_id="po_00000000000002"),
        Failed("item-000001", "Stripe: the payout failed: The bank account has been closed.",
               "account_closed"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "case", ["other secret", "tampered", "stale", "missing", "unknown tenant", "no stripe"]
)
async def test_given_an_unverifiable_webhook_then_401_and_nothing_stored(api: Api, case: str):
    await _configured()
    await h.tenant("globex")  # a tenant without Stripe
    event = StripeStandIn().event("payout.paid", PAYOUT, account=ACCOUNT)
    payload, headers = _signed(event)
    slug = "acme"
    if case == "other secret":
        payload, headers = _signed(event, "whsec_someoneElse0000000000000")
    elif case == "tampered":
        payload = payload.replace("4000", "400000")
    elif case == "stale":
        payload, headers = _signed(event, at=int(time.time()) - 600)
    elif case == "missing":
        headers.pop("Stripe-Signature")
    elif case == "unknown tenant":
        slug = "nobody"
    elif case == "no stripe":
        slug = "globex"

    response = await _post(api, payload, headers, slug)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert await ProviderEvent.all().count() == 0


async def test_given_a_signed_body_that_is_no_event_then_400_and_a_huge_one_413(api: Api):
    await _configured()

    not_event = await _post(api, *_signed({"object": "event", "type": "payout.paid"}))
    huge = await _post(api, *_signed({"id": "evt_1", "type": "x", "pad": "x" * 1_100_000}))

    assert not_event.status_code == 400
    assert not_event.json()["error"]["field"] == "id"
    assert huge.status_code == 413
    assert await ProviderEvent.all().count() == 0


async def test_given_a_signed_body_too_deep_or_unstorable_then_refused_never_a_500(api: Api):
    """A body nested past what a parser's stack holds is no event (401, as any body that is
    not one); a NUL or a lone surrogate, which jsonb refuses, is 400 naming `data`."""
    await _configured()
    deep = '{"id": "evt_1", "type": "payout.paid", "data": ' + "[" * 100_000 + "}"
    header = stripe.WebhookSignature.generate_signature_header(
        deep, PLATFORM_SECRET, int(time.time())
    )

    nested = await _post(api, deep, {"Stripe-Signature": header})
    nul = await _post(api, *_signed({"id": "evt_2", "type": "x", "data": {"n": "a\u0000"}}))
    lone = await _post(api, *_signed({"id": "evt_3", "type": "x", "data": {"n": "\ud800"}}))

    assert nested.status_code == 401
    assert (nul.status_code, nul.json()["error"]["field"]) == (400, "data")
    assert (lone.status_code, lone.json()["error"]["field"]) == (400, "data")
    assert await ProviderEvent.all().count() == 0


async def test_given_events_not_about_podium_items_then_no_outcome():
    standin = StripeStandIn()
    assert outcome_of(standin.event("payout.paid", {**PAYOUT, "metadata": {}})) is None
    assert outcome_of(standin.event("transfer.created", TRANSFER)) is None
    assert outcome_of({"type": "payout.paid"}) is None


async def test_given_stripe_credentials_then_sealed_masked_audited_and_only_for_ops(db):
    t = await _configured()
    ana = await h.person(t, "ana")

    row = await ProviderConfig.get(tenant_id=t.id)
    setup = await stripe_setup(tenant_id=t.id, secret=SECRET)

    assert API_KEY not in row.sealed
    assert PLATFORM_SECRET not in row.sealed
    assert row.masked_key == "sk_test_•••• 0000"
    assert setup is not None
    assert setup.config.api_key == API_KEY
    assert setup.webhook_secrets == (PLATFORM_SECRET, CONNECT_SECRET)
    [entry] = await AuditEntry.filter(action="payout_provider.set")
    assert entry.after == {"maskedKey": "sk_test_•••• 0000", "webhookSecrets": 2}
    viewer = h.system(t)
    rep = type(viewer)(tenant_id=t.id, user_id=ana.id, role=Role.REP)
    with pytest.raises(Forbidden):
        await set_stripe_config(viewer=rep, secret=SECRET, api_key=API_KEY,
                                webhook_secrets=[PLATFORM_SECRET])  # fmt: skip
    for field, values in (
        ("apiKey", {"api_key": "pk_live_123456789"}),
        ("webhookSecrets", {"webhook_secrets": []}),
        ("webhookSecrets", {"webhook_secrets": ["secret"]}),
        ("apiBase", {"api_base": "ftp://x"}),
    ):
        arguments = {"api_key": API_KEY, "webhook_secrets": [PLATFORM_SECRET], **values}
        with pytest.raises(InvalidInput) as caught:
            await set_stripe_config(viewer=viewer, secret=SECRET, **arguments)
        assert caught.value.field == field


@pytest.mark.parametrize(
    "metadata",
    [{"podium_reference": "another-system-" + "9" * 40}, {"podium_reference": "PB 1/é"}],
)
async def test_given_a_reference_no_item_can_have_then_202_and_not_ours(
    api: Api, metadata: dict[str, str]
):
    """A signed event whose podium_reference no payout item can have (over 35 characters, or
    not in a reference's characters: another integration on the same Stripe account) is
    not ours: stored once, 202. It was a 500 (the ORM refused to compare it with the
    column), which Stripe redelivers for days and then disables the endpoint for."""
    t = await _configured()
    event = StripeStandIn().event("payout.paid", PAYOUT | {"metadata": metadata},
                                  account=ACCOUNT, status="paid")  # fmt: skip

    response = await _post(api, *_signed(event, CONNECT_SECRET))

    assert response.status_code == 202, response.text
    assert await ProviderEvent.filter(tenant_id=t.id).count() == 1
