"""The calculation: a compiled plan + inputs for one period -> earnings with explanations.

Pure: no I/O, no ORM, no asyncio. The simulator, the workers, what-if and the benchmarks all
call :func:`calculate`. Arithmetic is exact decimal in a private context so a caller's decimal
settings never change a result; money is rounded only where PLAN_SPEC section 5 says.

Speed matters (a full run is millions of transactions), so the work is split in two passes:

1. *Crediting*, once per transaction: FX, then the filters and ``payable_when``. Filters that
   read only low-cardinality fields (type, state, product...) are evaluated once per distinct
   combination of those fields and cached. Each passing measure adds ``value x share`` to a
   per-rep accumulator [total, count, payable total]; only measures explained line by line
   (``rate`` components) also keep the credited items. When every filter reads only such
   fields and every measure sums ``amount`` or counts (the usual plan), `by_class` does this
   pass instead: one classification per distinct key and one addition per credit, however
   many measures there are, and the reps' own lines of rate components built for all reps
   at once.
2. *Per rep*: measures, quotas, components, caps. Everything that depends only on the plan is
   prepared once; explanation texts are rendered only when somebody reads them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from datetime import date, timedelta
from decimal import (
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from functools import lru_cache, partial
from itertools import chain, compress, repeat
from operator import attrgetter, itemgetter, mul
from types import CodeType
from typing import Any

from domain.engine import by_class
from domain.engine.by_class import LineItem, natural_key
from domain.engine.explanations import Reason, component_reason, reason
from domain.engine.inputs import ONE, Assignment, Inputs, Rep, Transaction, by_id
from domain.engine.plan import Component, Plan
from domain.engine.results import (
    ComponentResult,
    Line,
    MeasureResult,
    PlanResult,
    RepError,
    RepResult,
)
from domain.kit.collector import collector_paused
from domain.kit.errors import PeriodError, quoted
from domain.kit.expressions import (
    CompiledExpression,
    EvaluationError,
    evaluate_safely,
    problem_of,
)
from domain.kit.money import minor_units
from domain.kit.periods import Period

ZERO = Decimal(0)
_CONTEXT = Context(
    prec=28, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)
_UNCACHEABLE = by_class.UNCACHEABLE
_CACHE_LIMIT = by_class.CACHE_LIMIT
_FAILURES = (EvaluationError, ArithmeticError, TypeError, ValueError)
# Builds a NamedTuple from a complete tuple without its Python-level __new__: the lines of a
# large run number in the hundreds of thousands.
_new_tuple = tuple.__new__
_ID = attrgetter("id")  # a rep's or a transaction's
_LINE_VALUE = attrgetter("value")
_LINE_PAYABLE = attrgetter("payable")
_as_line = partial(_new_tuple, Line)

# (transaction, credited rep, credited value = value x share, satisfies payable_when)
Item = tuple[Transaction, str, Decimal, bool]
Stats = tuple[Decimal, Decimal, Decimal]  # total, count, payable total
_NO_STATS: Stats = (ZERO, ZERO, ZERO)


class RepFailure(Exception):
    """This rep cannot be calculated; the message ends up in the result's `errors`, with its
    reason (a template key and parameters, `explanations`) when it has one: what a reader
    reads, in their language."""

    def __init__(self, message: str, reason: Reason | None = None) -> None:
        super().__init__(message)
        self.reason = reason


def calculate(
    plan: Plan, period: Period, inputs: Inputs, *, rep_ids: Collection[str] | None = None
) -> PlanResult:
    """Calculate ``plan`` for every rep on it in ``period`` (or only ``rep_ids``)."""
    if period.kind != plan.period:
        raise PeriodError(
            f"plan {plan.id!r} is paid per {plan.period}, but {period.id!r} is a {period.kind}",
            field="period",
        )
    # A batch run allocates millions of short-lived objects and frees none of them before the
    # end: the cyclic collector would only rescan them again and again.
    with collector_paused(), localcontext(_CONTEXT):
        return _Calculation(plan, period, inputs).run(rep_ids)


class _RepContext:
    """What rep-level expressions (gate, condition, formula) read."""

    __slots__ = ("attainments", "components", "counts", "quotas", "totals")

    def __init__(self) -> None:
        self.totals: dict[str, Decimal] = {}
        self.counts: dict[str, Decimal] = {}
        self.quotas: dict[str, Decimal] = {}
        self.attainments: dict[str, Decimal] = {}
        self.components: dict[str, Decimal] = {}


_LOOK_UP: Any = object()  # `_Calculation.explain_line`: the line's transaction not given


class _Calculation:
    def __init__(self, plan: Plan, period: Period, inputs: Inputs) -> None:
        self.plan = plan
        self.period = period
        self.inputs = inputs
        self.currency = plan.currency
        self.digits = minor_units(plan.currency)
        self.quantum = Decimal(1).scaleb(-self.digits)
        self.children: dict[str, list[str]] = {}
        for r in inputs.reps:
            if r.manager_id is not None:
                self.children.setdefault(r.manager_id, []).append(r.id)
        self.measure_index = {m.id: i for i, m in enumerate(plan.measures)}
        self.team = [m.scope == "team" for m in plan.measures]
        self.quota_needed = plan.quota_measures
        self.line_measures = {
            self.measure_index[c.measure]
            for c in plan.components
            if c.line_based and c.measure is not None
        }
        # measure index -> rep -> [total, count, payable total]
        self.accumulators: list[dict[str, list[Decimal]]] = [{} for _ in plan.measures]
        # measure index -> rep -> credited items (only for line-based measures)
        self.items: dict[int, dict[str, list[Item]]] = {i: {} for i in self.line_measures}
        self.transaction_errors: dict[str, tuple[tuple[Any, ...], str, Reason | None]] = {}
        self._subtrees: dict[str, list[str]] = {}
        self._team_stats: dict[tuple[int, str], Stats] = {}
        self.component_names = {c.id: plan.component_name(c.id) for c in plan.components}
        self.measure_names = {m.id: plan.measure_name(m.id) for m in plan.measures}
        self.components_by_id = {c.id: c for c in plan.components}
        self.labels = {c.id: self._tier_labels(c) for c in plan.components if c.tiers}
        # explaining lines: transaction id -> transaction (built when first asked), and the
        # reasons of a plain line (own credit, plan currency) per (component, note)
        self._transactions: dict[str, Transaction] | None = None
        self._plain_line_reasons: dict[tuple[str, str], tuple[Reason, ...]] = {}
        self._line_heads: dict[str, Reason] = {}  # component -> a line's first reason
        self._names: dict[str, tuple[tuple[str, str], ...]] = {}
        # measure index -> rep -> the rep's converted transactions of the measure (when asked)
        self._converted: dict[int, dict[str, list[Transaction]]] = {}
        # (measure index, rep) -> the reasons of `conversions` (when asked)
        self._conversion_reasons: dict[tuple[int, str], list[Reason]] = {}
        self._rates: dict[tuple[str, date], tuple[date, Decimal] | None] = {}  # see `_fx_rate`
        # (currency, day) -> a conversion's first three parameters (see `_conversion`)
        self._conversion_heads: dict[tuple[str, date], tuple[tuple[str, Any], ...]] = {}
        self._rep_names: dict[str, str] | None = None
        # line-based component id -> its index in `line_components`
        self.line_index: dict[str, int] = {}
        # line-based component id -> (its index in `line_components`, its measure is team-scope)
        self.line_plan: dict[str, tuple[int, bool]] = {}
        self.line_components: list[tuple[int, date | None, date | None]] = []
        for c in plan.components:
            if c.line_based and c.measure is not None:
                self.line_index[c.id] = len(self.line_components)
                self.line_plan[c.id] = (
                    len(self.line_components),
                    self.team[self.measure_index[c.measure]],
                )
                w = c.window
                self.line_components.append(
                    (self.measure_index[c.measure], w.start if w else None, w.end if w else None)
                )
        self.line_items: Callable[[int, str], list[LineItem]] = self._measure_line_items
        # Whether `line_items` lists a rep's items in the order of `_line_order` already (it
        # does in `by_class`), so that only a team's lines need sorting
        self.line_items_sorted = False
        # line component index -> rep -> the rep's own lines, built for every rep at once
        # when the crediting pass lists items by rep
        self.own_lines: dict[int, dict[str, list[Line]]] = {}
        # line component index -> (rep -> the value of those lines, rep -> their payable value)
        self.own_line_totals: dict[int, tuple[dict[str, Decimal], dict[str, Decimal]]] = {}

    # --- crediting --------------------------------------------------------------------------
    # Off only in tests that hold the fast path to the general loop.
    credit_by_class = True

    def credit_transactions(self) -> None:
        if self.credit_by_class and by_class.applies(self.plan):
            crediting = by_class.ByClass(
                self.plan,
                [r.id for r in self.inputs.reps],
                self.period.start,
                self.period.end,
                self.inputs.fx,
                self.line_components,
                _FAILURES,
                self._own_line_rates(),
            )
            try:
                crediting.run(self.inputs.transactions, self._fail_fx, self._fail_evaluation)
            except by_class.Fallback:
                self.transaction_errors.clear()
            else:
                self.accumulators = crediting.accumulators
                self.line_items = crediting.line_items
                self.line_items_sorted = True
                for c in self.plan.components:
                    plan = self.line_plan.get(c.id)
                    if plan is not None and not plan[1]:
                        assert c.rate is not None
                        self.own_lines[plan[0]] = crediting.own_lines(plan[0], c.id, c.rate)
                        totals = crediting.own_line_totals(plan[0])
                        if totals is not None:
                            self.own_line_totals[plan[0]] = totals
                return
        self.credit_generally()

    def _own_line_rates(self) -> list[tuple[str, Decimal] | None]:
        """Per line component: (component id, rate) when its lines are the rep's own (not a
        team's), else None."""
        rates: list[tuple[str, Decimal] | None] = [None for _ in self.line_components]
        for c in self.plan.components:
            found = self.line_plan.get(c.id)
            if found is not None and not found[1]:
                assert c.rate is not None
                rates[found[0]] = (c.id, c.rate)
        return rates

    def _fail_fx(self, t: Transaction) -> None:
        self._fail_transaction(
            t,
            f"no FX rate for {t.currency} on or before {t.date.isoformat()} (transaction {t.id})",
            reason(
                "error_no_fx_rate",
                fx_currency=t.currency,
                day=t.date.isoformat(),
                transaction=t.id,
            ),
        )

    def _fail_evaluation(self, t: Transaction, fields: Any, exc: Exception) -> None:
        self._fail_transaction(t, *self._explain_transaction_failure(t, fields, exc))

    def _measure_line_items(self, k: int, rep_id: str) -> list[LineItem]:
        """Line component ``k``'s credits of ``rep_id`` (general loop), in transaction order."""
        i, lo, hi = self.line_components[k]
        return [
            (0, t.id, value, payable)
            for t, _, value, payable in self.items[i].get(rep_id, ())
            if (lo is None or lo <= t.date) and (hi is None or t.date <= hi)
        ]

    def credit_generally(self) -> None:
        plan, start, end = self.plan, self.period.start, self.period.end
        currency = self.currency
        measures = plan.measures
        payable_when = plan.payable_when
        # Split the measures' filters (and payable_when) into cacheable and direct ones.
        cached_names: set[str] = set()
        direct: list[int] = []
        for i, m in enumerate(measures):
            if m.filter is None:
                continue
            if m.filter.names & _UNCACHEABLE:
                direct.append(i)
            else:
                cached_names |= m.filter.names
        payable_direct = payable_when is not None and bool(payable_when.names & _UNCACHEABLE)
        if payable_when is not None and not payable_direct:
            cached_names |= payable_when.names
        names = tuple(sorted(cached_names))
        getter: Callable[[Any], Any] | None = None
        if len(names) == 1:
            single = itemgetter(names[0])

            def getter(fields: Any) -> Any:
                return (single(fields),)

        elif names:
            getter = itemgetter(*names)
        cached_filters = [
            (i, m.filter.evaluate if m.filter else None)
            for i, m in enumerate(measures)
            if i not in direct
        ]
        payable_fn = payable_when.evaluate if payable_when else None

        def classify(fields: Any) -> tuple[bool, tuple[int, ...]]:
            payable = True
            if payable_fn is not None and not payable_direct:
                payable = bool(payable_fn(fields))
            passing = tuple(i for i, flt in cached_filters if flt is None or flt(fields))
            return payable, passing

        direct_filters = [(i, measures[i].filter.evaluate) for i in direct]  # type: ignore[union-attr]
        needs_amount = any(
            expr is not None and expr.names & {"amount", "amount_original"}
            for m in measures
            for expr in (m.filter, m.value)
        ) or (payable_when is not None and bool(payable_when.names & {"amount", "amount_original"}))
        fx_cache: dict[tuple[str, date], Decimal | None] = {}

        def fx_rate(t: Transaction) -> Decimal | None:
            key = (t.currency, t.date)
            if key not in fx_cache:
                found = self._fx_rate(t.currency, t.date)
                fx_cache[key] = found[1] if found else None
            rate = fx_cache[key]
            if rate is None:
                self._fail_fx(t)
            return rate

        cache: dict[Any, tuple[Any, ...]] = {}

        def classify_and_store(signature: Any, fields: Any) -> tuple[Any, ...]:
            payable, passing = classify(fields)
            flags = (payable, *(i in passing for i in range(len(measures))))
            if signature is not None and len(cache) < _CACHE_LIMIT:
                try:
                    cache[signature] = flags
                except TypeError:  # an unhashable field value: no caching
                    pass
            return flags

        fail = self._fail_evaluation

        namespace: dict[str, Any] = {
            "ONE": ONE,
            "ZERO": ZERO,
            "Decimal": Decimal,
            "_as_number": _as_number,
            "FAILURES": _FAILURES,
            "start": start,
            "end": end,
            "currency": currency,
            "fx_cache": fx_cache,
            "fx_rate": fx_rate,
            "cache": cache,
            "classify_and_store": classify_and_store,
            "getter": getter,
            "names": names,
            "fail": fail,
            "payable_fn": payable_fn,
        }
        for i, m in enumerate(measures):
            namespace[f"acc{i}"] = self.accumulators[i]
            namespace[f"items{i}"] = self.items.get(i)
            namespace[f"value{i}"] = m.value.evaluate if m.value else None
        for i, flt in direct_filters:
            namespace[f"filter{i}"] = flt
        source = _crediting_source(
            measures,
            direct={i for i, _ in direct_filters},
            line_measures=self.line_measures,
            needs_amount=needs_amount,
            cached=getter is not None,
            payable_direct=payable_direct,
        )
        exec(_compiled(source, f"<crediting {plan.id}>"), namespace)  # noqa: S102
        if getter is None:
            namespace["ALWAYS"] = classify_and_store(None, {})
        namespace["credit"](self.inputs.transactions)

    def _fail_transaction(self, t: Transaction, message: str, why: Reason | None = None) -> None:
        """Remember why a rep cannot be calculated: the first failing transaction by id, so
        the message never depends on the order transactions arrive in."""
        key = (natural_key(t.id), t.id)
        for rep_id, _ in t.credits:
            known = self.transaction_errors.get(rep_id)
            if known is None or key < known[0]:
                self.transaction_errors[rep_id] = (key, message, why)

    def _explain_transaction_failure(
        self, t: Transaction, fields: Any, exc: Exception
    ) -> tuple[str, Reason]:
        """The failure in English (logs, the command line) and as a reason (a reader's
        language): re-run the expressions one by one to name the one that failed."""
        plan = self.plan
        candidates: list[tuple[str, CompiledExpression, bool]] = []
        if plan.payable_when:
            candidates.append(("payable_when", plan.payable_when, False))
        for m in plan.measures:
            if m.filter:
                candidates.append((f"measure {m.id!r} filter", m.filter, False))
            if m.value:
                candidates.append((f"measure {m.id!r} value", m.value, True))
        for where, expr, numeric in candidates:
            try:
                value = evaluate_safely(expr, fields)
                if numeric:
                    _as_number(value)
            except _FAILURES as inner:
                return (
                    f"transaction {t.id}: {where}: {_describe(inner)}",
                    self._failed_transaction(t, inner, expr),
                )
        return f"transaction {t.id}: {_describe(exc)}", self._failed_transaction(t, exc, None)

    def _failed_transaction(
        self, t: Transaction, exc: Exception, expression: CompiledExpression | None
    ) -> Reason:
        return reason("error_transaction", transaction=t.id, cause=self._cause(exc, expression))

    # --- team scope -------------------------------------------------------------------------
    def subtree(self, rep_id: str) -> list[str]:
        """The rep and everyone below them, transitively (reps.csv forbids cycles)."""
        cached = self._subtrees.get(rep_id)
        if cached is not None:
            return cached
        out: list[str] = []
        stack = [rep_id]
        seen: set[str] = set()
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            out.append(current)
            stack.extend(self.children.get(current, ()))
        self._subtrees[rep_id] = out
        return out

    def stats(self, i: int, rep_id: str) -> Stats:
        if not self.team[i]:
            acc = self.accumulators[i].get(rep_id)
            return _NO_STATS if acc is None else (acc[0], acc[1], acc[2])
        key = (i, rep_id)
        cached = self._team_stats.get(key)
        if cached is None:
            total = count = payable = ZERO
            accumulators = self.accumulators[i]
            for member in self.subtree(rep_id):
                acc = accumulators.get(member)
                if acc is not None:
                    total += acc[0]
                    count += acc[1]
                    payable += acc[2]
            cached = self._team_stats[key] = (total, count, payable)
        return cached

    # --- the run ----------------------------------------------------------------------------
    def run(self, rep_ids: Collection[str] | None) -> PlanResult:
        self.credit_transactions()
        self.prepare_reps()
        results: list[RepResult] = []
        errors: list[RepError] = []
        wanted = None if rep_ids is None else set(rep_ids)
        assignments = _assignments_by_rep(self.inputs.assignments, self.plan.id)
        period_days = self.period_days
        for rep in sorted(self.inputs.reps, key=_ID):
            if wanted is not None and rep.id not in wanted:
                continue
            if assignments is None and rep.hire_date is None and rep.end_date is None:
                active = period_days  # what `_active_days` says then
            else:
                active = _active_days(self.period, rep, assignments)
            if active == 0:
                continue
            try:
                results.append(self.calculate_rep(rep, active))
            except RepFailure as exc:
                errors.append(RepError(rep.id, str(exc), exc.reason))
        return PlanResult(
            self.plan.id,
            self.period.id,
            self.currency,
            tuple(results),
            tuple(errors),
            self.explain_line,
            tuple(self.component_names.items()),
            tuple(self.measure_names.items()),
        )

    def prepare_reps(self) -> None:
        """What every rep reads, looked up once per run (after crediting)."""
        self.measure_plan = [
            (i, m.id, m.quota_key, self.team[i], m.id in self.quota_needed, self.accumulators[i])
            for i, m in enumerate(self.plan.measures)
        ]
        self.zero = self.round(ZERO)
        self.period_days = self.period.days
        self.has_payable_when = self.plan.payable_when is not None
        # tiered component id -> the starts of its tiers
        self.tier_starts = {c.id: tuple(t.start for t in c.tiers) for c in self.plan.components}
        self.tier_rates = {c.id: tuple(t.rate for t in c.tiers) for c in self.plan.components}

    def calculate_rep(self, rep: Rep, active_days: int) -> RepResult:
        if self.transaction_errors:
            self._check_transactions(rep)
        rep_id = rep.id
        ctx = _RepContext()
        totals, counts = ctx.totals, ctx.counts
        ctx_quotas, attainments = ctx.quotas, ctx.attainments
        measure_results: list[MeasureResult] = []
        quotas = self.inputs.quotas
        period_days = self.period_days
        prorate = active_days < period_days
        for i, measure_id, quota_key, team, needed, accumulators in self.measure_plan:
            if team:
                total, count, _ = self.stats(i, rep_id)
            else:
                acc = accumulators.get(rep_id)
                if acc is None:
                    total = count = ZERO
                else:
                    total = acc[0]
                    count = acc[1]
            totals[measure_id] = total
            counts[measure_id] = count
            raw_quota = quotas.get((rep_id, quota_key))
            quota = attainment = None
            if raw_quota is None:
                if needed:
                    raise RepFailure(
                        f"no quota for measure {measure_id!r}{_keyed(measure_id, quota_key)} "
                        f"in {self.period.id}",
                        reason(
                            "error_no_quota",
                            measure=self.measure_names[measure_id],
                            period=self.period.id,
                        ),
                    )
            elif raw_quota <= 0:
                if needed:
                    word = "0" if raw_quota == 0 else f"negative ({raw_quota})"
                    raise RepFailure(
                        f"quota for measure {measure_id!r}{_keyed(measure_id, quota_key)} "
                        f"in {self.period.id} is {word}",
                        reason(
                            "error_quota_not_positive",
                            measure=self.measure_names[measure_id],
                            period=self.period.id,
                            quota=raw_quota,
                        ),
                    )
                quota = raw_quota
            else:
                quota = raw_quota * active_days / period_days if prorate else raw_quota
                attainment = total / quota
                ctx_quotas[measure_id] = quota
                attainments[measure_id] = attainment
            measure_results.append(
                _new_tuple(MeasureResult, (measure_id, total, count, quota, attainment))
            )

        components: list[ComponentResult] = []
        lines: list[Line] = []
        amounts = ctx.components
        quantum = self.quantum
        has_payable_when = self.has_payable_when
        uncapped = payable_sum = ZERO
        for c in self.plan.components:
            # A component (inlined: this runs for every component of every rep).
            try:
                gate = c.gate
                gate_open = True if gate is None else bool(evaluate_safely(gate, ctx))
                component_lines: list[Line] = []
                base: tuple[Decimal, Decimal] | None = None  # (V, P) for payable_when
                kind = c.type
                if kind == "rate":
                    raw, base, component_lines, explain = self._rate(c, rep)
                elif kind == "tiered":
                    raw, base, explain = self._tiered(c, rep, ctx)
                elif kind == "bonus":
                    raw, explain = self._bonus(c, rep, ctx)
                elif gate_open:
                    assert c.expression is not None
                    raw = _as_number(evaluate_safely(c.expression, ctx))
                    explain = _formula_explainer(self, c.expression, raw)
                else:
                    raw, explain = ZERO, _nothing
                amount = raw if gate_open else ZERO
                capped_from = None
                cap = c.cap
                if cap is not None and amount > cap:
                    capped_from, amount = amount, cap
                rounded = amount.quantize(quantum, ROUND_HALF_UP)
                if component_lines and (not gate_open or amount is not raw):
                    component_lines = self._scale_lines(component_lines, raw, amount, gate_open)
                payable = rounded
                payable_share: tuple[Decimal, Decimal] | None = None
                if base is not None and has_payable_when:
                    value, payable_value = base
                    if value != 0 and payable_value != value:
                        payable = (rounded * payable_value / value).quantize(quantum, ROUND_HALF_UP)
                        payable_share = (payable_value, value)
                explainer = partial(
                    _render_component,
                    self,
                    c,
                    explain,
                    gate_open,
                    capped_from,
                    rounded,
                    payable,
                    payable_share,
                )
                result = (c.id, kind, rounded, payable, rounded - payable, explainer)
            except EvaluationError as exc:
                raise RepFailure(f"component {c.id!r}: {exc}", self._failed(c, exc)) from None
            except _FAILURES as exc:
                raise RepFailure(
                    f"component {c.id!r}: {_describe(exc)}", self._failed(c, exc)
                ) from None
            components.append(_new_tuple(ComponentResult, result))
            amounts[c.id] = rounded
            uncapped += rounded
            payable_sum += payable
            if component_lines:
                lines.extend(component_lines)
        return self._rep_total(
            rep, active_days, measure_results, components, lines, uncapped, payable_sum
        )

    def _failed(self, c: Component, exc: Exception) -> Reason:
        """Why component ``c`` failed for a rep, for the reader's language: what went wrong
        (`expressions.problem_of`) and in which of the plan's expressions, when one (a
        formula's value that is not a number: the formula's)."""
        expression = getattr(exc, "expression", None)
        if expression is None and problem_of(exc) == "not_numeric":
            expression = c.expression
        return reason(
            "error_component",
            component=self.component_names[c.id],
            cause=self._cause(exc, expression),
        )

    def _cause(self, exc: Exception, expression: CompiledExpression | None) -> Reason:
        """What went wrong (`expressions.problem_of`), in ``expression`` when known."""
        problem = problem_of(exc)
        if expression is None:
            return reason(f"error_{problem}")
        return reason(
            f"error_{problem}_in",
            expression=expression.source,
            names=self.expression_names(expression),
        )

    def _check_transactions(self, rep: Rep) -> None:
        errors = self.transaction_errors
        if not errors:
            return
        failure = errors.get(rep.id)
        if failure:
            raise RepFailure(failure[1], failure[2])
        if self.plan.has_team_scope:
            for member in self.subtree(rep.id)[1:]:
                failure = errors.get(member)
                if failure:
                    why = failure[2]
                    raise RepFailure(
                        f"team member {member!r}: {failure[1]}",
                        None
                        if why is None
                        else reason("error_team_member", rep=self._rep_label(member), cause=why),
                    )

    def _scale_lines(
        self, lines: list[Line], raw: Decimal, amount: Decimal, gate_open: bool
    ) -> list[Line]:
        if not gate_open:
            return [line._replace(amount=ZERO, note="line_gate_closed") for line in lines]
        if amount != raw and raw != 0:
            factor = amount / raw
            return [
                line._replace(amount=line.amount * factor, note="line_capped") for line in lines
            ]
        return lines

    def _rate(
        self, c: Component, rep: Rep
    ) -> tuple[Decimal, tuple[Decimal, Decimal], list[Line], Callable[[], list[Reason]]]:
        assert c.rate is not None
        rate = c.rate
        lines: list[Line] = []
        total = payable_total = ZERO
        cid, earner = c.id, rep.id
        k, team = self.line_plan[cid]
        if not team:
            own = self.own_lines.get(k)
            if own is not None:
                found = own.get(earner)
                if found:
                    lines = found
                    known = self.own_line_totals.get(k)
                    if known is not None:
                        total = known[0][earner]
                        payable_total = known[1].get(earner, ZERO)
                    else:  # what the loop below adds up, by C-level maps
                        own_values = list(map(_LINE_VALUE, lines))
                        total = sum(own_values, ZERO)
                        payable_total = sum(compress(own_values, map(_LINE_PAYABLE, lines)), ZERO)
                raw = total * rate
                explain = partial(_explain_rate, self, c, total, raw)
                return raw, (total, payable_total), lines, explain
            items = self.line_items(k, earner)
            if items:
                # The loop below, by C-level maps: the rep's own lines, in the items' order.
                _, ids, values, payables = zip(*items, strict=True)
                total = sum(values, ZERO)
                payable_total = sum(compress(values, payables), ZERO)
                amounts = map(mul, values, repeat(rate))
                lines = list(
                    map(
                        _as_line,
                        zip(
                            repeat(cid),
                            ids,
                            repeat(""),
                            values,
                            repeat(rate),
                            amounts,
                            repeat(""),
                            payables,
                        ),
                    )
                )
                if len(lines) > 1 and not self.line_items_sorted:
                    lines.sort(key=_line_order)
            raw = total * rate
            return raw, (total, payable_total), lines, partial(_explain_rate, self, c, total, raw)
        members = self.subtree(earner)
        append = lines.append
        for member in members:
            credited_rep = "" if member == earner else member
            for _, transaction_id, value, payable in self.line_items(k, member):
                total += value
                if payable:
                    payable_total += value
                line = (cid, transaction_id, credited_rep, value, rate, value * rate, "", payable)
                append(_new_tuple(Line, line))
        if len(lines) > 1 and (len(members) > 1 or not self.line_items_sorted):
            lines.sort(key=_line_order)
        raw = total * rate
        return raw, (total, payable_total), lines, partial(_explain_rate, self, c, total, raw)

    def _tiered(
        self, c: Component, rep: Rep, ctx: _RepContext
    ) -> tuple[Decimal, tuple[Decimal, Decimal], Callable[[], list[Reason]]]:
        assert c.measure is not None
        i = self.measure_index[c.measure]
        if self.team[i]:
            total, _, payable_total = self.stats(i, rep.id)
        else:  # what `stats` says then
            acc = self.accumulators[i].get(rep.id)
            total, payable_total = (ZERO, ZERO) if acc is None else (acc[0], acc[2])
        tiers = c.tiers
        starts, rates = self.tier_starts[c.id], self.tier_rates[c.id]
        if c.basis == "attainment":
            quota = ctx.quotas[c.measure]
            bounds = list(map(mul, starts, repeat(quota)))
        else:
            bounds = list(starts)
        # (tier index, rate, the slice of T it applies to)
        slices: list[tuple[int, Decimal, Decimal]] = []
        if total <= 0:
            raw = total * rates[0]
            slices.append((0, rates[0], total))
        elif c.method == "marginal":
            raw = ZERO
            last = len(rates) - 1
            for k, rate in enumerate(rates):
                if k == last:
                    top = total
                else:
                    upper = bounds[k + 1]
                    top = upper if upper < total else total  # min(total, upper)
                width = top - bounds[k]
                if width <= 0:
                    break
                raw += rate * width
                slices.append((k, rate, width))
        else:
            k = 0
            for j, bound in enumerate(bounds):
                if bound <= total:
                    k = j
            raw = total * tiers[k].rate
            slices.append((k, tiers[k].rate, total))
        retroactive = c.method == "retroactive" and total > 0
        attained = None
        if c.basis == "attainment":
            attained = (total, ctx.quotas[c.measure], ctx.attainments[c.measure])
        explain = partial(
            _explain_tiers, self, c, rep.id, self.labels[c.id], slices, retroactive, attained
        )
        return raw, (total, payable_total), explain

    def _tier_labels(self, c: Component) -> list[Reason]:
        """Per tier, the band it covers (a reason, put into words when read)."""
        tiers = c.tiers
        count = c.measure is not None and self.plan.measure(c.measure).is_count
        labels: list[Reason] = []
        for i, tier in enumerate(tiers):
            upper = tiers[i + 1].start if i + 1 < len(tiers) else None
            kind = "band_quota" if c.basis == "attainment" else "band_amount"
            if upper is None:
                labels.append(reason(f"{kind}_top", lo=tier.start, count=count))
            else:
                labels.append(reason(kind, lo=tier.start, hi=upper, count=count))
        return labels

    def expression_names(self, expr: CompiledExpression) -> tuple[tuple[str, str], ...]:
        """The display names of what ``expr`` refers to, for putting it into words."""
        found = self._names.get(expr.source)
        if found is None:
            pairs = {
                ref: self.component_names.get(ref, ref)
                if fn == "component"
                else self.measure_names.get(ref, ref)
                for fn, ref in expr.references
            }
            found = self._names[expr.source] = tuple(sorted(pairs.items()))
        return found

    def _bonus(
        self, c: Component, rep: Rep, ctx: _RepContext
    ) -> tuple[Decimal, Callable[[], list[Reason]]]:
        if c.condition is not None:
            amount = c.amount
            assert amount is not None
            condition = c.condition
            if evaluate_safely(condition, ctx):
                return amount, lambda: [
                    (
                        "condition_met",
                        (
                            ("amount", amount),
                            ("condition", condition.source),
                            ("names", self.expression_names(condition)),
                        ),
                    )
                ]
            return ZERO, lambda: [
                reason(
                    "condition_unmet",
                    condition=condition.source,
                    names=self.expression_names(condition),
                )
            ]
        assert c.measure is not None
        attainment = ctx.attainments[c.measure]
        measure = self.measure_names[c.measure]
        step = None
        for s in c.steps:
            if s.at <= attainment:
                step = s
        if step is None:
            first = c.steps[0].at
            return ZERO, lambda: [
                *self.conversions(c.measure or "", rep.id),
                (
                    "below_step",
                    (("at", first), ("attainment", attainment), ("measure", measure)),
                ),
            ]
        reached = step
        return reached.amount, lambda: [
            *self.conversions(c.measure or "", rep.id),
            (
                "step",
                (
                    ("amount", reached.amount),
                    ("at", reached.at),
                    ("attainment", attainment),
                    ("measure", measure),
                ),
            ),
        ]

    def _rep_total(
        self,
        rep: Rep,
        active_days: int,
        measures: list[MeasureResult],
        components: list[ComponentResult],
        lines: list[Line],
        uncapped: Decimal,
        payable_sum: Decimal,
    ) -> RepResult:
        """The rep's result; ``uncapped`` and ``payable_sum`` are ZERO + the components'
        amounts and payable amounts, in order."""
        cap = self.plan.cap
        zero = self.zero
        capped = cap is not None and cap < uncapped
        if capped:
            assert cap is not None
            total = self.round(cap)
            adjustment = total - uncapped
            payable = self.round(payable_sum * total / uncapped)
        else:
            total, adjustment, payable = uncapped + zero, zero, payable_sum + zero
        period_days = self.period_days
        explain = partial(
            _explain_rep, self, components, active_days, period_days, capped, total, uncapped
        )
        result = (
            rep.id,
            self.currency,
            total,
            payable,
            total - payable,
            adjustment,
            active_days,
            period_days,
            tuple(measures),
            tuple(components),
            tuple(lines),
            explain,
        )
        return _new_tuple(RepResult, result)

    def round(self, amount: Decimal) -> Decimal:
        """`round_money` in the plan currency, its quantum looked up once per run."""
        return amount.quantize(self.quantum, rounding=ROUND_HALF_UP)

    # --- explaining (when read) ---------------------------------------------------------------
    def conversions(self, measure_id: str, rep_id: str) -> list[Reason]:
        """How the transactions in another currency that ``rep_id`` is credited with in measure
        ``measure_id`` were converted (the first `_MAX_CONVERSIONS`, then how many more): a
        tiered or bonus component has no lines to say it. The index is built in one pass over
        the transactions, when first asked for."""
        i = self.measure_index[measure_id]
        if self.plan.measures[i].is_count:
            return []
        # the components on one measure (a commission and its quota club) list the same
        # conversions: built once, the same reasons (read-only) for each
        known = self._conversion_reasons.get((i, rep_id))
        if known is not None:
            return known
        index = self._converted.get(i)
        if index is None:
            index = self._converted[i] = self._converted_transactions(i)
        found = index.get(rep_id, [])
        out = [self._conversion(t, True) for t in found[:_MAX_CONVERSIONS]]
        if len(found) > _MAX_CONVERSIONS:
            out.append(reason("fx_more", count=len(found) - _MAX_CONVERSIONS))
        self._conversion_reasons[(i, rep_id)] = out
        return out

    def _converted_transactions(self, i: int) -> dict[str, list[Transaction]]:
        """Measure ``i``'s transactions in another currency by credited rep, each rep's in
        the natural order of their ids."""
        currency = self.currency
        condition = self.plan.measures[i].filter
        out: defaultdict[str, list[Transaction]] = defaultdict(list)
        # Whether a transaction is listed (and at which rate) is decided by its currency, its
        # day and, for a filter that reads only low-cardinality fields, their values: decided
        # once per distinct (currency, day, values), as crediting does, not once per
        # transaction in another currency.
        names = sorted(condition.names) if condition is not None else []
        cacheable = condition is None or not condition.names & _UNCACHEABLE
        values_of = itemgetter(*names) if names else _NO_VALUES
        own = "rep_id" in names  # read from the transaction's fields, not its kind
        verdicts: dict[Any, tuple[date, Decimal] | None] = {}
        converted_at = self._converted_at
        for t in self.inputs.transactions:
            if t.currency == currency:
                continue
            if cacheable:
                read = t.fields if own else t.kind
                try:
                    key: Any = (t.currency, t.date, values_of(read))
                except KeyError:  # a field missing (not the same as None)
                    key = (t.currency, t.date, _MISSING, *[read.get(n, _MISSING) for n in names])
                try:
                    found = verdicts[key]
                except KeyError:
                    found = converted_at(t, condition)
                    if len(verdicts) < _CACHE_LIMIT:
                        verdicts[key] = found
                except TypeError:  # an unhashable field value
                    found = converted_at(t, condition)
            else:
                found = converted_at(t, condition)
            if found is None:
                continue
            if t.sole_credit:
                out[t.rep_id].append(t)
            else:
                for rep_id, _ in t.credits:
                    out[rep_id].append(t)
        # in natural order (`natural_key`): which is the ids' order as text when they are all
        # one stem and one length (`T0001`, `T0002`, ...), as a CRM's usually are; a key
        # made for each of a close chunk's 50,000 listed transactions took 30 ms a chunk
        ids = list(map(_ID, chain.from_iterable(out.values())))
        uniform = (
            len(set(map(len, ids))) <= 1 and len(set(map(str.rstrip, ids, repeat(_DIGITS)))) <= 1
        )
        order = _ID if uniform else _transaction_order
        for listed in out.values():
            listed.sort(key=order)
        return out

    def _converted_at(
        self, t: Transaction, condition: CompiledExpression | None
    ) -> tuple[date, Decimal] | None:
        """The (date, rate) ``t`` (in another currency) is converted at in a measure with
        ``condition`` (its filter): None when it is not (outside the period, no rate, or the
        filter fails on it, its amount converted)."""
        if t.date < self.period.start or t.date > self.period.end:
            return None
        found = self._fx_rate(t.currency, t.date)
        if found is None or condition is None:
            return found
        fields = t.fields
        fields["amount"] = t.amount * found[1]
        try:
            passes = bool(evaluate_safely(condition, fields))
        except _FAILURES:
            passes = False
        return found if passes else None

    def _fx_rate(self, currency: str, day: date) -> tuple[date, Decimal] | None:
        """`FxTable.rate`, each (currency, day) looked up once per run."""
        key = (currency, day)
        try:
            return self._rates[key]
        except KeyError:
            found = self._rates[key] = self.inputs.fx.rate(currency, day)
            return found

    def _conversion(self, t: Transaction, named: bool) -> Reason:
        # `reason`'s parameters in its (alphabetical) order, built directly: a close builds
        # one for each of a rep's first conversions, the first three (day, currency, rate)
        # the same objects for every transaction converted on that day. The converted amount
        # (t.amount * rate) is derived when read (`explanations._DERIVED`): stored, it would
        # double the text.
        key = (t.currency, t.date)
        head = self._conversion_heads.get(key)
        if head is None:
            # asked only for a transaction found converted: its rate looked up then
            found = self._rates[key]
            assert found is not None
            day, rate = found
            head = self._conversion_heads[key] = (
                ("day", day),
                ("fx_currency", t.currency),
                ("fx_rate", rate),
            )
        # the head's pairs joined to the transaction's (a tuple's concatenation: no list made
        # on the way, as a starred tuple display makes)
        if named:
            return "fx_transaction", head + (("original", t.amount), ("transaction", t.id))
        return "fx", head + (("original", t.amount),)

    def _rep_label(self, rep_id: str) -> str:
        """A rep as a reader knows them: 'Ben Ray (ben)', or the id when nameless."""
        names = self._rep_names
        if names is None:
            names = self._rep_names = {r.id: r.name for r in self.inputs.reps}
        name = names.get(rep_id)
        return f"{name} ({rep_id})" if name and name != rep_id else rep_id

    # --- explaining a line (when read) ---------------------------------------------------------
    def _transactions_by_id(self) -> dict[str, Transaction]:
        """The run's transactions by id (the first of an id), built when first asked for."""
        transactions = self._transactions
        if transactions is None:
            # (a stored line's is handed to `explain_line` instead: a close's chunk built
            # this map of its 230,000 for 29,000 lines)
            transactions = self._transactions = by_id(self.inputs.transactions)
        return transactions

    def explain_line(
        self, earner: str, line: Line, transaction: Transaction | None = _LOOK_UP
    ) -> tuple[Reason, ...]:
        """The reasons of one of ``earner``'s lines (`results.LineExplainer`): the rate and the
        measure, whose credit it is when not the earner's, the FX conversion of a transaction
        in another currency, the share of a split, a closed gate or a cap. ``transaction``:
        the line's, when the caller has it at hand (None: there is none), else looked up in
        the run's."""
        t = (
            self._transactions_by_id().get(line.transaction_id)
            if transaction is _LOOK_UP
            else transaction
        )
        plain = (
            not line.rep_id
            and t is not None
            and t.sole_credit
            and t.currency == self.currency
            and line.rate is self.components_by_id[line.component].rate
        )
        key = (line.component, line.note)
        if plain:
            known = self._plain_line_reasons.get(key)
            if known is not None:
                return known
        c = self.components_by_id[line.component]
        assert c.measure is not None
        count = self.plan.measure(c.measure).is_count
        # at the component's rate, the first reason is the same for each of its lines: one
        # object (encoded once when stored: `explanations.encode_each`)
        head = self._line_heads.get(c.id) if line.rate is c.rate else None
        if head is None:
            head = reason(
                "line_count" if count else "line",
                component=self.component_names[c.id],
                rate=line.rate,
                measure=self.measure_names[c.measure],
            )
            if line.rate is c.rate:
                self._line_heads[c.id] = head
        out = [head]
        if line.rep_id:
            out.append(reason("credited_to", rep=self._rep_label(line.rep_id)))
        if t is not None and not plain:
            credited = line.rep_id or earner
            if (
                not count
                and t.currency != self.currency
                and self._fx_rate(t.currency, t.date) is not None
            ):
                out.append(self._conversion(t, False))
            share = next((s for r, s in t.credits if r == credited), ONE)
            if share != ONE:
                out.append(reason("share", share=share))
        if line.note:
            out.append(reason(line.note))
        reasons = tuple(out)
        if plain:
            self._plain_line_reasons[key] = reasons
        return reasons


