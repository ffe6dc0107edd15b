"""Tenants: one company each, with its currency, locale, time zone and secrets."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain.kit.errors import Conflict, InvalidInput, NotFound
from domain.tenants.models import Tenant
from domain.tenants.repository import get_tenant, tenant_by_slug
from domain.tenants.service import create_tenant


async def test_given_valid_settings_when_tenant_created_then_stored_with_fresh_secrets(db: str):
    acme = await create_tenant(
        slug="acme-energy", name="Acme", currency="EUR", locale="de-DE", time_zone="Europe/Berlin"
    )
    globex = await create_tenant(slug="globex", name="Globex", currency="USD")

    stored = await get_tenant(acme.id)
    assert (stored.slug, stored.currency, stored.locale, stored.time_zone) == (
        "acme-energy",
        "EUR",
        "de-DE",
        "Europe/Berlin",
    )
    assert (globex.locale, globex.time_zone) == ("en", "UTC")
    assert len(stored.jwt_secret) >= 32
    assert len(stored.webhook_secret) >= 32
    assert stored.webhook_secret_previous is None
    assert {acme.jwt_secret, acme.webhook_secret}.isdisjoint(
        {globex.jwt_secret, globex.webhook_secret}
    )
    assert stored.settings["period_kind"] == "month"
    assert stored.created_at.tzinfo is not None
    assert (await tenant_by_slug("globex")).id == globex.id  # type: ignore[union-attr]


@pytest.mark.parametrize("slug", ["", "x" * 64, "[" * 5000, "glo\x00bex"])
async def test_given_a_slug_no_tenant_can_have_then_no_tenant(db, slug: str):
    await create_tenant(slug="globex", name="Globex", currency="EUR")

    assert await tenant_by_slug(slug) is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"slug": "Acme"}, "slug"),
        ({"slug": "a"}, "slug"),
        ({"slug": "-acme"}, "slug"),
        ({"currency": "EURO"}, "currency"),
        ({"currency": "eur"}, "currency"),
        ({"currency": "XYZ"}, "currency"),
        ({"locale": "xx-nowhere"}, "locale"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
    ],
)
async def test_given_bad_setting_when_tenant_created_then_invalid_naming_the_field(
    db: str, changes: dict[str, str], field: str
):
    arguments = {"slug": "acme", "name": "Acme", "currency": "EUR", **changes}

    with pytest.raises(InvalidInput) as caught:
        await create_tenant(**arguments)

    assert caught.value.field == field
    assert await Tenant.all().count() == 0


async def test_given_taken_slug_when_tenant_created_then_conflict(db: str):
    await create_tenant(slug="acme", name="Acme", currency="EUR")

    with pytest.raises(Conflict) as caught:
        await create_tenant(slug="acme", name="Other", currency="USD")

    assert caught.value.field == "slug"


async def test_given_unknown_tenant_id_when_looked_up_then_not_found(db: str):
    with pytest.raises(NotFound):
        await get_tenant(uuid4())
    assert await tenant_by_slug("nobody") is None
