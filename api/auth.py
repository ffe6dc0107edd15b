"""Who is calling: `Authorization: Bearer <JWT>` to a domain Viewer.

Three kinds of token are accepted:
- HS256, signed with the tenant's own secret (`tenant.jwt_secret`). The tenant is read from the
  unverified `tenant` claim only to pick the secret; the signature is then verified with it.
- RS256/ES256 from an identity provider, verified against the keys at PODIUM_JWKS_URL.
- Firebase ID tokens (when FIREBASE_PROJECT_ID is set): `uid` maps to users.firebase_uid.

`exp` and `aud` are always checked; `sub` is the Podium user id (or their external id). The
role and locale come from the database, never from the token.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import anyio.to_thread
import jwt

from api.firebase_auth import FirebaseTokenError, FirebaseVerifier
from api.settings import Settings
from domain.kit.clock import utc_now
from domain.kit.errors import NotFound
from domain.org.identity import Person, tenant_and_person, users_with_firebase_uid
from domain.org.models import User
from domain.org.repository import UserRepository
from domain.org.viewer import Viewer
from domain.tenants.models import Tenant
from domain.tenants.repository import get_tenant, tenant_by_slug

ASYMMETRIC = ["RS256", "RS384", "RS512", "ES256", "ES384"]
MAX_CLAIM_CHARS = 255  # a tenant slug or id, a user id or external id: all far shorter


class AuthenticationError(Exception):
    """The token cannot be trusted. The message is safe to show (it names no secret and does
    not reveal whether a tenant or user exists)."""


class Authenticator:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.jwks = (
            jwt.PyJWKClient(settings.jwks_url, lifespan=300, timeout=5)
            if settings.jwks_url
            else None
        )
        self.firebase = (
            FirebaseVerifier(settings.firebase_project_id, settings.firebase_credentials)
            if settings.firebase_project_id
            else None
        )

    async def viewer(
        self, authorization: str | None, *, request_id: str | None = None
    ) -> Viewer | None:
        """None without credentials; AuthenticationError for bad ones."""
        if not authorization:
            return None
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthenticationError("use the header Authorization: Bearer <token>")
        try:  # header and claims in one parse (each parse checks every character)
            parsed = jwt.api_jwt.decode_complete(token, options={"verify_signature": False})
            header, unverified = parsed["header"], parsed["payload"]
        except jwt.PyJWTError:
            raise AuthenticationError("the token is not a JWT") from None
        algorithm = header.get("alg")
        user: Person
        if algorithm == "HS256":
            tenant, user = await self._tenant_token(token, unverified)
        elif algorithm in ASYMMETRIC:
            if self.firebase is not None and unverified.get("iss") == self.firebase.issuer:
                tenant, user = await self._firebase_token(token)
            else:
                tenant, user = await self._provider_token(token, unverified)
        else:
            raise AuthenticationError(f"tokens signed with {algorithm!r} are not accepted")
        return Viewer(
            tenant_id=tenant.id,
            user_id=user.id,
            role=user.role,
            locale=user.locale or tenant.locale or "en",
            request_id=request_id,
        )

    async def _tenant_token(self, token: str, unverified: dict[str, Any]) -> tuple[Tenant, Person]:
        # the tenant (its secret) and the person the token says it is, read at once: the
        # person counts only once the signature is verified (`_user`)
        tenant, read = await _tenant_and_person(unverified.get("tenant"), unverified.get("sub"))
        claims = self._decode(token, tenant.jwt_secret, ["HS256"])
        return tenant, await _user(tenant, claims, read=read)

    async def _provider_token(
        self, token: str, unverified: dict[str, Any]
    ) -> tuple[Tenant, Person]:
        if self.jwks is None:
            raise AuthenticationError("this server accepts no identity-provider tokens")
        jwks = self.jwks
        try:
            key = await anyio.to_thread.run_sync(jwks.get_signing_key_from_jwt, token)
        except jwt.PyJWKClientError:
            raise AuthenticationError("no key of the identity provider matches the token") from None
        claims = self._decode(token, key.key, ASYMMETRIC, issuer=self.settings.jwt_issuer)
        tenant, read = await _tenant_and_person(claims.get("tenant"), claims.get("sub"))
        return tenant, await _user(tenant, claims, read=read)

    async def _firebase_token(self, token: str) -> tuple[Tenant, Person]:
        assert self.firebase is not None
        try:
            claims = await self.firebase.verify(token)
        except FirebaseTokenError:
            raise AuthenticationError("the Firebase ID token is invalid or expired") from None
        tenant_hint = claims.get("tenant")
        tenant_id = (await _tenant(tenant_hint)).id if tenant_hint else None
        users = await users_with_firebase_uid(
            _claim_text(claims.get("uid") or claims.get("sub"), "uid"), tenant_id
        )
        if len(users) != 1:
            raise AuthenticationError("no Podium user is linked to this Firebase account")
        user = users[0]
        return await get_tenant(user.tenant_id), Person.of(user)

    def _decode(
        self, token: str, key: Any, algorithms: list[str], issuer: str | None = None
    ) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self.settings.jwt_audience,
                issuer=issuer,
                leeway=self.settings.jwt_leeway,
                options={"require": ["exp", "sub", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationError("the token has expired") from None
        except jwt.InvalidAudienceError:
            raise AuthenticationError("the token is meant for another audience") from None
        except jwt.InvalidIssuerError:
            raise AuthenticationError("the token comes from another issuer") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthenticationError(f"the token has no {exc.claim!r} claim") from None
        except jwt.PyJWTError:
            raise AuthenticationError("the token's signature is not valid") from None


def _claim_text(value: object, claim: str) -> str:
    """A claim used to look a row up: text PostgreSQL can compare (no NUL, no lone surrogate)
    and of a sane length, or the token is refused before any query."""
    if not isinstance(value, str) or not value:
        raise AuthenticationError(f"the token has no {claim!r} claim")
    if len(value) > MAX_CLAIM_CHARS or "\x00" in value:
        raise AuthenticationError(f"the token's {claim!r} claim is not valid")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise AuthenticationError(f"the token's {claim!r} claim is not valid") from None
    return value


def _no_tenant() -> AuthenticationError:
    # the same words as a bad signature: whether a tenant exists is nobody's business
    return AuthenticationError("the token's signature is not valid")


def _tenant_hint(hint: object) -> str:
    if not isinstance(hint, str) or not hint:
        raise AuthenticationError("the token names no tenant")
    return _claim_text(hint, "tenant")


def _tenant_key(hint: str) -> UUID | str:
    """A tenant claim names the tenant by id (a UUID) or by slug."""
    try:
        return UUID(hint)
    except ValueError:
        return hint


def _user_id(subject: object) -> UUID | None:
    """The person id a `sub` claim names, to read with the tenant; None for a claim that is
    not one (an external id, or one `_user` refuses: it says why, in its turn)."""
    if not isinstance(subject, str):
        return None
    try:
        return UUID(_claim_text(subject, "sub"))
    except (AuthenticationError, ValueError):
        return None


async def _tenant_and_person(
    hint: object, subject: object
) -> tuple[Tenant, tuple[UUID | None, Person | None]]:
    """The tenant a `tenant` claim names (refused as `_tenant` refuses) and, read in the same
    statement, the person of it a `sub` claim names: (their id, the person or None)."""
    user_id = _user_id(subject)
    tenant, person = await tenant_and_person(_tenant_key(_tenant_hint(hint)), user_id)
    if tenant is None:
        raise _no_tenant()
    return tenant, (user_id, person)


async def _tenant(hint: object) -> Tenant:
    key = _tenant_key(_tenant_hint(hint))
    tenant: Tenant | None
    try:
        tenant = await get_tenant(key) if isinstance(key, UUID) else await tenant_by_slug(key)
    except NotFound:
        tenant = None
    if tenant is None:
        raise _no_tenant()
    return tenant


async def _user(
    tenant: Tenant,
    claims: dict[str, Any],
    *,
    read: tuple[UUID | None, Person | None] = (None, None),
) -> Person:
    """The person of the verified claims' `sub`: ``read`` is (the id, the person of the
    tenant with it) when the caller has read it already (`tenant_and_person`)."""
    subject = _claim_text(claims["sub"], "sub")
    users = UserRepository(Viewer.system(tenant.id, label="auth"))
    try:
        user_id = UUID(subject)
    except ValueError:
        found = await users.by_external_id(subject)
        if found is None:
            raise AuthenticationError("the token's user does not exist") from None
        return Person.of(found)
    read_id, person = read
    if read_id != user_id:
        try:
            person = Person.of(await users.get(user_id))
        except NotFound:
            person = None
    if person is None:
        raise AuthenticationError("the token's user does not exist")
    return person


def mint_token(
    tenant: Tenant,
    user: User | Person,
    *,
    audience: str = "podium",
    ttl: timedelta = timedelta(hours=12),
) -> str:
    """An HS256 token for `user`, signed with the tenant's secret (`podium token`, tests)."""
    now = utc_now()
    claims = {
        "sub": str(user.id),
        "tenant": tenant.slug,
        "aud": audience,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    return jwt.encode(claims, tenant.jwt_secret, algorithm="HS256")
