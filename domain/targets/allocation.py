"""Splitting an amount among people: pure, exact, no I/O.

The remainder rule: every share is first rounded *down* to the quantum (the currency's minor
unit, or 1 for counts); the quanta left over go one each to the largest remainders, ties
broken by the person's CRM id (external id) in ascending order, so the same plan allocates
the same way in every database. So the children always add up to the parent
exactly, nobody gets more than one quantum above their exact share, and the result does not
depend on the order the people were given in.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction
from typing import TypeVar

from domain.targets.errors import AllocationError

K = TypeVar("K")


def split_amount(
    amount: Decimal,
    weights: Mapping[K, Decimal],
    quantum: Decimal,
    *,
    names: Mapping[K, str] | None = None,
) -> dict[K, Decimal]:
    """``amount`` (a multiple of ``quantum``, at least 0) split in proportion to ``weights``
    (each at least 0, not all 0) by the remainder rule of this module; ties go in the
    order of ``names`` (default: ``str`` of the keys)."""
    if amount < 0:
        raise AllocationError("a target cannot be negative", field="value")
    if amount % quantum:
        raise AllocationError(f"{amount} is not a multiple of {quantum}", field="value")
    if not weights:
        raise AllocationError("nobody to allocate to", field="allocations")
    if any(w < 0 for w in weights.values()):
        raise AllocationError("a weight cannot be negative", field="allocations")
    total = sum(weights.values(), Decimal(0))
    if total == 0:
        raise AllocationError("the weights are all zero", field="allocations")
    units = int(amount / quantum)
    # fractions, not decimals: exact whatever the weights (a 28-digit Decimal rounds)
    exact = {k: Fraction(units) * Fraction(w) / Fraction(total) for k, w in weights.items()}
    floors = {k: v.numerator // v.denominator for k, v in exact.items()}
    left = units - sum(floors.values())
    tie = dict(names) if names is not None else {k: str(k) for k in weights}
    order = sorted(weights, key=lambda k: (-(exact[k] - floors[k]), tie[k]))
    for k in order[:left]:
        floors[k] += 1
    return {k: floors[k] * quantum for k in weights}
