from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry
from strawberry.types import Info

from api.graphql.gamification.leaderboards.types import Competitor
from api.graphql.money import Money, money
from domain.kit.errors import InvalidInput
from domain.org.models import User
from gamification.contests import rules, service
from gamification.contests.models import Contest as StoredContest
from gamification.contests.models import ContestStatus as StoredStatus

MAX_STANDINGS = 500  # a page of standings


@strawberry.enum
class ContestStatus(Enum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"
    AWARDED = "awarded"


@strawberry.enum(
    description="RANKED: top N win; RACE: the first K to reach the target; TEAMS: sums per "
    "team (a participant's manager), every member of a winning team wins."
)
class ContestFormat(Enum):
    RANKED = "ranked"
    RACE = "race"
    TEAMS = "teams"


@strawberry.enum(
    description="SHARE: tied people share the rank and split the prizes of the ranks they "
    "cover; EARLIEST: whoever reached the score first ranks higher."
)
class TieRule(Enum):
    SHARE = "share"
    EARLIEST = "earliest"


@strawberry.type
class ContestBadge:
    id: strawberry.ID
    name: str


@strawberry.type
class ContestPrize:
    rank: int
    description: str
    reward: Money | None
    badge: ContestBadge | None


@strawberry.type
class ContestStanding:
    rank: int
    score: Decimal
    reached_at: datetime | None = strawberry.field(
        description="When the score (a race: the target) was reached; the tie-breaker."
    )
    rep: Competitor | None = strawberry.field(description="Null for a team (TEAMS format).")
    team: Competitor | None = strawberry.field(description="TEAMS: the team's manager.")


@strawberry.type
class MyContestStanding:
    rank: int | None
    score: Decimal


@strawberry.type
class ContestWinner:
    rank: int
    rep: Competitor
    reward: Money | None
    badge: ContestBadge | None


def _badge(badge_id: str | None, description: str) -> ContestBadge | None:
    return None if badge_id is None else ContestBadge(id=strawberry.ID(badge_id), name=description)


@strawberry.type(description="A contest among a manager's people (or anyone, by an admin).")
class Contest:
    id: strawberry.ID
    name: str
    status: ContestStatus
    format: ContestFormat
    tie_rule: TieRule
    tie_rule_text: str = strawberry.field(description="The tie rule, printed on the results.")
    starts_at: datetime
    ends_at: datetime
    metric: str = strawberry.field(
        description="deal_count | deal_amount | measure:<measure id> | earnings | xp"
    )
    target: Decimal | None
    hidden: bool = strawberry.field(description="Test mode: its launcher alone sees it.")
    prizes: list[ContestPrize]
    stored: strawberry.Private[StoredContest]

    @classmethod
    def of(cls, c: StoredContest, locale: str | None) -> Contest:
        tie = rules.TieRule(c.tie_rule)
        prizes = [
            ContestPrize(
                rank=p.rank, description=p.description,
                reward=None if p.amount is None or p.currency is None
                else money(p.amount, p.currency, locale),
                badge=_badge(p.badge_id, p.description),
            )
            for p in service.prize_list(c)
        ]  # fmt: skip
        return cls(
            id=strawberry.ID(str(c.id)), name=c.name, status=ContestStatus(c.status.value),
            format=ContestFormat(c.format), tie_rule=TieRule(tie.value),
            tie_rule_text=rules.TIE_RULE_TEXT[tie], starts_at=c.starts_at, ends_at=c.ends_at,
            metric=c.metric, target=c.target, hidden=c.hidden, prizes=prizes, stored=c,
        )  # fmt: skip

    @strawberry.field(description="Best first; frozen once awarded.")
    async def standings(self, info: Info[Any, None], first: int = 20) -> list[ContestStanding]:
        if not 0 <= first <= MAX_STANDINGS:
            raise InvalidInput(f"first must be 0 to {MAX_STANDINGS}", field="first")
        placed = (await service.current_standings(self.stored))[:first]
        people = await _people(info, [p.key for p in placed])
        teams = self.stored.format == rules.Format.TEAMS
        return [
            ContestStanding(
                rank=p.rank, score=p.score, reached_at=p.reached_at,
                rep=None if teams else people.get(p.key),
                team=people.get(p.key) if teams else None,
            )
            for p in placed
        ]  # fmt: skip

    @strawberry.field(description="Who won what; before the award, who would if it ended now.")
    async def winners(self, info: Info[Any, None]) -> list[ContestWinner]:
        won = await service.current_winners(self.stored)
        people = await _people(info, [w.key for w in won])
        names = {p.rank: p.description for p in service.prize_list(self.stored)}
        locale = info.context.viewer.locale
        return [
            ContestWinner(
                rank=w.rank, rep=people[w.key],
                reward=None if w.amount is None or w.currency is None
                else money(w.amount, w.currency, locale),
                badge=_badge(w.badge_id, names.get(w.rank, "")),
            )
            for w in won
            if w.key in people
        ]  # fmt: skip

    @strawberry.field(description="The viewer's rank and score; null if not taking part.")
    async def my_standing(self, info: Info[Any, None]) -> MyContestStanding | None:
        me = info.context.viewer.user_id
        if me is None or str(me) not in self.stored.participant_ids:
            return None
        placed = await service.current_standings(self.stored)
        key: str | None = str(me)
        if self.stored.format == rules.Format.TEAMS:  # the team they are on at its end
            key = await service.team_key(self.stored, me)
        for p in placed:
            if p.key == key:
                return MyContestStanding(rank=p.rank, score=p.score)
        return MyContestStanding(rank=None, score=Decimal(0))  # a race not reached yet


async def _people(info: Info[Any, None], keys: list[str]) -> dict[str, Competitor]:
    from uuid import UUID

    found = await info.context.loaders.people.load_many([UUID(k) for k in keys])
    return {k: Competitor.of(u) for k, u in zip(keys, found, strict=True) if isinstance(u, User)}


async def contests(
    info: Info[Any, None], status: list[ContestStatus] | None = None
) -> list[Contest]:
    """The contests the viewer may see, in the order they start."""
    viewer = info.context.viewer
    found = await service.visible_contests(
        viewer=viewer, statuses=[StoredStatus(s.value) for s in status or []]
    )
    return [Contest.of(c, viewer.locale) for c in found]


async def contest(info: Info[Any, None], id: strawberry.ID) -> Contest | None:
    """A contest the viewer may see; null otherwise."""
    viewer = info.context.viewer
    found = await service.visible_contest(viewer=viewer, contest_id=str(id))
    return None if found is None else Contest.of(found, viewer.locale)
