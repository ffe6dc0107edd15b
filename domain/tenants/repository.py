"""Tenant lookups. Tenants are the one thing not scoped by a viewer: they define the scope."""

from __future__ import annotations

from uuid import UUID

from domain.kit.errors import NotFound
from domain.tenants.models import Tenant


async def get_tenant(tenant_id: UUID) -> Tenant:
    tenant = await Tenant.get_or_none(id=tenant_id)
    if tenant is None:
        raise NotFound("no such tenant", field="tenant")
    return tenant


async def tenant_by_slug(slug: str) -> Tenant | None:
    return await Tenant.get_or_none(slug=slug)