# --- the generated crediting loop -----------------------------------------------------------


def _crediting_source(
    measures: Sequence[Any],
    *,
    direct: set[int],
    line_measures: set[int],
    needs_amount: bool,
    cached: bool,
    payable_direct: bool,
) -> str:
    """Python source of a crediting loop specialised to one plan: one block per measure, no
    branches for features the plan does not use. Only names from the namespace built in
    `credit_transactions` are used; no document text reaches this source."""
    n = len(measures)
    flags = ", ".join(["payable", *(f"p{i}" for i in range(n))])
    out = [
        "def credit(transactions):",
        "    for t in transactions:",
        "        day = t.date",
        "        if day < start or day > end:",
        "            continue",
        "        fields = t.fields",
        "        amount = t.amount",
        "        if t.currency != currency:",
        "            rate = fx_cache.get((t.currency, day))",
        "            if rate is None:",
        "                rate = fx_rate(t)",
        "                if rate is None:",
        "                    continue",
        "            amount = amount * rate",
    ]
    if needs_amount:
        out.append("            fields = {**fields, 'amount': amount, 'amount_original': t.amount}")
    out.append("        try:")
    if cached:
        out += [
            "            try:",
            "                signature = getter(fields)",
            "            except KeyError:",
            "                signature = tuple([fields.get(name) for name in names])",
            "            try:",
            "                found = cache.get(signature)",
            "            except TypeError:",
            "                found = None",
            "                signature = None",
            "            if found is None:",
            "                found = classify_and_store(signature, fields)",
            f"            {flags}, = found",
        ]
    else:
        out.append(f"            {flags}, = ALWAYS")
    if payable_direct:
        out.append("            payable = bool(payable_fn(fields))")
    out.append("            credits = t.credits")
    for i, m in enumerate(measures):
        condition = f"filter{i}(fields)" if i in direct else f"p{i}"
        out.append(f"            if {condition}:")
        if m.is_count:
            out.append("                value = ONE")
        elif m.value is None:
            out.append("                value = amount")
        else:
            out += [
                f"                value = value{i}(fields)",
                "                if type(value) is not Decimal:",
                "                    value = _as_number(value)",
            ]
        out += [
            "                for rep_id, share in credits:",
            "                    credited = value if share is ONE else value * share",
            f"                    acc = acc{i}.get(rep_id)",
            "                    if acc is None:",
            # The payable total always starts at ZERO: starting at the first payable value
            # would make the sign of a -0.00 total depend on the order of the transactions.
            f"                        acc{i}[rep_id] = [credited, share, "
            "ZERO + credited if payable else ZERO]",
            "                    else:",
            "                        acc[0] += credited",
            "                        acc[1] += share",
            "                        if payable:",
            "                            acc[2] += credited",
        ]
        if i in line_measures:
            out += [
                f"                    bucket = items{i}.get(rep_id)",
                "                    if bucket is None:",
                f"                        items{i}[rep_id] = [(t, rep_id, credited, payable)]",
                "                    else:",
                "                        bucket.append((t, rep_id, credited, payable))",
            ]
    out += [
        "        except FAILURES as exc:",
        "            fail(t, fields, exc)",
    ]
    return "\n".join(out) + "\n"


