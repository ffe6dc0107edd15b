from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from api.graphql.people.types import Me, Rep
from domain.kit.errors import NotFound
from domain.org.repository import UserRepository


async def me(info: Info[Any, None]) -> Me:
    viewer = info.context.viewer
    assert viewer.user_id is not None
    user = await UserRepository(viewer).get(viewer.user_id)
    return Me.of(user, viewer.locale)


async def rep(info: Info[Any, None], id: strawberry.ID) -> Rep | None:
    """A person the viewer may see: themselves (reps), their subtree (managers), anyone of the
    tenant (admins, payout ops). Someone else's id is FORBIDDEN; an unknown id is null."""
    try:
        user = await UserRepository(info.context.viewer).visible(str(id))
    except NotFound:
        return None
    return Rep.of(user)
