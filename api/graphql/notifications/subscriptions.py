from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from strawberry.types import Info

from api.graphql.errors import unauthenticated
from api.graphql.notifications.types import EarningsUpdate


async def earnings_updated(info: Info[Any, None]) -> AsyncGenerator[EarningsUpdate, None]:
    """The viewer's own earnings, each time a recompute of theirs commits."""
    context = info.context
    viewer = context.viewer
    if viewer.user_id is None or context.live is None:
        raise unauthenticated("live updates need a signed-in person")
    async for summary in context.live.earnings_updates(
        tenant_id=viewer.tenant_id, user_id=viewer.user_id
    ):
        yield EarningsUpdate.of(summary, context.locale)
