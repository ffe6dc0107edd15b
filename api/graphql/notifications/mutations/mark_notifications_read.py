from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info
from tortoise.transactions import in_transaction

from api.graphql.errors import UserError, user_error
from api.graphql.notifications.types import MarkReadResult
from domain.kit.errors import DomainError, Forbidden
from domain.notifications.service import mark_read

MarkNotificationsReadResult = Annotated[
    MarkReadResult | UserError, strawberry.union("MarkNotificationsReadResult")
]


async def mark_notifications_read(
    info: Info[Any, None], ids: list[strawberry.ID]
) -> MarkNotificationsReadResult:
    """Marks the viewer's own notifications among ``ids`` read (others' ids change nothing)."""
    viewer = info.context.viewer
    try:
        async with in_transaction():
            count = await mark_read(viewer=viewer, ids=[str(i) for i in ids])
    except Forbidden:
        raise
    except DomainError as exc:
        return user_error(exc)
    return MarkReadResult(count=count)
