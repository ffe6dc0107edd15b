"""Webhook signatures: Podium's own (``Podium-Signature``) and HubSpot's v3. Secrets are
compared in constant time; during a rotation's grace period the previous secret is accepted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import timedelta
from urllib.parse import unquote

from domain.kit.clock import utc_now
from domain.tenants.models import Tenant

TOLERANCE_SECONDS = 300  # Podium-Signature: t within 5 minutes of now, either way
HUBSPOT_MAX_AGE_SECONDS = 300
ROTATION_GRACE = timedelta(hours=24)


def tenant_secrets(tenant: Tenant) -> list[str]:
    """The secrets accepted now: the current one, and the previous one during the grace
    period after a rotation."""
    secrets = [tenant.webhook_secret]
    rotated = tenant.webhook_secret_rotated_at
    if tenant.webhook_secret_previous and rotated and utc_now() - rotated <= ROTATION_GRACE:
        secrets.append(tenant.webhook_secret_previous)
    return secrets


def podium_signature(secret: str, body: bytes, timestamp: int) -> str:
    """The header value a sender writes: ``t=<unix seconds>,v1=<hex hmac>``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_podium_signature(
    header: str | None, body: bytes, secrets: list[str], *, now: float | None = None
) -> bool:
    if not header:
        return False
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        # isdigit() alone lets "²" through (int() then raises); 12 digits reach year 33658
        if key == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs((time.time() if now is None else now) - timestamp) > TOLERANCE_SECONDS:
        return False
    signed = f"{timestamp}.".encode() + body
    ok = False
    for secret in secrets:
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        for candidate in candidates:
            # no early exit: every comparison costs the same (bytes: compare_digest raises
            # on str with non-ASCII characters, which a header can carry)
            ok |= hmac.compare_digest(expected.encode(), candidate.encode("utf-8", "replace"))
    return ok


# HubSpot signs the URI with these escapes decoded (its documented list)
_HUBSPOT_DECODED = (
    "%3A",
    "%2F",
    "%3F",
    "%40",
    "%21",
    "%24",
    "%27",
    "%28",
    "%29",
    "%2A",
    "%2C",
    "%3B",
)


def _hubspot_uri(uri: str) -> str:
    for escape in _HUBSPOT_DECODED:
        uri = uri.replace(escape, unquote(escape)).replace(escape.lower(), unquote(escape))
    return uri


def hubspot_signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    source = method.upper().encode() + _hubspot_uri(uri).encode() + body + timestamp.encode()
    digest = hmac.new(secret.encode(), source, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_hubspot_signature(
    signature: str | None,
    timestamp: str | None,
    *,
    method: str,
    uri: str,
    body: bytes,
    secrets: list[str],
    now: float | None = None,
) -> bool:
    if (
        not signature
        or not timestamp
        or not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 15)
    ):
        return False
    age_ms = (time.time() if now is None else now) * 1000 - int(timestamp)
    if age_ms > HUBSPOT_MAX_AGE_SECONDS * 1000 or age_ms < -HUBSPOT_MAX_AGE_SECONDS * 1000:
        return False
    ok = False
    for secret in secrets:
        expected = hubspot_signature(secret, method, uri, body, timestamp)
        ok |= hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))
    return ok


def outbound_url_secret(secret: str) -> str:
    """The secret a Salesforce Outbound Message URL carries, derived from the tenant's webhook
    secret (Outbound Messages have no signature; the raw secret never appears in a URL)."""
    return hmac.new(secret.encode(), b"salesforce-outbound", hashlib.sha256).hexdigest()[:40]


def verify_outbound_url_secret(given: str, secrets: list[str]) -> bool:
    ok = False
    for secret in secrets:
        ok |= hmac.compare_digest(
            outbound_url_secret(secret).encode(), given.encode("utf-8", "surrogatepass")
        )
    return ok
