"""Standard competition ranking (pure): equal scores share a rank and the next rank skips
as many places as shared it (1, 2, 2, 4).

Inside a tie, people are listed in a fixed, documented order: by their id, ascending (the
order Redis keeps equal scores in, so a page of a board and the whole board agree).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class Ranked(Generic[K]):
    rank: int
    key: K
    score: int


def shared_ranks(scores: Iterable[object], *, before: int = 0) -> Iterator[int]:
    """The standard competition rank of each of ``scores``, best first: an equal score
    shares the rank before it, the next one is its place (1, 2, 2, 4). ``before`` is how many
    rank ahead of the first one. The one ranking rule of gamification: the boards (exact
    integers) and the contests' SHARE tie rule (Decimals) both rank with it."""
    previous: object = _NONE
    rank = before
    for place, score in enumerate(scores, start=before + 1):
        if score != previous:
            rank = place
            previous = score
        yield rank


_NONE = object()


def competition_ranks(scores: Iterable[tuple[K, int]], *, before: int = 0) -> list[Ranked[K]]:
    """``scores`` (key, score), best first, ties in the documented order, ranked; ``before``
    is how many people rank ahead of the first one (a page that does not start at the
    top: its first rank is counted by the caller)."""
    pairs = list(scores)
    ranks = shared_ranks((score for _, score in pairs), before=before)
    return [Ranked(rank, key, score) for rank, (key, score) in zip(ranks, pairs, strict=True)]


def ordered(scores: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    """Scores best first, a tie by key ascending (the documented order)."""
    return sorted(scores, key=lambda pair: (-pair[1], pair[0]))