# --- explanations (rendered on demand) ------------------------------------------------------


def _keyed(measure_id: str, quota_key: str) -> str:
    """How an error names a quota read under another key than its measure's id."""
    return "" if quota_key == measure_id else f" (quota {quota_key!r})"


def _nothing() -> list[Reason]:
    return []


def _explain_rep(
    calc: _Calculation,
    components: list[ComponentResult],
    active_days: int,
    period_days: int,
    capped: bool,
    total: Decimal,
    uncapped: Decimal,
) -> tuple[Reason, ...]:
    names = calc.component_names
    out = [component_reason(names[c.id], c.amount) for c in components]
    if active_days < period_days:
        out.append(reason("prorated", active=active_days, days=period_days))
    if capped:
        out.append(reason("plan_cap", total=total, uncapped=uncapped, adjustment=total - uncapped))
    return tuple(out)


# The reasons made for every rep (a dozen a person in a close: rate, window, attainment, tiers,
# steps, a condition, rounding, payable) are written as the tuples `reason` returns, their
# parameters in order of name, rather than through it: sorting its keywords was 0.6 us a
# reason. A test holds them in that order (tests/domain/engine/test_explanations.py).
def _explain_rate(calc: _Calculation, c: Component, total: Decimal, raw: Decimal) -> list[Reason]:
    assert c.rate is not None
    assert c.measure is not None
    count = calc.plan.measure(c.measure).is_count
    measure = calc.measure_names[c.measure]
    out: list[Reason] = [
        (
            "rate_count" if count else "rate",
            (("measure", measure), ("rate", c.rate), ("raw", raw), ("total", total)),
        )
    ]
    if c.window:
        out.append(("window", (("end", c.window.end), ("start", c.window.start))))
    return out


