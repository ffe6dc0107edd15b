"""Badges, levels and streaks through the API: a deal recomputed through the workers' hook
awards a badge; the rep reads it (MyBadges, LevelMap, Home's level and badges), downloads its
certificate through the signed link (read back with pypdf), and verifies its Open Badges
credential with jwcrypto against the issuer's published key; links that are tampered with or
expired answer 403, unknown awards 404; a deleted deal revokes the badge, visibly and in the
signed status list."""

from __future__ import annotations

import base64
import gzip
import io
import json
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from graphql import print_ast
from jwcrypto import jwk, jws
from pypdf import PdfReader

from api.app import create_app
from api.badges import certificate_url
from api.settings import Settings
from domain.crm.models import Transaction
from gamification.badges.models import BadgeDefinition, BadgeIssuer
from gamification.badges.service import award_badge, create_badge
from gamification.levels.rules import Level
from gamification.levels.service import set_level_map
from gamification.levels.streaks import create_streak
from tests.api.graphql import helpers as h
from tests.api.graphql.helpers import Api
from tests.api.graphql.test_contract import operation_document
from workers.tasks.gamification import award_gamification_of

MY_BADGES = print_ast(operation_document("MyBadges"))
LEVEL_MAP = print_ast(operation_document("LevelMap"))
HOME = print_ast(operation_document("Home"))


def _verified(token: str, key: jwk.JWK) -> dict[str, Any]:
    """The claims of a compact JWS, after jwcrypto checked its signature (raises if not)."""
    signed = jws.JWS()
    signed.deserialize(token)
    signed.verify(key, alg="EdDSA")
    claims: dict[str, Any] = json.loads(signed.payload)
    return claims


