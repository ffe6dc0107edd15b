"""Gift card webhooks end to end: the Tremendous-style stand-in on 127.0.0.1 posts signed
events over real HTTP to the app served by uvicorn on 127.0.0.1, on real PostgreSQL.
`POST /webhooks/giftcards/{tenant}` checks the signature against the tenant's sealed webhook
private keys, stores each event once by its uuid, never takes its word: the item whose order
it is becomes what the provider shows when asked (as confirming asks). On the code before
this endpoint every test here fails: the route does not exist (404)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from api.app import create_app
from api.settings import DEVELOPMENT_PAYOUT_DETAILS_SECRET as SECRET
from api.settings import Settings
from domain.audit.models import AuditEntry
from domain.kit.clock import utc_now
from domain.kit.errors import InvalidInput
from payments.batches.models import ItemStatus, PayoutItem
from payments.methods.models import Provider, ProviderEvent
from payments.methods.sandbox.giftcards import GiftCardStandIn, sign
from payments.methods.service import gift_card_webhook_secrets, set_gift_card_config
from tests.payments.helpers import World
from tests.payments.test_confirm_lookup import _held, _items, _statement, held  # noqa: F401
from tests.payments.test_giftcard_batches import KEY, _world
from tests.payments.test_giftcard_batches import standin as standin  # noqa: F401 - fixture
from tests.workers.test_end_to_end import serving

HOOK_KEY = "tremendous_webhook_private_key_0001"


@pytest.fixture
async def app_url(db: str, redis: Redis, settings: Settings) -> AsyncIterator[str]:
    async with serving(create_app(settings)) as url:
        yield url


async def _hooked(standin: GiftCardStandIn) -> World:  # noqa: F811
    """`_world` with the provider's webhook private key set, as `podium payouts giftcards
    --webhook-secret` sets it."""
    w = await _world(standin)
    standin.webhook_secret = HOOK_KEY
    await set_gift_card_config(viewer=w.viewer("ops"), secret=SECRET, api_key=KEY,
                               api_base=standin.url, products=["OKMHM2X2OHYV"],
                               webhook_secrets=[HOOK_KEY])  # fmt: skip
    return w


def _hook(app_url: str, slug: str = "acme") -> str:
    return f"{app_url}/webhooks/giftcards/{slug}"


async def _events() -> list[ProviderEvent]:
    return await ProviderEvent.filter(provider=Provider.GIFT_CARDS).order_by("id")


async def _audit(action: str) -> list[AuditEntry]:
    return await AuditEntry.filter(action=action).order_by("id")


async def test_given_an_order_held_when_the_provider_says_approved_then_asked_and_paid(
    app_url: str,
    held: GiftCardStandIn,  # noqa: F811
):
    w = await _hooked(held)
    batch, items = await _held(w)
    ann = items["ann"].provider_id or ""
    held.decide("EXECUTED", ann)
    asked = len(held.lookups)

    answer = await held.send_webhook(_hook(app_url), "ORDERS.APPROVED", ann)

    assert answer.status_code == 200, answer.text
    assert answer.json()["item"] == items["ann"].reference
    assert answer.json()["status"] == "paid"
    after = await _items(batch)
    assert (after["ann"].status, await _statement(after["ann"])) == (ItemStatus.PAID, "paid")
    assert (after["bob"].status, await _statement(after["bob"])) == (
        ItemStatus.SUBMITTED,
        "approved",
    )
    assert len(held.lookups) == asked + 1  # asked about that order, by its external id
    [paid] = await _audit("payout_item.paid")
    assert paid.entity_id == str(items["ann"].id)
    assert "(executed)" in paid.after["lookup"]
    [event] = await _events()
    assert event.kind == "ORDERS.APPROVED"


async def test_given_the_event_says_approved_but_the_provider_shows_held_then_not_paid(
    app_url: str,
    held: GiftCardStandIn,  # noqa: F811
):
    w = await _hooked(held)
    batch, items = await _held(w)

    answer = await held.send_webhook(
        _hook(app_url), "ORDERS.APPROVED", items["ann"].provider_id or ""
    )

    assert answer.status_code == 200
    after = await _items(batch)
    assert after["ann"].status is ItemStatus.SUBMITTED
    assert (after["ann"].failure_reason or "").startswith("still waiting for approval")
    assert await _audit("payout_item.paid") == []
    [noted] = await _audit("payout_item.still_submitted")
    assert noted.entity_id == str(items["ann"].id)


async def test_given_an_order_declined_when_notified_then_failed_and_its_statement_for_the_next_batch(  # noqa: E501
    app_url: str,
    held: GiftCardStandIn,  # noqa: F811
):
    from tortoise.transactions import in_transaction

    from payments.batches import service
    from payments.payouts.models import PayoutMethod

    w = await _hooked(held)
    batch, items = await _held(w)
    bob = items["bob"].provider_id or ""
    held.decide("CANCELED", bob)

    answer = await held.send_webhook(_hook(app_url), "ORDERS.CANCELED", bob)

    assert answer.status_code == 200
    after = await _items(batch)
    assert (after["bob"].status, await _statement(after["bob"])) == (ItemStatus.FAILED, "approved")
    assert after["bob"].failure_code == "order_failed"
    assert after["bob"].failure_reason == f"the gift card order {bob} is CANCELED"
    [failed] = [
        e for e in await _audit("payout_item.failed") if e.entity_id == str(after["bob"].id)
    ]
    assert failed.after["lookup"].endswith("is CANCELED")
    async with in_transaction():
        again = await service.create_batch(viewer=w.viewer("ops"), period="2026-10",
                                           method=PayoutMethod.GIFT_CARD)  # fmt: skip
    taken = await PayoutItem.filter(batch_id=again.id).values_list("statement_id", flat=True)
    assert items["bob"].statement_id in taken
    assert items["ann"].statement_id not in taken


async def test_given_a_bounced_e_mail_then_left_submitted_with_the_reason_and_paid_once_delivered(
    app_url: str,
    held: GiftCardStandIn,  # noqa: F811
):
    w = await _hooked(held)
    batch, items = await _held(w)
    ann = items["ann"].provider_id or ""
    held.decide("EXECUTED", ann)
    held.deliver("FAILED", ann)
    reward = held.reward_of(ann)

    bounced = await held.send_webhook(_hook(app_url), "REWARDS.DELIVERY.FAILED", reward)

    assert bounced.status_code == 200, bounced.text
    after = await _items(batch)
    assert after["ann"].status is ItemStatus.SUBMITTED
    assert "e-mail bounced" in (after["ann"].failure_reason or "")
    assert await _statement(after["ann"]) == "approved"

    held.deliver("SUCCEEDED", ann)  # address corrected, sent again in the dashboard
    delivered = await held.send_webhook(_hook(app_url), "REWARDS.DELIVERY.SUCCEEDED", reward)

    assert delivered.status_code == 200
    after = await _items(batch)
    assert (after["ann"].status, await _statement(after["ann"])) == (ItemStatus.PAID, "paid")
    assert after["ann"].failure_reason is None


@pytest.mark.parametrize("case", ["bad signature", "missing", "other secret", "unknown tenant",
                                  "no secret set"])  # fmt: skip
async def test_given_an_unverifiable_event_then_401_and_nothing_written(
    app_url: str,
    held: GiftCardStandIn,  # noqa: F811
    case: str,
):
    import httpx

    w = await _hooked(held)
    batch, items = await _held(w)
    ann = items["ann"].provider_id or ""
    held.decide("EXECUTED", ann)
    asked = len(held.lookups)
    if case == "no secret set":  # dropped: `--no-webhook-secret`
        await set_gift_card_config(viewer=w.viewer("ops"), secret=SECRET, api_key=KEY,
                                   api_base=held.url, products=["OKMHM2X2OHYV"],
                                   webhook_secrets=())  # fmt: skip
    if case == "missing":
        async with httpx.AsyncClient() as client:
            answer = await client.post(_hook(app_url), content=b'{"event": "ORDERS.APPROVED"}')
    elif case == "bad signature":  # a body other than the one signed
        answer = await _tampered(app_url, ann)
    else:
        answer = await held.send_webhook(
            _hook(app_url, "nobody" if case == "unknown tenant" else "acme"),
            "ORDERS.APPROVED", ann,
            secret="someone_elses_private_key_000" if case == "other secret" else None,
        )  # fmt: skip

    assert answer.status_code == 401
    assert answer.json()["error"]["field"] == "Tremendous-Webhook-Signature"
    assert await _events() == []
    assert (await _items(batch))["ann"].status is ItemStatus.SUBMITTED
    assert len(held.lookups) == asked


async def _tampered(app_url: str, order_id: str) -> Any:
    import json

    import httpx

    resource = {"id": "ORD9", "type": "orders"}
    signed = json.dumps({"event": "ORDERS.APPROVED", "uuid": "evt-1",
                         "payload": {"resource": resource}}).encode()  # fmt: skip
    sent = signed.replace(b"ORD9", order_id.encode())
    header = sign(signed, HOOK_KEY)
    async with httpx.AsyncClient() as client:
        return await client.post(_hook(app_url), content=sent,
                                 headers={"Tremendous-Webhook-Signature": header})  # fmt: skip


async def test_given_a_body_spaced_out_on_its_way_then_checked_in_its_compact_form(
    app_url: str,
    held: GiftCardStandIn,  # noqa: F811
):
    """The provider signs compact JSON (what its own sample receiver checks: the parsed body
    written again by Ruby's ``to_json``); a body spaced out on its way (a proxy) is checked
    in that form, so the event is not refused for ever (before: 401 on every delivery). A
    spaced-out body whose content changed is still refused."""
    import json

    import httpx

    from payments.methods.giftcards import verify_webhook

    w = await _hooked(held)
    batch, items = await _held(w)
    ann = items["ann"].provider_id or ""
    held.decide("EXECUTED", ann)
    document = {"event": "ORDERS.APPROVED", "uuid": "evt-spaced",
                "created_utc": "2026-12-07T09:00:00.000Z",
                "payload": {"resource": {"id": ann, "type": "orders"}, "meta": {}}}  # fmt: skip
    compact = json.dumps(document, separators=(",", ":")).encode()
    header = sign(compact, HOOK_KEY)
    spaced = json.dumps(document, indent=2).encode()
    changed = spaced.replace(b"evt-spaced", b"evt-changed")

    async with httpx.AsyncClient() as client:
        refused = await client.post(_hook(app_url), content=changed,
                                    headers={"Tremendous-Webhook-Signature": header})  # fmt: skip
        answer = await client.post(_hook(app_url), content=spaced,
                                   headers={"Tremendous-Webhook-Signature": header})  # fmt: skip

    assert refused.status_code == 401
    assert answer.status_code == 200, answer.text
    assert (await _items(batch))["ann"].status is ItemStatus.PAID
    assert [e.event_id for e in await _events()] == ["evt-spaced"]
    # no JSON, or JSON that cannot be written again (a lone surrogate): the bytes only
    for body in (b"not json", b'{"a": "\\ud800"}', b"[" * 5000):
        signature = sign(body, HOOK_KEY)
        assert verify_webhook(body, signature, [HOOK_KEY])
        assert not verify_webhook(body + b" ", signature, [HOOK_KEY])
    # past any event's size, only the bytes as sent (an unsigned megabyte is not parsed)
    big = {"event": "ORDERS.APPROVED", "pad": "x" * 70_000}
    signed = json.dumps(big, separators=(",", ":")).encode()
    signature = sign(signed, HOOK_KEY)
    assert verify_webhook(signed, signature, [HOOK_KEY])
    assert not verify_webhook(json.dumps(big).encode(), signature, [HOOK_KEY])


async def test_given_an_event_delivered_twice_then_the_second_changes_nothing(
    app_url: str,
    held: GiftCardStandIn,  # noqa: F811
):
    w = await _hooked(held)
    batch, items = await _held(w)
    ann = items["ann"].provider_id or ""
    held.decide("EXECUTED", ann)
    first = await held.send_webhook(_hook(app_url), "ORDERS.APPROVED", ann, event_id="evt-7")
    asked, audited = len(held.lookups), await AuditEntry.all().count()

    again = await held.send_webhook(_hook(app_url), "ORDERS.APPROVED", ann, event_id="evt-7")

    assert (first.status_code, again.status_code) == (200, 200)
    assert (first.json()["duplicate"], again.json()["duplicate"]) == (False, True)
    assert len(held.lookups) == asked  # not even asked again
    assert await AuditEntry.all().count() == audited
    assert len(await _events()) == 1
    assert (await _items(batch))["ann"].status is ItemStatus.PAID


@pytest.mark.parametrize("fault", ["503", "garbled", "reward lookup 503"])
async def test_given_the_provider_cannot_be_asked_then_5xx_nothing_written_and_a_redelivery_applies(
    app_url: str,
    held: GiftCardStandIn,  # noqa: F811
    fault: str,
):
    w = await _hooked(held)
    batch, items = await _held(w)
    ann = items["ann"].provider_id or ""
    held.decide("EXECUTED", ann)
    kind, resource = "ORDERS.APPROVED", ann
    if fault == "garbled":
        held.garble_list.append("shapeless")
    else:
        held.refuse_list.append(503)
    if fault == "reward lookup 503":
        kind, resource = "REWARDS.DELIVERY.SUCCEEDED", held.reward_of(ann)
    audited = await AuditEntry.all().count()

    down = await held.send_webhook(_hook(app_url), kind, resource, event_id="evt-9")

    assert down.status_code == 503, down.text
    assert down.json()["error"]["code"] == "provider_unreachable"
    assert await _events() == []  # not stored: the redelivery is new
    assert (await _items(batch))["ann"].status is ItemStatus.SUBMITTED
    assert await AuditEntry.all().count() == audited

    redelivered = await held.send_webhook(_hook(app_url), kind, resource, event_id="evt-9")

    assert redelivered.status_code == 200
    assert (await _items(batch))["ann"].status is ItemStatus.PAID


@pytest.mark.parametrize("kind", ["ORDERS.APPROVED", "REWARDS.DELIVERY.SUCCEEDED",
                                  "INVOICES.PAID"])  # fmt: skip
async def test_given_an_event_about_nothing_of_ours_then_acknowledged_and_nothing_changed(
    app_url: str,
    held: GiftCardStandIn,  # noqa: F811
    kind: str,
):
    w = await _hooked(held)
    batch, _ = await _held(w)
    audited = await AuditEntry.all().count()

    answer = await held.send_webhook(_hook(app_url), kind, "ORD9999999999")

    assert answer.status_code == 200, answer.text
    assert answer.json()["item"] is None
    assert len(await _events()) == 1
    assert await AuditEntry.all().count() == audited
    assert {i.status for i in (await _items(batch)).values()} == {
        ItemStatus.SUBMITTED, ItemStatus.FAILED
    }  # fmt: skip


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "body"),
        (b"[]", "body"),
        (b'{"event": "ORDERS.APPROVED"}', "uuid"),
        (b'{"uuid": "e-1", "event": "approved"}', "event"),
        (b'{"uuid": "e-1", "event": "ORDERS.APPROVED", "payload": {}}', "payload.resource"),
        (b'{"uuid": "e-1", "event": "ORDERS.APPROVED", "payload": {"resource": {"id": 7}}}',
         "payload.resource.id"),
        (b"[" * 100_000, "body"),  # nested past what a parser's stack holds
        (b'{"uuid": "e-1", "event": "ORDERS.APPROVED", "payload": {"resource": {"id": "O1"},'
         b' "note": "a\\ud800"}}', "payload.note"),  # jsonb refuses a lone surrogate
        (b'{"uuid": "e-1", "event": "ORDERS.APPROVED", "payload": {"resource": {"id": "O1",'
         b' "n": ["\\u0000"]}}}', "payload.resource.n[0]"),  # and a NUL
    ],
)  # fmt: skip
async def test_given_a_signed_body_that_is_no_event_then_400_naming_the_field_and_a_huge_one_413(
    app_url: str,
    held: GiftCardStandIn,  # noqa: F811
    body: bytes,
    field: str,
):
    await _hooked(held)

    answer = await held.send_webhook(_hook(app_url), "ORDERS.APPROVED", "x", body=body)
    huge = await held.send_webhook(_hook(app_url), "ORDERS.APPROVED", "x",
                                   body=b" " * (1024 * 1024 + 1))  # fmt: skip

    assert answer.status_code == 400
    assert answer.json()["error"]["field"] == field
    assert huge.status_code == 413
    assert await _events() == []


async def test_given_an_item_settled_as_failed_whose_order_shows_executed_then_paid_and_flagged(
    app_url: str,
    held: GiftCardStandIn,  # noqa: F811
):
    w = await _hooked(held)
    batch, items = await _held(w)
    bob = items["bob"]
    # as a settle by hand leaves it (the order id kept: what the event names)
    await PayoutItem.filter(id=bob.id).update(
        status=ItemStatus.FAILED, settled_at=utc_now() - timedelta(hours=1),
        settle_reason="no order in the dashboard", failure_code="settled_failed",
    )  # fmt: skip
    held.decide("EXECUTED", bob.provider_id or "")

    answer = await held.send_webhook(_hook(app_url), "ORDERS.APPROVED", bob.provider_id or "")

    assert answer.status_code == 200
    after = (await _items(batch))["bob"]
    assert (after.status, after.failure_code) == (ItemStatus.PAID, "paid_after_settle")
    assert "check that the payee was not paid twice" in (after.failure_reason or "")
    assert await _statement(after) == "paid"
    [flag] = await _audit("payout_item.paid_after_settle")
    assert flag.entity_id == str(bob.id)


async def test_given_webhook_secrets_then_validated_sealed_and_counted_in_the_audit(db, standin):  # noqa: F811
    w = await _world(standin)
    with pytest.raises(InvalidInput) as refused:
        await set_gift_card_config(viewer=w.viewer("ops"), secret=SECRET, api_key=KEY,
                                   api_base=standin.url, products=["OKMHM2X2OHYV"],
                                   webhook_secrets=["short"])  # fmt: skip
    assert refused.value.field == "webhookSecrets"
    with pytest.raises(InvalidInput):
        await set_gift_card_config(viewer=w.viewer("ops"), secret=SECRET, api_key=KEY,
                                   api_base=standin.url, products=["OKMHM2X2OHYV"],
                                   webhook_secrets=[HOOK_KEY] * 3)  # fmt: skip
    config = await set_gift_card_config(viewer=w.viewer("ops"), secret=SECRET, api_key=KEY,
                                        api_base=standin.url, products=["OKMHM2X2OHYV"],
                                        webhook_secrets=[HOOK_KEY])  # fmt: skip
    assert HOOK_KEY not in str(config.sealed)
    assert await gift_card_webhook_secrets(tenant_id=w.tenant.id, secret=SECRET) == (HOOK_KEY,)
    entry = (await _audit("payout_provider.set"))[-1]
    assert entry.after["webhookSecrets"] == 1
    assert HOOK_KEY not in str(entry.after)


async def test_given_an_item_settled_before_its_order_id_was_known_then_found_by_its_key_and_flagged(  # noqa: E501
    app_url: str,
    held: GiftCardStandIn,  # noqa: F811
):
    """An item settled by hand as failed while pending (the order's answer lost: no order
    id on it; settled on ops' word when the provider could not be asked) whose order the
    provider later executes: the event names an order no item carries; the order's external
    id is the item's key, so it is found, paid and flagged."""
    w = await _hooked(held)
    batch, items = await _held(w)
    bob = items["bob"]
    await PayoutItem.filter(id=bob.id).update(
        status=ItemStatus.FAILED, settled_at=utc_now() - timedelta(hours=1), provider_id=None,
        settle_reason="the provider could not be asked; no order seen",
        failure_code="settled_failed",
    )  # fmt: skip
    held.decide("EXECUTED", bob.provider_id or "")

    answer = await held.send_webhook(_hook(app_url), "ORDERS.APPROVED", bob.provider_id or "")

    assert answer.status_code == 200, answer.text
    after = (await _items(batch))["bob"]
    assert (after.status, after.failure_code) == (ItemStatus.PAID, "paid_after_settle")
    assert await _statement(after) == "paid"
    [flag] = await _audit("payout_item.paid_after_settle")
    assert flag.entity_id == str(bob.id)

    unknown = await held.send_webhook(_hook(app_url), "ORDERS.APPROVED", "ORD-NOT-OURS")
    assert unknown.status_code == 200
    assert unknown.json()["detail"] == "no payout item is order ORD-NOT-OURS"


async def _settled_as_paid(item: PayoutItem, reference: str, *, order_known: bool) -> None:
    """``item`` as settling it by hand as paid under ``reference`` leaves it
    (`_record_outcome`): paid, the reference kept, and in the place of its order id when
    that was not known (``order_known`` False: the order's answer was lost)."""
    provider_id = item.provider_id if order_known else reference
    await PayoutItem.filter(id=item.id).update(
        status=ItemStatus.PAID, settled_at=utc_now() - timedelta(hours=1), provider_id=provider_id,
        settle_reason="paid by bank transfer while the card was held",
        settle_reference=reference, failure_code=None, failure_reason=None,
    )  # fmt: skip


async def test_given_an_item_settled_as_paid_under_another_reference_whose_order_executes_then_flagged_once(  # noqa: E501
    app_url: str,
    held: GiftCardStandIn,  # noqa: F811
):
    """Ops paid bob by bank transfer while his card was held and settled his item as paid
    under the transfer's reference; the held order is then approved: the payee is paid twice,
    which the item now says (before, the event found the item paid and changed nothing). Ann,
    settled as paid under her own order's id, is not flagged: that is the one payment."""
    w = await _hooked(held)
    batch, items = await _held(w)
    ann, bob = items["ann"], items["bob"]
    await _settled_as_paid(bob, "WIRE-2026-12-07-881", order_known=True)
    await _settled_as_paid(ann, ann.provider_id or "", order_known=True)
    held.decide("EXECUTED", bob.provider_id or "")
    held.decide("EXECUTED", ann.provider_id or "")

    answer = await held.send_webhook(_hook(app_url), "ORDERS.APPROVED", bob.provider_id or "")
    again = await held.send_webhook(_hook(app_url), "ORDERS.APPROVED", bob.provider_id or "")
    own = await held.send_webhook(_hook(app_url), "ORDERS.APPROVED", ann.provider_id or "")

    assert (answer.status_code, again.status_code, own.status_code) == (200, 200, 200)
    after = await _items(batch)
    flagged = (after["bob"].status, after["bob"].failure_code)
    assert flagged == (ItemStatus.PAID, "paid_after_settle")
    reason = after["bob"].failure_reason or ""
    assert "settled by hand as paid ('WIRE-2026-12-07-881')" in reason, reason
    assert "check that the payee was not paid twice" in reason
    assert after["bob"].provider_id == bob.provider_id
    assert (after["ann"].status, after["ann"].failure_code) == (ItemStatus.PAID, None)
    [flag] = await _audit("payout_item.paid_after_settle")  # once, though told twice
    assert flag.entity_id == str(bob.id)
    assert flag.before == {"status": "paid", "settled": "paid"}


async def test_given_an_item_settled_as_paid_before_its_order_id_was_known_then_found_by_its_key_and_flagged(  # noqa: E501
    app_url: str,
    held: GiftCardStandIn,  # noqa: F811
):
    """Settled as paid while pending with no order id (the order's answer lost), the
    payment's reference took the order id's place: the event names an order no item
    carries; the order's external id is the item's key, so it is found and flagged."""
    w = await _hooked(held)
    batch, items = await _held(w)
    bob = items["bob"]
    await _settled_as_paid(bob, "WIRE-2026-12-07-882", order_known=False)
    held.decide("EXECUTED", bob.provider_id or "")

    answer = await held.send_webhook(_hook(app_url), "ORDERS.APPROVED", bob.provider_id or "")

    assert answer.status_code == 200, answer.text
    after = (await _items(batch))["bob"]
    assert (after.status, after.failure_code) == (ItemStatus.PAID, "paid_after_settle")
    assert "('WIRE-2026-12-07-882')" in (after.failure_reason or "")
    [flag] = await _audit("payout_item.paid_after_settle")
    assert flag.entity_id == str(bob.id)


async def test_given_a_new_api_key_without_webhook_keys_then_the_stored_ones_are_kept(
    db: str,
    standin: GiftCardStandIn,  # noqa: F811
):
    """Setting the provider again (a new API key) without naming the webhook keys keeps
    them: the webhooks do not stop without a word. `podium payouts giftcards
    --no-webhook-secret` (an empty list) drops them; both options at once is one line."""
    from tests.api.cli_runner import podium

    w = await _hooked(standin)
    await set_gift_card_config(viewer=w.viewer("ops"), secret=SECRET, api_key=KEY + "2",
                               api_base=standin.url, products=["OKMHM2X2OHYV"])  # fmt: skip
    assert await gift_card_webhook_secrets(tenant_id=w.tenant.id, secret=SECRET) == (HOOK_KEY,)
    assert (await _audit("payout_provider.set"))[-1].after["webhookSecrets"] == 1

    base = ("payouts", "giftcards", "--tenant", "acme", "--api-key", KEY, "--api-base",
            standin.url, "--product", "OKMHM2X2OHYV")  # fmt: skip
    both = await podium(db, *base, "--webhook-secret", HOOK_KEY, "--no-webhook-secret")
    both.one_line_error("--no-webhook-secret: not with --webhook-secret")
    kept = await podium(db, *base)
    assert kept.returncode == 0, kept.stderr
    assert await gift_card_webhook_secrets(tenant_id=w.tenant.id, secret=SECRET) == (HOOK_KEY,)
    dropped = await podium(db, *base, "--no-webhook-secret")
    assert dropped.returncode == 0, dropped.stderr
    assert await gift_card_webhook_secrets(tenant_id=w.tenant.id, secret=SECRET) == ()
