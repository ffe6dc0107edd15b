"""The one parser of decimal numbers where data enters (plans, CSV files, CRM events).

ASCII digits only: Python's ``Decimal()`` and ``int()`` take Arabic-Indic and other Unicode
digits ("١٢" is 12), NaN, Infinity and exponents of any size ("1e999999" is nine bytes that
no calculation survives). Every number is bounded where it enters, to what a NUMERIC(20, 6)
column stores and the engine calculates with.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from domain.kit.errors import InvalidInput, quoted

MAX_INTEGER_DIGITS = 14  # NUMERIC(20, 6): 14 digits before the point
MAX_DECIMALS = 6  # ... and 6 after it (PostgreSQL would round a seventh one silently)
MAX_VERSION = 2**63 - 1  # a BIGINT column
# numbers a plan writes (rates, tiers, caps, constants in expressions): money-sized, with as
# many decimals as the engine's 28-digit precision keeps exactly
PLAN_INTEGER_DIGITS = MAX_INTEGER_DIGITS
PLAN_DECIMALS = 28
# a number among a record's free fields (a CSV's extra columns, an event's data.fields):
# what PostgreSQL's JSONB keeps exactly
FIELD_DIGITS = 30
_MAX_TEXT = 100  # longer text is no number we accept, whatever it holds

_PLAIN = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_EXPONENT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_WHOLE = re.compile(r"[0-9]+")
_NOT_FINITE = {"nan", "snan", "inf", "infinity"}


class NumberError(InvalidInput):
    code = "invalid_number"


def parse_decimal(
    value: object,
    *,
    field: str,
    exponent: bool = False,
    integer_digits: int = MAX_INTEGER_DIGITS,
    decimals: int = MAX_DECIMALS,
    what: str = "number",
) -> Decimal:
    """``value`` (text, an int or a Decimal a parser made) as a bounded Decimal, or
    NumberError naming ``field``. Text is a plain ASCII decimal ('1200', '-3.5'); with
    ``exponent``, '5e-2' too. At most ``integer_digits`` digits before the point and
    ``decimals`` after it (trailing zeros after the point count: '1.0000000' has 7)."""
    number = _to_decimal(value, exponent=exponent)
    if number is None:
        raise NumberError(f"{quoted(value)} is not a {what}", field=field)
    check_decimal(number, field=field, integer_digits=integer_digits, decimals=decimals)
    return number


def check_decimal(
    number: Decimal,
    *,
    field: str,
    integer_digits: int = MAX_INTEGER_DIGITS,
    decimals: int = MAX_DECIMALS,
) -> None:
    """NumberError unless ``number`` is finite and within the digits given."""
    shown = quoted(str(number))[1:-1]
    if not number.is_finite():
        raise NumberError(f"{shown} is not a finite number", field=field)
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)
    if max(0, -exponent) > decimals:
        raise NumberError(f"{shown} has more than {decimals} decimals", field=field)
    if number and number.adjusted() + 1 > integer_digits:
        raise NumberError(
            f"{shown} is too large (at most {integer_digits} digits before the point)",
            field=field,
        )


def decimal_or_none(
    text: str,
    *,
    exponent: bool = False,
    integer_digits: int = MAX_INTEGER_DIGITS,
    decimals: int = MAX_DECIMALS,
) -> Decimal | None:
    """``text`` as a Decimal if it is a number within bounds, else None (a CSV cell that
    may be a number or text)."""
    number = _to_decimal(text, exponent=exponent)
    if number is None:
        return None
    try:
        check_decimal(number, field="", integer_digits=integer_digits, decimals=decimals)
    except NumberError:
        return None
    return number


def parse_whole_number(value: object, *, field: str, maximum: int = MAX_VERSION) -> int:
    """A whole number from 0 to ``maximum`` (a version: a BIGINT column), ASCII digits."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise NumberError(f"must be a whole number, got {quoted(value)}", field=field)
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 30 or not _WHOLE.fullmatch(text):
            raise NumberError(f"{quoted(value)} is not a whole number", field=field)
        value = int(text)
    if not 0 <= value <= maximum:
        raise NumberError(f"must be a whole number from 0 to {maximum}", field=field)
    return value


def bigint_id(value: object) -> int | None:
    """A row id from the outside (a BIGINT primary key: 1 to 2**63 - 1, ASCII digits), or
    None when it cannot be one: the caller says NotFound naming its field. ``int()`` alone
    takes "١٢" and "1_000", and a value past the column's range fails in the driver."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    if isinstance(value, str):
        text = value.strip()
        if not 0 < len(text) <= 19 or not _WHOLE.fullmatch(text):
            return None
        value = int(text)
    return value if 0 < value <= MAX_VERSION else None


def _to_decimal(value: object, *, exponent: bool) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        if value.bit_length() <= 256:
            return Decimal(value)
        # str() of a huge int is slow (and refused past 4,300 digits): its magnitude is enough
        return Decimal(f"{'-' if value < 0 else ''}1e{int(value.bit_length() * 0.30103)}")
    if not isinstance(value, str) or len(value) > _MAX_TEXT:
        return None
    text = value.strip()
    if text.lstrip("+-").lower() in _NOT_FINITE:
        return Decimal(text)  # refused as "not a finite number", a clearer word than "not a number"
    if not (_EXPONENT if exponent else _PLAIN).fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid numbers
        return None
