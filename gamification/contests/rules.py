"""Pure contest rules: ranking per format, the tie rules and the split of prizes to the cent.

No I/O. The service feeds it scores computed from PostgreSQL and stores what it returns.
The shared ranks are the leaderboards' (`leaderboards.ranking`): one ranking rule.

Tie rules (printed on the results):
- ``SHARE``: tied participants share the rank (standard competition ranking 1, 2, 2, 4) and
  split the money prizes of the ranks they cover equally, to the currency's minor unit. The
  remainder rule: the cents left over after the equal split go one each to the tied
  participants in the order they reached their final score (earliest first), then by id.
  Each tied participant receives the badge of the rank they share, if that rank has one.
- ``EARLIEST``: no shared ranks; among equal scores, whoever reached the score first ranks
  higher (then by id, deterministic, for the rare exact same instant).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

from domain.kit.money import minor_units
from gamification.leaderboards.ranking import shared_ranks


class Format(StrEnum):
    RANKED = "ranked"  # top N (the highest prize rank) win
    RACE = "race"  # the first K to reach the target win, in the order they reached it
    TEAMS = "teams"  # team vs team: sums per team; every member of a winning team wins


class TieRule(StrEnum):
    SHARE = "share"
    EARLIEST = "earliest"


TIE_RULE_TEXT = {
    TieRule.SHARE: (
        "Tied participants share the rank and split the money prizes of the ranks they "
        "cover equally, to the cent; leftover cents go one each to whoever reached the "
        "score first."
    ),
    TieRule.EARLIEST: "Among equal scores, whoever reached the score first ranks higher.",
}


@dataclass(frozen=True, slots=True)
class Entry:
    """One contestant (a rep, or a team for TEAMS): its score and when it was reached."""

    key: str
    score: Decimal
    reached_at: datetime | None = None  # when the final score (or the race target) was reached


@dataclass(frozen=True, slots=True)
class Placed:
    key: str
    rank: int
    score: Decimal
    reached_at: datetime | None


@dataclass(frozen=True, slots=True)
class Prize:
    rank: int
    description: str
    amount: Decimal | None = None
    currency: str | None = None
    badge_id: str | None = None


@dataclass(frozen=True, slots=True)
class Won:
    key: str
    rank: int
    amount: Decimal | None
    currency: str | None
    badge_id: str | None
    description: str


def _reached(entry: Entry | Placed) -> tuple[int, str]:
    at = entry.reached_at
    return (0, at.isoformat()) if at is not None else (1, "")


def rank(entries: Iterable[Entry], *, tie_rule: TieRule) -> list[Placed]:
    """Highest score first. SHARE: equal scores share a rank, the standard competition
    ranking of the leaderboards (`leaderboards.ranking.shared_ranks`); EARLIEST: the earlier
    one wins."""
    ordered = sorted(entries, key=lambda e: (-e.score, _reached(e), e.key))
    if tie_rule is TieRule.SHARE:
        numbers: Iterable[int] = shared_ranks(e.score for e in ordered)
    else:
        numbers = range(1, len(ordered) + 1)
    return [
        Placed(e.key, number, e.score, e.reached_at)
        for number, e in zip(numbers, ordered, strict=True)
    ]


def race(entries: Iterable[Entry], *, target: Decimal) -> list[Placed]:
    """Those who reached ``target``, in the order they reached it (exact times; then by id)."""
    reached = [e for e in entries if e.reached_at is not None and e.score >= target]
    reached.sort(key=lambda e: (_reached(e), e.key))
    return [Placed(e.key, n, e.score, e.reached_at) for n, e in enumerate(reached, start=1)]


def team_entries(
    contributions: Iterable[tuple[str, Entry]],
) -> tuple[list[Entry], dict[str, list[str]]]:
    """Sums per team of (team, a member's entry) pairs: a member who moved teams inside the
    window contributes to each team what they scored while on it (one entry per stretch).
    A team reached its total when its last contributing member did; its members are
    everyone who was on it, once each."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    reached: dict[str, datetime | None] = {}
    members: dict[str, set[str]] = defaultdict(set)
    for team, entry in contributions:
        totals[team] += entry.score
        members[team].add(entry.key)
        if entry.reached_at is not None:
            previous = reached.get(team)
            reached[team] = max(previous, entry.reached_at) if previous else entry.reached_at
        else:
            reached.setdefault(team, None)
    teams = [Entry(team, totals[team], reached.get(team)) for team in totals]
    return teams, {team: sorted(keys) for team, keys in members.items()}


def split_amount(total: Decimal, currency: str, keys: Sequence[str]) -> list[Decimal]:
    """``total`` in ``len(keys)`` equal parts to the minor unit; the leftover units go one each
    to the first keys (callers order them: earliest to reach the score first)."""
    unit = Decimal(1).scaleb(-minor_units(currency))
    share = (total / len(keys)).quantize(unit, rounding=ROUND_DOWN)
    leftover = int((total - share * len(keys)) / unit)
    return [share + (unit if i < leftover else 0) for i in range(len(keys))]


def scored(placed: Iterable[Placed]) -> list[Placed]:
    """Those who may win: a score above zero. Everyone is listed in the standings, but
    someone with nothing (or less) counted in the window wins no prize, XP or place badge,
    however few scored (else a contest nobody sold in paid its prizes to all of them)."""
    return [p for p in placed if p.score > 0]


def award(placed: Sequence[Placed], prizes: Sequence[Prize]) -> list[Won]:
    """Who wins what, among those who scored (`scored`). A group of participants sharing
    rank r covers ranks r .. r+k-1: its members split the money of those ranks' prizes (per
    currency) and each gets rank r's badge."""
    by_rank = {p.rank: p for p in prizes}
    groups: dict[int, list[Placed]] = defaultdict(list)
    for p in scored(placed):
        groups[p.rank].append(p)
    won: list[Won] = []
    for number in sorted(groups):
        group = sorted(groups[number], key=lambda p: (_reached(p), p.key))
        covered = [by_rank[r] for r in range(number, number + len(group)) if r in by_rank]
        if not covered:
            continue
        money: dict[str, Decimal] = defaultdict(Decimal)
        for prize in covered:
            if prize.amount is not None and prize.currency is not None:
                money[prize.currency] += prize.amount
        own = by_rank.get(number)
        badge = own.badge_id if own is not None else None
        description = own.description if own is not None else covered[0].description
        shares = {c: split_amount(total, c, [p.key for p in group]) for c, total in money.items()}
        for i, member in enumerate(group):
            if not shares:
                won.append(Won(member.key, number, None, None, badge, description))
            for currency_index, (currency, parts) in enumerate(sorted(shares.items())):
                won.append(
                    Won(
                        member.key,
                        number,
                        parts[i],
                        currency,
                        badge if currency_index == 0 else None,
                        description,
                    )
                )
    return won


def overlapping_prizes(prizes: Sequence[Prize]) -> int | None:
    """The first rank given two prizes, or None."""
    seen: set[int] = set()
    for prize in prizes:
        if prize.rank in seen:
            return prize.rank
        seen.add(prize.rank)
    return None
