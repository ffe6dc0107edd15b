"""Commission periods: month, quarter and year ids."""

from __future__ import annotations

from datetime import date

import pytest

from domain.kit.errors import PeriodError
from domain.kit.periods import overlap_days, parse_period, period_containing


@pytest.mark.parametrize(
    ("text", "kind", "start", "end", "days"),
    [
        ("2026-10", "month", date(2026, 10, 1), date(2026, 10, 31), 31),
        ("2026-02", "month", date(2026, 2, 1), date(2026, 2, 28), 28),
        ("2028-02", "month", date(2028, 2, 1), date(2028, 2, 29), 29),
        ("2026-Q4", "quarter", date(2026, 10, 1), date(2026, 12, 31), 92),
        ("2026-Q1", "quarter", date(2026, 1, 1), date(2026, 3, 31), 90),
        ("2026", "year", date(2026, 1, 1), date(2026, 12, 31), 365),
        ("2028", "year", date(2028, 1, 1), date(2028, 12, 31), 366),
    ],
)
def test_given_period_id_when_parsed_then_kind_bounds_and_days(
    text: str, kind: str, start: date, end: date, days: int
):
    period = parse_period(text)

    assert (period.id, period.kind, period.start, period.end, period.days) == (
        text,
        kind,
        start,
        end,
        days,
    )


@pytest.mark.parametrize(
    "text",
    ["2026-13", "2026-00", "2026-Q5", "2026-Q0", "26-10", "Oct 2026", "2026-10-01", "", "2026-q4"],
)
def test_given_malformed_period_id_when_parsed_then_period_error(text: str):
    with pytest.raises(PeriodError) as info:
        parse_period(text)

    assert info.value.field == "period"


def test_given_period_when_next_and_previous_then_neighbours_of_same_kind():
    assert parse_period("2026-12").next().id == "2027-01"
    assert parse_period("2026-Q1").previous().id == "2025-Q4"
    assert parse_period("2026").next().id == "2027"


def test_given_day_when_period_containing_then_period_of_that_kind():
    assert period_containing(date(2026, 11, 5), "quarter").id == "2026-Q4"
    assert period_containing(date(2026, 11, 5), "month").id == "2026-11"


def test_given_period_when_contains_then_both_ends_included():
    october = parse_period("2026-10")

    assert october.contains(date(2026, 10, 1))
    assert october.contains(date(2026, 10, 31))
    assert not october.contains(date(2026, 11, 1))


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        (None, None, 31),
        (date(2026, 10, 16), None, 16),
        (None, date(2026, 10, 10), 10),
        (date(2026, 10, 5), date(2026, 10, 5), 1),
        (date(2026, 11, 1), None, 0),
        (None, date(2026, 9, 30), 0),
    ],
)
def test_given_span_when_overlapping_october_then_inclusive_day_count(
    start: date | None, end: date | None, days: int
):
    assert overlap_days(parse_period("2026-10"), start, end) == days
