"""A payout batch's file behind a signed, expiring link (`fileUrl`): the bank or payroll file
a file-method batch wrote, downloaded without a bearer token; a tampered or expired link 403,
an unknown batch or one without a file 404."""

from __future__ import annotations

from uuid import UUID

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from api.settings import Settings
from api.signed_links import refused, signed_url, uuid_or_none
from payments.batches.models import PayoutBatch

PURPOSE = "payout-batch-file"


def payout_file_url(settings: Settings, batch_id: UUID, *, now: float | None = None) -> str:
    """A link to the batch's file at the API's public address, valid for an hour."""
    return signed_url(settings.url_signing_key, settings.public_url,
                      f"/payout-batches/{batch_id}/file", PURPOSE, batch_id, now=now)  # fmt: skip


def payout_file_routes(settings: Settings) -> list[Route]:
    async def download(request: Request) -> Response:
        batch_id = uuid_or_none(request.path_params["batch_id"])
        refusal = refused(settings.url_signing_key, request, PURPOSE, batch_id)
        if refusal is not None or batch_id is None:
            return refusal or PlainTextResponse("not found", status_code=404)
        batch = await PayoutBatch.filter(id=batch_id).first()
        if batch is None or batch.file_content is None:
            return PlainTextResponse("not found", status_code=404)
        return Response(
            bytes(batch.file_content),
            media_type=batch.file_media_type or "application/octet-stream",
            headers={"content-disposition": f'attachment; filename="{batch.file_name}"'},
        )

    return [Route("/payout-batches/{batch_id}/file", download, methods=["GET"])]
