from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

import strawberry
from strawberry.types import Info
from tortoise.transactions import in_transaction

from api.graphql.errors import UserError, user_error
from api.graphql.gamification.contests.types import Contest, ContestFormat, TieRule
from domain.kit.errors import DomainError
from gamification.contests.errors import ContestError
from gamification.contests.service import launch_contest as launch

LaunchContestResult = Annotated[Contest | UserError, strawberry.union("LaunchContestResult")]


@strawberry.input
class PrizeInput:
    rank: int
    description: str
    amount: Decimal | None = None
    currency: str | None = strawberry.field(
        default=None, description="ISO 4217; left out: the tenant's currency."
    )
    badge_id: strawberry.ID | None = None


@strawberry.input
class LaunchContestInput:
    name: str
    metric: str = strawberry.field(
        description="deal_count | deal_amount | measure:<measure id> | earnings | xp"
    )
    starts_at: datetime
    ends_at: datetime
    prizes: list[PrizeInput]
    team_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="A manager whose subtree takes part (default: yours; an admin's: every rep).",
    )
    rep_ids: list[strawberry.ID] | None = None
    format: ContestFormat = ContestFormat.RANKED
    tie_rule: TieRule = TieRule.SHARE
    target: Decimal | None = strawberry.field(default=None, description="RACE: the target.")
    hidden: bool = strawberry.field(default=False, description="Test mode: only you see it.")


def _uuid(value: str, field: str) -> UUID:
    try:
        return UUID(str(value))
    except ValueError:
        raise ContestError(f"{value!r} is not an id", field=field) from None


async def launch_contest(info: Info[Any, None], input: LaunchContestInput) -> LaunchContestResult:
    """Managers for their own subtree, admins for anyone."""
    viewer = info.context.viewer
    try:
        async with in_transaction():
            contest = await launch(
                viewer=viewer, name=input.name, metric=input.metric,
                starts_at=input.starts_at, ends_at=input.ends_at,
                prizes=[
                    {"rank": p.rank, "description": p.description, "amount": p.amount,
                     "currency": p.currency,
                     "badge_id": None if p.badge_id is None else str(p.badge_id)}
                    for p in input.prizes
                ],
                format=input.format.value, tie_rule=input.tie_rule.value, target=input.target,
                team_id=None if input.team_id is None else _uuid(input.team_id, "teamId"),
                rep_ids=None if input.rep_ids is None
                else [_uuid(r, f"repIds[{i}]") for i, r in enumerate(input.rep_ids)],
                hidden=input.hidden,
            )  # fmt: skip
    except DomainError as exc:
        return user_error(exc)
    return Contest.of(contest, viewer.locale)
