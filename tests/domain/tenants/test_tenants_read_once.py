"""Within one API request a tenant is read once; outside one, every lookup is fresh."""

from __future__ import annotations

from tortoise import connections

from domain.tenants.repository import get_tenant, tenant_by_slug, tenants_read_once
from tests.domain.builders import make_tenant


async def rename_behind_the_orm(slug: str, name: str) -> None:
    await connections.get("default").execute_query(
        "UPDATE tenants SET name = $1 WHERE slug = $2", [name, slug]
    )


async def test_given_a_request_block_when_tenant_read_twice_then_the_first_read_serves_both(
    db: str,
):
    tenant = await make_tenant(slug="acme")

    with tenants_read_once():
        first = await get_tenant(tenant.id)
        await rename_behind_the_orm("acme", "Renamed")
        by_id = await get_tenant(tenant.id)
        by_slug = await tenant_by_slug("acme")

    assert first.name == by_id.name == tenant.name
    assert by_slug is first


async def test_given_no_request_block_when_tenant_changes_then_the_next_read_sees_it(db: str):
    tenant = await make_tenant(slug="acme")
    with tenants_read_once():
        await get_tenant(tenant.id)

    await rename_behind_the_orm("acme", "Renamed")

    assert (await get_tenant(tenant.id)).name == "Renamed"
    with tenants_read_once():  # a new request starts with nothing remembered
        assert (await tenant_by_slug("acme")).name == "Renamed"  # type: ignore[union-attr]
