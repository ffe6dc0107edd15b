"""Commission periods: ``2026-10`` (month), ``2026-Q4`` (quarter), ``2026`` (year)."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from domain.kit.errors import PeriodError

PeriodKind = Literal["month", "quarter", "year"]
PERIOD_KINDS: tuple[PeriodKind, ...] = ("month", "quarter", "year")

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")


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
        return period_containing(self.end + timedelta(days=1), self.kind)

    def previous(self) -> Period:
        return period_containing(self.start - timedelta(days=1), self.kind)


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def parse_period(text: str) -> Period:
    if m := _MONTH.match(text):
        year, month = int(m[1]), int(m[2])
        if not 1 <= month <= 12:
            raise PeriodError(f"month {month} out of range in period {text!r}", field="period")
        return Period(text, "month", date(year, month, 1), _month_end(year, month))
    if m := _QUARTER.match(text):
        year, q = int(m[1]), int(m[2])
        first = 3 * (q - 1) + 1
        return Period(text, "quarter", date(year, first, 1), _month_end(year, first + 2))
    if m := _YEAR.match(text):
        year = int(m[1])
        return Period(text, "year", date(year, 1, 1), date(year, 12, 31))
    raise PeriodError(
        f"{text!r} is not a period id (expected 2026-10, 2026-Q4 or 2026)", field="period"
    )


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
