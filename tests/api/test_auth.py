"""Authentication over HTTP: HS256 tokens signed with the tenant's secret, RS256 tokens checked
against a JWKS served on 127.0.0.1, and Firebase ID tokens checked by firebase-admin against
X.509 certificates served on 127.0.0.1 (no network: the certificate URL is pointed at the local
server, the one private attribute these tests touch; firebase-admin is pinned to 7.7)."""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import json
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import firebase_admin
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from firebase_admin import auth as firebase_auth
from jwt.algorithms import RSAAlgorithm

from api.app import create_app
from api.auth import mint_token
from api.firebase_auth import FirebaseVerifier
from api.settings import Settings
from domain.org.models import Role, User
from domain.tenants.models import Tenant
from tests.api.graphql import fixtures as _fixtures
from tests.api.graphql import helpers as h
from tests.api.graphql.helpers import Api, serve

api = _fixtures.api
settings = _fixtures.settings

ME = "{ me { id displayName role } }"
ISSUER = "https://idp.podium.test/"
PROJECT = "demo-podium"


@dataclass
class Acme:
    tenant: Tenant
    rep: User
    admin: User


@pytest.fixture
async def acme(db: str) -> Acme:
    t = await h.tenant("acme")
    rep = await h.person(t, "ana", firebase_uid="firebase-ana")
    admin = await h.person(t, "ada", role=Role.ADMIN)
    return Acme(t, rep, admin)


def claims(t: Tenant, user: User, **overrides: Any) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    base = {
        "sub": str(user.id),
        "tenant": t.slug,
        "aud": "podium",
        "iat": int(now.timestamp()),
        "exp": int((now + dt.timedelta(minutes=5)).timestamp()),
    }
    return {k: v for k, v in {**base, **overrides}.items() if v is not None}


async def me(api: Api, bearer: str | None, scheme: str = "Bearer") -> dict[str, Any]:
    headers = {"Authorization": f"{scheme} {bearer}"} if bearer is not None else {}
    response = await api.http.post("/graphql", json={"query": ME}, headers=headers)
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


def rejected(result: dict[str, Any], reason: str) -> bool:
    return (
        result["data"] is None
        and h.codes(result) == ["UNAUTHENTICATED"]
        and result["errors"][0]["message"] == reason
    )


# ---------------------------------------------------------------- HS256, the tenant's own secret


async def test_given_a_tenant_token_when_me_then_the_user_from_the_database(api: Api, acme: Acme):
    result = await me(api, mint_token(acme.tenant, acme.admin))

    assert result == {
        "data": {"me": {"id": str(acme.admin.id), "displayName": "Ada", "role": "ADMIN"}}
    }


async def test_given_a_role_claim_in_the_token_then_the_database_role_wins(api: Api, acme: Acme):
    token = jwt.encode(claims(acme.tenant, acme.rep, role="admin"), acme.tenant.jwt_secret)

    result = await me(api, token)

    assert result["data"]["me"]["role"] == "REP"


async def test_given_the_external_id_as_subject_and_tenant_id_then_accepted(api: Api, acme: Acme):
    token = jwt.encode(
        claims(acme.tenant, acme.rep, sub="ana", tenant=str(acme.tenant.id)),
        acme.tenant.jwt_secret,
    )

    assert (await me(api, token))["data"]["me"]["id"] == str(acme.rep.id)


async def test_given_no_token_when_me_then_unauthenticated(api: Api, acme: Acme):
    result = await me(api, None)

    assert rejected(result, "sign in: send Authorization: Bearer <token>")


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (
            lambda a: mint_token(a.tenant, a.rep, ttl=dt.timedelta(minutes=-5)),
            "the token has expired",
        ),
        (
            lambda a: mint_token(a.tenant, a.rep, audience="someone-else"),
            "the token is meant for another audience",
        ),
        (
            lambda a: jwt.encode(claims(a.tenant, a.rep), "not-the-tenant-secret" * 3),
            "the token's signature is not valid",
        ),
        (
            lambda a: jwt.encode(claims(a.tenant, a.rep), None, algorithm="none"),
            "tokens signed with 'none' are not accepted",
        ),
        (
            lambda a: jwt.encode(claims(a.tenant, a.rep, exp=None), a.tenant.jwt_secret),
            "the token has no 'exp' claim",
        ),
        (
            lambda a: jwt.encode(claims(a.tenant, a.rep, aud=None), a.tenant.jwt_secret),
            "the token has no 'aud' claim",
        ),
        (
            lambda a: jwt.encode(claims(a.tenant, a.rep, tenant="nobody"), a.tenant.jwt_secret),
            "the token's signature is not valid",
        ),
        (
            lambda a: jwt.encode(claims(a.tenant, a.rep, tenant=None), a.tenant.jwt_secret),
            "the token names no tenant",
        ),
        (
            lambda a: jwt.encode(claims(a.tenant, a.rep, sub="ghost"), a.tenant.jwt_secret),
            "the token's user does not exist",
        ),
        (lambda a: "not.a.jwt", "the token is not a JWT"),
    ],
    ids=[
        "expired",
        "wrong-audience",
        "wrong-signature",
        "alg-none",
        "no-exp",
        "no-aud",
        "unknown-tenant",
        "no-tenant",
        "unknown-user",
        "garbage",
    ],
)
async def test_given_a_bad_tenant_token_when_me_then_unauthenticated_with_the_reason(
    api: Api, acme: Acme, make: Any, reason: str
):
    assert rejected(await me(api, make(acme)), reason)


