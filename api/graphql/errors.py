"""How failures reach clients.

Expected failures of a mutation are `UserError` members of its result union. Authentication and
authorisation failures are top-level errors with `extensions.code` UNAUTHENTICATED or FORBIDDEN.
Anything unexpected is logged with the request id and reaches the client as
INTERNAL_SERVER_ERROR with that id, never as a stack trace or an exception's text.
A request GraphQL itself refuses is coded by the step that refused it: GRAPHQL_PARSE_FAILED
(`api.graphql.limits`), GRAPHQL_VALIDATION_FAILED (against the schema: `ErrorPolicy`), or
BAD_USER_INPUT (a variable's value, e.g. a Decimal that is not a number, or an argument's: the
message names it).
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
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"


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
        if error.path is None or error.message.startswith("Argument '"):
            # what execution itself refuses of the request (parse and validation errors are
            # coded where they are made): a variable's value (one its type does not take, a
            # required one missing), an operation it cannot pick, a field's argument (an
            # explicit null for a non-null one)
            _code_uncoded([error], BAD_USER_INPUT)
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


def _code_uncoded(errors: Sequence[GraphQLError] | None, code: str) -> None:
    """Give ``code`` to each of GraphQL's own errors: no code yet, and behind it nothing or
    another GraphQL error (a scalar refusing a value), not an exception nobody expected."""
    for error in errors or ():
        behind = error.original_error
        if (behind is None or isinstance(behind, GraphQLError)) and not (
            error.extensions or {}
        ).get("code"):
            error.extensions = {**(error.extensions or {}), "code": code}


class ErrorPolicy(SchemaExtension):
    """Turns domain errors into coded errors and masks everything unexpected; codes the
    errors of a request GraphQL refuses by the step that refused it."""

    def on_validate(self) -> Iterator[None]:
        yield
        _code_uncoded(self.execution_context.pre_execution_errors, VALIDATION_FAILED)

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
