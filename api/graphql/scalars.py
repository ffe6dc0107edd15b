"""Scalars: Decimal travels as a string ("1234.50"), never as a float; Date as YYYY-MM-DD."""

from __future__ import annotations

import datetime
import decimal
import re
from typing import Any

import strawberry
from graphql import (
    FloatValueNode,
    GraphQLError,
    IntValueNode,
    StringValueNode,
    ValueNode,
)

from domain.kit.errors import InvalidInput
from domain.kit.periods import parse_date


def _serialize_decimal(value: Any) -> str:
    if not isinstance(value, decimal.Decimal):
        value = decimal.Decimal(str(value))
    return format(value, "f")  # never exponent form ("1E+3")


# What a Decimal's text may be: ASCII digits, an optional sign and fraction. Not what Python's
# Decimal also reads: exponents ("1E+3"), underscores ("1_000"), other scripts' digits ("١٢٣"),
# surrounding spaces, NaN and Infinity.
_DECIMAL = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?", re.ASCII)


def _parse_decimal(value: Any) -> decimal.Decimal:
    """A Decimal from a variable: a string, or a JSON integer (exact). A JSON number with a
    fraction or an exponent is refused: a client's JSON library has rounded it to binary
    already (99999999999999.99 arrives as 99999999999999.98)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        if isinstance(value, float):
            raise GraphQLError(
                f'{value!r} is a JSON number with a fraction: send it as a string ("0.30"), '
                "which arrives exactly"
            )
        raise GraphQLError('Decimal takes a string such as "1234.50"')
    text = str(value)
    if not _DECIMAL.fullmatch(text):
        raise GraphQLError(f'{text[:40]!r} is not a decimal number such as "1234.50"')
    return decimal.Decimal(text)


def _parse_decimal_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Any:
    """A Decimal written in the document: a string, or a number literal taken as written
    (its text is exact, unlike a JSON number)."""
    if isinstance(node, IntValueNode | FloatValueNode | StringValueNode):
        return _parse_decimal(node.value)
    raise GraphQLError('Decimal takes a string such as "1234.50"', node)


def _parse_date(value: Any) -> datetime.date:
    """``YYYY-MM-DD`` only, as every file format here (`parse_date`): not the other forms
    ``date.fromisoformat`` takes (20261003, 2026-W40-1)."""
    try:
        return parse_date(value, field="date")
    except InvalidInput as exc:
        raise GraphQLError(exc.message) from None


DecimalScalar = strawberry.scalar(
    name="Decimal",
    description='Exact decimal number as a string, e.g. "1234.50".',
    serialize=_serialize_decimal,
    parse_value=_parse_decimal,
    parse_literal=_parse_decimal_literal,
)

DateScalar = strawberry.scalar(
    name="Date",
    description="Date as YYYY-MM-DD.",
    serialize=datetime.date.isoformat,
    parse_value=_parse_date,
)

SCALAR_OVERRIDES: dict[object, Any] = {decimal.Decimal: DecimalScalar, datetime.date: DateScalar}
