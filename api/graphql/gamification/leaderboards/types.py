from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any
from uuid import UUID
from weakref import WeakKeyDictionary

import strawberry
from redis.asyncio import Redis
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from api.graphql.errors import unauthenticated
from domain.kit.errors import InvalidInput, NotFound
from domain.org.models import User
from domain.org.repository import Card
from gamification.leaderboards import service
from gamification.leaderboards.models import Leaderboard as StoredBoard
from gamification.leaderboards.ranking import Ranked
from gamification.leaderboards.store import BoardStore, board_key

# one store per Redis client (its script registered once, not at every request)
_stores: WeakKeyDictionary[Redis, BoardStore] = WeakKeyDictionary()


def board_store(info: Info[Any, None]) -> BoardStore:
    redis = info.context.redis
    if redis is None:
        raise unauthenticated("leaderboards need Redis, which this server is not given")
    store = _stores.get(redis)
    if store is None:
        store = _stores[redis] = BoardStore(redis)
    return store


@strawberry.type(description="Someone on a board: a name and a picture, nothing else of theirs.")
class Competitor:
    id: strawberry.ID
    display_name: str
    avatar_url: str | None

    @classmethod
    def of(cls, user: User | Card) -> Competitor:
        return cls(id=strawberry.ID(str(user.id)), display_name=user.display_name,
                   avatar_url=user.avatar_url)  # fmt: skip


@strawberry.type
class LeaderboardEntry:
    rank: int = strawberry.field(description="Standard competition rank (1, 2, 2, 4).")
    score: Decimal | None = strawberry.field(
        description="The metric (money in the plan's currency, attainment as a fraction, a "
        "count); null where the viewer may not see it (another rep's earnings)."
    )
    rep: Competitor


# a push's read of the people on the board, shared by its followers (`leaderboardChanged`)
ReadPeople = Callable[[list[UUID]], Awaitable[dict[UUID, Card]]]


async def _entries(
    info: Info[Any, None], found: list[service.Entry], read_people: ReadPeople | None = None
) -> list[LeaderboardEntry]:
    ids = [e.user_id for e in found]
    if read_people is not None:
        people = await read_people(ids)
    else:  # the request's cards: the top's and aroundMe's people in one statement
        people = await info.context.loaders.cards.load(tuple(ids))
    return [
        LeaderboardEntry(rank=e.rank, score=e.score, rep=Competitor.of(people[e.user_id]))
        for e in found
        if e.user_id in people
    ]


class PageReads:
    """The reads of one board object (one query's, or one push's) from the store: the top
    and the neighbourhoods its fields ask for in the same turn of the event loop are read
    together, in one script (`BoardStore.page`): `entries` and `aroundMe` are one round
    trip, not two. A new board object reads afresh."""

    def __init__(self, store: BoardStore, key: str) -> None:
        self.store = store
        self.key = key
        self.loader: DataLoader[tuple[Any, ...], list[Ranked[str]]] = DataLoader(self._load)

    def top(self, first: int) -> Awaitable[list[Ranked[str]]]:
        return self.loader.load(("top", first))

    def around(self, member: str, radius: int) -> Awaitable[list[Ranked[str]]]:
        return self.loader.load(("around", member, radius))

    async def _load(self, keys: list[tuple[Any, ...]]) -> list[list[Ranked[str]]]:
        first = max((k[1] for k in keys if k[0] == "top"), default=0)
        around = list(dict.fromkeys((k[1], k[2]) for k in keys if k[0] == "around"))
        page = await self.store.page(self.key, first, around)
        # a shorter top is the longer one's start: its ranks are the same
        return [
            page.top[: k[1]] if k[0] == "top" else page.around[around.index((k[1], k[2]))]
            for k in keys
        ]


@strawberry.type(
    description="A ranking of people by a metric over the current period (a board the "
    "viewer may see: built only by the resolvers that checked it)."
)
class Leaderboard:
    id: strawberry.ID
    name: str
    metric: str = strawberry.field(
        description="A measure id, 'attainment:<measure>', 'count:<measure>', 'earnings' or 'xp'."
    )
    period: str = strawberry.field(description="The period ranked: the board's current one.")
    period_kind: str
    board: strawberry.Private[StoredBoard]
    # a push's read of the top, shared by the board's followers (`leaderboardChanged`)
    top: strawberry.Private[service.ReadTop | None] = None
    people: strawberry.Private[ReadPeople | None] = None
    reads: strawberry.Private[PageReads | None] = None  # made by the first field that reads

    def _reads(self, info: Info[Any, None]) -> PageReads:
        if self.reads is None:
            self.reads = PageReads(board_store(info), board_key(self.board.id, self.period))
        return self.reads

    @classmethod
    async def of(cls, board: StoredBoard) -> Leaderboard:
        period = await service.current_period(board.tenant_id, board.period_kind)
        return cls.at(board, period.id)

    @classmethod
    def at(
        cls,
        board: StoredBoard,
        period: str,
        top: service.ReadTop | None = None,
        people: ReadPeople | None = None,
    ) -> Leaderboard:
        return cls(id=strawberry.ID(str(board.id)), name=board.name, metric=board.metric,
                   period=period, period_kind=board.period_kind, board=board,
                   top=top, people=people)  # fmt: skip

    @strawberry.field(description="The best first (ties in the order of their ids).")
    async def entries(self, info: Info[Any, None], first: int = 10) -> list[LeaderboardEntry]:
        found = await service.board_entries(
            viewer=info.context.viewer, store=board_store(info), board=self.board,
            period=self.period, first=first, read_top=self.top or self._reads(info).top,
        )  # fmt: skip
        return await _entries(info, found, self.people)

    @strawberry.field(description="The viewer and up to `radius` people either side.")
    async def around_me(self, info: Info[Any, None], radius: int = 2) -> list[LeaderboardEntry]:
        found = await service.board_around(
            viewer=info.context.viewer, store=board_store(info), board=self.board,
            period=self.period, radius=radius, read_around=self._reads(info).around,
        )  # fmt: skip
        return await _entries(info, found, self.people)


@strawberry.type
class Standing:
    leaderboard: Leaderboard
    rank: int
    of: int = strawberry.field(description="How many people the board ranks.")
    score: Decimal | None


async def leaderboard(info: Info[Any, None], id: strawberry.ID) -> Leaderboard | None:
    """A board the viewer may see; null otherwise (or for an id that is no board)."""
    try:
        board = await service.visible_board(viewer=info.context.viewer, board_id=str(id))
    except (NotFound, InvalidInput):
        return None
    return await Leaderboard.of(board)


async def standings(info: Info[Any, None]) -> list[Standing]:
    """The viewer's rank on each board they are on this period."""
    found = await service.standings(viewer=info.context.viewer, store=board_store(info))
    return [
        Standing(leaderboard=await Leaderboard.of(s.board), rank=s.rank, of=s.of, score=s.score)
        for s in found
    ]
