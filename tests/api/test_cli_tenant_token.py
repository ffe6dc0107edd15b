"""`podium tenant create` and `podium token`."""

from __future__ import annotations

from uuid import UUID

import jwt
import pytest

from domain.org.models import Role
from domain.tenants.models import Tenant
from tests.api.cli_runner import podium
from tests.domain.builders import make_tenant, make_user


async def test_given_valid_options_when_tenant_created_then_its_id_is_printed(db):
    ran = await podium(
        db,
        "tenant",
        "create",
        "--slug",
        "helios",
        "--name",
        "Helios Energy",
        "--currency",
        "EUR",
        "--locale",
        "de-DE",
        "--time-zone",
        "Europe/Berlin",
    )

    assert ran.returncode == 0, ran.stderr
    tenant = await Tenant.get(id=UUID(ran.stdout.splitlines()[0]))
    assert ran.stdout == (
        f"{tenant.id}\n"
        "webhook: POST /webhooks/crm/helios, signed with this secret (shown once; "
        f"podium tenant rotate-secret makes a new one):\n{tenant.webhook_secret}\n"
    )
    assert (tenant.slug, tenant.name, tenant.currency) == ("helios", "Helios Energy", "EUR")
    assert (tenant.locale, tenant.time_zone) == ("de-DE", "Europe/Berlin")
    # fresh secrets from `secrets`: long, and not the same twice
    assert len(tenant.jwt_secret) >= 40
    assert len(tenant.webhook_secret) >= 32
    assert tenant.jwt_secret != tenant.webhook_secret


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (["--slug", "Bad Slug!"], "slug: use 2-63 lowercase letters"),
        (["--currency", "EURO"], "currency: 'EURO' is not an ISO 4217 currency code"),
        (["--currency", "XXX"], "currency: 'XXX' is an ISO 4217 code of no money"),
        (["--time-zone", "Mars/Olympus"], "time_zone: unknown time zone 'Mars/Olympus'"),
        (["--locale", "xx-nope"], "locale: unknown locale 'xx-nope'"),
        (["--slug", "taken"], "slug: tenant 'taken' exists already"),
    ],
)
async def test_given_bad_option_when_tenant_created_then_one_line_and_exit_2(
    db, options: list[str], fragment: str
):
    await make_tenant(slug="taken")
    defaults = {"--slug": "fresh", "--name": "Fresh", "--currency": "EUR"}
    defaults.update(dict(zip(options[::2], options[1::2], strict=True)))
    args = [part for pair in defaults.items() for part in pair]

    ran = await podium(db, "tenant", "create", *args)

    ran.one_line_error(fragment)
    assert await Tenant.all().count() == 1


async def test_given_a_person_when_token_minted_then_it_verifies_with_the_tenant_secret(db):
    tenant = await make_tenant(slug="acme")
    ana = await make_user(tenant=tenant, external_id="ana", role=Role.MANAGER)

    ran = await podium(db, "token", "--tenant", "acme", "--user", "ana", "--ttl", "2h")

    assert ran.returncode == 0, ran.stderr
    token = ran.stdout.strip()
    assert ran.stdout == token + "\n"
    claims = jwt.decode(token, tenant.jwt_secret, algorithms=["HS256"], audience="podium")
    assert claims["sub"] == str(ana.id)
    assert claims["tenant"] == "acme"
    assert claims["exp"] - claims["iat"] == 2 * 3600
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(
            token,
            "another tenant secret, long enough for HS256",
            algorithms=["HS256"],
            audience="podium",
        )


async def test_given_default_ttl_when_token_minted_then_it_lasts_12_hours(db):
    tenant = await make_tenant(slug="acme")
    await make_user(tenant=tenant, external_id="ana")

    ran = await podium(db, "token", "--tenant", "acme", "--user", "ana")

    claims = jwt.decode(
        ran.stdout.strip(), tenant.jwt_secret, algorithms=["HS256"], audience="podium"
    )
    assert claims["exp"] - claims["iat"] == 12 * 3600


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--tenant", "nope", "--user", "ana"], "--tenant: no tenant 'nope'"),
        # a slug of any length named in a few dozen characters, never echoed whole
        (["--tenant", "x" * 100_000, "--user", "ana"], "--tenant: no tenant 'xxxxxxxx"),
        (["--tenant", "acme", "--user", "zed"], "--user: no person 'zed' in tenant 'acme'"),
        (["--tenant", "acme", "--user", "ana", "--ttl", "5x"], "--ttl: '5x' is not a duration"),
        (["--tenant", "acme", "--user", "ana", "--ttl", "0"], "--ttl: '0' is not a duration"),
    ],
)
async def test_given_bad_input_when_token_asked_then_one_line_and_exit_2(
    db, args: list[str], fragment: str
):
    tenant = await make_tenant(slug="acme")
    await make_user(tenant=tenant, external_id="ana")

    ran = await podium(db, "token", *args)

    ran.one_line_error(fragment)
    assert len(ran.stderr) < 300


async def test_given_a_tenant_when_shown_rotated_and_people_listed_then_secret_once_and_audited(
    db: str,
):
    from domain.audit.models import AuditEntry
    from tests.domain.builders import make_tenant, make_user

    tenant = await make_tenant(slug="acme")
    boss = await make_user(tenant=tenant, external_id="mia")
    await make_user(tenant=tenant, external_id="ana", manager=boss)
    before = tenant.webhook_secret

    shown = await podium(db, "tenant", "show", "--tenant", "acme")
    rotated = await podium(db, "tenant", "rotate-secret", "--tenant", "acme")
    people = await podium(db, "people", "list", "--tenant", "acme")

    after = await Tenant.get(id=tenant.id)
    assert shown.returncode == 0, shown.stderr
    assert "webhook path:   /webhooks/crm/acme" in shown.stdout
    assert before not in shown.stdout
    assert f"webhook secret: {before[:4]}…" in shown.stdout
    assert rotated.returncode == 0, rotated.stderr
    assert rotated.stdout.splitlines()[-1] == after.webhook_secret != before
    assert after.webhook_secret_previous == before  # still accepted for the grace period
    entry = await AuditEntry.get(action="tenant.webhook_secret_rotated")
    assert before not in str(entry.after)
    assert after.webhook_secret not in str(entry.after)
    assert people.returncode == 0, people.stderr
    rows = [line.split() for line in people.stdout.splitlines()]
    assert rows[0][:2] == ["CRM", "id"]
    assert [r[0] for r in rows[1:3]] == ["ana", "mia"]
    assert "mia" in rows[1]  # ana's manager
    assert rows[-1] == ["2", "people"]