def _explain_tiers(
    calc: _Calculation,
    c: Component,
    rep_id: str,
    labels: list[Reason],
    slices: list[tuple[int, Decimal, Decimal]],
    retroactive: bool,
    attained: tuple[Decimal, Decimal, Decimal] | None,
) -> list[Reason]:
    assert c.measure is not None
    count = calc.plan.measure(c.measure).is_count
    out: list[Reason] = []
    if attained is not None:
        total, quota, attainment = attained
        out.append(
            (
                "attainment",
                (
                    ("attainment", attainment),
                    ("count", count),
                    ("measure", calc.measure_names[c.measure]),
                    ("quota", quota),
                    ("total", total),
                ),
            )
        )
    out.extend(calc.conversions(c.measure, rep_id))
    key = "tier_retroactive" if retroactive else "tier"
    chosen = slices[:1] if retroactive else slices
    out.extend(
        (
            key,
            (
                ("band", labels[k]),
                ("count", count),
                ("rate", rate),
                ("tier", k + 1),
                ("width", width),
            ),
        )
        for k, rate, width in chosen
    )
    return out


def _formula_explainer(
    calc: _Calculation, expression: CompiledExpression, raw: Decimal
) -> Callable[[], list[Reason]]:
    return lambda: [
        reason(
            "formula",
            expression=expression.source,
            names=calc.expression_names(expression),
            amount=raw,
        )
    ]


