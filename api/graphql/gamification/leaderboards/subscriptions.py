from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any
from uuid import UUID

import strawberry
from strawberry.types import Info

from api.graphql.errors import unauthenticated
from api.graphql.gamification.leaderboards.types import Leaderboard, board_store
from domain.org.repository import UserRepository
from gamification.leaderboards import service
from gamification.leaderboards.store import board_channel, board_key

# When a follower is pushed the board (`LiveHub.board_changes`): a change of their own entry
# at once, but at least MIN_GAP seconds after the last push of their own change; other
# people's changes at most once a slot of INTERVAL seconds (the changes between fold into one
# push), at least MIN_GAP seconds after any push.
INTERVAL = 0.25
MIN_GAP = 0.1


async def leaderboard_changed(
    info: Info[Any, None], id: strawberry.ID
) -> AsyncGenerator[Leaderboard, None]:
    """The board, each time a recompute moves it. A change of the viewer's own entry (their
    score, and their rank with it) is pushed at once, unless the last push of their own
    change was less than MIN_GAP (0.1 s) ago: then MIN_GAP after it. Other people's changes,
    someone overtaking the viewer included, are coalesced: at most one push per INTERVAL
    (0.25 s) slot, at least MIN_GAP after any push. A change the workers cannot name (a
    rebuild) counts as the viewer's own. Each push shows the board as it is then, so the last
    change is always pushed."""
    context = info.context
    viewer = context.viewer
    if viewer.user_id is None or context.live is None:
        raise unauthenticated("live updates need a signed-in person")
    board = await service.visible_board(viewer=viewer, board_id=str(id))
    live, channel, store = context.live, board_channel(board.id), board_store(info)
    async for pulse in live.board_changes(
        tenant_id=viewer.tenant_id,
        user_id=viewer.user_id,
        channel=channel,
        interval=INTERVAL,
        gap=MIN_GAP,
    ):
        # the board's period and top are read once per push for all its followers here
        period = await live.shared(
            channel, pulse.generation, "period",
            lambda: service.current_period(board.tenant_id, board.period_kind),
        )  # fmt: skip

        def top(first: int, period: str = period.id, generation: int = pulse.generation) -> Any:
            key = board_key(board.id, period)
            return live.shared(channel, generation, ("top", period, first),
                               lambda: store.top(key, first))  # fmt: skip

        def people(ids: list[UUID]) -> Any:
            # names and pictures of the tenant's people, the same for every follower: kept
            # by the hub for a few seconds (`LiveHub.cards`), not read at every push
            return live.cards(viewer.tenant_id, ids, UserRepository(viewer).cards)

        yield Leaderboard.at(board, period.id, top=top, people=people)