async def test_given_another_tenants_secret_when_me_then_unauthenticated(api: Api, acme: Acme):
    globex = await h.tenant("globex")
    token = jwt.encode(claims(acme.tenant, acme.rep), globex.jwt_secret)

    assert rejected(await me(api, token), "the token's signature is not valid")


async def test_given_a_token_naming_another_tenants_person_then_no_such_user(api: Api, acme: Acme):
    # the tenant and the person are read in one statement: a person of another tenant is
    # nobody here, whether named by id or by external id, and the signature still comes first
    globex = await h.tenant("globex")
    gus = await h.person(globex, "gus")
    secret = acme.tenant.jwt_secret

    by_id = jwt.encode(claims(acme.tenant, gus), secret)
    by_external_id = jwt.encode(claims(acme.tenant, gus, sub="gus"), secret)
    by_tenant_id = jwt.encode(claims(acme.tenant, gus, tenant=str(acme.tenant.id)), secret)
    unknown_id = jwt.encode(
        claims(acme.tenant, gus, sub="0" * 8 + "-0000-4000-8000-" + "0" * 12), secret
    )
    forged = jwt.encode(claims(acme.tenant, acme.rep), "not-the-tenant-secret" * 3)
    nul_sub = jwt.encode(claims(acme.tenant, acme.rep, sub="ana\x00"), secret)
    no_sub = jwt.encode(claims(acme.tenant, acme.rep, sub=None), secret)
    own = jwt.encode(claims(acme.tenant, acme.rep, tenant=str(acme.tenant.id)), secret)

    for token in (by_id, by_external_id, by_tenant_id, unknown_id):
        assert rejected(await me(api, token), "the token's user does not exist")
    assert rejected(await me(api, forged), "the token's signature is not valid")
    assert rejected(await me(api, nul_sub), "the token's 'sub' claim is not valid")
    assert rejected(await me(api, no_sub), "the token has no 'sub' claim")
    assert (await me(api, own))["data"]["me"]["id"] == str(acme.rep.id)


async def test_given_basic_auth_when_me_then_unauthenticated(api: Api, acme: Acme):
    result = await me(api, "YWxhZGRpbjpvcGVuc2VzYW1l", scheme="Basic")

    assert rejected(result, "use the header Authorization: Bearer <token>")


async def test_given_a_bad_token_when_asking_nothing_personal_then_typename_still_answers(
    api: Api, acme: Acme
):
    response = await api.http.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"Authorization": "Bearer x.y.z"}
    )

    assert response.json() == {"data": {"__typename": "Query"}}


# ---------------------------------------------------------------- RS256 through a JWKS


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@contextmanager
def local_server(routes: dict[str, bytes]) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 (port 0) answering GET with fixed JSON bodies."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = routes.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "public, max-age=300")
            self.end_headers()
            self.wfile.write(body or b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class Idp:
    key: rsa.RSAPrivateKey
    kid: str
    url: str

    def sign(
        self,
        payload: dict[str, Any],
        *,
        key: rsa.RSAPrivateKey | None = None,
        kid: str | None = None,
    ) -> str:
        return jwt.encode(
            payload, pem(key or self.key), algorithm="RS256", headers={"kid": kid or self.kid}
        )


@pytest.fixture(scope="module")
def idp() -> Iterator[Idp]:
    key = rsa_key()
    jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    jwks = json.dumps({"keys": [{**jwk, "kid": "key-1", "use": "sig", "alg": "RS256"}]})
    with local_server({"/.well-known/jwks.json": jwks.encode()}) as url:
        yield Idp(key, "key-1", f"{url}/.well-known/jwks.json")


@pytest.fixture
async def idp_api(db: str, redis: Any, settings: Settings, idp: Idp) -> AsyncIterator[Api]:
    configured = replace(settings, jwks_url=idp.url, jwt_issuer=ISSUER)
    async with serve(create_app(configured)) as client:
        yield Api(client)


async def test_given_an_idp_token_when_me_then_accepted(idp_api: Api, idp: Idp, acme: Acme):
    token = idp.sign(claims(acme.tenant, acme.rep, iss=ISSUER))

    assert (await me(idp_api, token))["data"]["me"]["id"] == str(acme.rep.id)


async def test_given_idp_tokens_gone_wrong_when_me_then_unauthenticated(
    idp_api: Api, idp: Idp, acme: Acme
):
    good = claims(acme.tenant, acme.rep, iss=ISSUER)
    past = int((dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).timestamp())
    cases = {
        "the token has expired": idp.sign({**good, "exp": past}),
        "the token is meant for another audience": idp.sign({**good, "aud": "other"}),
        "the token comes from another issuer": idp.sign({**good, "iss": "https://evil.test/"}),
        "the token's signature is not valid": idp.sign(good, key=rsa_key()),
        "no key of the identity provider matches the token": idp.sign(good, kid="key-unknown"),
    }
    for reason, token in cases.items():
        assert rejected(await me(idp_api, token), reason), reason


async def test_given_no_jwks_configured_when_an_rs256_token_comes_then_unauthenticated(
    api: Api, idp: Idp, acme: Acme
):
    token = idp.sign(claims(acme.tenant, acme.rep, iss=ISSUER))

    assert rejected(await me(api, token), "this server accepts no identity-provider tokens")


async def test_given_the_idp_public_key_as_an_hs256_secret_then_rejected(
    idp_api: Api, idp: Idp, acme: Acme
):
    public = idp.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    # made by hand: PyJWT itself refuses PEM keys as HMAC secrets
    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims(acme.tenant, acme.rep, iss=ISSUER)).encode())
    signature = b64(hmac.new(public, header + b"." + body, "sha256").digest())
    token = (header + b"." + body + b"." + signature).decode()

    assert rejected(await me(idp_api, token), "the token's signature is not valid")


