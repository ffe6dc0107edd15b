from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info
from tortoise.transactions import in_transaction

from api.graphql.errors import UserError, user_error
from api.graphql.targets.types import Target
from domain.kit.errors import DomainError, Forbidden
from domain.targets.service import reject

RejectTargetResult = Annotated[Target | UserError, strawberry.union("RejectTargetResult")]


async def reject_target(
    info: Info[Any, None], id: strawberry.ID, comment: str
) -> RejectTargetResult:
    viewer = info.context.viewer
    try:
        async with in_transaction():
            target = await reject(viewer=viewer, target_id=str(id), comment=comment)
    except Forbidden:
        raise
    except DomainError as exc:
        return user_error(exc)
    return await Target.load(info, target)
