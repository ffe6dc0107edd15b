"""Long lists of ids in a query: PostgreSQL takes at most 32,767 parameters a statement, and
tortoise's ``field__in=`` spends one per id, so a month of 100,000 people is read in chunks."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

CHUNK = 10_000  # ids a statement: well under PostgreSQL's 32,767 parameters


def chunked(items: Sequence[T], size: int = CHUNK) -> Iterator[list[T]]:
    """``items`` in lists of at most ``size``, in order (none for no items)."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
