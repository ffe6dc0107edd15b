"""A statement's PDF, and a partner's invoice PDF, behind signed, expiring links
(`Statement.pdfUrl`, `Invoice.pdfUrl`): in the payee's language and money format. An expired or
tampered link answers 403, an unknown statement or invoice 404."""

from __future__ import annotations

from uuid import UUID

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from api.settings import Settings
from api.signed_links import refused, signed_url, uuid_or_none
from payments.invoices.service import invoice_pdf_for_link
from payments.statements.service import statement_pdf_for_link

PURPOSE = "statement"
INVOICE_PURPOSE = "invoice"


def statement_pdf_url(settings: Settings, statement_id: UUID, *, now: float | None = None) -> str:
    """A link to the statement's PDF at the API's public address, valid for an hour."""
    return signed_url(
        settings.url_signing_key, settings.public_url, f"/statements/{statement_id}/pdf",
        PURPOSE, statement_id, now=now,
    )  # fmt: skip


def invoice_pdf_url(settings: Settings, invoice_id: UUID, *, now: float | None = None) -> str:
    """A link to the invoice's PDF at the API's public address, valid for an hour."""
    return signed_url(
        settings.url_signing_key, settings.public_url, f"/invoices/{invoice_id}/pdf",
        INVOICE_PURPOSE, invoice_id, now=now,
    )  # fmt: skip


def statement_routes(settings: Settings) -> list[Route]:
    async def pdf(request: Request) -> Response:
        statement_id = uuid_or_none(request.path_params["statement_id"])
        refusal = refused(settings.url_signing_key, request, PURPOSE, statement_id)
        if refusal is not None or statement_id is None:
            return refusal or PlainTextResponse("not found", status_code=404)
        document = await statement_pdf_for_link(statement_id, fonts=settings.pdf_fonts)
        if document is None:
            return PlainTextResponse("not found", status_code=404)
        return Response(
            document,
            media_type="application/pdf",
            headers={"content-disposition": f'inline; filename="statement-{statement_id}.pdf"'},
        )

    async def invoice(request: Request) -> Response:
        invoice_id = uuid_or_none(request.path_params["invoice_id"])
        refusal = refused(settings.url_signing_key, request, INVOICE_PURPOSE, invoice_id)
        if refusal is not None or invoice_id is None:
            return refusal or PlainTextResponse("not found", status_code=404)
        document = await invoice_pdf_for_link(invoice_id, fonts=settings.pdf_fonts)
        if document is None:
            return PlainTextResponse("not found", status_code=404)
        return Response(
            document,
            media_type="application/pdf",
            headers={"content-disposition": f'inline; filename="invoice-{invoice_id}.pdf"'},
        )

    return [
        Route("/statements/{statement_id}/pdf", pdf, methods=["GET"]),
        Route("/invoices/{invoice_id}/pdf", invoice, methods=["GET"]),
    ]
