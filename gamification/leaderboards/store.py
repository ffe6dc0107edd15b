"""The boards in Redis (the one module that talks to Redis for leaderboards).

A board's period is one sorted set, ``podium:board:<board id>:<period>``, member = the
person's id, score = minus their exact integer score (`metrics.Metric.exact`): Redis keeps
a set in ascending score order and equal scores in ascending member order, so reading from
the start gives the best first and a tie by person id ascending, the order
`ranking` documents. A person's rank is one more than the number of members with a strictly
better score (``ZCOUNT``): standard competition ranking, whatever the page.

A page of a board (`page`: the top and the neighbourhoods of some people) is read in one
script, one round trip: a board moving meanwhile cannot tear it.

A write announces each board it changed on the board's channel (`board_channel`), one message
per board per write, in the write's round trip (`update`). The message names the people whose
entries were written (`board_message`), so that a follower tells a change of their own entry
from other people's (`leaderboardChanged` pushes the former at once): their ids separated by
spaces, or ``*`` when the write may have changed anyone's (a rebuild, or more than
`MAX_NAMED` people, whose list would cost every follower more than it tells them).

PostgreSQL is the truth: every set can be rebuilt from stored results (`replace`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from uuid import UUID

from redis.asyncio import Redis

from gamification.leaderboards.ranking import Ranked, competition_ranks


def board_key(board_id: UUID, period: str) -> str:
    return f"podium:board:{board_id}:{period}"


def board_channel(board_id: UUID) -> str:
    """The pub/sub channel a board's changes are announced on (`leaderboardChanged`)."""
    return f"podium:board-changed:{board_id}"


MAX_NAMED = 256  # people a board's message names at most (9 KB); more: "*", anyone's
ANYONE = "*"


def board_message(members: Collection[str] | None) -> str:
    """The message announcing a change of ``members``' entries (None: possibly anyone's)."""
    if members is None or len(members) > MAX_NAMED:
        return ANYONE
    return " ".join(members)


def named(message: bytes | str) -> frozenset[str] | None:
    """The people a board's message names (`board_message`); None: possibly anyone."""
    text = message.decode(errors="replace") if isinstance(message, bytes) else message
    return None if text == ANYONE else frozenset(text.split())


@dataclass(frozen=True, slots=True)
class Position:
    rank: int
    score: int
    of: int


@dataclass(frozen=True, slots=True)
class Page:
    """The top of a board and, for each person asked for, their neighbourhood (empty when
    they are not on the board), ranked."""

    top: list[Ranked[str]]
    around: list[list[Ranked[str]]]


class BoardStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._page = redis.register_script(_PAGE)

    async def update(
        self,
        scores: Mapping[str, Mapping[str, int | None]],
        *,
        announce: Mapping[UUID, Collection[str] | None] | None = None,
    ) -> None:
        """Set many people's scores in many sets (None removes the person from the set) and
        announce each board of ``announce`` (board id -> the people whose entries this
        changed, None: possibly anyone's) with one message, all in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        for key, members in scores.items():
            present = {m: -s for m, s in members.items() if s is not None}
            gone = [m for m, s in members.items() if s is None]
            if present:
                pipe.zadd(key, present)
            if gone:
                pipe.zrem(key, *gone)
        for board_id, members in (announce or {}).items():
            pipe.publish(board_channel(board_id), board_message(members))
        await pipe.execute()

    async def ranks(self, wanted: Sequence[tuple[str, str, int]]) -> list[int]:
        """The competition rank of each (set, member, exact score) in one round trip: one
        more than the members with a strictly better score."""
        if not wanted:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for key, _, score in wanted:
            pipe.zcount(key, "-inf", f"({-score}")
        return [int(better) + 1 for better in await pipe.execute()]

    async def present(self, wanted: Sequence[tuple[str, str]]) -> list[bool]:
        """Whether each (set, member) is on the board, in one round trip."""
        if not wanted:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for key, member in wanted:
            pipe.zscore(key, member)
        return [found is not None for found in await pipe.execute()]

    async def replace(self, key: str, scores: Mapping[str, int]) -> None:
        """The whole set at once (a rebuild): readers see the old set or the new one."""
        temporary = f"{key}:rebuilding"
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(temporary)
        if scores:
            pipe.zadd(temporary, {m: -s for m, s in scores.items()})
            pipe.rename(temporary, key)
        else:
            pipe.delete(key)
        await pipe.execute()

    async def page(self, key: str, first: int, around: Sequence[tuple[str, int]] = ()) -> Page:
        """The best ``first`` and, for each (person, radius) of ``around``, the person and up
        to ``radius`` people either side, read at once (one script): a board moving between
        the reads cannot centre a neighbourhood on someone else."""
        args: list[str | int] = [max(first, 0)]
        for member, radius in around:
            args += [member, max(radius, 0)]
        found = await self._page(keys=[key], args=args)
        top = competition_ranks(_pairs(found[0]))
        return Page(top, [_neighbourhood(start, ahead, flat) for start, ahead, flat in found[1:]])

    async def top(self, key: str, count: int) -> list[Ranked[str]]:
        if count <= 0:
            return []
        return (await self.page(key, count)).top

    async def position(self, key: str, member: str) -> Position | None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.zscore(key, member)
        pipe.zcard(key)
        stored, size = await pipe.execute()
        if stored is None:
            return None
        better = await self.redis.zcount(key, "-inf", f"({int(stored)}")
        return Position(rank=better + 1, score=-int(stored), of=int(size))

    async def around(self, key: str, member: str, radius: int) -> list[Ranked[str]]:
        """The person and up to ``radius`` people either side, ranked (`page`)."""
        return (await self.page(key, 0, [(member, radius)])).around[0]

    async def size(self, key: str) -> int:
        return int(await self.redis.zcard(key))


# the top (ARGV[1] people), then for each (person, radius) of the rest of ARGV: the person's
# place, the page around it and how many rank strictly ahead of its first member, in one
# step: {[member, score, ...], {start, ahead, [member, score, ...]}, ...}; an empty page
# for someone not on the board
_PAGE = """
local key = KEYS[1]
local first = tonumber(ARGV[1])
local out = {{}}
if first > 0 then out[1] = redis.call('ZRANGE', key, 0, first - 1, 'WITHSCORES') end
for i = 2, #ARGV, 2 do
  local place = redis.call('ZRANK', key, ARGV[i])
  if place then
    local radius = tonumber(ARGV[i + 1])
    local start = math.max(0, place - radius)
    local found = redis.call('ZRANGE', key, start, place + radius, 'WITHSCORES')
    local ahead = redis.call('ZCOUNT', key, '-inf', '(' .. found[2])
    out[#out + 1] = {start, ahead, found}
  else
    out[#out + 1] = {0, 0, {}}
  end
end
return out
"""


def _pairs(flat: Sequence[bytes | str]) -> list[tuple[str, int]]:
    """[member, score, ...] as the script returns them: (member, exact score) pairs."""
    return [(_text(flat[i]), -int(float(flat[i + 1]))) for i in range(0, len(flat), 2)]


def _neighbourhood(start: int, ahead: int, flat: Sequence[bytes | str]) -> list[Ranked[str]]:
    if not flat:
        return []
    found = _pairs(flat)
    first_score = found[0][1]
    ranked = competition_ranks(found, before=int(start))
    # those who tie with the page's first person share the rank of everyone they tie
    # with, some of whom may be before the page: one more than those strictly ahead
    return [Ranked(int(ahead) + 1, r.key, r.score) if r.score == first_score else r for r in ranked]


def _text(member: bytes | str) -> str:
    return member.decode() if isinstance(member, bytes) else str(member)
