"""The hot loop of `domain.engine.by_class` in C (`_crediting.c`)."""

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

def credit(
    transactions: Sequence[Any],
    names: tuple[str, ...],
    classify: Callable[[Any], Any],
    fail: Callable[[Any, Any, Exception], None],
    fail_fx: Callable[[Any], None],
    split: Callable[[Any, Any, str, Decimal, Any], None],
    failures: tuple[type[Exception], ...],
    skip: object,
    no_rate: object,
    one: Decimal,
    line_type: type[tuple[Any, ...]],
    transaction_type: type,
    cache_limit: int,
    /,
) -> bool: ...
def columns(
    positions: dict[str, int], reps: list[str], amounts: list[Any], start: Any, /
) -> tuple[list[Any], list[int]]: ...
