"""Payout providers' webhooks: `POST /webhooks/stripe/{tenant}`.

Read the body (1 MiB cap, 413), find the tenant and its Stripe webhook secrets, verify the
Stripe-Signature with stripe-python's check (401 and nothing stored otherwise; an unknown
tenant or one without Stripe gets the same 401), store the raw event once (a redelivery
stores nothing) and apply what it says of a batch item (`stripe_connect.outcome_of`,
`batches.service.apply_event_outcome`) in one committed transaction, answer 202."""

from __future__ import annotations

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from tortoise.transactions import in_transaction

from api.settings import Settings
from api.webhooks.routes import UNAUTHORIZED, _error, _start, _tenant
from domain.kit.errors import InvalidInput
from payments.batches.service import apply_event_outcome
from payments.methods.service import record_stripe_event, stripe_setup
from payments.methods.stripe_connect import BadSignature, outcome_of, verified_event

log = structlog.get_logger("podium.webhooks")


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

    return [Route("/webhooks/stripe/{tenant}", stripe_webhook, methods=["POST"])]
