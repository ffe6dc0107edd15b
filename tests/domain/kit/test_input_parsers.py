"""The shared parsers where data enters: numbers, periods, dates, JSON documents, quoting.

ASCII only where the format says so, bounded sizes, a typed error naming the field for
anything else, and never a large value echoed back in an error."""

from __future__ import annotations

import string
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.kit.documents import (
    MAX_FIELD_TEXT,
    DocumentError,
    field_problem,
    fields_problem,
    loads_json,
)
from domain.kit.errors import InvalidInput, PeriodError, quoted
from domain.kit.numbers import NumberError, parse_decimal, parse_whole_number
from domain.kit.periods import FIRST_DAY, LAST_DAY, check_day, parse_date, parse_period


def _names(exc: InvalidInput, field: str) -> None:
    assert exc.field == field
    assert len(exc.message) < 200


# --- numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1200", "1200"), ("-3.5", "-3.5"), (" 40000.00 ", "40000.00"), (".5", "0.5"), ("7.", "7")],
)
def test_given_plain_ascii_decimals_when_parsed_then_exact(text: str, expected: str):
    assert parse_decimal(text, field="amount") == Decimal(expected)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("١٢", "is not a number"),  # Arabic-Indic digits: Decimal() would say 12
        ("۱۲", "is not a number"),  # Extended Arabic-Indic
        ("１２", "is not a number"),  # full-width
        ("12\n", "12"),  # surrounding whitespace is trimmed, not an error: see the next test
        ("1e5", "is not a number"),  # no exponent where the format has none
        ("1,000", "is not a number"),
        ("NaN", "not a finite number"),
        ("-Infinity", "not a finite number"),
        ("9" * 15, "too large (at most 14 digits before the point)"),
        ("9" * 40, "too large"),
        ("0.1234567", "more than 6 decimals"),
        pytest.param(10**400, "too large", id="10**400"),
        (True, "is not a number"),
        (None, "is not a number"),
        ([1], "is not a number"),
        pytest.param("1" * 5000, "is not a number", id="5000 digits"),
    ],
)
def test_given_a_value_outside_the_format_when_parsed_then_number_error_naming_the_field(
    value: object, fragment: str
):
    if value == "12\n":
        assert parse_decimal(value, field="amount") == 12
        return
    with pytest.raises(NumberError) as info:
        parse_decimal(value, field="amount")

    assert info.value.field == "amount"
    assert fragment in info.value.message
    assert len(info.value.message) < 200


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("1e999999", "too large"), ("1e-999999", "more than 28 decimals"), ("5e-2", "")],
)
def test_given_exponents_when_allowed_then_bounded_all_the_same(text: str, fragment: str):
    if not fragment:
        assert parse_decimal(text, field="rate", exponent=True, decimals=28) == Decimal("0.05")
        return
    with pytest.raises(NumberError, match=fragment):
        parse_decimal(text, field="rate", exponent=True, decimals=28)


@pytest.mark.parametrize("text", ["9223372036854775808", "-1", "1.5", "٣", "1e3", "", "x"])
def test_given_a_version_beyond_bigint_or_not_whole_when_parsed_then_number_error(text: str):
    with pytest.raises(NumberError) as info:
        parse_whole_number(text, field="version")

    assert info.value.field == "version"


def test_given_the_largest_bigint_when_parsed_as_version_then_accepted():
    assert parse_whole_number(str(2**63 - 1), field="version") == 2**63 - 1


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_given_any_text_when_parsed_as_a_number_then_a_bounded_decimal_or_a_number_error(
    text: str,
):
    try:
        number = parse_decimal(text, field="amount")
    except NumberError as exc:
        _names(exc, "amount")
        return
    assert number.is_finite()
    assert set(text.strip()) <= set(string.digits + "+-.")


# --- periods and dates ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "0000",
        "0000-01",
        "0000-Q1",
        "2026-10\n",
        "2026\n",
        "٢٠٢٦-10",
        "２０２６",
        "2026-1٠",
        " 2026-10",
    ],
)
def test_given_a_hostile_period_id_when_parsed_then_period_error_naming_the_field(text: str):
    with pytest.raises(PeriodError) as info:
        parse_period(text, field="--period")

    assert isinstance(info.value, InvalidInput)
    assert info.value.field == "--period"


def test_given_the_last_and_first_periods_when_stepping_past_them_then_period_error():
    assert parse_period("2199-12").end == LAST_DAY == date(2199, 12, 31)
    assert parse_period("1900-Q1").start == FIRST_DAY == date(1900, 1, 1)
    with pytest.raises(PeriodError, match="after 2199-12"):
        parse_period("2199-12").next()
    with pytest.raises(PeriodError, match="before 1900"):
        parse_period("1900").previous()


