"""Small builders for plans, reps, transactions and inputs, so tests state only what matters.

Money and rates are always given as strings or Decimals, never floats.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from domain.engine.calculate import calculate
from domain.engine.inputs import Assignment, FxTable, Inputs, Rep, Transaction
from domain.engine.plan import Plan, load_plan, parse_plan_text
from domain.engine.results import PlanResult, RepResult
from domain.kit.periods import parse_period

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = Path(__file__).resolve().parent / "examples"
PERIOD = "2026-10"
BOOKINGS = {"id": "bookings"}


def D(value: str | int | Decimal) -> Decimal:
    """A Decimal from text; refuses floats so a test can never smuggle one in."""
    if isinstance(value, float):
        raise TypeError("use a string, not a float")
    return Decimal(value)


def day(value: str | date | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


# --- plans ---------------------------------------------------------------------------------


def plan_document(
    *components: Mapping[str, Any],
    measures: Iterable[Mapping[str, Any]] = (BOOKINGS,),
    currency: str = "EUR",
    period: str = "month",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "id": "test-plan",
        "currency": currency,
        "period": period,
        "measures": [dict(m) for m in measures],
        "components": [dict(c) for c in components],
        **extra,
    }


def make_plan(
    *components: Mapping[str, Any],
    measures: Iterable[Mapping[str, Any]] = (BOOKINGS,),
    currency: str = "EUR",
    period: str = "month",
    **extra: Any,
) -> Plan:
    """A plan from dicts: ``make_plan(rate_component("0.05"), cap="1000")``."""
    return load_plan(
        plan_document(*components, measures=measures, currency=currency, period=period, **extra)
    )


def plan_from_yaml(text: str) -> Plan:
    return parse_plan_text(textwrap.dedent(text))


def rate_component(
    rate: str, *, id: str = "commission", measure: str = "bookings", **extra: Any
) -> dict[str, Any]:
    return {"id": id, "type": "rate", "measure": measure, "rate": rate, **extra}


def tiers(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    """``tiers(("0", "0.02"), ("0.5", "0.05"))`` -> the `tiers` list of a tiered component."""
    return [{"from": start, "rate": rate} for start, rate in pairs]


def tiered_component(
    *pairs: tuple[str, str],
    id: str = "commission",
    measure: str = "bookings",
    basis: str = "attainment",
    method: str = "marginal",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "id": id,
        "type": "tiered",
        "measure": measure,
        "basis": basis,
        "method": method,
        "tiers": tiers(*pairs),
        **extra,
    }


def formula_component(expression: str, *, id: str = "formula", **extra: Any) -> dict[str, Any]:
    return {"id": id, "type": "formula", "expression": expression, **extra}


AE_TIERS = (("0", "0.02"), ("0.5", "0.05"), ("1.0", "0.08"))


# --- inputs --------------------------------------------------------------------------------


def rep(
    id: str,
    *,
    manager_id: str | None = None,
    hire_date: str | None = None,
    end_date: str | None = None,
    **fields: Any,
) -> Rep:
    return Rep(id, id.title(), manager_id, day(hire_date), day(end_date), fields)


def tx(
    id: str,
    rep_id: str,
    amount: str | Decimal,
    *,
    date: str = "2026-10-15",
    currency: str = "EUR",
    type: str | None = "deal",
    state: str | None = "won",
    splits: Iterable[tuple[str, str | Decimal]] | None = None,
    **extra: Any,
) -> Transaction:
    return Transaction.build(
        id=id,
        rep_id=rep_id,
        amount=D(amount),
        currency=currency,
        date=day(date),  # type: ignore[arg-type]
        type=type,
        state=state,
        splits=[(r, D(s)) for r, s in splits] if splits else None,
        extra=extra,
    )


def make_inputs(
    reps: Iterable[Rep | str],
    transactions: Iterable[Transaction] = (),
    *,
    quotas: Mapping[tuple[str, str] | str, str | Decimal] | None = None,
    fx: Iterable[tuple[str, str, str]] = (),
    assignments: Iterable[Assignment] | None = None,
) -> Inputs:
    """``quotas`` maps (rep, measure) -- or just rep, meaning the `bookings` measure -- to a
    quota; ``fx`` is (date, currency, rate) triples."""
    quota_map: dict[tuple[str, str], Decimal] = {}
    for key, value in (quotas or {}).items():
        rep_id, measure = (key, "bookings") if isinstance(key, str) else key
        quota_map[(rep_id, measure)] = D(value)
    return Inputs(
        reps=tuple(r if isinstance(r, Rep) else rep(r) for r in reps),
        transactions=tuple(transactions),
        quotas=quota_map,
        fx=FxTable((date.fromisoformat(d), c, D(r)) for d, c, r in fx),
        assignments=None if assignments is None else tuple(assignments),
    )


def assignment(
    rep_id: str, start: str | None = None, end: str | None = None, *, plan_id: str = "test-plan"
) -> Assignment:
    return Assignment(rep_id, plan_id, day(start), day(end))


def run(plan: Plan, inputs: Inputs, period: str = PERIOD) -> PlanResult:
    return calculate(plan, parse_period(period), inputs)


def run_rep(plan: Plan, inputs: Inputs, rep_id: str, period: str = PERIOD) -> RepResult:
    """Calculate and return one rep's result, failing clearly if the rep became an error."""
    result = run(plan, inputs, period)
    errors = {e.rep_id: e.message for e in result.errors}
    assert rep_id not in errors, f"{rep_id} is an error: {errors[rep_id]}"
    return result.rep(rep_id)


def amount_of(plan: Plan, inputs: Inputs, rep_id: str, component: str) -> Decimal:
    return run_rep(plan, inputs, rep_id).component(component).amount


def errors_of(result: PlanResult) -> dict[str, str]:
    return {e.rep_id: e.message for e in result.errors}


# --- the command line ----------------------------------------------------------------------


def podium(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run ``podium ARGS`` in a fresh interpreter, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def simulate_args(plan: Path, data: Path, period: str, fmt: str = "json") -> list[str | Path]:
    return ["simulate", "--plan", plan, "--data", data, "--period", period, "--format", fmt]
