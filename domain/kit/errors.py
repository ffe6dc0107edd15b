"""Typed, expected failures. Every domain error has a stable ``code`` the API can expose."""

from __future__ import annotations

import reprlib
from typing import Any

QUOTE_LIMIT = 80


class _Repr(reprlib.Repr):
    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 1000:  # repr() is slow on huge ints and refuses 4,300 digits
            return f"<a number of about {int(x.bit_length() * 0.30103)} digits>"
        return super().repr_int(x, level)


_REPR = _Repr()
_REPR.maxlevel = 3
_REPR.maxdict = _REPR.maxlist = _REPR.maxtuple = _REPR.maxset = 6
_REPR.maxstring = _REPR.maxother = QUOTE_LIMIT
_REPR.maxlong = 40


def quoted(value: Any, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)`` for an error message, at most ``limit`` characters, whatever the value's
    size or depth: an error never echoes a large value back (a 52 MB YAML alias expansion once
    came back in one)."""
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class DomainError(Exception):
    """Base of every expected failure; ``code`` is stable, ``message`` is for people."""

    code = "domain_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class PlanError(DomainError):
    """A plan document that cannot be accepted; ``field`` is its key path."""

    code = "invalid_plan"


class ExpressionError(PlanError):
    """An expression rejected when the plan is loaded (syntax or a construct outside the subset)."""

    code = "invalid_expression"

    def __init__(self, message: str, *, field: str | None, expression: str, column: int) -> None:
        super().__init__(f"{message} at column {column} in {quoted(expression)}", field=field)
        self.expression = expression
        self.column = column


class DataError(DomainError):
    """Bad input data, located by file, row (1 = header) and column."""

    code = "invalid_data"

    def __init__(
        self, message: str, *, file: str, row: int | None = None, column: str | None = None
    ) -> None:
        where = file
        if row is not None:
            where += f" row {row}"
        if column is not None:
            where += f" column {column}"
        super().__init__(message, field=where)
        self.file = file
        self.row = row
        self.column = column


class InvalidInput(DomainError):
    code = "invalid_input"


class PeriodError(InvalidInput):
    code = "invalid_period"


class NotFound(DomainError):
    """Also what another tenant's ids get: existence is never revealed across tenants."""

    code = "not_found"


class Forbidden(DomainError):
    code = "forbidden"


class Conflict(DomainError):
    code = "conflict"
