"""JSON documents from outside (plans, CRM webhook bodies): numbers exact, nesting bounded
(a 50,000-deep document would otherwise exhaust the stack of whoever walks it)."""

from __future__ import annotations

import json
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
