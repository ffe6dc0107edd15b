"""The webhook endpoints.

Every one: read the body with a 1 MiB cap (413), find the tenant and check authenticity
(401, nothing stored; an unknown tenant gets the same 401), parse (400), then store every
accepted event in the inbox and every invalid one in the dead letters in ONE committed
transaction, and only then enqueue the inbox ids and answer. A lost enqueue (Redis down) is
picked up by the workers' sweeper: the answer stays 202, because the events are durable.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape

import structlog
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from tortoise.transactions import in_transaction

from api.observability import ACCESS_LOG_FIELDS
from api.webhooks.signatures import (
    tenant_secrets,
    verify_hubspot_signature,
    verify_outbound_url_secret,
    verify_podium_signature,
)
from domain.ingest import adapters, service
from domain.ingest.errors import InvalidEnvelope, TooManyEvents
from domain.ingest.events import loads_exact, parse_envelope
from domain.ingest.mapping import field_mapping
from domain.org.viewer import Viewer
from domain.tenants.models import Tenant
from domain.tenants.repository import tenant_by_slug
from workers.queue import JobQueue

MAX_BODY = 1024 * 1024

log = structlog.get_logger("podium.webhooks")


class BodyTooLarge(Exception):
    pass


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The body, refusing more than ``limit`` bytes whatever Content-Length claims."""
    declared = request.headers.get("content-length")
    if declared and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _error(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "field": field}}, status_code=status
    )


def _refused(exc: InvalidEnvelope) -> JSONResponse:
    """400, or 413 for more events than one request may carry (the answer names the limit)."""
    return _error(413 if isinstance(exc, TooManyEvents) else 400, exc.code, exc.message, exc.field)


UNAUTHORIZED = ("unauthorized", "missing, invalid or expired signature")


async def _start(request: Request) -> bytes | JSONResponse:
    try:
        body = await read_body(request)
    except BodyTooLarge:
        return _error(413, "body_too_large", f"the body is over {MAX_BODY} bytes", "body")
    except ClientDisconnect:
        return _error(400, "invalid_envelope", "the client went away", "body")
    return body


# slug -> (until, tenant): a CRM posting 200 events a second need not read its tenant 200 times
TENANT_CACHE_SECONDS = 5.0
_tenants: dict[str, tuple[float, Tenant]] = {}


async def _tenant(slug: str) -> Tenant | None:
    tenant = await tenant_by_slug(slug)  # None for a slug no tenant can have: 401
    if tenant is None:
        _tenants.pop(slug, None)
    else:
        if len(_tenants) >= 1000:  # many tenants: start over rather than grow
            _tenants.clear()
        _tenants[slug] = (time.monotonic() + TENANT_CACHE_SECONDS, tenant)
    return tenant


async def _authentic(slug: str, check: Callable[[list[str]], bool]) -> Tenant | None:
    """The tenant if ``check`` accepts one of its secrets, else None. A tenant read in the
    last few seconds is trusted for its current secret only: the previous one (a rotation's
    grace, which may have ended) and any failure are decided on a fresh read, so a rotation
    counts at once. (A secret that is current in the cache was current a few seconds ago:
    at worst it is the previous one now, accepted for a day anyway.)"""
    hit = _tenants.get(slug)
    if hit is not None and hit[0] > time.monotonic() and check([hit[1].webhook_secret]):
        return hit[1]
    tenant = await _tenant(slug)
    return tenant if tenant is not None and check(tenant_secrets(tenant)) else None


