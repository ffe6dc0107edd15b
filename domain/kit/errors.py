"""Typed, expected failures. Every domain error has a stable ``code`` the API can expose."""

from __future__ import annotations


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
        super().__init__(f"{message} at column {column} in {expression!r}", field=field)
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


class PeriodError(DomainError):
    code = "invalid_period"


class NotFound(DomainError):
    """Also what another tenant's ids get: existence is never revealed across tenants."""

    code = "not_found"


class Forbidden(DomainError):
    code = "forbidden"


class Conflict(DomainError):
    code = "conflict"


class InvalidInput(DomainError):
    code = "invalid_input"
