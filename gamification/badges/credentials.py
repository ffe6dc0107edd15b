"""Open Badges 3.0 credentials of awards, signed as VC-JWT (EdDSA, Ed25519) by the tenant's
issuer key, and the tenant's revocation list (W3C Bitstring Status List v1.0).

Anyone can verify a credential offline with the issuer's public key (served as a JWK at the
issuer URL) and any JOSE library; revocation is the award's bit in the status list credential,
itself a signed VC-JWT. The private key is encrypted with AES-GCM under ``secret`` (the
service's PODIUM_ISSUER_KEY_SECRET) and never appears in any answer."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from tortoise.exceptions import IntegrityError

from domain.kit.clock import utc_now
from gamification.badges.models import BadgeAward, BadgeDefinition, BadgeIssuer

STATUS_LIST_BITS = 131_072  # 16 KB: the spec's minimum, so a list reveals little of its size
OB3_CONTEXT = [
    "https://www.w3.org/ns/credentials/v2",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _aead(secret: bytes, tenant_id: UUID) -> tuple[AESGCM, bytes]:
    # the tenant id is the associated data: a key copied to another tenant's row fails
    return AESGCM(hashlib.sha256(b"podium-issuer-key:" + secret).digest()), tenant_id.bytes


async def issuer_of(*, tenant_id: UUID, secret: bytes) -> tuple[Ed25519PrivateKey, str]:
    """The tenant's signing key and its public key (base64url), created on first use."""
    issuer = await BadgeIssuer.get_or_none(tenant_id=tenant_id)
    aead, aad = _aead(secret, tenant_id)
    if issuer is None:
        key = Ed25519PrivateKey.generate()
        raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        nonce = os.urandom(12)
        public = _b64(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
        try:
            issuer = await BadgeIssuer.create(
                id=uuid4(),
                tenant_id=tenant_id,
                public_key=public,
                private_key_encrypted=_b64(nonce + aead.encrypt(nonce, raw, aad)),
                created_at=utc_now(),
            )
        except IntegrityError:  # another request created it first
            issuer = await BadgeIssuer.get(tenant_id=tenant_id)
    sealed = _unb64(issuer.private_key_encrypted)
    raw = aead.decrypt(sealed[:12], sealed[12:], aad)
    return Ed25519PrivateKey.from_private_bytes(raw), issuer.public_key


def public_jwk(public_key: str, kid: str) -> dict[str, str]:
    return {"kty": "OKP", "crv": "Ed25519", "x": public_key, "kid": kid, "alg": "EdDSA"}


def _jws(key: Ed25519PrivateKey, kid: str, claims: dict[str, Any]) -> str:
    header = {"alg": "EdDSA", "typ": "vc+jwt", "kid": kid}
    signing_input = (
        _b64(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    )
    return signing_input + "." + _b64(key.sign(signing_input.encode()))


def _iso(moment: datetime) -> str:
    """The instant in UTC, as the credential states it (``Z``: whatever zone it was read in)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Urls:
    """Where the issuer, its key and its status list are served (absolute, public)."""

    def __init__(self, base_url: str, tenant_id: UUID) -> None:
        root = f"{base_url.rstrip('/')}/badges/{tenant_id}"
        self.issuer = f"{root}/issuer"
        self.status_list = f"{root}/status"
        self.kid = f"{self.issuer}#key-1"

    def achievement(self, badge_id: UUID) -> str:
        return f"{self.issuer.rsplit('/', 1)[0]}/achievements/{badge_id}"


def credential_document(
    *,
    award: BadgeAward,
    badge: BadgeDefinition,
    recipient: str,
    tenant_name: str,
    urls: Urls,
) -> dict[str, Any]:
    """The OpenBadgeCredential of an award (unsigned)."""
    return {
        "@context": OB3_CONTEXT,
        "id": f"urn:uuid:{award.id}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": urls.issuer, "type": ["Profile"], "name": tenant_name},
        "validFrom": _iso(award.awarded_at),
        "name": badge.name,
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "name": recipient,
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityHash": f"urn:uuid:{award.user_id}",
                    "identityType": "identifier",
                    "hashed": False,
                }
            ],
            "achievement": {
                "id": urls.achievement(badge.id),
                "type": ["Achievement"],
                "name": badge.name,
                "description": badge.description or badge.name,
                "criteria": {"narrative": badge.rule or "Awarded by the issuer."},
            },
            "result": [{"type": ["Result"], "value": award.period}],
        },
        "credentialStatus": {
            "id": f"{urls.status_list}#{award.status_index}",
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": str(award.status_index),
            "statusListCredential": urls.status_list,
        },
    }


async def signed_credential(
    *,
    award: BadgeAward,
    badge: BadgeDefinition,
    recipient: str,
    tenant_name: str,
    base_url: str,
    secret: bytes,
) -> str:
    """The award's credential as a compact VC-JWT."""
    urls = Urls(base_url, award.tenant_id)
    key, _ = await issuer_of(tenant_id=award.tenant_id, secret=secret)
    vc = credential_document(
        award=award, badge=badge, recipient=recipient, tenant_name=tenant_name, urls=urls
    )
    claims = {
        "vc": vc,
        "iss": urls.issuer,
        "jti": vc["id"],
        "sub": f"urn:uuid:{award.user_id}",
        "nbf": int(award.awarded_at.timestamp()),
    }
    return _jws(key, urls.kid, claims)


def encoded_bitstring(revoked: Iterable[int], size: int = STATUS_LIST_BITS) -> str:
    """Multibase base64url (no padding, prefix ``u``) of the GZIP of the bits; bit 0 is the
    first byte's most significant bit."""
    bits = bytearray(size // 8)
    for index in revoked:
        bits[index // 8] |= 0x80 >> (index % 8)
    return "u" + _b64(gzip.compress(bytes(bits), mtime=0))


async def status_list(*, tenant_id: UUID, base_url: str, secret: bytes) -> str:
    """The tenant's BitstringStatusListCredential (revocation) as a compact VC-JWT."""
    urls = Urls(base_url, tenant_id)
    key, _ = await issuer_of(tenant_id=tenant_id, secret=secret)
    revoked = await BadgeAward.filter(tenant_id=tenant_id, revoked_at__isnull=False).values_list(
        "status_index", flat=True
    )
    size = STATUS_LIST_BITS
    while revoked and max(revoked) >= size:  # type: ignore[type-var]
        size *= 2
    vc = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": urls.status_list,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": urls.issuer,
        "validFrom": _iso(utc_now()),
        "credentialSubject": {
            "id": f"{urls.status_list}#list",
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": encoded_bitstring([int(i) for i in revoked], size),  # type: ignore[call-overload]
        },
    }
    return _jws(key, urls.kid, {"vc": vc, "iss": urls.issuer, "jti": urls.status_list})


async def issuer_profile(
    *, tenant_id: UUID, tenant_name: str, base_url: str, secret: bytes
) -> dict[str, Any]:
    """The issuer's public profile with its verification key (a JWK), for verifiers."""
    urls = Urls(base_url, tenant_id)
    _, public = await issuer_of(tenant_id=tenant_id, secret=secret)
    return {
        "@context": OB3_CONTEXT,
        "id": urls.issuer,
        "type": ["Profile"],
        "name": tenant_name,
        "publicKey": public_jwk(public, urls.kid),
    }
