"""Payout details sealed at rest with AES-GCM under the service's PODIUM_PAYOUT_DETAILS_SECRET
(the pattern of the badge issuer keys): the key is SHA-256 of a label and the secret, the
tenant and payee ids are the associated data, so a sealed value copied to another person's
row does not open."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from payments.payouts.validation import PayoutAccount


class SealError(Exception):
    """A sealed value that does not open: another secret, or another person's row."""


def _aead(secret: bytes) -> AESGCM:
    return AESGCM(hashlib.sha256(b"podium-payout-details:" + secret).digest())


def seal(account: PayoutAccount, *, secret: bytes, tenant_id: UUID, user_id: UUID) -> str:
    nonce = os.urandom(12)
    clear = json.dumps(account.to_json(), sort_keys=True, separators=(",", ":")).encode()
    sealed = nonce + _aead(secret).encrypt(nonce, clear, tenant_id.bytes + user_id.bytes)
    return base64.urlsafe_b64encode(sealed).decode()


def unseal(sealed: str, *, secret: bytes, tenant_id: UUID, user_id: UUID) -> PayoutAccount:
    raw = base64.urlsafe_b64decode(sealed)
    try:
        clear = _aead(secret).decrypt(raw[:12], raw[12:], tenant_id.bytes + user_id.bytes)
    except InvalidTag:
        raise SealError("payout details do not open with this secret") from None
    return PayoutAccount.from_json(json.loads(clear))
