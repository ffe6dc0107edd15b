"""Commission periods: ``2026-10`` (month), ``2026-Q4`` (quarter), ``2026`` (year)."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from domain.kit.errors import InvalidInput, PeriodError, quoted

PeriodKind = Literal["month", "quarter", "year"]
PERIOD_KINDS: tuple[PeriodKind, ...] = ("month", "quarter", "year")

# ASCII digits (\d takes "١٢") and fullmatch ($ takes a trailing newline)
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_QUARTER = re.compile(r"([0-9]{4})-Q([1-4])")
_YEAR = re.compile(r"([0-9]{4})")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


@dataclass(frozen=True, slots=True)
class Period:
    id: str
    kind: PeriodKind
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def next(self) -> Period:
        if self.end == date.max:
            raise PeriodError(f"no period comes after {self.id}", field="period")
        return period_containing(self.end + timedelta(days=1), self.kind)

    def previous(self) -> Period:
        if self.start == date.min:
            raise PeriodError(f"no period comes before {self.id}", field="period")
        return period_containing(self.start - timedelta(days=1), self.kind)


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def parse_period(text: str, *, field: str = "period") -> Period:
    """``2026-10``, ``2026-Q4`` or ``2026`` (years 0001 to 9999); PeriodError naming
    ``field`` for anything else."""
    if not isinstance(text, str):
        raise PeriodError(f"expected a period id, got {quoted(text)}", field=field)
    if m := _MONTH.fullmatch(text):
        year, month = _year(m[1], text, field), int(m[2])
        if not 1 <= month <= 12:
            raise PeriodError(f"month {month} out of range in period {quoted(text)}", field=field)
        return Period(text, "month", date(year, month, 1), _month_end(year, month))
    if m := _QUARTER.fullmatch(text):
        year, q = _year(m[1], text, field), int(m[2])
        first = 3 * (q - 1) + 1
        return Period(text, "quarter", date(year, first, 1), _month_end(year, first + 2))
    if m := _YEAR.fullmatch(text):
        year = _year(m[1], text, field)
        return Period(text, "year", date(year, 1, 1), date(year, 12, 31))
    raise PeriodError(
        f"{quoted(text)} is not a period id (expected 2026-10, 2026-Q4 or 2026)", field=field
    )


def _year(digits: str, text: str, field: str) -> int:
    year = int(digits)
    if year < 1:
        raise PeriodError(f"year 0 does not exist in period {quoted(text)}", field=field)
    return year


def parse_date(text: object, *, field: str) -> date:
    """``YYYY-MM-DD`` in ASCII digits, a real day from 0001-01-01 to 9999-12-31;
    InvalidInput naming ``field`` otherwise. (``date.fromisoformat`` also takes 20261003,
    2026-W40-1 and more, which no file format here means.)"""
    if isinstance(text, str) and (m := _DATE.fullmatch(text)):
        try:
            return date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            pass
    raise InvalidInput(f"{quoted(text)} is not a date (YYYY-MM-DD)", field=field)


def period_containing(day: date, kind: PeriodKind) -> Period:
    if kind == "month":
        return parse_period(f"{day.year:04d}-{day.month:02d}")
    if kind == "quarter":
        return parse_period(f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}")
    return parse_period(f"{day.year:04d}")


def overlap_days(period: Period, start: date | None, end: date | None) -> int:
    lo = max(period.start, start) if start else period.start
    hi = min(period.end, end) if end else period.end
    return max(0, (hi - lo).days + 1)
