"""How failures reach clients.

Expected failures of a mutation are `UserError` members of its result union. Authentication and
authorisation failures are top-level errors with `extensions.code` UNAUTHENTICATED or FORBIDDEN.
Anything unexpected is logged with the request id and reaches the client as
INTERNAL_SERVER_ERROR with that id, never as a stack trace or an exception's text.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import strawberry
import structlog
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from domain.kit.errors import DomainError, Forbidden, NotFound
from domain.org.viewer import Viewer

log = structlog.get_logger("podium.graphql")

UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
NOT_FOUND = "NOT_FOUND"
BAD_USER_INPUT = "BAD_USER_INPUT"
INTERNAL = "INTERNAL_SERVER_ERROR"
INTERNAL_MESSAGE = "Internal server error"


@strawberry.type(description="An expected failure: `field` names the input at fault.")
class UserError:
    code: str
    message: str
    field: str | None = None


def user_error(exc: DomainError) -> UserError:
    return UserError(code=exc.code.upper(), message=exc.message, field=exc.field)


def unauthenticated(reason: str) -> GraphQLError:
    return GraphQLError(reason, extensions={"code": UNAUTHENTICATED})


def forbidden(reason: str) -> GraphQLError:
    return GraphQLError(reason, extensions={"code": FORBIDDEN})


def _public(error: GraphQLError, request_id: str | None) -> GraphQLError:
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        # parse/validation errors and errors raised on purpose with a code; a GraphQLError
        # wrapping another keeps the inner one's public form
        if isinstance(original, GraphQLError) and original.extensions:
            return GraphQLError(
                original.message, nodes=error.nodes, path=error.path, extensions=original.extensions
            )
        return error
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
            INTERNAL_MESSAGE, nodes=error.nodes, path=error.path, extensions=extensions
        )
    extensions = {"code": code}
    if getattr(original, "field", None):
        extensions["field"] = original.field
    return GraphQLError(message, nodes=error.nodes, path=error.path, extensions=extensions)


def _log_unexpected(errors: Sequence[GraphQLError], who: dict[str, str]) -> None:
    for error in errors:
        original = error.original_error
        if original is None or isinstance(original, GraphQLError | DomainError):
            continue
        log.error(
            "unexpected error in a resolver",
            path=list(error.path or []),
            exc_info=(type(original), original, original.__traceback__),
            **who,
        )


def public_errors(
    errors: Sequence[GraphQLError], request_id: str | None, viewer: Viewer | None = None
) -> list[GraphQLError]:
    """Logs what nobody expected (with its traceback, in the server's log only) and returns
    what a client may see. Idempotent: public errors come back unchanged."""
    who = {"tenant_id": str(viewer.tenant_id), "user_id": str(viewer.user_id)} if viewer else {}
    _log_unexpected(errors, who)
    return [_public(e, request_id) for e in errors]


class ErrorPolicy(SchemaExtension):
    """Turns domain errors into coded errors and masks everything unexpected."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            context = self.execution_context.context
            result.errors = public_errors(
                result.errors,
                getattr(context, "request_id", None),
                getattr(context, "viewer_or_none", None),
            )