# ---------------------------------------------------------------- Firebase ID tokens


def self_signed(key: rsa.RSAPrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "securetoken.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class Firebase:
    key: rsa.RSAPrivateKey

    def sign(self, uid: str, **overrides: Any) -> str:
        now = int(dt.datetime.now(dt.UTC).timestamp())
        payload = {
            "iss": f"https://securetoken.google.com/{PROJECT}",
            "aud": PROJECT,
            "auth_time": now - 10,
            "user_id": uid,
            "sub": uid,
            "iat": now - 10,
            "exp": now + 3600,
            **overrides,
        }
        return jwt.encode(payload, pem(self.key), algorithm="RS256", headers={"kid": "fb-1"})


@pytest.fixture
async def firebase_api(
    db: str, redis: Any, settings: Settings, tmp_path: Path
) -> AsyncIterator[tuple[Api, Firebase]]:
    key = rsa_key()
    account = tmp_path / "service-account.json"
    account.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": PROJECT,
                "private_key_id": "x",
                "private_key": pem(rsa_key()).decode(),
                "client_email": f"podium@{PROJECT}.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": "http://127.0.0.1:9/token",
            }
        )
    )
    certs = json.dumps({"fb-1": self_signed(key).decode()}).encode()
    with local_server({"/certs": certs}) as url:
        configured = replace(
            settings, firebase_project_id=PROJECT, firebase_credentials=str(account)
        )
        app = create_app(configured)
        verifier = FirebaseVerifier(PROJECT)
        # the one private attribute: where firebase-admin fetches Google's certificates
        client = firebase_auth._get_client(verifier.app)
        client._token_verifier.id_token_verifier.cert_url = f"{url}/certs"
        try:
            async with serve(app) as http:
                yield Api(http), Firebase(key)
        finally:
            firebase_admin.delete_app(verifier.app)


async def test_given_a_firebase_id_token_when_me_then_the_linked_user(
    firebase_api: tuple[Api, Firebase], acme: Acme
):
    api, firebase = firebase_api

    result = await me(api, firebase.sign("firebase-ana"))

    assert result["data"]["me"]["id"] == str(acme.rep.id)


async def test_given_firebase_tokens_gone_wrong_when_me_then_unauthenticated(
    firebase_api: tuple[Api, Firebase], acme: Acme
):
    api, firebase = firebase_api
    now = int(dt.datetime.now(dt.UTC).timestamp())
    invalid = "the Firebase ID token is invalid or expired"

    assert rejected(await me(api, firebase.sign("firebase-ana", exp=now - 3600)), invalid)
    assert rejected(await me(api, firebase.sign("firebase-ana", aud="other-project")), invalid)
    forged = Firebase(rsa_key()).sign("firebase-ana")
    assert rejected(await me(api, forged), invalid)
    assert rejected(
        await me(api, firebase.sign("firebase-nobody")),
        "no Podium user is linked to this Firebase account",
    )


async def test_given_one_firebase_uid_in_two_tenants_when_no_tenant_claim_then_refused(
    firebase_api: tuple[Api, Firebase], acme: Acme
):
    api, firebase = firebase_api
    globex = await h.tenant("globex")
    twin = await h.person(globex, "ana-at-globex", firebase_uid="firebase-ana")

    ambiguous = await me(api, firebase.sign("firebase-ana"))
    chosen = await me(api, firebase.sign("firebase-ana", tenant="globex"))

    assert rejected(ambiguous, "no Podium user is linked to this Firebase account")
    assert chosen["data"]["me"]["id"] == str(twin.id)
