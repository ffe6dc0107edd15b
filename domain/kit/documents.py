"""JSON documents from outside (plans, CRM webhook bodies): numbers exact, nesting bounded
(a 50,000-deep document would otherwise exhaust the stack of whoever walks it)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

MAX_DEPTH = 32  # CRM events are 4 deep, plans 5: more is hostile


class DocumentError(ValueError):
    """Not a document we accept (too deep, NaN or Infinity)."""


def check_depth(document: Any, max_depth: int = MAX_DEPTH) -> None:
    """DocumentError if ``document`` (parsed: dicts and lists) nests more than ``max_depth``
    levels. Iterative, linear in its size."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > max_depth:
                raise DocumentError(f"nested deeper than {max_depth} levels")
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)


def loads_json(text: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """JSON with every fraction a Decimal (never a float), no NaN or Infinity, at most
    ``max_depth`` levels. ValueError (json.JSONDecodeError, DocumentError, UnicodeDecodeError)
    for anything else. (The C parser refuses a deep document with RecursionError before it
    costs anything; the depth of a shallower one is checked on the result.)"""
    try:
        document = json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
    except RecursionError:
        raise DocumentError(f"nested deeper than {max_depth} levels") from None
    check_depth(document, max_depth)
    return document


def dumps_exact(value: Any) -> str:
    """JSON text with Decimals written exactly as JSON numbers."""
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and abs(exponent) <= 50:
            return format(value, "f")
        # 1e999999999 is nine bytes of JSON and a gigabyte written out in full
        return str(value)
    if isinstance(value, dict):
        return (
            "{" + ",".join(f"{json.dumps(str(k))}:{dumps_exact(v)}" for k, v in value.items()) + "}"
        )
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps_exact(v) for v in value) + "]"
    return json.dumps(value)


def unstorable_text(value: str) -> bool:
    """True for text PostgreSQL refuses (a NUL character) or that is not valid Unicode (a
    lone surrogate from a ``\\ud800`` escape): never let it reach a query."""
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def unstorable_path(value: Any, path: str = "") -> str | None:
    """The key path of the first key or string in ``value`` that :func:`unstorable_text`
    refuses, or None. Iterative."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if unstorable_text(item):
                return where
        elif isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str) and unstorable_text(key):
                    return where or "document"
                stack.append((child, f"{where}.{key}" if where else str(key)))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{i}]") for i, child in enumerate(item))
    return None


def _no_constant(name: str) -> Any:
    raise DocumentError(f"{name} is not a JSON number")


# A CRM transaction's free fields (an event's data.fields, a CSV's extra columns) are JSONB in
# the transactions table, and its covering index (transactions_own_by_rep, migration 0052)
# carries them beside the transaction's id, type and state: PostgreSQL refuses an index entry
# over 2,704 bytes, and so the row ("index row size 3112 exceeds btree version 4 maximum
# 2704"). Checked where they come in, so that what is accepted can be stored.
MAX_FIELD_TEXT = 1000  # characters of one text field: plans test fields, they read no essays
# bytes of the id, type, state and fields together, the fields as JSONB at most: the entry's
# other columns (two uuids, a date, the amount, the currency) and headers take under 100
MAX_INDEXED_BYTES = 2400


def fields_problem(
    fields: Mapping[str, Any], *, beside: Iterable[str | None]
) -> tuple[str | None, str] | None:
    """Why a transaction's free ``fields`` could not be stored beside its id, type and state
    (``beside``): the field at fault (None: all of them) and the reason; None if they can.

    The fields are counted as no less than their JSONB takes: 8 bytes of headers, 8 of
    entries per field, the key's and a text's UTF-8 bytes, and for a number its digits and
    16 bytes of header and alignment (it takes half its digits and at most 15). Compression
    may make it smaller: not counted on."""
    too_long, size = _stored_size(fields)
    if too_long is not None:
        return too_long, f"is longer than {MAX_FIELD_TEXT} characters"
    others = _beside_bytes(beside)
    if size + others > MAX_INDEXED_BYTES:
        return None, (
            f"the fields come to {size} bytes stored, the id, type and state to {others}: "
            f"together at most {MAX_INDEXED_BYTES}"
        )
    return None


def field_problem(key: str, value: Any, *, beside: Iterable[str | None] = ()) -> str | None:
    """Why :func:`fields_problem` refuses the free field ``key`` whatever other fields come
    with it: a text longer than ``MAX_FIELD_TEXT`` characters, or one that alone, beside the
    id, type and state, is more than ``MAX_INDEXED_BYTES`` stored. Said as its size against
    the limit ("3,000 characters, over the 1,000 a field may hold"); None if it fits."""
    too_long, size = _stored_size({key: value})
    if too_long is not None:
        return f"{len(value):,} characters, over the {MAX_FIELD_TEXT:,} a field may hold"
    size += _beside_bytes(beside)
    if size > MAX_INDEXED_BYTES:
        return (
            f"{size:,} bytes stored with the id, type and state, over the "
            f"{MAX_INDEXED_BYTES:,} they may take"
        )
    return None


def _stored_size(fields: Mapping[str, Any]) -> tuple[str | None, int]:
    """The first field whose text is longer than ``MAX_FIELD_TEXT`` (None: none is), and the
    bytes the fields take stored (counted up to that field). One pass."""
    size = 8
    for key, value in fields.items():
        size += 8 + _utf8_bytes(str(key))
        if isinstance(value, str):
            if len(value) > MAX_FIELD_TEXT:
                return key, size
            size += _utf8_bytes(value)
        elif isinstance(value, Decimal):
            size += 16 + len(format(value, "f"))
        elif isinstance(value, int) and not isinstance(value, bool):
            size += 16 + len(str(value))  # format(5, "f") is 5.000000
    return None, size


def _beside_bytes(beside: Iterable[str | None]) -> int:
    return sum(_utf8_bytes(text) for text in beside if text)


def _utf8_bytes(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))
