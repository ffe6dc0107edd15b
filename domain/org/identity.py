"""Finding the person behind a verified identity (used by authentication only, before a viewer
exists; callers pass what the verified token says, or read the tenant's secret and the person
its token names at once (`tenant_and_person`) and use the person only once it is verified)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from tortoise import connections

from domain.org.models import Role, User
from domain.tenants.models import Tenant
from domain.tenants.repository import tenant_of_row


@dataclass(frozen=True, slots=True)
class Person:
    """Who a token names, as far as a viewer needs: id, role and locale."""

    id: UUID
    role: Role
    locale: str | None

    @classmethod
    def of(cls, user: User) -> Person:
        return cls(user.id, user.role, user.locale)


# the tenant (by id or by slug) and the one person of it with an id: one statement
_TENANT_AND_PERSON = """
SELECT t.*, u.id AS person_id, u.role AS person_role, u.locale AS person_locale
FROM tenants t LEFT JOIN users u ON u.tenant_id = t.id AND u.id = $2
WHERE {where}
"""
_BY_ID = _TENANT_AND_PERSON.format(where="t.id = $1")
_BY_SLUG = _TENANT_AND_PERSON.format(where="t.slug = $1")


async def tenant_and_person(
    tenant: UUID | str, user_id: UUID | None
) -> tuple[Tenant | None, Person | None]:
    """The tenant with this id (a UUID) or slug (text), and its person with ``user_id``, in
    one statement: None for a tenant that does not exist, and for a person who is not of
    that tenant (or no ``user_id``). The tenant is remembered for the request
    (`tenants_read_once`)."""
    sql = _BY_ID if isinstance(tenant, UUID) else _BY_SLUG
    _, rows = await connections.get("default").execute_query(sql, [tenant, user_id])
    if not rows:
        return None, None
    row = rows[0]
    found = tenant_of_row(row)
    if row["person_id"] is None:
        return found, None
    return found, Person(row["person_id"], Role(row["person_role"]), row["person_locale"])


async def users_with_firebase_uid(firebase_uid: str, tenant_id: UUID | None = None) -> list[User]:
    """Every user linked to this Firebase uid (in one tenant when given). More than one means
    the uid is ambiguous without a tenant."""
    query = User.filter(firebase_uid=firebase_uid)
    if tenant_id is not None:
        query = query.filter(tenant_id=tenant_id)
    return await query.limit(2)
