"""The payout sandbox of `podium dev`: which providers get one (development, no key in the
environment), how a tenant is pointed at it (never over a real configuration; a stale one
removed when a real key takes over), and the stand-ins served from a thread of their own."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from api.demo import sandbox
from api.settings import DEVELOPMENT_PAYOUT_DETAILS_SECRET as SECRET
from domain.audit.models import AuditEntry
from payments.methods.models import Provider, ProviderConfig
from payments.methods.service import gift_card_config, set_stripe_config, stripe_setup
from payments.payouts.models import PayoutMethod
from payments.payouts.service import set_payout_details
from tests.payments.helpers import World, make_world

STRIPE_URL, CARDS_URL = "http://127.0.0.1:40001", "http://127.0.0.1:40002/api/v2"
URLS = {Provider.STRIPE: STRIPE_URL, Provider.GIFT_CARDS: CARDS_URL}


def test_given_development_without_provider_keys_then_both_are_sandboxed():
    both = [Provider.STRIPE, Provider.GIFT_CARDS]
    assert sandbox.providers_to_sandbox({}, development=True) == both
    assert sandbox.providers_to_sandbox({"STRIPE_API_KEY": ""}, development=True) == both
    assert sandbox.providers_to_sandbox({"STRIPE_API_KEY": "sk_test_x"}, development=True) == [
        Provider.GIFT_CARDS
    ]
    assert sandbox.providers_to_sandbox({"GIFT_CARDS_API_KEY": "k"}, development=True) == [
        Provider.STRIPE
    ]
    assert sandbox.providers_to_sandbox({}, development=False) == []


async def _connect(w: World, urls: dict[Provider, str | None]) -> sandbox.Connection:
    async with in_transaction():
        return await sandbox.connect_tenant(tenant_id=w.tenant.id, secret=SECRET, urls=urls)


async def _audited(action: str) -> int:
    return await AuditEntry.filter(action=action).count()


async def test_given_a_tenant_when_connected_then_its_providers_point_at_the_sandbox_once(db):
    w = await make_world()
    await set_payout_details(
        viewer=w.viewer("ops"),
        secret=SECRET,
        rep_id=w["ann"].id,
        method=PayoutMethod.STRIPE,
        stripe_account_id="acct_1AnnAnnAnnAnn01",
    )
    await set_payout_details(
        viewer=w.viewer("ops"),
        secret=SECRET,
        rep_id=w["bob"].id,
        method=PayoutMethod.GIFT_CARD,
        gift_card_email="bob@example.com",
    )

    connection = await _connect(w, URLS)

    setup = await stripe_setup(tenant_id=w.tenant.id, secret=SECRET)
    assert setup is not None
    assert (setup.config.api_key, setup.config.api_base) == (sandbox.STRIPE_KEY, STRIPE_URL)
    cards = await gift_card_config(tenant_id=w.tenant.id, secret=SECRET)
    assert cards is not None
    assert (cards.api_key, cards.api_base) == (sandbox.GIFT_CARD_KEY, CARDS_URL)
    assert connection.stripe_accounts == ["acct_1AnnAnnAnnAnn01"]  # to create in the sandbox
    assert connection.notes == [
        f"Stripe: SANDBOX at {STRIPE_URL}",
        f"gift cards: SANDBOX at {CARDS_URL}",
    ]
    assert await _audited("payout_provider.set") == 2

    # the next start at the same addresses changes nothing; at another, follows it
    await _connect(w, URLS)
    assert await _audited("payout_provider.set") == 2
    await _connect(w, {**URLS, Provider.STRIPE: "http://127.0.0.1:40003"})
    setup = await stripe_setup(tenant_id=w.tenant.id, secret=SECRET)
    assert setup is not None
    assert setup.config.api_base == "http://127.0.0.1:40003"
    assert await _audited("payout_provider.set") == 3


async def test_given_a_real_key_then_the_sandbox_never_replaces_it(db):
    w = await make_world()
    async with in_transaction():
        await set_stripe_config(viewer=w.viewer("ops"), secret=SECRET,
                                api_key="sk_test_51RealTestModeKey000000",
                                webhook_secrets=["whsec_realEndpointSecret01"])  # fmt: skip

    connection = await _connect(w, URLS)
    again = await _connect(w, {Provider.STRIPE: None, Provider.GIFT_CARDS: CARDS_URL})

    setup = await stripe_setup(tenant_id=w.tenant.id, secret=SECRET)
    assert setup is not None
    assert setup.config.api_key == "sk_test_51RealTestModeKey000000"
    assert setup.config.api_base is None
    assert (
        connection.notes[0] == f"Stripe: the tenant's own key, the sandbox at {STRIPE_URL} unused"
    )
    assert again.notes[0] == "Stripe: the tenant's own key"
    assert again.stripe_accounts == []


async def test_given_a_key_in_the_environment_then_a_stale_sandbox_configuration_is_removed(db):
    w = await make_world()
    await _connect(w, URLS)

    connection = await _connect(w, {Provider.STRIPE: None, Provider.GIFT_CARDS: CARDS_URL})

    assert await stripe_setup(tenant_id=w.tenant.id, secret=SECRET) is None
    assert await gift_card_config(tenant_id=w.tenant.id, secret=SECRET) is not None
    assert connection.notes[0] == (
        "Stripe: STRIPE_API_KEY is set, no sandbox (store the key for the demo: podium payouts "
        "stripe --tenant demo ...)"
    )
    [removed] = await AuditEntry.filter(action="payout_provider.removed")
    assert (removed.entity_id, removed.after) == ("stripe", None)
    assert await ProviderConfig.filter(tenant_id=w.tenant.id).count() == 1
    # nothing left to remove: nothing changes
    await _connect(w, {Provider.STRIPE: None, Provider.GIFT_CARDS: CARDS_URL})
    assert await AuditEntry.filter(action="payout_provider.removed").count() == 1


def _post(url: str, key: str, body: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, body.encode(), {"Authorization": f"Bearer {key}", "Stripe-Version": "2026-10-28",
                             "Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_given_the_sandbox_thread_then_it_serves_the_stand_ins_until_stopped():
    thread = sandbox.SandboxThread([Provider.STRIPE, Provider.GIFT_CARDS])
    running = thread.start()
    try:
        stripe_url = running.urls()[Provider.STRIPE]
        assert stripe_url is not None
        assert stripe_url.startswith("http://127.0.0.1:")
        transfer = "amount=1250&currency=usd&destination=acct_1Demo00000000042"
        missing = _post(f"{stripe_url}/v1/transfers", sandbox.STRIPE_KEY, transfer)
        thread.add_accounts(["acct_1Demo00000000042"])
        made = _post(f"{stripe_url}/v1/transfers", sandbox.STRIPE_KEY, transfer)
        refused = _post(f"{stripe_url}/v1/transfers", "sk_test_51SomeoneElse0000000", transfer)
    finally:
        thread.stop()

    assert missing[0] == 400
    assert missing[1]["error"]["code"] == "resource_missing"  # no such connected account yet
    assert made[0] == 200
    assert (made[1]["amount"], made[1]["currency"]) == (1250, "usd")
    assert refused[0] == 401
    with pytest.raises(urllib.error.URLError):
        _post(f"{stripe_url}/v1/transfers", sandbox.STRIPE_KEY, transfer)


def test_given_no_provider_to_sandbox_then_nothing_is_started():
    thread = sandbox.SandboxThread([])
    running = thread.start()
    thread.stop()

    assert running.urls() == {Provider.STRIPE: None, Provider.GIFT_CARDS: None}


def test_given_the_sandbox_cannot_start_then_it_says_why_and_stops_cleanly(
    monkeypatch: pytest.MonkeyPatch,
):
    @asynccontextmanager
    async def no_port(providers: Any) -> AsyncIterator[sandbox.Sandbox]:
        raise OSError("[Errno 98] address already in use")
        yield sandbox.Sandbox()  # pragma: no cover - never reached

    monkeypatch.setattr(sandbox, "serving", no_port)
    thread = sandbox.SandboxThread([Provider.STRIPE])

    with pytest.raises(sandbox.SandboxError, match="did not start: .*address already in use"):
        thread.start()
    thread.stop()  # what podium dev's clean-up does next: nothing left to stop