async def _store_and_enqueue(
    request: Request,
    tenant: Tenant,
    source: str,
    events: list[Any],
    invalid: dict[int, Any] | None = None,
    left_out: dict[int, dict[str, str]] | None = None,
) -> service.IngestResult:
    viewer = Viewer.system(tenant.id, f"webhook-{source}")
    checked = await service.check_events(
        viewer=viewer, source=source, events=events, invalid=invalid, left_out=left_out
    )
    if checked.one_statement:  # the usual case: no BEGIN and COMMIT round trips
        result = await service.store_checked(viewer=viewer, checked=checked)
    else:
        async with in_transaction():
            result = await service.store_checked(viewer=viewer, checked=checked)
    await _enqueue(request, tenant, result.inbox_ids)
    # on the request's access line (one line a webhook call, not two)
    setattr(
        request.state,
        ACCESS_LOG_FIELDS,
        {
            "tenant": tenant.slug,
            "source": source,
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "rejected": len(result.rejected),
            "left_out": len(result.left_out),
        },
    )
    _log_left_out(tenant, source, result.left_out)
    return result


def _log_left_out(tenant: Tenant, source: str, left_out: list[service.LeftOut]) -> None:
    """One warning per record whose CRM fields an adapter left out for their size."""
    by_event: dict[int, list[service.LeftOut]] = {}
    for item in left_out:
        by_event.setdefault(item.index, []).append(item)
    for items in by_event.values():
        log.warning(
            "crm fields left out: too large to store",
            tenant=tenant.slug,
            source=source,
            record_id=items[0].record_id,
            event_id=items[0].id,
            fields=[item.shown_name for item in items],
            reasons=[item.reason for item in items],
        )


async def _enqueue(request: Request, tenant: Tenant, inbox_ids: list[int]) -> None:
    if not inbox_ids:
        return
    try:
        queue: JobQueue = request.app.state.job_queue
        await queue.enqueue_apply(tenant.id, inbox_ids)
    except Exception as exc:  # noqa: BLE001 - durable already: the sweeper re-enqueues
        log.warning("enqueue failed; the sweeper will pick the events up", error=repr(exc))


async def crm_webhook(request: Request) -> Response:
    """POST /webhooks/crm/{tenant}: the generic signed events (CRM_EVENTS.md)."""
    started = await _start(request)
    if isinstance(started, JSONResponse):
        return started
    body = started
    tenant = await _authentic(
        request.path_params["tenant"],
        lambda secrets: verify_podium_signature(
            request.headers.get("podium-signature"), body, secrets
        ),
    )
    if tenant is None:
        return _error(401, *UNAUTHORIZED, "Podium-Signature")
    try:
        events = parse_envelope(body)
    except InvalidEnvelope as exc:
        return _refused(exc)
    try:
        result = await _store_and_enqueue(request, tenant, "crm", events)
    except TooManyEvents as exc:
        return _refused(exc)
    return JSONResponse(result.as_dict(), status_code=202)


async def salesforce_cdc(request: Request) -> Response:
    """POST /webhooks/salesforce/{tenant}: Change Data Capture events as JSON, forwarded by
    a Pub/Sub relay that signs them with ``Podium-Signature`` like the generic webhook."""
    started = await _start(request)
    if isinstance(started, JSONResponse):
        return started
    body = started
    tenant = await _authentic(
        request.path_params["tenant"],
        lambda secrets: verify_podium_signature(
            request.headers.get("podium-signature"), body, secrets
        ),
    )
    if tenant is None:
        return _error(401, *UNAUTHORIZED, "Podium-Signature")
    viewer = Viewer.system(tenant.id, "webhook-salesforce")
    try:
        document = loads_exact(body)
        translated = await service.translate(
            viewer=viewer, source="salesforce_cdc", payload=document
        )
    except ValueError as exc:
        return _error(400, "invalid_envelope", f"malformed JSON: {exc}", "body")
    except InvalidEnvelope as exc:
        return _refused(exc)
    try:
        result = await _store_and_enqueue(
            request,
            tenant,
            "salesforce_cdc",
            translated.events,
            translated.invalid,
            translated.left_out,
        )
    except TooManyEvents as exc:
        return _refused(exc)
    return JSONResponse(result.as_dict(), status_code=202)


SOAP_FAULT = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    "<soapenv:Body><soapenv:Fault><faultcode>soapenv:Client</faultcode>"
    "<faultstring>{message}</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
)


def _soap_fault(status: int, message: str) -> Response:
    return Response(SOAP_FAULT.format(message=message), status_code=status, media_type="text/xml")


async def salesforce_outbound(request: Request) -> Response:
    """POST /webhooks/salesforce/{tenant}/outbound/{secret}: SOAP Outbound Messages (no
    signature: the secret in the URL and the OrganizationId are checked). Answers the SOAP
    ``<Ack>true</Ack>`` once the notifications are committed; Salesforce redelivers
    otherwise, and a redelivered Notification Id is a duplicate."""
    try:
        body = await read_body(request)
    except BodyTooLarge:
        return _soap_fault(413, "body too large")
    tenant = await _authentic(
        request.path_params["tenant"],
        lambda secrets: verify_outbound_url_secret(request.path_params["secret"], secrets),
    )
    if tenant is None:
        return _soap_fault(401, "unauthorized")
    viewer = Viewer.system(tenant.id, "webhook-salesforce-outbound")
    try:
        message = adapters.parse_outbound(body)
    except InvalidEnvelope as exc:
        return _soap_fault(413 if isinstance(exc, TooManyEvents) else 400, escape(str(exc)))
    expected_org = (await field_mapping(viewer=viewer, source="salesforce")).get("organization_id")
    if not expected_org or message.organization_id[:15] != str(expected_org)[:15]:
        # 15- and 18-character forms of one Salesforce id share their first 15 characters
        return _soap_fault(401, "unknown organization")
    translated = await service.translate(
        viewer=viewer, source="salesforce_outbound", payload=message
    )
    try:
        await _store_and_enqueue(
            request,
            tenant,
            "salesforce_outbound",
            translated.events,
            translated.invalid,
            translated.left_out,
        )
    except TooManyEvents as exc:
        return _soap_fault(413, escape(str(exc)))
    return Response(adapters.ACK, media_type="text/xml")


async def hubspot_webhook(request: Request) -> Response:
    """POST /webhooks/hubspot/{tenant}: HubSpot webhook events, v3 signature (the tenant's
    webhook secret is the HubSpot app's client secret)."""
    started = await _start(request)
    if isinstance(started, JSONResponse):
        return started
    body = started
    tenant = await _authentic(
        request.path_params["tenant"],
        lambda secrets: verify_hubspot_signature(
            request.headers.get("x-hubspot-signature-v3"),
            request.headers.get("x-hubspot-request-timestamp"),
            method=request.method,
            uri=str(request.url),
            body=body,
            secrets=secrets,
        ),
    )
    if tenant is None:
        return _error(401, *UNAUTHORIZED, "X-HubSpot-Signature-v3")
    viewer = Viewer.system(tenant.id, "webhook-hubspot")
    try:
        document = loads_exact(body)
        translated = await service.translate(viewer=viewer, source="hubspot", payload=document)
    except ValueError as exc:
        return _error(400, "invalid_envelope", f"malformed JSON: {exc}", "body")
    except InvalidEnvelope as exc:
        return _refused(exc)
    try:
        result = await _store_and_enqueue(
            request,
            tenant,
            "hubspot",
            translated.events,
            translated.invalid,
            translated.left_out,
        )
    except TooManyEvents as exc:
        return _refused(exc)
    return JSONResponse(result.as_dict(), status_code=202)


def webhook_routes() -> list[Route]:
    return [
        Route("/webhooks/crm/{tenant}", crm_webhook, methods=["POST"]),
        Route("/webhooks/salesforce/{tenant}", salesforce_cdc, methods=["POST"]),
        Route(
            "/webhooks/salesforce/{tenant}/outbound/{secret}",
            salesforce_outbound,
            methods=["POST"],
        ),
        Route("/webhooks/hubspot/{tenant}", hubspot_webhook, methods=["POST"]),
    ]
