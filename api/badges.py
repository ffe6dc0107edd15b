"""Public badge routes: a certificate behind a signed, expiring link, and what verifiers of
an Open Badges credential fetch (the issuer's profile with its public key, the revocation
status list). A link that is expired or tampered with answers 403; an unknown award or
tenant 404; never a 500."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from api.settings import Settings
from domain.tenants.models import Tenant
from gamification.badges.credentials import issuer_profile, status_list
from gamification.badges.service import certificate_of

CERTIFICATE_LINK_SECONDS = 3600


def _signature(key: bytes, award_id: UUID, expires: int) -> str:
    return hmac.new(key, f"certificate:{award_id}:{expires}".encode(), hashlib.sha256).hexdigest()


def certificate_url(
    settings: Settings, base_url: str, award_id: UUID, *, now: float | None = None
) -> str:
    """A link to the award's certificate, valid for an hour."""
    expires = int(now if now is not None else time.time()) + CERTIFICATE_LINK_SECONDS
    query = urlencode(
        {"expires": expires, "sig": _signature(settings.url_signing_key, award_id, expires)}
    )
    return f"{base_url.rstrip('/')}/badges/certificates/{award_id}?{query}"


def _uuid(text: Any) -> UUID | None:
    try:
        return UUID(str(text))
    except ValueError:
        return None


def badge_routes(settings: Settings) -> list[Route]:
    async def certificate(request: Request) -> Response:
        award_id = _uuid(request.path_params["award_id"])
        expires_text = request.query_params.get("expires", "")
        signature = request.query_params.get("sig", "")
        if award_id is None or not expires_text.isdigit() or len(expires_text) > 12:
            return PlainTextResponse("not found", status_code=404)
        expected = _signature(settings.url_signing_key, award_id, int(expires_text))
        if not hmac.compare_digest(expected, signature):
            return PlainTextResponse("the link's signature does not match", status_code=403)
        if int(expires_text) < time.time():
            return PlainTextResponse(
                "the link has expired: ask the app for a new one", status_code=403
            )
        pdf = await certificate_of(award_id=award_id)
        if pdf is None:
            return PlainTextResponse("not found", status_code=404)
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"content-disposition": f'inline; filename="certificate-{award_id}.pdf"'},
        )

    async def _tenant(request: Request) -> Tenant | None:
        tenant_id = _uuid(request.path_params["tenant_id"])
        return None if tenant_id is None else await Tenant.get_or_none(id=tenant_id)

    def _base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    async def status(request: Request) -> Response:
        tenant = await _tenant(request)
        if tenant is None:
            return PlainTextResponse("not found", status_code=404)
        token = await status_list(
            tenant_id=tenant.id, base_url=_base(request), secret=settings.issuer_key_secret
        )
        return Response(token, media_type="application/vc+jwt")

    async def issuer(request: Request) -> Response:
        tenant = await _tenant(request)
        if tenant is None:
            return PlainTextResponse("not found", status_code=404)
        profile = await issuer_profile(
            tenant_id=tenant.id,
            tenant_name=tenant.name,
            base_url=_base(request),
            secret=settings.issuer_key_secret,
        )
        return JSONResponse(profile)

    return [
        Route("/badges/certificates/{award_id}", certificate, methods=["GET"]),
        Route("/badges/{tenant_id}/status", status, methods=["GET"]),
        Route("/badges/{tenant_id}/issuer", issuer, methods=["GET"]),
    ]
