"""Relay-style connections with opaque cursors."""

from __future__ import annotations

import base64
from typing import Generic, TypeVar

import strawberry
from graphql import GraphQLError

T = TypeVar("T")

MAX_PAGE = 100
MAX_CURSOR_CHARS = 64
# an offset PostgreSQL takes (OFFSET is a bigint); no connection holds this many items
MAX_OFFSET = 2**31 - 1


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo


def encode_offset(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


def decode_offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    invalid = GraphQLError("invalid cursor", extensions={"code": "BAD_USER_INPUT"})
    if len(cursor) > MAX_CURSOR_CHARS:
        raise invalid
    try:
        kind, _, value = base64.urlsafe_b64decode(cursor.encode()).decode("ascii").partition(":")
    except (ValueError, UnicodeError):
        raise invalid from None
    # ASCII digits only: int() would take "١٢" or " 12\n" too
    if kind != "o" or not value.isascii() or not value.isdigit() or int(value) > MAX_OFFSET:
        raise invalid
    return int(value)


def page_size(
    first: int | None, default: int = 20, *, name: str = "first", maximum: int = MAX_PAGE
) -> int:
    """How many items a list argument (``name``) asks for, refused outside 0..``maximum``."""
    size = default if first is None else first
    if size < 0 or size > maximum:
        raise GraphQLError(
            f"{name} must be between 0 and {maximum}", extensions={"code": "BAD_USER_INPUT"}
        )
    return size


def offset_connection(nodes: list[T], *, offset: int, has_next: bool) -> Connection[T]:
    """A page that starts after `offset` items."""
    edges = [Edge(cursor=encode_offset(offset + i + 1), node=n) for i, n in enumerate(nodes)]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=offset > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )
