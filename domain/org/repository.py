"""All queries about people. Every query is filtered by the viewer's tenant here, so another
tenant's ids are simply not found."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from tortoise import connections
from tortoise.queryset import QuerySet

from domain.kit.errors import Forbidden, NotFound
from domain.org.models import Role, User
from domain.org.viewer import Viewer


@dataclass(frozen=True, slots=True)
class Card:
    """What a board or a contest shows of a person: a name and a picture."""

    id: UUID
    display_name: str
    avatar_url: str | None


_CARDS = (
    "SELECT id, display_name, avatar_url FROM users WHERE tenant_id = $1 AND id = ANY($2::uuid[])"
)


_LOCK_MANAGER_CHANGES = (
    "SELECT pg_advisory_xact_lock(hashtextextended('manager-changes:' || $1::text, 0))"
)


async def lock_manager_changes(tenant_id: UUID) -> None:
    """Until the caller's transaction ends, one manager change of the tenant at a time, by
    every path that changes managers (``org.service.set_manager``, ``podium import reps``, a
    CRM rep event): two concurrent changes (boss under ana, ana under boss) each found no
    cycle in what the other had not committed yet, and together made one. Take it before
    reading what the cycle check reads. Outside a transaction the lock would end with its
    own statement and hold nothing: refused."""
    conn: Any
    async with connections.get("default").acquire_connection() as conn:
        if not conn.is_in_transaction():
            raise RuntimeError("manager changes run inside the caller's transaction")
        await conn.execute(_LOCK_MANAGER_CHANGES, str(tenant_id))


@dataclass(frozen=True, slots=True)
class ManagerSpell:
    """A person's manager from ``since`` (None: from the start) until their next spell."""

    since: datetime | None
    manager_id: UUID | None


_HISTORY = """
    SELECT user_id, manager_id, since FROM user_managers
    WHERE tenant_id = $1 AND user_id = ANY($2::uuid[]) AND (since IS NULL OR since < $3)
    ORDER BY user_id, since NULLS FIRST, id
"""


async def manager_history(
    tenant_id: UUID, user_ids: Iterable[UUID], *, until: datetime
) -> dict[UUID, list[ManagerSpell]]:
    """Each person's managers before ``until``, oldest first (the table a trigger on
    ``users`` writes at every manager change, whichever path made it: migration 0058); a
    person with no row (none of this tenant's) is left out."""
    rows = await connections.get("default").execute_query_dict(
        _HISTORY, [tenant_id, list(dict.fromkeys(user_ids)), until]
    )
    out: dict[UUID, list[ManagerSpell]] = {}
    for row in rows:
        out.setdefault(row["user_id"], []).append(ManagerSpell(row["since"], row["manager_id"]))
    return out


