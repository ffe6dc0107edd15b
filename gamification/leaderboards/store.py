"""The boards in Redis (the one module that talks to Redis for leaderboards).

A board's period is one sorted set, ``podium:board:<board id>:<period>``, member = the
person's id, score = minus their exact integer score (`metrics.Metric.exact`): Redis keeps
a set in ascending score order and equal scores in ascending member order, so reading from
the start gives the best first and a tie by person id ascending, the order
`ranking` documents. A person's rank is one more than the number of members with a strictly
better score (``ZCOUNT``): standard competition ranking, whatever the page.

PostgreSQL is the truth: every set can be rebuilt from stored results (`replace`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from uuid import UUID

from redis.asyncio import Redis

from gamification.leaderboards.ranking import Ranked, competition_ranks


def board_key(board_id: UUID, period: str) -> str:
    return f"podium:board:{board_id}:{period}"


def board_channel(board_id: UUID) -> str:
    """The pub/sub channel a board's changes are announced on (`leaderboardChanged`)."""
    return f"podium:board-changed:{board_id}"


@dataclass(frozen=True, slots=True)
class Position:
    rank: int
    score: int
    of: int


class BoardStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._around = redis.register_script(_AROUND)

    async def update(
        self,
        scores: Mapping[str, Mapping[str, int | None]],
        *,
        changed_boards: Sequence[UUID] = (),
    ) -> None:
        """Set many people's scores in many sets in one round trip (None removes the person
        from the set), and announce ``changed_boards``."""
        pipe = self.redis.pipeline(transaction=False)
        for key, members in scores.items():
            present = {m: -s for m, s in members.items() if s is not None}
            gone = [m for m, s in members.items() if s is None]
            if present:
                pipe.zadd(key, present)
            if gone:
                pipe.zrem(key, *gone)
        for board_id in changed_boards:
            pipe.publish(board_channel(board_id), str(board_id))
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

    async def top(self, key: str, count: int) -> list[Ranked[str]]:
        if count <= 0:
            return []
        found = await self.redis.zrange(key, 0, count - 1, withscores=True)
        return competition_ranks((_text(m), -int(s)) for m, s in found)

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
        """The person and up to ``radius`` people either side, ranked: read at once (one
        script), so a board moving between the reads cannot centre the page on someone
        else."""
        start, ahead, flat = await self._around(keys=[key], args=[member, radius])
        if not flat:
            return []
        found = [(_text(flat[i]), -int(float(flat[i + 1]))) for i in range(0, len(flat), 2)]
        first_score = found[0][1]
        ranked = competition_ranks(found, before=int(start))
        # those who tie with the page's first person share the rank of everyone they tie
        # with, some of whom may be before the page: one more than those strictly ahead
        return [
            Ranked(int(ahead) + 1, r.key, r.score) if r.score == first_score else r for r in ranked
        ]

    async def size(self, key: str) -> int:
        return int(await self.redis.zcard(key))


# the person's place, the page around it and how many rank strictly ahead of its first
# member, in one step: (start, ahead, [member, score, ...]); no page when not on the board
_AROUND = """
local place = redis.call('ZRANK', KEYS[1], ARGV[1])
if not place then return {0, 0, {}} end
local start = math.max(0, place - tonumber(ARGV[2]))
local found = redis.call('ZRANGE', KEYS[1], start, place + tonumber(ARGV[2]), 'WITHSCORES')
local ahead = redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. found[2])
return {start, ahead, found}
"""


def _text(member: bytes | str) -> str:
    return member.decode() if isinstance(member, bytes) else str(member)
