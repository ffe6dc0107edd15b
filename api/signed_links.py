"""Signed, expiring links (PODIUM_URL_SIGNING_KEY): a document fetched without a bearer token
(a badge certificate, a statement's PDF), the link itself the authorisation. An expired or
tampered link answers 403, a malformed one 404; never a 500."""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode
from uuid import UUID

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

LINK_SECONDS = 3600


def _signature(key: bytes, purpose: str, entity_id: UUID, expires: int) -> str:
    return hmac.new(key, f"{purpose}:{entity_id}:{expires}".encode(), hashlib.sha256).hexdigest()


def signed_url(
    key: bytes, base_url: str, path: str, purpose: str, entity_id: UUID, *, now: float | None = None
) -> str:
    """``base_url`` + ``path`` with an expiry an hour away and its signature."""
    expires = int(now if now is not None else time.time()) + LINK_SECONDS
    query = urlencode({"expires": expires, "sig": _signature(key, purpose, entity_id, expires)})
    return f"{base_url.rstrip('/')}{path}?{query}"


def refused(key: bytes, request: Request, purpose: str, entity_id: UUID | None) -> Response | None:
    """Why the request's link is refused (a response to send), or None when it is good."""
    expires_text = request.query_params.get("expires", "")
    signature = request.query_params.get("sig", "")
    if entity_id is None or not expires_text.isdigit() or len(expires_text) > 12:
        return PlainTextResponse("not found", status_code=404)
    expected = _signature(key, purpose, entity_id, int(expires_text))
    if not hmac.compare_digest(expected, signature):
        return PlainTextResponse("the link's signature does not match", status_code=403)
    if int(expires_text) < time.time():
        return PlainTextResponse("the link has expired: ask the app for a new one", status_code=403)
    return None


def uuid_or_none(text: object) -> UUID | None:
    try:
        return UUID(str(text))
    except ValueError:
        return None
