"""Payout providers' webhooks: `POST /webhooks/stripe/{tenant}`, `POST
/webhooks/giftcards/{tenant}`.

Read the body (1 MiB cap, 413), find the tenant and its Stripe webhook secrets, verify the
Stripe-Signature with stripe-python's check (401 and nothing stored otherwise; an unknown
tenant or one without Stripe gets the same 401), store the raw event once (a redelivery
stores nothing) and apply what it says of a batch item (`stripe_connect.outcome_of`,
`batches.service.apply_event_outcome`) in one committed transaction, answer 202.

Gift cards (a Tremendous-style provider): the same body cap; the `Tremendous-Webhook-Signature`
checked against the tenant's gift card webhook private keys (401, nothing stored; an unknown
tenant, or one without them, the same 401); a body that is no event is 400 naming the field.
The event is stored once by its uuid and, in the same transaction, what it is about is asked
of the provider (`batches.service.apply_gift_card_event`: its state is never taken from the
event). A provider that cannot be asked rolls everything back and answers 503: the provider
redelivers later (the event then is new again). An event about no item of ours is 200."""

from __future__ import annotations

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from tortoise.transactions import in_transaction

from api.settings import Settings
from api.webhooks.routes import UNAUTHORIZED, _error, _start, _tenant
from domain.kit.errors import InvalidInput
from payments.batches.service import apply_event_outcome, apply_gift_card_event
from payments.methods.giftcards import SIGNATURE_HEADER, verify_webhook, webhook_event
from payments.methods.service import (
    gift_card_webhook_secrets,
    record_gift_card_event,
    record_stripe_event,
    stripe_setup,
)
from payments.methods.stripe_connect import BadSignature, outcome_of, verified_event

log = structlog.get_logger("podium.webhooks")


class _ProviderNotAsked(Exception):
    """Rolls the event's transaction back: the provider could not be asked about it."""


def payout_webhook_routes(settings: Settings) -> list[Route]:
    async def stripe_webhook(request: Request) -> Response:
        body = await _start(request)
        if isinstance(body, JSONResponse):
            return body
        tenant = await _tenant(request.path_params["tenant"])
        setup = None
        if tenant is not None:
            setup = await stripe_setup(tenant_id=tenant.id, secret=settings.payout_details_secret)
        if tenant is None or setup is None:
            return _error(401, *UNAUTHORIZED)
        try:
            event = verified_event(
                body, request.headers.get("stripe-signature"), list(setup.webhook_secrets)
            )
        except BadSignature:
            return _error(401, *UNAUTHORIZED)
        try:
            async with in_transaction():
                new = await record_stripe_event(tenant_id=tenant.id, event=event)
                outcome = outcome_of(event) if new else None
                if outcome is not None:  # what became of one of our items: applied once
                    await apply_event_outcome(tenant_id=tenant.id, outcome=outcome)
        except InvalidInput as exc:
            return _error(400, exc.code, exc.message, exc.field)
        log.info("stripe event", tenant=tenant.slug, event_type=event["type"], new=new)
        return JSONResponse({"received": True, "duplicate": not new}, status_code=202)

    async def giftcard_webhook(request: Request) -> Response:
        body = await _start(request)
        if isinstance(body, JSONResponse):
            return body
        tenant = await _tenant(request.path_params["tenant"])
        secrets: tuple[str, ...] = ()
        if tenant is not None:
            secrets = await gift_card_webhook_secrets(
                tenant_id=tenant.id, secret=settings.payout_details_secret
            )
        header = request.headers.get(SIGNATURE_HEADER)
        if tenant is None or not verify_webhook(body, header, secrets):
            return _error(401, *UNAUTHORIZED, SIGNATURE_HEADER)
        try:
            event = webhook_event(body)
        except InvalidInput as exc:
            return _error(400, exc.code, exc.message, exc.field)
        applied = None
        try:
            async with in_transaction():
                new = await record_gift_card_event(tenant_id=tenant.id, event=event)
                if new and (event.order_id or event.reward_id):
                    applied = await apply_gift_card_event(
                        tenant_id=tenant.id, order_id=event.order_id, reward_id=event.reward_id,
                        secret=settings.payout_details_secret,
                    )  # fmt: skip
                    if not applied.asked:
                        raise _ProviderNotAsked(applied.why)
        except _ProviderNotAsked as exc:
            log.warning("gift card event not applied: the provider could not be asked",
                        tenant=tenant.slug, event_type=event.kind, event_id=event.id,
                        why=str(exc))  # fmt: skip
            return _error(503, "provider_unreachable", f"not applied: {exc}; send it again")
        log.info("gift card event", tenant=tenant.slug, event_type=event.kind, event_id=event.id,
                 new=new, item=applied and applied.reference,
                 status=applied and applied.became and applied.became.value,
                 why=applied and applied.why)  # fmt: skip
        return JSONResponse(
            {
                "received": True,
                "duplicate": not new,
                "item": applied and applied.reference,
                "status": applied and applied.became and applied.became.value,
                "detail": applied and applied.why,
            }
        )

    return [
        Route("/webhooks/stripe/{tenant}", stripe_webhook, methods=["POST"]),
        Route("/webhooks/giftcards/{tenant}", giftcard_webhook, methods=["POST"]),
    ]