def _bit(encoded: str, index: int) -> bool:
    assert encoded.startswith("u")
    raw = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    assert len(raw) * 8 >= 131_072
    return bool(raw[index // 8] & (0x80 >> (index % 8)))


async def test_given_a_badge_awarded_then_certificate_credential_and_revocation_work(
    api: Api, settings: Settings
):
    period = h.this_period()
    t = await h.tenant("acme")
    ana = await h.person(t, "ana")
    version = await h.publish(t, effective_from=period.start)
    await h.assign(t, version, ana, period.start)
    await h.quota(t, ana, period.id, "10000")
    badge = await create_badge(
        viewer=h.system(t), name="Quota crusher", rule="attainment('bookings') >= 1", xp=50,
        description="100% of the bookings quota", icon="trophy",
    )  # fmt: skip
    await set_level_map(viewer=h.system(t), levels=[Level(1, "Rookie", 0), Level(2, "Closer", 50)])
    await create_streak(viewer=h.system(t), name="On quota", rule="attainment >= 1", unit="period")
    await h.deal(t, ana, "opp-1", "12000", period.start)
    await h.recompute(t, ana, period.id)
    assert await award_gamification_of({}, tenant_id=t.id, pairs=[(ana.id, period.id)]) == 1
    me = api.as_(t, ana)

    result = await me.gql(MY_BADGES)
    assert "errors" not in result, result
    (edge,) = result["data"]["me"]["badges"]["edges"]
    node = edge["node"]
    assert (node["name"], node["icon"], node["period"], node["revoked"]) == (
        "Quota crusher", "trophy", period.id, False,
    )  # fmt: skip
    assert result["data"]["me"]["streaks"] == [
        {"id": result["data"]["me"]["streaks"][0]["id"], "name": "On quota", "current": 1,
         "longest": 1}
    ]  # fmt: skip

    levels = (await me.gql(LEVEL_MAP))["data"]["me"]
    # the deal, the badge, the four attainment thresholds it reached (50 to 120%) and the
    # commission's tiers 2 and 3
    xp = 10 + 50 + 4 * 25 + 2 * 25
    assert levels["level"] == {"number": 2, "xp": xp, "nextLevelXp": None}
    assert [(s["number"], s["unlocked"]) for s in levels["levelMap"]] == [(1, True), (2, True)]
    home = await me.gql(HOME)
    assert "errors" not in home, home
    assert home["data"]["me"]["level"]["name"] == "Closer"
    assert home["data"]["me"]["badges"]["edges"][0]["node"]["name"] == "Quota crusher"

    # the certificate, through its signed link
    link = urlsplit(node["certificateUrl"])
    answer = await api.http.get(f"{link.path}?{link.query}")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(answer.content)).pages)
    for expected in ("Ana", "Quota crusher", t.name, period.id, f"urn:uuid:{node['id']}"):
        assert expected in text, (expected, text)
    tampered = link.query.replace("sig=", "sig=0")
    assert (await api.http.get(f"{link.path}?{tampered}")).status_code == 403
    expired = urlsplit(certificate_url(settings, badge.id, now=0))
    assert (await api.http.get(f"{expired.path}?{expired.query}")).status_code == 403
    unknown = urlsplit(certificate_url(settings, badge.id))
    assert (await api.http.get(f"{unknown.path}?{unknown.query}")).status_code == 404
    assert (await api.http.get("/badges/certificates/nonsense?expires=x")).status_code == 404

    # the credential verifies with the issuer's published key, in another library
    profile = (await api.http.get(f"/badges/{t.id}/issuer")).json()
    key = jwk.JWK(**profile["publicKey"])
    assert not key.has_private
    assert set(profile["publicKey"]) == {"kty", "crv", "x", "kid", "alg"}
    claims = _verified(node["credential"], key)
    vc = claims["vc"]
    assert vc["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert vc["credentialSubject"]["achievement"]["name"] == "Quota crusher"
    assert vc["issuer"]["id"] == profile["id"] == claims["iss"]
    status = vc["credentialStatus"]
    assert status["type"] == "BitstringStatusListEntry"
    assert status["statusPurpose"] == "revocation"
    listed = await api.http.get(urlsplit(status["statusListCredential"]).path)
    status_vc = _verified(listed.text, key)["vc"]
    index = int(status["statusListIndex"])
    assert not _bit(status_vc["credentialSubject"]["encodedList"], index)
    other_key = jwk.JWK.generate(kty="OKP", crv="Ed25519")
    try:
        _verified(node["credential"], other_key)
        raise AssertionError("a credential verified with another key")
    except jws.InvalidJWSSignature:
        pass
    # the private key is in no answer, and stored only encrypted
    issuer = await BadgeIssuer.get(tenant_id=t.id)
    for body in (json.dumps(result), json.dumps(profile), listed.text):
        assert issuer.private_key_encrypted not in body
        assert '"d"' not in body

    # the deal is deleted: the badge is revoked, visibly and verifiably; its XP reversed
    await Transaction.filter(tenant_id=t.id, external_id="opp-1").update(deleted=True)
    await h.recompute(t, ana, period.id)
    assert await award_gamification_of({}, tenant_id=t.id, pairs=[(ana.id, period.id)]) == 1
    after = await me.gql(MY_BADGES)
    assert after["data"]["me"]["badges"]["edges"][0]["node"]["revoked"] is True
    listed = await api.http.get(urlsplit(status["statusListCredential"]).path)
    assert _bit(_verified(listed.text, key)["vc"]["credentialSubject"]["encodedList"], index)
    assert (await me.gql(LEVEL_MAP))["data"]["me"]["level"]["xp"] == 0


async def test_given_no_badges_or_levels_then_empty_answers(api: Api):
    t = await h.tenant("acme")
    ana = await h.person(t, "ana")
    me = api.as_(t, ana)
    result = await me.gql(LEVEL_MAP)
    assert result["data"]["me"] == {
        "levelMap": [], "level": {"number": 0, "xp": 0, "nextLevelXp": None},
    }  # fmt: skip
    badges = await me.gql(MY_BADGES)
    assert badges["data"]["me"] == {
        "badges": {"edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}},
        "streaks": [],
    }
    assert (await api.http.get("/badges/not-a-uuid/status")).status_code == 404
    assert (await api.http.get(f"/badges/{ana.id}/issuer")).status_code == 404


CREATE_BADGE = """mutation($input: CreateBadgeInput!) { createBadge(input: $input) {
  __typename ... on BadgeDefinition { id name rule xp }
  ... on UserError { code message field } } }"""
SET_LEVELS = """mutation($levels: [LevelInput!]!) { setLevelMap(levels: $levels) {
  __typename ... on LevelMap { levels { number name xpRequired } }
  ... on UserError { code message field } } }"""
CREATE_STREAK = """mutation($input: CreateStreakInput!) { createStreak(input: $input) {
  __typename ... on Streak { name } ... on UserError { code message field } } }"""


async def test_given_bad_definitions_then_user_errors_naming_the_field_and_nothing_stored(
    api: Api,
):
    t = await h.tenant("acme")
    admin = await h.person(t, "ada", role=h.Role.ADMIN)
    rep = await h.person(t, "ana")
    me = api.as_(t, admin)
    for rule, field in [
        ("deals >=", "rule"),
        ("bonus_points > 3", "rule"),
        ("open('x')", "rule"),
    ]:
        result = await me.gql(CREATE_BADGE, {"input": {"name": "B", "rule": rule}})
        answer = result["data"]["createBadge"]
        assert answer["__typename"] == "UserError", answer
        assert answer["field"] == field
    bad_name = await me.gql(CREATE_BADGE, {"input": {"name": " ", "rule": "deals >= 1"}})
    assert bad_name["data"]["createBadge"]["field"] == "name"
    bad_xp = await me.gql(CREATE_BADGE, {"input": {"name": "B", "rule": "", "xp": -1}})
    assert bad_xp["data"]["createBadge"]["field"] == "xp"
    assert await BadgeDefinition.filter(tenant_id=t.id).count() == 0
    ok = await me.gql(CREATE_BADGE, {"input": {"name": "First deal", "rule": "deals >= 1"}})
    assert ok["data"]["createBadge"]["name"] == "First deal"
    again = await me.gql(CREATE_BADGE, {"input": {"name": "First deal", "rule": "deals >= 2"}})
    assert again["data"]["createBadge"]["field"] == "name"

    levels = [{"name": "Rookie", "xpRequired": 0}, {"name": "Pro", "xpRequired": 0}]
    result = await me.gql(SET_LEVELS, {"levels": levels})
    assert result["data"]["setLevelMap"]["field"] == "levels[1]"
    levels[1]["xpRequired"] = 100
    result = await me.gql(SET_LEVELS, {"levels": levels})
    assert [lv["xpRequired"] for lv in result["data"]["setLevelMap"]["levels"]] == [0, 100]

    streak = {"name": "Daily", "rule": "deals >= 1", "unit": "hourly"}
    assert (await me.gql(CREATE_STREAK, {"input": streak}))["data"]["createStreak"][
        "field"
    ] == "unit"
    streak["unit"] = "workday"
    assert (await me.gql(CREATE_STREAK, {"input": streak}))["data"]["createStreak"][
        "name"
    ] == "Daily"

    as_rep = api.as_(t, rep)
    assert h.codes(await as_rep.gql(CREATE_BADGE, {"input": {"name": "X", "rule": ""}})) == [
        "FORBIDDEN"
    ]
    assert h.codes(await as_rep.gql(SET_LEVELS, {"levels": []})) == ["FORBIDDEN"]


def _claims(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a compact JWS, unverified (`_verified` checks signatures)."""

    def part(text: str) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        return found

    header, payload, _ = token.split(".")
    return part(header), part(payload)


async def test_given_a_forged_host_then_credential_urls_are_the_configured_public_url(
    db: str, redis: Any, settings: Settings
):
    # the links and the credential's issuer, key and status list URLs were built from the
    # request's Host header: a request with Host: evil.example minted a credential whose
    # issuer (and key to verify it with) was https://evil.example/badges/...
    public = "https://podium.acme.example"
    t = await h.tenant("acme")
    ana = await h.person(t, "ana")
    badge = await create_badge(viewer=h.system(t), name="Closer", rule="")
    await award_badge(
        tenant_id=t.id, user_id=ana.id, badge_id=badge.id, period="2026-10", source="s"
    )
    forged = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    async with h.serve(create_app(replace(settings, public_url=public))) as http:
        me = Api(http).as_(t, ana)
        answer = await me.post({"query": MY_BADGES}, **forged)
        node = answer.json()["data"]["me"]["badges"]["edges"][0]["node"]
        issuer = (await http.get(f"/badges/{t.id}/issuer", headers=forged)).json()
        status = (await http.get(f"/badges/{t.id}/status", headers=forged)).text

    header, claims = _claims(node["credential"])
    vc = claims["vc"]
    root = f"{public}/badges/{t.id}"
    assert node["certificateUrl"].startswith(f"{public}/badges/certificates/{node['id']}?")
    assert claims["iss"] == vc["issuer"]["id"] == issuer["id"] == f"{root}/issuer"
    assert header["kid"] == issuer["publicKey"]["kid"] == f"{root}/issuer#key-1"
    assert vc["credentialStatus"]["statusListCredential"] == f"{root}/status"
    assert vc["credentialSubject"]["achievement"]["id"] == f"{root}/achievements/{badge.id}"
    status_header, status_claims = _claims(status)
    assert status_claims["iss"] == f"{root}/issuer"
    assert status_claims["vc"]["id"] == f"{root}/status"
    for text in (answer.text, json.dumps(issuer), json.dumps([status_header, status_claims])):
        assert "evil.example" not in text
