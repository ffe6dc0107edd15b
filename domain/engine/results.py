"""What the engine returns: per-rep earnings with measures, components, lines and plain-words
explanations, plus per-rep errors. Money values are already rounded where PLAN_SPEC says.

Results are NamedTuples (cheap to build for tens of thousands of reps); explanations are
rendered only when read, so a batch run that never shows them never pays for the text.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, NamedTuple

from domain.kit.money import format_plain

Explainer = Callable[[], tuple[str, ...]]


def _no_explanation() -> tuple[str, ...]:
    return ()


class Line(NamedTuple):
    """One transaction's share of a line-based component, before rounding."""

    component: str
    transaction_id: str
    rep_id: str  # whose credit it is when not the earner's own (team-scope measures), else ""
    value: Decimal  # the measure value times the rep's share
    rate: Decimal
    amount: Decimal
    note: str  # shared per component (gate, cap), so a million lines cost no formatting
    payable: bool = True  # the transaction satisfies payable_when

    @property
    def explanation(self) -> str:
        text = (
            f"{format_plain(self.value)} × {format_plain(self.rate)} from transaction "
            f"{self.transaction_id}"
        )
        if self.rep_id:
            text += f" (credited to {self.rep_id})"
        return f"{text}{self.note} = {format_plain(self.amount)}"


class MeasureResult(NamedTuple):
    id: str
    total: Decimal
    credited_count: Decimal  # credited transactions, splits counting their share
    quota: Decimal | None
    attainment: Decimal | None


class ComponentResult(NamedTuple):
    id: str
    type: str
    amount: Decimal
    payable: Decimal
    pending: Decimal
    explain: Explainer = _no_explanation

    @property
    def explanation(self) -> tuple[str, ...]:
        return self.explain()


class RepResult(NamedTuple):
    rep_id: str
    currency: str
    total: Decimal
    payable: Decimal
    pending: Decimal
    cap_adjustment: Decimal
    active_days: int
    period_days: int
    measures: tuple[MeasureResult, ...]
    components: tuple[ComponentResult, ...]
    lines: tuple[Line, ...]
    explain: Explainer = _no_explanation

    @property
    def explanation(self) -> tuple[str, ...]:
        return self.explain()

    def component(self, component_id: str) -> ComponentResult:
        return next(c for c in self.components if c.id == component_id)

    def measure(self, measure_id: str) -> MeasureResult:
        return next(m for m in self.measures if m.id == measure_id)


class RepError(NamedTuple):
    rep_id: str
    message: str


class PlanResult(NamedTuple):
    plan_id: str
    period: str
    currency: str
    reps: tuple[RepResult, ...]
    errors: tuple[RepError, ...]

    def rep(self, rep_id: str) -> RepResult:
        return next(r for r in self.reps if r.rep_id == rep_id)

    def to_dict(self, *, explain: bool = False) -> dict[str, Any]:
        """The JSON document of PLAN_SPEC section 7 (``explain`` adds explanation texts)."""
        return {
            "plan": self.plan_id,
            "period": self.period,
            "currency": self.currency,
            "reps": [rep_to_dict(r, explain=explain) for r in self.reps],
            "errors": [{"rep_id": e.rep_id, "message": e.message} for e in self.errors],
        }


def _opt(value: Decimal | None) -> str | None:
    return None if value is None else format_plain(value)


def rep_to_dict(r: RepResult, *, explain: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "rep_id": r.rep_id,
        "total": format_plain(r.total),
        "payable": format_plain(r.payable),
        "pending": format_plain(r.pending),
        "cap_adjustment": format_plain(r.cap_adjustment),
        "measures": [
            {
                "id": m.id,
                "total": format_plain(m.total),
                "quota": _opt(m.quota),
                "attainment": _opt(m.attainment),
            }
            for m in r.measures
        ],
        "components": [],
        "lines": [],
    }
    for c in r.components:
        component: dict[str, Any] = {
            "id": c.id,
            "amount": format_plain(c.amount),
            "payable": format_plain(c.payable),
            "pending": format_plain(c.pending),
        }
        if explain:
            component["explanation"] = list(c.explanation)
        out["components"].append(component)
    for line in r.lines:
        item: dict[str, Any] = {
            "component": line.component,
            "transaction_id": line.transaction_id,
            "value": format_plain(line.value),
            "amount": format_plain(line.amount),
        }
        if explain:
            item["explanation"] = line.explanation
        out["lines"].append(item)
    if explain:
        out["explanation"] = list(r.explanation)
    return out
