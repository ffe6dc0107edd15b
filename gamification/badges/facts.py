"""The facts a badge rule can read: a small registry, so contest facts can be added later.

A rule is an expression of the plan language (`domain.kit.expressions`). Bare names read the
facts of ``NAMED_FACTS`` (``deals``, ``earnings``, ``attainment``, and ``contest_place``: the
rank a contest placed the person at, read only when a contest is awarded, see
`CONTEST_FACTS`); the reference functions of
``REFERENCE_FACTS`` read one measure (``attainment('bookings') >= 1``,
``count('bookings') >= 1``, ``periods_in_a_row('bookings') >= 3``: consecutive periods up to
this one with that measure's attainment at or above 100%).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass
class PeriodFacts:
    """One person's results for one period (all plans), and the periods before it."""

    totals: dict[str, Decimal] = field(default_factory=dict)
    # a split deal counts its share: counts are exact decimals
    counts: dict[str, Decimal] = field(default_factory=dict)
    attainments: dict[str, Decimal] = field(default_factory=dict)
    earnings: Decimal = Decimal(0)
    # measure -> consecutive periods, ending with this one, at or above 100% of quota
    in_a_row: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


NamedFact = Callable[[PeriodFacts], Any]

NAMED_FACTS: dict[str, NamedFact] = {
    "deals": lambda f: sum(f.counts.values(), Decimal(0)),
    "earnings": lambda f: f.earnings,
    # the best attainment over the measures that have a quota (None: no quota at all)
    "attainment": lambda f: max(f.attainments.values()) if f.attainments else None,
}

# function name -> attribute of `PeriodFacts` holding a dict keyed by the measure id
REFERENCE_FACTS: dict[str, str] = {
    "total": "totals",
    "count": "counts",
    "attainment": "attainments",
    "periods_in_a_row": "in_a_row",
}


def register_fact(name: str, fact: NamedFact) -> None:
    """Add a named fact."""
    NAMED_FACTS[name] = fact


# The rank a contest placed the person at (a team's members: their team's; a race: the order
# they reached the target). A rule that reads a contest fact is evaluated when a contest is
# awarded, for each person it placed (`contest_place <= 3`: a contest's top 3), and never
# after a recompute: contest results are frozen at the award.
CONTEST_PLACE = "contest_place"
CONTEST_FACTS = frozenset({CONTEST_PLACE})
register_fact(CONTEST_PLACE, lambda f: f.extra.get(CONTEST_PLACE))


class _Env:
    """What a compiled rule reads: ``env.get(name)`` and ``env.<attribute>[measure]``."""

    def __init__(self, facts: PeriodFacts) -> None:
        self._facts = facts
        for attribute in set(REFERENCE_FACTS.values()):
            setattr(self, attribute, _Missing(getattr(facts, attribute)))

    def get(self, name: str) -> Any:
        return NAMED_FACTS[name](self._facts)


class _Missing(dict[str, Any]):
    """A measure the person has no figure for reads as None (a rule compares it as false)."""

    def __missing__(self, key: str) -> Any:
        return None


def env_of(facts: PeriodFacts) -> Any:
    return _Env(facts)


def _dec(value: Any) -> Decimal | None:
    return None if value is None or value == "" else Decimal(str(value))


def facts_of(
    results: Sequence[Any], history: Mapping[str, Sequence[Any]] | None = None
) -> PeriodFacts:
    """Facts from stored earnings results (``measures``: id, total, count, quota, attainment);
    ``history``: the earlier periods' results, newest first, for ``periods_in_a_row``."""
    facts = PeriodFacts()
    for result in results:
        facts.earnings += Decimal(str(result.total))
        for m in result.measures or ():
            mid = m["id"]
            facts.totals[mid] = facts.totals.get(mid, Decimal(0)) + (_dec(m.get("total")) or 0)
            facts.counts[mid] = facts.counts.get(mid, Decimal(0)) + (_dec(m.get("count")) or 0)
            attained = _dec(m.get("attainment"))
            if attained is not None:
                facts.attainments[mid] = max(attained, facts.attainments.get(mid, attained))
    for mid, attained in facts.attainments.items():
        run = 1 if attained >= 1 else 0
        if run and history:
            for earlier in history.values():
                best = [
                    _dec(m.get("attainment"))
                    for r in earlier
                    for m in (r.measures or ())
                    if m["id"] == mid
                ]
                if any(b is not None and b >= 1 for b in best):
                    run += 1
                else:
                    break
        facts.in_a_row[mid] = run
    return facts