def _render_component(
    calc: _Calculation,
    c: Component,
    explain: Callable[[], list[Reason]],
    gate_open: bool,
    capped_from: Decimal | None,
    rounded: Decimal,
    payable: Decimal,
    payable_share: tuple[Decimal, Decimal] | None,
) -> tuple[Reason, ...]:
    """A component's reasons (bound with `functools.partial`, built when read)."""
    out: list[Reason] = []
    if not gate_open:
        assert c.gate is not None
        out.append(
            reason("gate_closed", condition=c.gate.source, names=calc.expression_names(c.gate))
        )
    out.extend(explain())
    if capped_from is not None:
        assert c.cap is not None
        out.append(reason("capped", cap=c.cap, raw=capped_from))
    if c.line_based and gate_open:
        out.append(("rounded_once", (("amount", rounded),)))
    if payable_share is not None:
        payable_when = calc.plan.payable_when
        assert payable_when is not None
        assert c.measure is not None
        part, whole = payable_share
        out.append(
            (
                "payable",
                (
                    ("condition", payable_when.source),
                    ("count", calc.plan.measure(c.measure).is_count),
                    ("names", ()),
                    ("part", part),
                    ("payable", payable),
                    ("whole", whole),
                ),
            )
        )
    return tuple(out)


# --- helpers --------------------------------------------------------------------------------


