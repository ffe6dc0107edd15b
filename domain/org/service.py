"""People use cases: create a person, change their role or manager. Services never commit
(``set_manager`` runs in a transaction of its own only when its caller has none); every role
assignment is audited."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from tortoise.transactions import in_transaction

from domain.audit.service import record
from domain.kit.errors import Conflict, Forbidden, InvalidInput
from domain.kit.text import name_problem
from domain.org.models import Role, User
from domain.org.repository import UserRepository, lock_manager_changes
from domain.org.viewer import Viewer


def require_role(viewer: Viewer, *roles: Role) -> None:
    if viewer.role not in roles:
        allowed = ", ".join(r.value for r in roles)
        raise Forbidden(f"only {allowed} may do this")


def role_state(user: User) -> dict[str, Any]:
    return {"external_id": user.external_id, "role": user.role.value}


async def create_user(
    *,
    viewer: Viewer,
    external_id: str,
    display_name: str,
    role: Role = Role.REP,
    email: str | None = None,
    manager_id: UUID | str | None = None,
    locale: str | None = None,
    country: str | None = None,
    hire_date: date | None = None,
    end_date: date | None = None,
    firebase_uid: str | None = None,
) -> User:
    require_role(viewer, Role.ADMIN)
    external_id = external_id.strip()
    if not external_id:
        raise InvalidInput("is required", field="externalId")
    if problem := name_problem(display_name):
        raise InvalidInput(problem, field="displayName")
    if hire_date and end_date and end_date < hire_date:
        raise InvalidInput(f"{end_date} is before hireDate {hire_date}", field="endDate")
    users = UserRepository(viewer)
    if await users.by_external_id(external_id) is not None:
        raise Conflict(f"a person with CRM id {external_id!r} exists already", field="externalId")
    manager = await users.get(manager_id) if manager_id is not None else None
    user = await User.create(
        tenant_id=viewer.tenant_id,
        external_id=external_id,
        display_name=display_name.strip() or external_id,
        role=role,
        email=email,
        manager_id=manager.id if manager else None,
        locale=locale,
        country=country,
        hire_date=hire_date,
        end_date=end_date,
        firebase_uid=firebase_uid,
    )
    await record(
        viewer=viewer,
        action="user.role_assigned",
        entity_type="user",
        entity_id=str(user.id),
        before=None,
        after=role_state(user),
    )
    return user


async def set_role(*, viewer: Viewer, user_id: UUID | str, role: Role) -> User:
    require_role(viewer, Role.ADMIN)
    user = await UserRepository(viewer).get(user_id, for_update=True)
    if viewer.user_id == user.id and role is not Role.ADMIN:
        raise Forbidden("admins cannot take away their own admin role", field="role")
    if user.role is role:
        return user
    before = role_state(user)
    user.role = role
    await user.save(update_fields=["role", "updated_at"])
    await record(
        viewer=viewer,
        action="user.role_assigned",
        entity_type="user",
        entity_id=str(user.id),
        before=before,
        after=role_state(user),
    )
    return user


async def set_manager(
    *, viewer: Viewer, user_id: UUID | str, manager_id: UUID | str | None
) -> User:
    """Move a person under another manager (None: top of the hierarchy). Cycles are refused.

    In a savepoint of the caller's transaction, or a transaction of its own when the caller
    has none (the lock below ends with a transaction, never with a statement): the tenant's
    other manager changes (another setManager, `podium import reps`, CRM rep events) wait for
    that transaction to end, so that none of them closes a cycle with the hierarchy checked
    here meanwhile."""
    require_role(viewer, Role.ADMIN)
    async with in_transaction():
        # before reading what the check reads, and before locking the person's row: a change
        # holding this lock may be about to write that row (waiting for each other: deadlock)
        await lock_manager_changes(viewer.tenant_id)
        return await _set_manager(viewer, user_id, manager_id)


async def _set_manager(viewer: Viewer, user_id: UUID | str, manager_id: UUID | str | None) -> User:
    users = UserRepository(viewer)
    user = await users.get(user_id, for_update=True)
    manager = await users.get(manager_id) if manager_id is not None else None
    if manager is not None and manager.id in await users.subtree_ids(user.id):
        raise Conflict(
            f"{manager.display_name} reports to {user.display_name}: that would be a cycle",
            field="managerId",
        )
    before = {"manager_id": str(user.manager_id) if user.manager_id else None}
    user.manager_id = manager.id if manager else None
    await user.save(update_fields=["manager_id", "updated_at"])
    after = {"manager_id": str(user.manager_id) if user.manager_id else None}
    if before != after:  # who reports to whom decides who sees whose earnings
        await record(
            viewer=viewer,
            action="user.manager_set",
            entity_type="user",
            entity_id=str(user.id),
            before=before,
            after=after,
        )
    return user
