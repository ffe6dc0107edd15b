from __future__ import annotations

from typing import Any

from strawberry.types import Info

from api.graphql.notifications.types import Notification
from api.graphql.relay import Connection, decode_offset, offset_connection, page_size
from domain.notifications.service import inbox


async def notifications(
    info: Info[Any, None], first: int | None = 20, after: str | None = None
) -> Connection[Notification]:
    """The viewer's own notifications, newest first."""
    size, offset = page_size(first), decode_offset(after)
    rows, has_next = await inbox(viewer=info.context.viewer, first=size, offset=offset)
    return offset_connection([Notification.of(n) for n in rows], offset=offset, has_next=has_next)
