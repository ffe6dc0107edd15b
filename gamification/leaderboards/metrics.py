"""What a board ranks (pure): a metric parsed from its text, a person's score read from their
stored period results, and that score as the exact integer a Redis sorted set holds.

Metrics, as `createLeaderboard` and the CLI take them:
  ``<measure>``              the measure's total (money in the plan's currency, or a count)
  ``attainment:<measure>``   the measure's attainment: its total over its quota, summed over
                             the results that have a quota (above zero): on a quarter or a
                             year board the period's bookings over its summed quotas, not
                             the mean of the monthly percentages
  ``count:<measure>``        how many transactions the measure credited, a split deal counting
                             each rep's share (PLAN_SPEC's ``count``): half a deal is 0.5
  ``earnings``               the period's earnings (every plan's total in the tenant's
                             currency)
  ``xp``                     the XP earned in the period (the levels ledger: the entries
                             written in the period that stand, `levels.service.xp_earned`)

A Redis score is an IEEE double, exact only for integers below 2**53, so a board stores an
integer at the metric's precision: money in hundredths (cents), attainment in millionths
(0.0001 %), counts in millionths too (a split share's own tolerance: a third of a deal is
0.333333, and no share rounds to a whole deal or to none), XP as it is; rounded half away from
zero like money. Two people whose Decimals round to the same integer tie; unequal integers
never do. A count is shown without trailing zeros ("1", "0.5"). A score that would not be
exact (|n| >= 2**53) is refused (`ScoreTooLarge`) rather than rounded by Redis.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from domain.kit.errors import InvalidInput

EXACT_LIMIT = 2**53
KINDS = ("total", "attainment", "count", "earnings", "xp")
# digits after the point a board keeps, per kind (XP is whole; a count may be a split share)
_SCALE = {"total": 2, "attainment": 6, "count": 6, "earnings": 2, "xp": 0}
_MEASURE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")


class ScoreTooLarge(InvalidInput):
    code = "SCORE_TOO_LARGE"


@dataclass(frozen=True, slots=True)
class Metric:
    kind: str
    measure: str | None = None

    @property
    def text(self) -> str:
        if self.kind in ("earnings", "xp"):
            return self.kind
        if self.kind == "total":
            return str(self.measure)
        return f"{self.kind}:{self.measure}"

    @property
    def is_money(self) -> bool:
        return self.kind == "earnings"

    @property
    def from_ledger(self) -> bool:
        """XP is read from the levels ledger, not from period results (`score`)."""
        return self.kind == "xp"

    def score(
        self, results: Iterable[Mapping[str, Any]], *, currency: str | None = None
    ) -> Decimal | None:
        """The person's score of their results in the board's period (one per plan and per
        engine period it holds: a quarter board of a monthly tenant reads three months),
        each an earnings result as stored: ``total``, ``status``, ``currency`` and
        ``measures`` with exact decimal strings; the sum of the results' values (money,
        counts), or the summed totals over the summed quotas (attainment);
        None when no result carries the metric (the person is not on the board). Not for XP
        (`from_ledger`). ``currency``: the tenant's; earnings count only the results in it
        (like the contests' earnings: a board compares like with like and converts nothing,
        so a plan paying dollars is not ranked as euros)."""
        if self.from_ledger:
            raise ValueError("an XP board reads the levels ledger, not period results")
        found: Decimal | None = None
        quotas = Decimal(0)
        for result in results:
            if result.get("status") != "ok":
                continue
            if self.is_money and currency is not None and result.get("currency") != currency:
                continue
            if self.kind == "earnings":
                value: Decimal | None = Decimal(str(result["total"]))
            else:
                measure = _measure(result.get("measures") or [], self.measure)
                if measure is None:
                    continue
                if self.kind == "attainment":
                    if measure.get("attainment") is None:
                        continue  # no quota above zero: no target to attain in that period
                    quotas += Decimal(str(measure["quota"]))
                    raw = measure.get("total")
                else:
                    raw = measure.get(self.kind)  # a stored measure's total and count by name
                value = None if raw is None else Decimal(str(raw))
            if value is not None:
                found = value if found is None else found + value
        if self.kind == "attainment" and found is not None:
            return found / quotas  # summed achievement over summed target
        return found

    def exact(self, score: Decimal) -> int:
        """``score`` as the integer a board stores (see the module)."""
        scaled = score.scaleb(_SCALE[self.kind]).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        number = int(scaled)
        if abs(number) >= EXACT_LIMIT:
            raise ScoreTooLarge(
                f"a score of {score} cannot be ranked exactly (at most {EXACT_LIMIT - 1} "
                f"in units of 10^-{_SCALE[self.kind]})",
                field="metric",
            )
        return number

    def shown(self, exact: int) -> Decimal:
        """The score a board shows for a stored integer: at the board's precision, a count
        without trailing zeros (never in exponent form: 10 deals is 10, not 1E+1)."""
        value = Decimal(exact).scaleb(-_SCALE[self.kind])
        if self.kind != "count":
            return value
        whole = value.to_integral_value()
        return whole if value == whole else value.normalize()


def _measure(measures: list[Mapping[str, Any]], measure: str | None) -> Mapping[str, Any] | None:
    return next((m for m in measures if m.get("id") == measure), None)


def parse_metric(text: str, *, measures: set[str]) -> Metric:
    """A metric of its text; ``measures`` are the ids the tenant's plans define. Unknown
    metrics and measures are `InvalidInput` naming ``metric``."""
    raw = (text or "").strip()
    if raw in ("earnings", "xp"):
        return Metric(raw)
    kind, _, measure = raw.partition(":") if ":" in raw else ("total", "", raw)
    if kind not in ("attainment", "count", "total") or not _MEASURE.fullmatch(measure):
        raise InvalidInput(
            f"{raw[:60]!r} is not a metric: a measure id, 'attainment:<measure>', "
            "'count:<measure>', 'earnings' or 'xp'",
            field="metric",
        )
    if measure not in measures:
        known = ", ".join(sorted(measures)) or "none"
        raise InvalidInput(
            f"no plan of the tenant has a measure {measure!r} (measures: {known})",
            field="metric",
        )
    return Metric(kind, measure)


def stored_metric(text: str) -> Metric:
    """A metric as a board stores it (validated when the board was created)."""
    if text in ("earnings", "xp"):
        return Metric(text)
    kind, _, measure = text.partition(":") if ":" in text else ("total", "", text)
    return Metric(kind, measure)
