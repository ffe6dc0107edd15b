"""Scalars: Decimal travels as a string ("1234.50"), never as a float."""

from __future__ import annotations

import decimal
from typing import Any

import strawberry
from graphql import GraphQLError


def _serialize_decimal(value: Any) -> str:
    if not isinstance(value, decimal.Decimal):
        value = decimal.Decimal(str(value))
    return format(value, "f")  # never exponent form ("1E+3")


def _parse_decimal(value: Any) -> decimal.Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise GraphQLError('Decimal takes a string such as "1234.50"')
    try:
        # a float arrives already rounded to binary: go through its shortest text form
        number = decimal.Decimal(str(value).strip())
    except decimal.InvalidOperation:
        raise GraphQLError(f"{value!r} is not a decimal number") from None
    if not number.is_finite():
        raise GraphQLError("Decimal must be a finite number")
    return number


DecimalScalar = strawberry.scalar(
    name="Decimal",
    description='Exact decimal number as a string, e.g. "1234.50".',
    serialize=_serialize_decimal,
    parse_value=_parse_decimal,
)

SCALAR_OVERRIDES: dict[object, Any] = {decimal.Decimal: DecimalScalar}
