"""Whose numbers a viewer sees as their team (kept apart from repository.py: added by the API
issue; a candidate to fold into UserRepository)."""

from __future__ import annotations

from domain.kit.errors import Forbidden
from domain.org.models import Role, User
from domain.org.repository import UserRepository
from domain.org.viewer import Viewer


async def team_of(viewer: Viewer) -> list[User]:
    """A manager's reports, transitively; for admins and payout ops every rep and manager of
    the tenant. Reps have no team."""
    repo = UserRepository(viewer)
    if viewer.sees_whole_tenant:
        people = await repo.all()
        return sorted(
            (u for u in people if u.role in (Role.REP, Role.MANAGER) and u.id != viewer.user_id),
            key=lambda u: u.display_name,
        )
    if viewer.role is Role.MANAGER and viewer.user_id is not None:
        ids = [i for i in await repo.subtree_ids(viewer.user_id) if i != viewer.user_id]
        members = await User.filter(tenant_id=viewer.tenant_id, id__in=ids)
        return sorted(members, key=lambda u: u.display_name)
    raise Forbidden("only managers and admins have a team", field="team")
