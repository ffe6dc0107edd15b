"""What the engine returns: per-rep earnings with measures, components, lines and their
explanations, plus per-rep errors. Money values are already rounded where PLAN_SPEC says.

Results are NamedTuples (cheap to build for tens of thousands of reps). Explanations are
*reasons* (`domain.engine.explanations`: a template key and exact parameters), built only when
asked for and put into words only when read, in the reader's language: a batch run that never
shows them never pays for them, and what is stored stays exact and language-neutral.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from domain.engine.explanations import Reason, component_reason, render
from domain.kit.money import format_plain

if TYPE_CHECKING:
    from domain.engine.inputs import Transaction

Explainer = Callable[[], tuple[Reason, ...]]


class LineExplainer(Protocol):
    """(the earner's rep id, one of their lines[, its transaction when the caller has it])
    -> the line's reasons; the line's own value, amount and transaction id are not among
    their parameters: a reader adds them (`line_words`)."""

    def __call__(
        self, rep_id: str, line: Line, transaction: Transaction | None = ..., /
    ) -> tuple[Reason, ...]: ...


def _no_explanation() -> tuple[Reason, ...]:
    return ()


def _no_line_explanation(
    rep_id: str, line: Line, transaction: Transaction | None = None, /
) -> tuple[Reason, ...]:
    return ()


class Line(NamedTuple):
    """One transaction's share of a line-based component, before rounding."""

    component: str
    transaction_id: str
    rep_id: str  # whose credit it is when not the earner's own (team-scope measures), else ""
    value: Decimal  # the measure value times the rep's share
    rate: Decimal
    amount: Decimal
    # "" or a reason key shared per component ("line_gate_closed", "line_capped"): a million
    # lines cost no formatting
    note: str
    payable: bool = True  # the transaction satisfies payable_when

    def params(self) -> dict[str, Decimal | str]:
        """What a reason of this line reads from the line itself (a stored line: its row)."""
        return {"value": self.value, "amount": self.amount, "transaction": self.transaction_id}


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
    def reasons(self) -> tuple[Reason, ...]:
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
    def reasons(self) -> tuple[Reason, ...]:
        return self.explain()

    def component(self, component_id: str) -> ComponentResult:
        return next(c for c in self.components if c.id == component_id)

    def measure(self, measure_id: str) -> MeasureResult:
        return next(m for m in self.measures if m.id == measure_id)


class RepError(NamedTuple):
    rep_id: str
    message: str  # in English, for logs and the command line
    reason: Reason | None = None  # the same for a reader, in their language (`render`)


class PlanResult(NamedTuple):
    plan_id: str
    period: str
    currency: str
    reps: tuple[RepResult, ...]
    errors: tuple[RepError, ...]
    explain_line: LineExplainer = _no_line_explanation
    # component id -> display name (the plan's `name`, else the id made readable)
    component_names: tuple[tuple[str, str], ...] = ()
    measure_names: tuple[tuple[str, str], ...] = ()  # measure id -> display name

    def rep(self, rep_id: str) -> RepResult:
        return next(r for r in self.reps if r.rep_id == rep_id)

    def line_reasons(self, rep_id: str, line: Line) -> tuple[Reason, ...]:
        return self.explain_line(rep_id, line)

    def component_reasons(self, c: ComponentResult) -> tuple[Reason, ...]:
        """A component's reasons after its display name and amount: what its summary line
        says."""
        name = next((n for i, n in self.component_names if i == c.id), c.id)
        return (component_reason(name, c.amount), *c.reasons)

    def line_words(self, rep_id: str, line: Line, locale: str | None = None) -> str:
        """One of ``rep_id``'s lines in words, in ``locale``."""
        return render(
            self.explain_line(rep_id, line),
            locale=locale,
            currency=self.currency,
            extra=line.params(),
        )

    def to_dict(self, *, explain: bool = False, locale: str | None = None) -> dict[str, Any]:
        """The JSON document of PLAN_SPEC section 7 (``explain`` adds explanation texts, in
        ``locale``'s language)."""
        return {
            "plan": self.plan_id,
            "period": self.period,
            "currency": self.currency,
            "reps": [
                rep_to_dict(r, explain=explain, result=self, locale=locale) for r in self.reps
            ],
            "errors": [{"rep_id": e.rep_id, "message": e.message} for e in self.errors],
        }


def _opt(value: Decimal | None) -> str | None:
    return None if value is None else format_plain(value)


def rep_to_dict(
    r: RepResult,
    *,
    explain: bool = False,
    result: PlanResult | None = None,
    locale: str | None = None,
) -> dict[str, Any]:
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
            component["explanation"] = [
                render((reason,), locale=locale, currency=r.currency) for reason in c.reasons
            ]
        out["components"].append(component)
    for line in r.lines:
        item: dict[str, Any] = {
            "component": line.component,
            "transaction_id": line.transaction_id,
            "value": format_plain(line.value),
            "amount": format_plain(line.amount),
        }
        if explain and result is not None:
            item["explanation"] = result.line_words(r.rep_id, line, locale)
        out["lines"].append(item)
    if explain:
        out["explanation"] = [
            render((reason,), locale=locale, currency=r.currency) for reason in r.reasons
        ]
    return out