class UserRepository:
    def __init__(self, viewer: Viewer) -> None:
        self.viewer = viewer
        self.tenant_id = viewer.tenant_id
        self._visible_ids: list[UUID] | None = None
        self._visible_loaded = False

    def _scoped(self) -> QuerySet[User]:
        return User.filter(tenant_id=self.tenant_id)

    async def get(
        self, user_id: UUID | str, *, for_update: bool = False, field: str = "id"
    ) -> User:
        """The user of the viewer's tenant with this id (no access rule: see ``visible``);
        NotFound naming ``field`` (the input the id came from) for a malformed id, an unknown
        one or another tenant's.

        ``for_update`` serialises work on one person (recompute, quotas, offers) with a FOR NO
        KEY UPDATE lock: unlike FOR UPDATE it does not block the foreign-key checks of rows
        being inserted that reference the person, which deadlocked concurrent workers."""
        query = self._scoped().filter(id=parse_id(user_id, field))
        if for_update:
            query = query.select_for_update(no_key=True)
        user = await query.first()
        if user is None:
            raise NotFound(f"no user {user_id}", field=field)
        return user

    async def by_external_id(self, external_id: str) -> User | None:
        return await self._scoped().get_or_none(external_id=external_id)

    async def by_external_ids(self, external_ids: Iterable[str]) -> dict[str, User]:
        users = await self._scoped().filter(external_id__in=list(external_ids))
        return {u.external_id: u for u in users}

    async def by_ids(self, user_ids: Iterable[UUID]) -> dict[UUID, User]:
        users = await self._scoped().filter(id__in=list(user_ids))
        return {u.id: u for u in users}

    async def cards(self, user_ids: Iterable[UUID]) -> dict[UUID, Card]:
        """The cards of these people of the viewer's tenant (others are simply not found):
        one plain statement, no model built (a board page reads fifteen at every request)."""
        ids = list(user_ids)
        if not ids:
            return {}
        _, rows = await connections.get("default").execute_query(_CARDS, [self.tenant_id, ids])
        # asyncpg's ids are uuid.UUID (a subclass): equal, hashed alike
        return {user_id: Card(user_id, name, avatar) for user_id, name, avatar in rows}

    async def external_ids(self) -> set[str]:
        rows = await self._scoped().values_list("external_id", flat=True)
        return {str(r) for r in rows}

    async def all(self) -> list[User]:
        return await self._scoped().order_by("external_id")

    async def subtree_ids(self, user_id: UUID) -> list[UUID]:
        """The user and everyone below them, transitively, in one recursive query (the user
        first). ``UNION`` (not ``UNION ALL``) ends the walk even on a cyclic hierarchy."""
        rows = await connections.get("default").execute_query_dict(
            """
            WITH RECURSIVE tree(id) AS (
                SELECT id FROM users WHERE id = $1 AND tenant_id = $2
                UNION
                SELECT u.id FROM users u JOIN tree t ON u.manager_id = t.id
                WHERE u.tenant_id = $2
            )
            SELECT id FROM tree
            """,
            [user_id, self.tenant_id],
        )
        ids = [UUID(str(r["id"])) for r in rows]
        return sorted(ids, key=lambda i: i != user_id)

    async def direct_reports(self, user_id: UUID) -> list[User]:
        return await self._scoped().filter(manager_id=user_id).order_by("display_name", "id")

    async def can_see(self, user: User) -> bool:
        """Reps see themselves, managers their subtree, admins and payout ops the tenant."""
        viewer = self.viewer
        if user.tenant_id != self.tenant_id:
            return False
        if viewer.sees_whole_tenant or viewer.user_id == user.id:
            return True
        if viewer.role is Role.MANAGER and viewer.user_id is not None:
            return user.id in await self.subtree_ids(viewer.user_id)
        return False

    async def visible(self, user_id: UUID | str) -> User:
        """The user, if the viewer may see them (see ``can_see``). Another tenant's id is
        NotFound, never Forbidden: existence is not revealed across tenants."""
        user = await self.get(user_id)
        if await self.can_see(user):
            return user
        raise Forbidden("you may not see this person's data", field="id")

    async def visible_ids(self) -> list[UUID] | None:
        """Ids the viewer may see, or None for the whole tenant (asked once per repository:
        a manager's subtree is one recursive query, not one per id checked)."""
        if not self._visible_loaded:
            self._visible_ids = await self._load_visible_ids()
            self._visible_loaded = True
        return self._visible_ids

    async def _load_visible_ids(self) -> list[UUID] | None:
        viewer = self.viewer
        if viewer.sees_whole_tenant:
            return None
        if viewer.user_id is None:
            return []
        if viewer.role is Role.MANAGER:
            return await self.subtree_ids(viewer.user_id)
        return [viewer.user_id]

    async def require_visible_id(self, user_id: UUID | str) -> UUID:
        """``user_id`` if the viewer may see that person's data. Another tenant's id (or no
        such id) is NotFound; someone of the tenant outside the viewer's reach is Forbidden."""
        parsed = parse_id(user_id, "id")
        visible = await self.visible_ids()
        if visible is not None and parsed in visible:
            return parsed
        if not await self._scoped().filter(id=parsed).exists():
            raise NotFound(f"no user {user_id}", field="id")
        if visible is None:
            return parsed
        raise Forbidden("you may not see this person's data", field="id")

    async def visible_among(self, user_ids: Iterable[UUID]) -> list[UUID]:
        """The ids of ``user_ids`` the viewer may see (others silently left out)."""
        wanted = list(user_ids)
        visible = await self.visible_ids()
        if visible is None:
            return wanted
        allowed = set(visible)
        return [i for i in wanted if i in allowed]


def parse_id(value: UUID | str, field: str) -> UUID:
    """An id from the outside; a malformed one is simply not found."""
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        raise NotFound(f"no such id {value!r}", field=field) from None
