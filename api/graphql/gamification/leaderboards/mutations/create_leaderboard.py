from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info
from tortoise.transactions import in_transaction

from api.graphql.errors import UserError, user_error
from api.graphql.gamification.leaderboards.types import Leaderboard, board_store
from domain.kit.errors import DomainError, Forbidden
from gamification.leaderboards.service import create_leaderboard as create
from gamification.leaderboards.service import rebuild_board

CreateLeaderboardResult = Annotated[
    Leaderboard | UserError, strawberry.union("CreateLeaderboardResult")
]


@strawberry.input
class CreateLeaderboardInput:
    name: str
    metric: str = strawberry.field(
        description="A measure id, 'attainment:<measure>', 'count:<measure>', 'earnings' or 'xp'."
    )
    period_kind: str = strawberry.field(description="month | quarter | year")
    team_id: strawberry.ID | None = strawberry.field(
        default=None, description="A manager's subtree; left out: the whole tenant."
    )
    group: str | None = strawberry.field(
        default=None,
        description="A named group (people whose attribute 'group' is this name); not with teamId.",
    )


async def create_leaderboard(
    info: Info[Any, None], input: CreateLeaderboardInput
) -> CreateLeaderboardResult:
    """Admins: a new board, filled at once from the stored results."""
    viewer = info.context.viewer
    try:
        async with in_transaction():
            board = await create(
                viewer=viewer, name=input.name, metric=input.metric,
                period_kind=input.period_kind,
                team_id=None if input.team_id is None else str(input.team_id),
                group=input.group,
            )  # fmt: skip
    except Forbidden:
        raise
    except DomainError as exc:
        return user_error(exc)
    await rebuild_board(store=board_store(info), board=board)
    return await Leaderboard.of(board)
