"""Public badge routes: a certificate behind a signed, expiring link, and what verifiers of
an Open Badges credential fetch (the issuer's profile with its public key, the revocation
status list). Every URL they and the credentials name starts with the configured public URL
(PODIUM_PUBLIC_URL), never with the request's Host header. A link that is expired or
tampered with answers 403; an unknown award or tenant 404; never a 500."""

from __future__ import annotations

from uuid import UUID

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from api.settings import Settings
from api.signed_links import refused, signed_url, uuid_or_none
from domain.tenants.models import Tenant
from gamification.badges.credentials import issuer_profile, status_list
from gamification.badges.service import certificate_of


def certificate_url(settings: Settings, award_id: UUID, *, now: float | None = None) -> str:
    """A link to the award's certificate, valid for an hour, at the public URL."""
    return signed_url(
        settings.url_signing_key, settings.public_url, f"/badges/certificates/{award_id}",
        "certificate", award_id, now=now,
    )  # fmt: skip


def badge_routes(settings: Settings) -> list[Route]:
    async def certificate(request: Request) -> Response:
        award_id = uuid_or_none(request.path_params["award_id"])
        refusal = refused(settings.url_signing_key, request, "certificate", award_id)
        if refusal is not None or award_id is None:
            return refusal or PlainTextResponse("not found", status_code=404)
        pdf = await certificate_of(award_id=award_id, fonts=settings.pdf_fonts)
        if pdf is None:
            return PlainTextResponse("not found", status_code=404)
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"content-disposition": f'inline; filename="certificate-{award_id}.pdf"'},
        )

    async def _tenant(request: Request) -> Tenant | None:
        tenant_id = uuid_or_none(request.path_params["tenant_id"])
        return None if tenant_id is None else await Tenant.get_or_none(id=tenant_id)

    async def status(request: Request) -> Response:
        tenant = await _tenant(request)
        if tenant is None:
            return PlainTextResponse("not found", status_code=404)
        token = await status_list(
            tenant_id=tenant.id, base_url=settings.public_url, secret=settings.issuer_key_secret
        )
        return Response(token, media_type="application/vc+jwt")

    async def issuer(request: Request) -> Response:
        tenant = await _tenant(request)
        if tenant is None:
            return PlainTextResponse("not found", status_code=404)
        profile = await issuer_profile(
            tenant_id=tenant.id,
            tenant_name=tenant.name,
            base_url=settings.public_url,
            secret=settings.issuer_key_secret,
        )
        return JSONResponse(profile)

    return [
        Route("/badges/certificates/{award_id}", certificate, methods=["GET"]),
        Route("/badges/{tenant_id}/status", status, methods=["GET"]),
        Route("/badges/{tenant_id}/issuer", issuer, methods=["GET"]),
    ]
