from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info
from tortoise.transactions import in_transaction

from api.graphql.errors import UserError, user_error
from api.graphql.targets.types import Target
from domain.kit.errors import DomainError, Forbidden
from domain.targets.service import publish, root_of

PublishTargetsResult = Annotated[Target | UserError, strawberry.union("PublishTargetsResult")]


async def publish_targets(info: Info[Any, None], plan_id: strawberry.ID) -> PublishTargetsResult:
    """Admins: a validated target plan becomes everyone's quotas; answers its root target."""
    viewer = info.context.viewer
    try:
        async with in_transaction():
            plan = await publish(viewer=viewer, plan_id=str(plan_id))
            root = await root_of(viewer=viewer, plan_id=plan.id)
    except Forbidden:
        raise
    except DomainError as exc:
        return user_error(exc)
    return await Target.load(info, root)
