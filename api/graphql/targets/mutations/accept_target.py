from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info
from tortoise.transactions import in_transaction

from api.graphql.errors import UserError, user_error
from api.graphql.targets.types import Target
from domain.kit.errors import DomainError, Forbidden
from domain.targets.service import respond

AcceptTargetResult = Annotated[Target | UserError, strawberry.union("AcceptTargetResult")]


async def accept_target(
    info: Info[Any, None], id: strawberry.ID, accept: bool = True, comment: str | None = None
) -> AcceptTargetResult:
    """The person accepts their published target (or, `accept: false`, disputes it with a
    `comment`)."""
    viewer = info.context.viewer
    try:
        async with in_transaction():
            target = await respond(viewer=viewer, target_id=str(id), accept=accept, comment=comment)
    except Forbidden:
        raise
    except DomainError as exc:
        return user_error(exc)
    return await Target.load(info, target)
