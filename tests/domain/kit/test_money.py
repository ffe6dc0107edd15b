"""Money: exact decimals rounded half away from zero to the currency's minor unit."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.kit.money import (
    CurrencyError,
    Money,
    format_plain,
    is_currency,
    minor_units,
    not_a_currency,
    round_half_away,
    round_money,
    unpadded,
)
from tests.factories import D


@pytest.mark.parametrize(
    ("currency", "digits"),
    [("EUR", 2), ("USD", 2), ("GBP", 2), ("JPY", 0), ("KWD", 3), ("BHD", 3)],
)
def test_given_iso_currency_when_asked_for_minor_units_then_iso_4217_digits(
    currency: str, digits: int
):
    assert minor_units(currency) == digits


@pytest.mark.parametrize(
    ("currency", "amount", "expected"),
    [
        ("EUR", "0.005", "0.01"),
        ("EUR", "-0.005", "-0.01"),
        ("EUR", "2.675", "2.68"),
        ("EUR", "2.665", "2.67"),
        ("EUR", "-2.665", "-2.67"),
        ("EUR", "0.0049", "0.00"),
        ("EUR", "1234", "1234.00"),
        ("JPY", "0.5", "1"),
        ("JPY", "-0.5", "-1"),
        ("JPY", "2.5", "3"),
        ("JPY", "-2.5", "-3"),
        ("JPY", "1.49", "1"),
        ("KWD", "0.0005", "0.001"),
        ("KWD", "-0.0005", "-0.001"),
        ("KWD", "1.2345", "1.235"),
        ("KWD", "-1.2345", "-1.235"),
        ("KWD", "7", "7.000"),
    ],
)
def test_given_amount_when_rounded_to_currency_then_half_away_from_zero(
    currency: str, amount: str, expected: str
):
    rounded = round_money(D(amount), currency)

    assert str(rounded) == expected


def test_given_tie_when_rounded_half_away_then_not_bankers_rounding():
    assert round_half_away(D("0.125"), 2) == D("0.13")
    assert round_half_away(D("-0.125"), 2) == D("-0.13")
    assert round_half_away(D("4.5")) == D("5")


@pytest.mark.parametrize("code", ["EURO", "eur", "XYZ", "", "12A"])
def test_given_unknown_code_when_checked_then_not_a_currency(code: str):
    assert not is_currency(code)
    with pytest.raises(CurrencyError):
        minor_units(code)


# ISO 4217 codes of no money: no currency, testing, metals, units of account
NOT_MONEY = ["XXX", "XTS", "XAU", "XAG", "XPT", "XPD", "XDR", "XSU", "XUA", "XBA", "XBB", "XBC",
             "XBD"]  # fmt: skip


@pytest.mark.parametrize("code", NOT_MONEY)
def test_given_an_iso_code_of_no_money_when_checked_then_not_a_currency(code: str):
    assert not is_currency(code)
    with pytest.raises(CurrencyError):
        Money(D("1"), code)
    assert all(map(is_currency, ["XOF", "XAF", "XCD"]))  # real money that starts with X


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("XXX", "'XXX' is an ISO 4217 code of no money (a test, metal or unit of account)"),
        ("EURO", "'EURO' is not an ISO 4217 currency code"),
        (["EUR"], "['EUR'] is not an ISO 4217 currency code"),  # JSON hands over any value
        ({"a": 1}, "{'a': 1} is not an ISO 4217 currency code"),
        (None, "None is not an ISO 4217 currency code"),
    ],
)
def test_given_a_refused_currency_then_the_message_says_why(code: object, says: str):
    assert not_a_currency(code) == says


def test_given_exponent_decimal_when_formatted_plain_then_no_exponent():
    assert format_plain(Decimal("2E+2")) == "200"
    assert format_plain(D("1.50")) == "1.50"


def test_given_money_when_float_amount_given_then_type_error():
    with pytest.raises(TypeError):
        Money(1.5, "EUR")  # type: ignore[arg-type]


def test_given_money_in_two_currencies_when_added_then_currency_error():
    with pytest.raises(CurrencyError):
        Money(D("1"), "EUR") + Money(D("1"), "USD")


def test_given_money_when_rounded_and_added_then_exact():
    total = Money(D("0.105"), "EUR").rounded() + Money(D("0.10"), "EUR")

    assert total == Money(D("0.21"), "EUR")
    assert str(Money(D("1234.5"), "JPY").rounded()) == "1,235 JPY"


@pytest.mark.parametrize(
    ("stored", "entered"),
    [
        ("40000.000000", "40000"),
        ("1234.500000", "1234.5"),
        ("0.000000", "0"),
        ("-0.050000", "-0.05"),
        ("1E+3", "1000"),
        ("0.1234567890123456789", "0.1234567890123456789"),
    ],
)
def test_given_a_padded_stored_number_when_unpadded_then_it_reads_as_entered_and_is_equal(
    stored: str, entered: str
):
    value = unpadded(stored)

    assert format_plain(value) == entered
    assert value == Decimal(stored)
