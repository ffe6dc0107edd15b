from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from api.graphql.statements.types import Statement
from domain.kit.errors import NotFound
from payments.statements.repository import StatementRepository


async def statement(info: Info[Any, None], id: strawberry.ID) -> Statement | None:
    """A statement (any version) of someone the viewer may see; an unknown id is null,
    someone else's FORBIDDEN."""
    try:
        found = await StatementRepository(info.context.viewer).statement(str(id))
    except NotFound:
        return None
    return Statement.of(found, info.context.locale)
