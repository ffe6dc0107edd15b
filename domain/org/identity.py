"""Finding the person behind a verified identity (used by authentication only, before a viewer
exists; callers pass what the verified token says)."""

from __future__ import annotations

from uuid import UUID

from domain.org.models import User


async def users_with_firebase_uid(firebase_uid: str, tenant_id: UUID | None = None) -> list[User]:
    """Every user linked to this Firebase uid (in one tenant when given). More than one means
    the uid is ambiguous without a tenant."""
    query = User.filter(firebase_uid=firebase_uid)
    if tenant_id is not None:
        query = query.filter(tenant_id=tenant_id)
    return await query.limit(2)
