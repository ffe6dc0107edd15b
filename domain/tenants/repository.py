"""Tenant lookups. Tenants are the one thing not scoped by a viewer: they define the scope."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from uuid import UUID

from domain.kit.documents import unstorable_text
from domain.kit.errors import NotFound
from domain.tenants.models import Tenant

# Tenants read during one request (authentication, the context, services each need it): None
# outside a `tenants_read_once()` block, where every lookup goes to the database.
_read: ContextVar[dict[UUID | str, Tenant] | None] = ContextVar("podium_tenants_read", default=None)


@contextmanager
def tenants_read_once() -> Iterator[None]:
    """Within the block (one API request), each tenant is read from the database once."""
    token = _read.set({})
    try:
        yield
    finally:
        _read.reset(token)


def _remember(tenant: Tenant) -> Tenant:
    read = _read.get()
    if read is not None:
        read[tenant.id] = read[tenant.slug] = tenant
    return tenant


async def get_tenant(tenant_id: UUID) -> Tenant:
    read = _read.get()
    if read is not None and tenant_id in read:
        return read[tenant_id]
    tenant = await Tenant.get_or_none(id=tenant_id)
    if tenant is None:
        raise NotFound("no such tenant", field="tenant")
    return _remember(tenant)


async def tenant_by_slug(slug: str) -> Tenant | None:
    """The tenant of ``slug``; None when there is none, a slug no tenant can have included
    (longer than the column, which the ORM refuses to compare, or with a NUL, which
    PostgreSQL refuses): whoever names a tenant (a URL, a token, the command line) gets
    "no such tenant", not a failure."""
    if len(slug) > _SLUG_LENGTH or unstorable_text(slug):
        return None
    read = _read.get()
    if read is not None and slug in read:
        return read[slug]
    tenant = await Tenant.get_or_none(slug=slug)
    return None if tenant is None else _remember(tenant)


_SLUG_LENGTH: int = Tenant._meta.fields_map["slug"].max_length  # type: ignore[attr-defined]


def tenant_of_row(row: Mapping[str, Any]) -> Tenant:
    """A tenant from a row of ``tenants`` (every column, by name; more are ignored) read by a
    plain statement, as the ORM builds it, remembered for the request like a lookup's."""
    return _remember(Tenant._init_from_db(**row))
