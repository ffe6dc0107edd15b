"""Settings of the service, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from domain.kit.pdf import FontError, fallback_font_files
from payments.payouts.models import DEVELOPMENT_SECRET

Environment = Literal["development", "production"]

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/podium"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# where people and verifiers reach the API (development: `podium dev`'s and `serve`'s
# address; production requires PODIUM_PUBLIC_URL)
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
# development only: production refuses to start without its own (see from_env)
DEVELOPMENT_URL_KEY = b"podium-development-url-signing-key"
DEVELOPMENT_ISSUER_SECRET = b"podium-development-issuer-key-secret"
DEVELOPMENT_PAYOUT_DETAILS_SECRET = DEVELOPMENT_SECRET  # what payments.payouts.sealing uses
MIN_KEY_CHARACTERS = 32


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Limits:
    """What one GraphQL request may ask for."""

    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 4000
    max_cost: int = 20000
    default_list_size: int = 20  # what a connection costs when no `first`/`last` is given
    persisted_query_ttl: int = 30 * 24 * 3600  # seconds a persisted query stays in Redis
    max_body_bytes: int = 1024 * 1024  # a /graphql request body; more answers 413
    max_persisted_query_chars: int = 16 * 1024  # a document a client may persist
    max_subscriptions_per_person: int = 10  # live subscriptions open at once, all sockets


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str = DEFAULT_REDIS_URL
    env: Environment = "development"
    jwt_audience: str = "podium"
    jwt_leeway: int = 30  # seconds of clock skew tolerated on exp/nbf/iat
    jwks_url: str | None = None  # RS256 tokens from an identity provider
    jwt_issuer: str | None = None  # checked on RS256 tokens when set
    firebase_project_id: str | None = None  # Firebase ID tokens when set
    firebase_credentials: str | None = None  # service-account JSON file; None: default creds
    limits: Limits = field(default_factory=Limits)
    log_json: bool = True
    # HMAC key of the signed, expiring certificate links (PODIUM_URL_SIGNING_KEY)
    url_signing_key: bytes = DEVELOPMENT_URL_KEY
    # encrypts the tenants' badge issuer keys at rest (PODIUM_ISSUER_KEY_SECRET)
    issuer_key_secret: bytes = DEVELOPMENT_ISSUER_SECRET
    # encrypts the payees' bank and payout details at rest (PODIUM_PAYOUT_DETAILS_SECRET)
    payout_details_secret: bytes = DEVELOPMENT_PAYOUT_DETAILS_SECRET
    # the API's public address (PODIUM_PUBLIC_URL): the links it hands out (certificates)
    # and the URLs an Open Badges credential names (issuer, key, status list) start with it,
    # never with a request's Host header, which whoever sends the request chooses
    public_url: str = DEFAULT_PUBLIC_URL
    # fallback font files of the PDFs after the shipped ones (PODIUM_PDF_FONTS; from_env
    # finds domain.kit.pdf.SYSTEM_FONTS without it): CJK, Thai, Arabic names drawn
    pdf_fonts: tuple[str, ...] = ()

    @property
    def development(self) -> bool:
        return self.env == "development"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        mode = env.get("PODIUM_ENV", "development")
        if mode not in ("development", "production"):
            raise SettingsError(f"PODIUM_ENV must be development or production, not {mode!r}")
        production = mode == "production"
        database_url = env.get("DATABASE_URL")
        redis_url = env.get("REDIS_URL")
        if production and not (database_url and redis_url):
            raise SettingsError(
                "DATABASE_URL and REDIS_URL are required when PODIUM_ENV=production"
            )
        if production and env.get("FIREBASE_AUTH_EMULATOR_HOST"):
            # the emulator makes firebase-admin accept unsigned tokens
            raise SettingsError("FIREBASE_AUTH_EMULATOR_HOST must not be set in production")
        keys = {}
        for name, default in (
            ("PODIUM_URL_SIGNING_KEY", DEVELOPMENT_URL_KEY),
            ("PODIUM_ISSUER_KEY_SECRET", DEVELOPMENT_ISSUER_SECRET),
            ("PODIUM_PAYOUT_DETAILS_SECRET", DEVELOPMENT_PAYOUT_DETAILS_SECRET),
        ):
            value = env.get(name) or ""
            if value and len(value) < MIN_KEY_CHARACTERS:
                raise SettingsError(f"{name} must be at least {MIN_KEY_CHARACTERS} characters")
            if production and not value:
                raise SettingsError(f"{name} is required when PODIUM_ENV=production")
            keys[name] = value.encode() if value else default
        public_url = env.get("PODIUM_PUBLIC_URL") or ""
        if production and not public_url:
            raise SettingsError("PODIUM_PUBLIC_URL is required when PODIUM_ENV=production")
        public_url = _public_url(public_url) if public_url else DEFAULT_PUBLIC_URL
        try:  # each file checked now: a wrong path is one line at start, not a broken PDF
            pdf_fonts = fallback_font_files(env.get("PODIUM_PDF_FONTS") or "")
        except FontError as exc:
            raise SettingsError(f"PODIUM_PDF_FONTS: {exc}") from None
        defaults = Limits()
        limits = Limits(
            max_depth=_int(env, "PODIUM_MAX_DEPTH", defaults.max_depth),
            max_aliases=_int(env, "PODIUM_MAX_ALIASES", defaults.max_aliases),
            max_tokens=_int(env, "PODIUM_MAX_TOKENS", defaults.max_tokens),
            max_cost=_int(env, "PODIUM_MAX_COST", defaults.max_cost),
            default_list_size=defaults.default_list_size,
            persisted_query_ttl=_int(env, "PODIUM_APQ_TTL", defaults.persisted_query_ttl),
            max_body_bytes=_int(env, "PODIUM_MAX_BODY_BYTES", defaults.max_body_bytes),
            max_persisted_query_chars=_int(
                env, "PODIUM_APQ_MAX_CHARS", defaults.max_persisted_query_chars
            ),
            max_subscriptions_per_person=_int(
                env, "PODIUM_MAX_SUBSCRIPTIONS", defaults.max_subscriptions_per_person
            ),
        )
        return cls(
            database_url=database_url or DEFAULT_DATABASE_URL,
            redis_url=redis_url or DEFAULT_REDIS_URL,
            env=mode,  # type: ignore[arg-type]
            jwt_audience=env.get("PODIUM_JWT_AUDIENCE", "podium"),
            jwt_leeway=_int(env, "PODIUM_JWT_LEEWAY", 30),
            jwks_url=env.get("PODIUM_JWKS_URL") or None,
            jwt_issuer=env.get("PODIUM_JWT_ISSUER") or None,
            firebase_project_id=env.get("FIREBASE_PROJECT_ID") or None,
            firebase_credentials=env.get("GOOGLE_APPLICATION_CREDENTIALS") or None,
            limits=limits,
            log_json=env.get("PODIUM_LOG_FORMAT", "json" if production else "console") == "json",
            url_signing_key=keys["PODIUM_URL_SIGNING_KEY"],
            issuer_key_secret=keys["PODIUM_ISSUER_KEY_SECRET"],
            payout_details_secret=keys["PODIUM_PAYOUT_DETAILS_SECRET"],
            public_url=public_url,
            pdf_fonts=pdf_fonts,
        )


def local_url(host: str, port: int) -> str:
    """The address of a server listening on ``host``:``port`` of this machine, as a browser
    on it reaches it (the public URL `podium dev` and a development `serve` default to)."""
    shown = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def _public_url(value: str) -> str:
    """PODIUM_PUBLIC_URL without its trailing slash: http(s), a host, perhaps a path (behind
    a proxy), nothing else."""
    parts = urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.query
        or parts.fragment
        or any(c.isspace() or ord(c) < 32 for c in value)
    ):
        raise SettingsError(
            "PODIUM_PUBLIC_URL must be an http(s) URL with a host and no query, like "
            "https://podium.example.com"
        )
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise SettingsError(f"PODIUM_PUBLIC_URL has a bad port: {value[:80]!r}") from None
    return value.rstrip("/")


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive")
    return value
