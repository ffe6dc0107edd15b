"""Dead letters: listed with their reasons, replayed through the same path as the webhook."""

from __future__ import annotations

import pytest
from tortoise.transactions import in_transaction

from domain.ingest import service
from domain.ingest.models import DeadLetterStatus, InboxEvent
from tests.domain.builders import make_tenant, make_user, system_viewer
from tests.workers.ingest_helpers import deal

NO_MONEY = "an ISO 4217 code of no money (a test, metal or unit of account)"

pytestmark = pytest.mark.usefixtures("db")


async def test_given_dead_letters_when_the_cause_is_fixed_and_replayed_then_accepted_once():
    tenant = await make_tenant(slug="acme")
    await make_user(tenant=tenant, external_id="ana")
    viewer = system_viewer(tenant)
    async with in_transaction():
        await service.ingest_events(
            viewer=viewer,
            source="crm",
            events=[deal("e1", rep="zoe"), deal("e2", "opp-2", currency="EURO")],
        )
    letters = await service.list_dead_letters(viewer=viewer)
    assert [(d.event_id, d.reason) for d in letters] == [
        ("e1", "data.rep_id: unknown rep 'zoe'"),
        ("e2", "data.currency: 'EURO' is not an ISO 4217 currency code"),
    ]
    await make_user(tenant=tenant, external_id="zoe")

    async with in_transaction():
        replayed = await service.replay_dead_letters(viewer=viewer)
    async with in_transaction():
        again = await service.replay_dead_letters(viewer=viewer, ids=[letters[0].id])

    assert [(r.outcome, r.error) for r in replayed] == [
        ("accepted", None),
        ("rejected", "data.currency: 'EURO' is not an ISO 4217 currency code"),
    ]
    assert [r.outcome for r in again] == ["duplicate"]
    assert [e.event_id for e in await InboxEvent.filter(tenant_id=tenant.id)] == ["e1"]
    still_open = await service.list_dead_letters(viewer=viewer)
    # the currency one stays open (its failed replay is the same letter, not a second one)
    assert [d.event_id for d in still_open] == ["e2"]
    first = await service.list_dead_letters(viewer=viewer, open_only=False)
    assert first[0].status is DeadLetterStatus.REPLAYED
    assert first[0].replays == 1


async def test_given_a_deal_in_an_iso_code_of_no_money_then_a_dead_letter_naming_the_currency():
    tenant = await make_tenant(slug="acme")
    await make_user(tenant=tenant, external_id="ana")
    viewer = system_viewer(tenant)
    async with in_transaction():
        await service.ingest_events(
            viewer=viewer,
            source="crm",
            events=[deal("e1", rep="ana", currency="XXX"), deal("e2", "opp-2", currency="XAU")],
        )

    letters = await service.list_dead_letters(viewer=viewer)
    assert [(d.event_id, d.reason) for d in letters] == [
        ("e1", f"data.currency: 'XXX' is {NO_MONEY}"),
        ("e2", f"data.currency: 'XAU' is {NO_MONEY}"),
    ]
    assert await InboxEvent.filter(tenant_id=tenant.id).count() == 0
