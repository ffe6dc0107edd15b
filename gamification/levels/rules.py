"""Pure rules of levels and streaks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class Level:
    number: int
    name: str
    xp_required: int
    reward: str = ""


@dataclass(frozen=True)
class LevelStanding:
    number: int
    xp: int
    next_level_xp: int | None


def level_of(xp: int, levels: Sequence[Level]) -> LevelStanding:
    """The highest level whose threshold ``xp`` reaches (0 below the first); the next one's
    threshold, None at the top."""
    ordered = sorted(levels, key=lambda lv: lv.xp_required)
    number, following = 0, None
    for lv in ordered:
        if xp >= lv.xp_required:
            number = lv.number
        else:
            following = lv.xp_required
            break
    return LevelStanding(number=number, xp=xp, next_level_xp=following)


@dataclass(frozen=True)
class Streak:
    current: int
    longest: int


def streak_of(met: Sequence[bool]) -> Streak:
    """``met``: one flag per unit (period or working day), oldest first, the last being the
    current one. ``current`` counts back from the last unit; an unmet current unit that is
    still open is the caller's to leave out."""
    longest = run = 0
    for flag in met:
        run = run + 1 if flag else 0
        longest = max(longest, run)
    return Streak(current=run, longest=longest)


def working_days(start: date, end: date, holidays: Iterable[date] = ()) -> list[date]:
    """The days from ``start`` to ``end`` (inclusive), weekends and ``holidays`` left out."""
    off = set(holidays)
    days, day = [], start
    while day <= end:
        if day.weekday() < 5 and day not in off:
            days.append(day)
        day += timedelta(days=1)
    return days


def day_streak(
    start: date, end: date, met: Callable[[date], bool], holidays: Iterable[date] = ()
) -> Streak:
    """A streak over working days: a weekend or a holiday neither breaks nor extends it."""
    return streak_of([met(day) for day in working_days(start, end, holidays)])