def _as_number(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    raise EvaluationError(f"expected a number, got {value!r}", problem="not_numeric")


def _describe(exc: BaseException) -> str:
    """An engine failure in words for a person (never a class repr such as
    ``[<class 'decimal.InvalidOperation'>]``, which is what str() of a decimal signal gives)."""
    if isinstance(exc, ZeroDivisionError | DivisionByZero) or "Division" in repr(exc):
        return "division by zero"
    if isinstance(exc, Overflow):
        return "a number too large to calculate with"
    if isinstance(exc, InvalidOperation):
        return "a calculation with a number too large or not a number"
    if isinstance(exc, ArithmeticError):
        return "a calculation that has no result"
    text = str(exc)
    return quoted(text)[1:-1] if text else "an error in the calculation"


_DIGITS = "0123456789"
# At most this many converted transactions are explained per component (then how many more)
_MAX_CONVERSIONS = 10
_MISSING = object()  # a field a transaction does not have (not the same as None)


def _NO_VALUES(_: object) -> tuple[()]:  # noqa: N802 - stands for an itemgetter of no names
    return ()


def _transaction_order(t: Transaction) -> tuple[str, int, str]:
    return natural_key(t.id)


def _line_order(line: Line) -> tuple[str, int, str, str]:
    stem = line.transaction_id.rstrip(_DIGITS)
    return (stem, len(line.transaction_id) - len(stem), line.transaction_id, line.rep_id)


def _assignments_by_rep(
    assignments: Sequence[Assignment] | None, plan_id: str
) -> dict[str, list[Assignment]] | None:
    if assignments is None:
        return None
    out: dict[str, list[Assignment]] = {}
    for a in assignments:
        if a.plan_id == plan_id:
            out.setdefault(a.rep_id, []).append(a)
    return out


def _active_days(period: Period, rep: Rep, assignments: dict[str, list[Assignment]] | None) -> int:
    """Days of the period within the rep's employment and (the union of) their assignments."""
    lo = max(period.start, rep.hire_date) if rep.hire_date else period.start
    hi = min(period.end, rep.end_date) if rep.end_date else period.end
    if hi < lo:
        return 0
    if assignments is None:
        return (hi - lo).days + 1
    spans: list[tuple[date, date]] = []
    for a in assignments.get(rep.id, ()):
        start = max(lo, a.start) if a.start else lo
        end = min(hi, a.end) if a.end else hi
        if start <= end:
            spans.append((start, end))
    spans.sort()
    days = 0
    covered_until: date | None = None
    for start, end in spans:
        if covered_until is not None and start <= covered_until:
            if end <= covered_until:
                continue  # covered already (and covered_until + 1 day may not exist: 9999-12-31)
            start = covered_until + timedelta(days=1)
        if start <= end:
            days += (end - start).days + 1
            covered_until = end if covered_until is None else max(covered_until, end)
    return days


@lru_cache(maxsize=256)
def _compiled(source: str, name: str) -> CodeType:
    """Generated crediting code, compiled once per process and source text (the same plan
    calculated rep by rep, as a worker does, compiles nothing after the first)."""
    return compile(source, name, "exec")
