"""Commission periods: ``2026-10`` (month), ``2026-Q4`` (quarter), ``2026`` (year), and the
days Podium accepts."""

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

# The years of every date and period Podium accepts, whatever brings them in (a CRM event, a
# CSV file, the API, the command line): a business range. A wider one let in 0001-01-01 and
# 9999-12-31, which are no business's dates but a CRM's placeholders, and which asyncpg
# stores as -infinity and infinity (date.min and date.max): every later date arithmetic on
# them failed (`cannot subtract infinite dates`, a period's `end + 1 day` overflowing). From
# 1900: the hire date of anyone still employed, and a backfill's oldest deal; to 2199: any
# plan, target or contract end date, with room for a typo's 2206 or 2620 to be refused.
FIRST_YEAR, LAST_YEAR = 1900, 2199
FIRST_DAY, LAST_DAY = date(FIRST_YEAR, 1, 1), date(LAST_YEAR, 12, 31)


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
        if self.end == LAST_DAY:
            raise PeriodError(f"no period comes after {self.id}", field="period")
        return period_containing(self.end + timedelta(days=1), self.kind)

    def previous(self) -> Period:
        if self.start == FIRST_DAY:
            raise PeriodError(f"no period comes before {self.id}", field="period")
        return period_containing(self.start - timedelta(days=1), self.kind)


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def parse_period(text: str, *, field: str = "period") -> Period:
    """``2026-10``, ``2026-Q4`` or ``2026`` (years ``FIRST_YEAR`` to ``LAST_YEAR``);
    PeriodError naming ``field`` for anything else."""
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
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise PeriodError(
            f"year {year} is outside the years Podium accepts ({FIRST_YEAR} to {LAST_YEAR}) "
            f"in period {quoted(text)}",
            field=field,
        )
    return year


def parse_date(text: object, *, field: str) -> date:
    """``YYYY-MM-DD`` in ASCII digits, a real day from ``FIRST_DAY`` to ``LAST_DAY``;
    InvalidInput naming ``field`` otherwise. (``date.fromisoformat`` also takes 20261003,
    2026-W40-1 and more, which no file format here means.)"""
    if isinstance(text, str) and (m := _DATE.fullmatch(text)):
        try:
            day = date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            pass
        else:
            return check_day(day, field=field)
    raise InvalidInput(f"{quoted(text)} is not a date (YYYY-MM-DD)", field=field)


def check_day(day: date, *, field: str) -> date:
    """``day`` if Podium accepts it (``FIRST_DAY`` to ``LAST_DAY``), for a date parsed
    elsewhere (a GraphQL Date, a YAML date); InvalidInput naming ``field`` otherwise."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidInput(
            f"{day.isoformat()} is outside the dates Podium accepts "
            f"({FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()})",
            field=field,
        )
    return day


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
