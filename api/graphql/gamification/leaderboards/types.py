from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
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
    return entries_of(found, people)


def entries_of(found: list[service.Entry], people: Mapping[UUID, Card]) -> list[LeaderboardEntry]:
    """Entries with their people's cards; someone without one (gone meanwhile) left out."""
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


class Asked:
    """What a subscription's document asks of every push of its board (its selection and
    variables are fixed): the ``first`` of its entries fields and the ``radius`` of its
    aroundMe fields, learnt from the fields that had to read for themselves."""

    __slots__ = ("firsts", "radii")

    def __init__(self) -> None:
        self.firsts: set[int] = set()
        self.radii: set[int] = set()


def shows(entries: list[LeaderboardEntry]) -> tuple[tuple[Any, ...], ...]:
    """What ``entries`` show, comparable: each one's rank, person, score, name and picture."""
    return tuple((e.rank, e.rep.id, e.score, e.rep.display_name, e.rep.avatar_url) for e in entries)


class Prefetched:
    """A push of `leaderboardChanged` for one follower: the top for each ``first`` and the
    follower's neighbourhood for each ``radius`` the subscription asks for (`Asked`), read
    before the push is executed, as entries (built once for all the board's followers where
    they see the same). The fields take them as they are, synchronously: the execution
    awaits nothing. A field asking for something else reads it itself (`asked` learns it
    for the next push) and leaves it here, so that `view` is what the push showed."""

    __slots__ = ("around", "asked", "period", "seen", "top")

    def __init__(self, asked: Asked, period: str) -> None:
        self.asked = asked
        self.period = period
        self.top: dict[int, list[LeaderboardEntry]] = {}
        self.around: dict[int, list[LeaderboardEntry]] = {}
        self.seen: dict[tuple[str, int], Any] = {}  # ("top", first) -> `shows` of it

    def put_top(self, first: int, entries: list[LeaderboardEntry], seen: Any = None) -> None:
        self.top[first] = entries
        self.seen[("top", first)] = shows(entries) if seen is None else seen

    def put_around(self, radius: int, entries: list[LeaderboardEntry], seen: Any = None) -> None:
        self.around[radius] = entries
        self.seen[("around", radius)] = shows(entries) if seen is None else seen

    def view(self) -> tuple[Any, ...]:
        """Equal for two pushes that show the same (the board's other fields are fixed)."""
        return (self.period, sorted(self.seen.items()))

    def entries(self, first: int) -> list[LeaderboardEntry] | None:
        found = self.top.get(first)
        if found is None and 0 <= first <= service.MAX_ENTRIES:  # else refused every time
            self.asked.firsts.add(first)
        return found

    def around_me(self, radius: int) -> list[LeaderboardEntry] | None:
        found = self.around.get(radius)
        if found is None and 0 <= radius <= service.MAX_RADIUS:
            self.asked.radii.add(radius)
        return found


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
    # a push's entries, read for its follower before it is executed (`leaderboardChanged`)
    prefetched: strawberry.Private[Prefetched | None] = None
    # a push's read of the people on the board, shared by its followers (`leaderboardChanged`)
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
        prefetched: Prefetched | None = None,
        people: ReadPeople | None = None,
    ) -> Leaderboard:
        return cls(id=strawberry.ID(str(board.id)), name=board.name, metric=board.metric,
                   period=period, period_kind=board.period_kind, board=board,
                   prefetched=prefetched, people=people)  # fmt: skip

    # Not async: a push's entries are at hand (`Prefetched`), and an async resolver costs
    # a coroutine and graphql-core's awaiting of it for every follower at every push; a
    # query's are read (the awaitable returned).
    @strawberry.field(
        description="The best first (ties in the order of their ids).",
        graphql_type=list[LeaderboardEntry],
    )
    def entries(
        self, info: Info[Any, None], first: int = 10
    ) -> list[LeaderboardEntry] | Awaitable[list[LeaderboardEntry]]:
        if self.prefetched is not None and (found := self.prefetched.entries(first)) is not None:
            return found
        return self._read_entries(info, first)

    async def _read_entries(self, info: Info[Any, None], first: int) -> list[LeaderboardEntry]:
        found = await service.board_entries(
            viewer=info.context.viewer, store=board_store(info), board=self.board,
            period=self.period, first=first, read_top=self._reads(info).top,
        )  # fmt: skip
        entries = await _entries(info, found, self.people)
        if self.prefetched is not None:
            self.prefetched.put_top(first, entries)
        return entries

    @strawberry.field(
        description="The viewer and up to `radius` people either side.",
        graphql_type=list[LeaderboardEntry],
    )
    def around_me(
        self, info: Info[Any, None], radius: int = 2
    ) -> list[LeaderboardEntry] | Awaitable[list[LeaderboardEntry]]:
        if self.prefetched is not None and (found := self.prefetched.around_me(radius)) is not None:
            return found
        return self._read_around(info, radius)

    async def _read_around(self, info: Info[Any, None], radius: int) -> list[LeaderboardEntry]:
        found = await service.board_around(
            viewer=info.context.viewer, store=board_store(info), board=self.board,
            period=self.period, radius=radius, read_around=self._reads(info).around,
        )  # fmt: skip
        entries = await _entries(info, found, self.people)
        if self.prefetched is not None:
            self.prefetched.put_around(radius, entries)
        return entries


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
