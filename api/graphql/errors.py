"""How failures reach clients.

Expected failures of a mutation are `UserError` members of its result union. Authentication and
authorisation failures are top-level errors with `extensions.code` UNAUTHENTICATED or FORBIDDEN.
Anything unexpected is logged with the request id and reaches the client as
INTERNAL_SERVER_ERROR with that id, never as a stack trace.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import strawberry
import structlog
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionResult

from domain.kit.errors import DomainError, Forbidden, NotFound

log = structlog.get_logger("podium.graphql")

UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
NOT_FOUND = "NOT_FOUND"
BAD_USER_INPUT = "BAD_USER_INPUT"
INTERNAL = "INTERNAL_SERVER_ERROR"


@strawberry.type(description="An expected failure: `field` names the input at fault.")
class UserError:
    code: str
    message: str
    field: str | None = None


def user_error(exc: DomainError) -> UserError:
    return UserError(code=exc.code.upper(), message=exc.message, field=exc.field)


def unauthenticated(reason: str) -> GraphQLError:
    return GraphQLError(reason, extensions={"code": UNAUTHENTICATED})


def _public(error: GraphQLError, request_id: str | None) -> GraphQLError:
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return error  # parse/validation errors, and errors we raised with a code on purpose
    if isinstance(original, Forbidden):
        code, message = FORBIDDEN, original.message
    elif isinstance(original, NotFound):
        code, message = NOT_FOUND, original.message
    elif isinstance(original, DomainError):
        code, message = BAD_USER_INPUT, original.message
    else:
        extensions: dict[str, Any] = {"code": INTERNAL}
        if request_id:
            extensions["requestId"] = request_id
        return GraphQLError(
            "Internal server error", nodes=error.nodes, path=error.path, extensions=extensions
        )
    extensions = {"code": code}
    if getattr(original, "field", None):
        extensions["field"] = original.field
    return GraphQLError(message, nodes=error.nodes, path=error.path, extensions=extensions)


def log_unexpected(errors: list[GraphQLError]) -> None:
    for error in errors:
        original = error.original_error
        if original is None or isinstance(original, GraphQLError | DomainError):
            continue
        log.error(
            "unexpected error in a resolver",
            path=list(error.path or []),
            exc_info=(type(original), original, original.__traceback__),
        )


class ErrorPolicy(SchemaExtension):
    """Turns domain errors into coded errors and masks everything unexpected."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if isinstance(result, GraphQLExecutionResult | ExecutionResult) and result.errors:
            context = self.execution_context.context
            request_id = getattr(context, "request_id", None)
            result.errors = [_public(e, request_id) for e in result.errors]
