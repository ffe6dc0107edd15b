from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from api.graphql.errors import NOT_FOUND, unauthenticated
from api.graphql.gamification.leaderboards.types import Leaderboard
from domain.kit.errors import NotFound
from gamification.leaderboards import service
from gamification.leaderboards.store import board_channel

# a busy board pushes a subscriber at most this often; the changes between fold into one
MIN_INTERVAL = 0.25


async def leaderboard_changed(
    info: Info[Any, None], id: strawberry.ID
) -> AsyncGenerator[Leaderboard, None]:
    """The board, each time a recompute moves it (at most four times a second)."""
    context = info.context
    viewer = context.viewer
    if viewer.user_id is None or context.live is None:
        raise unauthenticated("live updates need a signed-in person")
    try:
        board = await service.visible_board(viewer=viewer, board_id=str(id))
    except NotFound as exc:  # a subscription's error is not mapped like a query's: coded here
        raise GraphQLError(exc.message, extensions={"code": NOT_FOUND}) from None
    async for _ in context.live.board_changes(
        tenant_id=viewer.tenant_id,
        user_id=viewer.user_id,
        channel=board_channel(board.id),
        min_interval=MIN_INTERVAL,
    ):
        yield await Leaderboard.of(board)
