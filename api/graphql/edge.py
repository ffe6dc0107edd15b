"""What a `/graphql` request must be before strawberry reads it: a body of at most
`Limits.max_body_bytes` (counted while it streams in), UTF-8 JSON, an object (a list is a
batch, which strawberry refuses), nested at most `MAX_JSON_DEPTH` deep, and no string holding
a NUL character or a lone surrogate (PostgreSQL and UTF-8 cannot store them). Anything else
is a 400 or 413 naming what is wrong, never a 500."""

from __future__ import annotations

import json
from typing import Any

from cross_web import HTTPException
from starlette.responses import JSONResponse, PlainTextResponse, Response

MAX_JSON_DEPTH = 64
MAX_PATH_CHARS = 120  # of a path named in an error: a key may be long, the answer is not
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
BAD_USER_INPUT = "BAD_USER_INPUT"


class BodyTooLarge(Exception):
    """Raised from `receive` once the body streamed in passes the limit."""


def http_error(status: int, reason: str) -> Response:
    """A request refused before GraphQL ran: a 400 is a GraphQL error coded BAD_USER_INPUT
    (clients read one shape of error); anything else (404, 405) stays strawberry's text."""
    if status != 400:
        return PlainTextResponse(reason, status_code=status)
    error = {"message": reason, "extensions": {"code": BAD_USER_INPUT}}
    return JSONResponse({"data": None, "errors": [error]}, status_code=400)


def decoded_json(data: str | bytes, *, what: str) -> Any:
    """`data` as JSON, or an HTTPException(400) saying why not."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise HTTPException(400, f"{what} is nested too deeply") from None
    except ValueError:  # JSONDecodeError, and UnicodeDecodeError for bytes that are not UTF-8
        raise HTTPException(400, f"{what} is not JSON in UTF-8") from None
    problem = _problem(value)
    if problem is not None:
        path, reason = problem
        path = path if len(path) <= MAX_PATH_CHARS else path[:MAX_PATH_CHARS] + "..."
        raise HTTPException(400, f"{what}: {path}: {reason}" if path else f"{what}: {reason}")
    return value


def _problem(value: Any) -> tuple[str, str] | None:
    """The first path (`variables.input.name`) at fault in a decoded JSON value, and why;
    iterative, so that a deep value cannot exhaust the stack here."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return path, f"nested more than {MAX_JSON_DEPTH} deep"
        if isinstance(item, str):
            reason = bad_text(item)
            if reason:
                return path, reason
        elif isinstance(item, dict):
            for key, child in item.items():
                reason = bad_text(key)
                if reason:
                    return path, f"a key {reason}"
                stack.append((child, f"{path}.{key}" if path else key, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(item))
    return None


def bad_text(text: str) -> str | None:
    """Why PostgreSQL or UTF-8 cannot take ``text``, or None."""
    if "\x00" in text:
        return "holds a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "holds a lone surrogate (not Unicode text)"
    return None