@pytest.mark.parametrize(
    "text", ["9999-12", "9999-Q4", "9999", "0001", "0001-01", "1899-12", "2200-01", "0000"]
)
def test_given_a_period_outside_podiums_years_when_parsed_then_period_error_naming_them(
    text: str,
):
    """9999-12 ends on date.max, which asyncpg stores as infinity: its recompute failed
    `cannot subtract infinite dates` every 30 s, and a target plan for 9999-Q4 could not be
    published (its end + 1 day overflowed)."""
    with pytest.raises(PeriodError) as info:
        parse_period(text, field="--period")

    _names(info.value, "--period")
    assert f"year {int(text[:4])} is outside the years Podium accepts (1900 to 2199)" in (
        info.value.message
    )


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(st.text(max_size=12), st.from_regex(r"[0-9]{4}(-[0-9]{2}|-Q[0-9])?", fullmatch=True))
)
def test_given_any_text_when_parsed_as_a_period_then_a_period_or_a_period_error(text: str):
    try:
        period = parse_period(text)
    except PeriodError as exc:
        _names(exc, "period")
        return
    assert period.id == text
    assert text.isascii()
    assert FIRST_DAY <= period.start <= period.end <= LAST_DAY


@pytest.mark.parametrize(
    "text", ["20261003", "2026-W40-1", "0000-01-01", "2026-02-30", "٢٠٢٦-10-03", "2026-10-03\n"]
)
def test_given_a_date_outside_yyyy_mm_dd_when_parsed_then_invalid_input(text: str):
    with pytest.raises(InvalidInput) as info:
        parse_date(text, field="date")

    assert info.value.field == "date"


def test_given_the_first_and_last_days_when_parsed_then_accepted():
    assert parse_date("1900-01-01", field="date") == date(1900, 1, 1)
    assert parse_date("2199-12-31", field="date") == date(2199, 12, 31)
    assert check_day(date(2026, 10, 3), field="effectiveFrom") == date(2026, 10, 3)


@pytest.mark.parametrize("text", ["9999-12-31", "0001-01-01", "1899-12-31", "2200-01-01"])
def test_given_a_day_outside_podiums_years_when_parsed_then_invalid_input_naming_the_field(
    text: str,
):
    """0001-01-01 and 9999-12-31 (date.min and date.max) are stored as -infinity and
    infinity: no date arithmetic works on them afterwards."""
    with pytest.raises(InvalidInput) as parsed:
        parse_date(text, field="data.date")
    with pytest.raises(InvalidInput) as checked:
        check_day(date.fromisoformat(text), field="effectiveFrom")

    _names(parsed.value, "data.date")
    _names(checked.value, "effectiveFrom")
    assert (
        parsed.value.message
        == checked.value.message
        == (f"{text} is outside the dates Podium accepts (1900-01-01 to 2199-12-31)")
    )


# --- JSON documents and quoting ------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "[" * 50_000 + "]" * 50_000,
        '{"a":' * 5_000 + "1" + "}" * 5_000,
        "[" * 33 + "]" * 33,
        "[NaN]",
        '{"a": Infinity}',
    ],
)
def test_given_deep_or_non_finite_json_when_loaded_then_document_error(text: str):
    with pytest.raises(DocumentError):
        loads_json(text)


def test_given_json_within_the_depth_when_loaded_then_fractions_are_decimals():
    assert loads_json('{"a": [[1.10]]}') == {"a": [[Decimal("1.10")]]}


# --- a transaction's free fields ------------------------------------------------------------

BESIDE = ("006RM000001aBcDYAU", "New Business", "won")


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("x" * MAX_FIELD_TEXT, None),
        ("x" * 3000, "3,000 characters, over the 1,000 a field may hold"),
        (
            "🙂" * 600,
            "2,460 bytes stored with the id, type and state, over the 2,400 they may take",
        ),
        (Decimal("12345.67"), None),
        (True, None),
        (None, None),
    ],
)
def test_given_one_free_field_then_said_whether_intake_refuses_it_whatever_the_others(
    value: object, says: str | None
):
    assert field_problem("Description", value, beside=BESIDE) == says
    # one source of truth: refused alone exactly when fields_problem refuses it alone
    assert (says is None) == (fields_problem({"Description": value}, beside=BESIDE) is None)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("x" * 100_000, id="long text"),
        pytest.param(["lol"] * 100_000, id="long list"),
        pytest.param({"k": [[[[[[["deep"]]]]]]]}, id="deep"),
        pytest.param(10**4000 // 7, id="huge int"),
        pytest.param([10**5000], id="int past the 4,300 digits of repr()"),
    ],
)
def test_given_a_large_value_when_quoted_for_an_error_then_at_most_80_characters(value: object):
    assert len(quoted(value)) <= 80
