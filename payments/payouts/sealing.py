"""Secrets sealed at rest with AES-GCM under the service's PODIUM_PAYOUT_DETAILS_SECRET (the
pattern of the badge issuer keys): the key is SHA-256 of a label and the secret; what the
sealed value belongs to (tenant and payee ids, or tenant and provider) is the associated data,
so a sealed value copied to another row does not open."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from payments.payouts.models import DEVELOPMENT_SECRET
from payments.payouts.validation import PayoutAccount


def secret_from_environment(env: Mapping[str, str] | None = None) -> bytes:
    """PODIUM_PAYOUT_DETAILS_SECRET for processes without the API's settings (the workers):
    required when PODIUM_ENV=production, the development secret otherwise."""
    env = os.environ if env is None else env
    value = env.get("PODIUM_PAYOUT_DETAILS_SECRET") or ""
    if value:
        return value.encode()
    if env.get("PODIUM_ENV") == "production":
        raise RuntimeError("PODIUM_PAYOUT_DETAILS_SECRET is required when PODIUM_ENV=production")
    return DEVELOPMENT_SECRET


class SealError(Exception):
    """A sealed value that does not open: another secret, or another row."""


def _aead(secret: bytes) -> AESGCM:
    return AESGCM(hashlib.sha256(b"podium-payout-details:" + secret).digest())


def seal_json(data: dict[str, Any], *, secret: bytes, bound_to: bytes) -> str:
    nonce = os.urandom(12)
    clear = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(nonce + _aead(secret).encrypt(nonce, clear, bound_to)).decode()


def unseal_json(sealed: str, *, secret: bytes, bound_to: bytes) -> dict[str, Any]:
    raw = base64.urlsafe_b64decode(sealed)
    try:
        clear = _aead(secret).decrypt(raw[:12], raw[12:], bound_to)
    except InvalidTag:
        raise SealError("a sealed value does not open with this secret here") from None
    data: dict[str, Any] = json.loads(clear)
    return data


def seal(account: PayoutAccount, *, secret: bytes, tenant_id: UUID, user_id: UUID) -> str:
    return seal_json(account.to_json(), secret=secret, bound_to=tenant_id.bytes + user_id.bytes)


def unseal(sealed: str, *, secret: bytes, tenant_id: UUID, user_id: UUID) -> PayoutAccount:
    data = unseal_json(sealed, secret=secret, bound_to=tenant_id.bytes + user_id.bytes)
    return PayoutAccount.from_json(data)
