"""Plan documents (PLAN_SPEC section 1): parse, validate with key paths, compile once."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import yaml

from domain.kit.documents import DocumentError, check_depth, loads_json, unstorable_path
from domain.kit.errors import InvalidInput, PlanError, quoted
from domain.kit.expressions import CompiledExpression, compile_expression
from domain.kit.money import is_currency, not_a_currency
from domain.kit.numbers import PLAN_DECIMALS, PLAN_INTEGER_DIGITS, parse_decimal
from domain.kit.periods import (
    FIRST_DAY,
    LAST_DAY,
    PERIOD_KINDS,
    PeriodKind,
    check_day,
    parse_date,
)

_ID = re.compile(r"[a-z0-9_-]{1,100}")
MAX_QUOTA_KEY = 100  # quotas.measure is VARCHAR(100)
_REP_FUNCTIONS = {
    "total": "totals",
    "quota": "quotas",
    "attainment": "attainments",
    "count": "counts",
    "component": "components",
}


@dataclass(frozen=True, slots=True)
class Measure:
    id: str
    filter: CompiledExpression | None
    value: CompiledExpression | None  # None: the converted `amount`
    is_count: bool
    scope: Literal["self", "team"]
    name: str | None = None  # the display name, if the document gives one
    # the quota this measure's attainment is read against: the quotas given for this key
    # (`quota: "bookings[category=heat_pump]"`, a target broken down by a transaction field),
    # None: the quotas given for the measure's own id (PLAN_SPEC section 4)
    quota: str | None = None

    @property
    def quota_key(self) -> str:
        return self.id if self.quota is None else self.quota


@dataclass(frozen=True, slots=True)
class Tier:
    start: Decimal  # the tier's `from`
    rate: Decimal


@dataclass(frozen=True, slots=True)
class Window:
    start: date
    end: date


@dataclass(frozen=True, slots=True)
class Step:
    at: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Component:
    id: str
    type: Literal["rate", "tiered", "bonus", "formula"]
    gate: CompiledExpression | None = None
    cap: Decimal | None = None
    measure: str | None = None
    rate: Decimal | None = None
    window: Window | None = None
    tiers: tuple[Tier, ...] = ()
    basis: Literal["attainment", "amount"] = "attainment"
    method: Literal["marginal", "retroactive"] = "marginal"
    condition: CompiledExpression | None = None
    amount: Decimal | None = None
    steps: tuple[Step, ...] = ()
    expression: CompiledExpression | None = None
    name: str | None = None  # the display name, if the document gives one

    @property
    def line_based(self) -> bool:
        """Components that explain themselves per transaction in `lines`."""
        return self.type == "rate"

    @property
    def expressions(self) -> tuple[CompiledExpression, ...]:
        return tuple(e for e in (self.gate, self.condition, self.expression) if e is not None)


@dataclass(frozen=True, slots=True)
class Plan:
    id: str
    name: str
    currency: str
    period: PeriodKind
    measures: tuple[Measure, ...]
    components: tuple[Component, ...]
    payable_when: CompiledExpression | None = None
    cap: Decimal | None = None
    document: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def measure(self, measure_id: str) -> Measure:
        for m in self.measures:
            if m.id == measure_id:
                return m
        raise KeyError(measure_id)

    def measure_name(self, measure_id: str) -> str:
        """What a reader calls the measure: its `name`, else its id made readable."""
        return display_name(self.measure(measure_id).name, measure_id)

    def component_name(self, component_id: str) -> str:
        """What a reader calls the component: its `name`, else its id made readable."""
        for c in self.components:
            if c.id == component_id:
                return display_name(c.name, component_id)
        raise KeyError(component_id)

    @property
    def quota_measures(self) -> frozenset[str]:
        """Measures whose quota a rep must have: using them without one is an error, never 0."""
        needed: set[str] = set()
        for c in self.components:
            if c.type == "tiered" and c.basis == "attainment" or c.type == "bonus" and c.steps:
                assert c.measure is not None
                needed.add(c.measure)
            for expr in c.expressions:
                needed.update(m for fn, m in expr.references if fn in ("quota", "attainment"))
        return frozenset(needed)

    @property
    def has_team_scope(self) -> bool:
        return any(m.scope == "team" for m in self.measures)


def display_name(name: str | None, identifier: str) -> str:
    """A display name, else the id made readable ('quota_club' -> 'Quota club')."""
    if name:
        return name
    words = identifier.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:]


# --- loading -------------------------------------------------------------------------------


MAX_PLAN_CHARACTERS = 128 * 1024  # a plan of a hundred components is 20 KiB
MAX_DEPTH = 32  # nesting of a plan document: plans are 5 deep; more is hostile

if yaml.__with_libyaml__:
    # libyaml scans and parses ~6x faster than PyYAML's Python scanner (a 128 KiB flow list:
    # 0.35 s instead of 1.8 s); the composing below stays in Python, where it is checked
    from yaml._yaml import CParser as _EventSource
else:  # pragma: no cover - PyYAML's wheels ship libyaml

    class _EventSource(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)


class _PlanLoader(
    yaml.composer.Composer, _EventSource, yaml.constructor.SafeConstructor, yaml.resolver.Resolver
):
    """YAML with exact decimals (a float literal becomes Decimal from its text), no duplicate
    keys (silently keeping the last one would hide a typo in a money document), keys that are
    text or numbers, dates left as text for the plan's own date parser, no anchors or aliases
    (a 450-byte alias bomb expands to 52 MB) and at most ``MAX_DEPTH`` levels of nesting."""

    def __init__(self, stream: str) -> None:
        _EventSource.__init__(self, stream)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)
        self.depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        mark = getattr(event, "start_mark", None)
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise PlanError(
                f"anchors and aliases (&name, *name) are not accepted{_line(mark)}", field="plan"
            )
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise PlanError(f"nested deeper than {MAX_DEPTH} levels{_line(mark)}", field="plan")
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _line(mark: Any) -> str:
    return f" (line {mark.line + 1})" if mark is not None else ""


def _construct_decimal(loader: _PlanLoader, node: yaml.ScalarNode) -> Any:
    text = str(loader.construct_scalar(node)).replace("_", "")
    try:
        return Decimal(text)
    except InvalidOperation:
        return text


def _construct_text(loader: _PlanLoader, node: yaml.ScalarNode) -> Any:
    return str(loader.construct_scalar(node))


def _construct_mapping(loader: _PlanLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            kind = "a mapping" if isinstance(key_node, yaml.MappingNode) else "a list"
            raise PlanError(
                f"a key must be a name, not {kind}{_line(key_node.start_mark)}", field="plan"
            )
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise PlanError(
                f"duplicate key {quoted(key)}{_line(key_node.start_mark)}", field=str(key)[:80]
            )
        seen.add(key)
    loader.flatten_mapping(node)
    return dict(loader.construct_pairs(node, deep=deep))


# (the stubs type add_constructor for PyYAML's own loader classes only)
_PlanLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)  # type: ignore[type-var]
_PlanLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_text)  # type: ignore[type-var]
_PlanLoader.add_constructor(  # type: ignore[type-var]
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def _load_yaml(text: str) -> Any:
    loader = _PlanLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def parse_plan_text(text: str, *, source: str = "plan") -> Plan:
    """Parse a YAML or JSON plan document and validate it (see :func:`load_plan`)."""
    if len(text) > MAX_PLAN_CHARACTERS:
        raise PlanError(f"is longer than {MAX_PLAN_CHARACTERS} characters", field=source)
    try:
        if text.lstrip().startswith("{"):
            document = loads_json(text, max_depth=MAX_DEPTH)
        else:
            document = _load_yaml(text)
    except PlanError:
        raise
    except json.JSONDecodeError as exc:
        raise PlanError(
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", field=source
        ) from None
    except DocumentError as exc:
        raise PlanError(f"invalid JSON: {exc}", field=source) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise PlanError(f"invalid YAML{where}: {quoted(problem)[1:-1]}", field=source) from None
    return load_plan(document)


def load_plan(document: Any) -> Plan:
    """Validate a plan document (already parsed into dicts and lists) and compile it."""
    try:
        check_depth(document, MAX_DEPTH)
    except DocumentError as exc:
        raise PlanError(str(exc), field="plan") from None
    bad = unstorable_path(document)
    if bad is not None:
        raise PlanError(
            "contains a NUL character or invalid Unicode (a lone surrogate)",
            field=bad[:80] or "plan",
        )
    return _Reader(document, "").plan()


class _Reader:
    """Walks the document keeping the key path, so every error names where it happened."""

    def __init__(self, value: Any, path: str) -> None:
        self.value = value
        self.path = path

    # helpers ---------------------------------------------------------------------------------
    def fail(self, message: str, key: str | None = None) -> PlanError:
        return PlanError(message, field=self.at(key) if key else (self.path or "plan"))

    def at(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def mapping(self, allowed: set[str], required: set[str]) -> dict[str, Any]:
        if not isinstance(self.value, dict):
            raise self.fail(f"expected a mapping, got {_kind(self.value)}")
        for key in self.value:
            if key not in allowed:
                raise PlanError(f"unknown key {quoted(key)}", field=self.at(str(key)[:80]))
        for key in sorted(required):
            if key not in self.value or self.value[key] is None:
                raise PlanError("is required", field=self.at(key))
        return self.value

    def text(self, d: Mapping[str, Any], key: str, pattern: re.Pattern[str] | None = None) -> str:
        value = d[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"expected a non-empty string, got {_kind(value)}", key)
        if pattern and not pattern.fullmatch(value):
            raise self.fail(f"{quoted(value)} must match {pattern.pattern}", key)
        return value

    def number(
        self,
        d: Mapping[str, Any],
        key: str,
        *,
        minimum: Decimal | None = None,
        positive: bool = False,
    ) -> Decimal:
        return _number(d[key], self.at(key), minimum=minimum, positive=positive)

    def expression(
        self, d: Mapping[str, Any], key: str, *, transaction: bool
    ) -> CompiledExpression:
        return compile_expression(
            d[key],
            where=self.at(key),
            allow_names=transaction,
            reference_functions=None if transaction else _REP_FUNCTIONS,
        )

    # the document ------------------------------------------------------------------------------
    def plan(self) -> Plan:
        d = self.mapping(
            {"id", "name", "currency", "period", "payable_when", "cap", "measures", "components"},
            {"id", "currency", "period", "measures", "components"},
        )
        plan_id = self.text(d, "id", _ID)
        currency = self.text(d, "currency")
        if not is_currency(currency):
            raise self.fail(not_a_currency(currency), "currency")
        period = d["period"]
        if period not in PERIOD_KINDS:
            raise self.fail(f"{quoted(period)} is not one of month, quarter, year", "period")
        name = self.text(d, "name") if d.get("name") is not None else plan_id
        cap = self.number(d, "cap", minimum=Decimal(0)) if d.get("cap") is not None else None
        payable_when = (
            self.expression(d, "payable_when", transaction=True)
            if d.get("payable_when") is not None
            else None
        )
        measures = self._list(d, "measures")
        parsed_measures: list[Measure] = []
        for i, m in enumerate(measures):
            measure = _Reader(m, f"{self.at('measures')}[{i}]").measure()
            if any(p.id == measure.id for p in parsed_measures):
                raise PlanError(
                    f"duplicate measure id {quoted(measure.id)}", field=f"measures[{i}].id"
                )
            parsed_measures.append(measure)
        measure_ids = {m.id for m in parsed_measures}
        components: list[Component] = []
        for i, c in enumerate(self._list(d, "components")):
            component = _Reader(c, f"components[{i}]").component(measure_ids, components)
            components.append(component)
        return Plan(
            id=plan_id,
            name=name,
            currency=currency,
            period=period,
            measures=tuple(parsed_measures),
            components=tuple(components),
            payable_when=payable_when,
            cap=cap,
            document=d,
        )

    def _list(self, d: Mapping[str, Any], key: str) -> list[Any]:
        value = d[key]
        if not isinstance(value, list) or not value:
            raise self.fail("expected a non-empty list", key)
        return value

    def measure(self) -> Measure:
        d = self.mapping({"id", "name", "filter", "value", "scope", "quota"}, {"id"})
        measure_id = self.text(d, "id", _ID)
        name = self.text(d, "name") if d.get("name") is not None else None
        quota = self.text(d, "quota") if d.get("quota") is not None else None
        if quota is not None and len(quota) > MAX_QUOTA_KEY:
            raise self.fail(f"is longer than {MAX_QUOTA_KEY} characters", "quota")
        flt = (
            self.expression(d, "filter", transaction=True) if d.get("filter") is not None else None
        )
        value_text = d.get("value")
        is_count = value_text == "count"
        value = (
            self.expression(d, "value", transaction=True)
            if value_text is not None and not is_count
            else None
        )
        scope = d.get("scope", "self")
        if scope not in ("self", "team"):
            raise self.fail(f"{quoted(scope)} is not one of self, team", "scope")
        return Measure(
            id=measure_id,
            filter=flt,
            value=value,
            is_count=is_count,
            scope=scope,
            name=name,
            quota=quota,
        )

    def component(self, measure_ids: set[str], earlier: list[Component]) -> Component:
        if not isinstance(self.value, dict):
            raise self.fail(f"expected a mapping, got {_kind(self.value)}")
        kind = self.value.get("type")
        common = {"id", "name", "type", "gate", "cap"}
        by_type: dict[str, tuple[set[str], set[str]]] = {
            "rate": ({"measure", "rate", "window"}, {"measure", "rate"}),
            "tiered": ({"measure", "tiers", "basis", "method"}, {"measure", "tiers"}),
            "bonus": ({"condition", "amount", "measure", "steps"}, set()),
            "formula": ({"expression"}, {"expression"}),
        }
        if kind not in by_type:
            raise self.fail(f"{quoted(kind)} is not one of rate, tiered, bonus, formula", "type")
        allowed, required = by_type[kind]
        d = self.mapping(common | allowed, {"id", "type"} | required)
        component_id = self.text(d, "id", _ID)
        if any(c.id == component_id for c in earlier):
            raise self.fail(f"duplicate component id {quoted(component_id)}", "id")
        fields: dict[str, Any] = {"id": component_id, "type": kind}
        if d.get("name") is not None:
            fields["name"] = self.text(d, "name")
        if d.get("gate") is not None:
            fields["gate"] = self.expression(d, "gate", transaction=False)
        if d.get("cap") is not None:
            fields["cap"] = self.number(d, "cap", minimum=Decimal(0))
        if "measure" in d and d["measure"] is not None:
            measure = self.text(d, "measure")
            if measure not in measure_ids:
                raise self.fail(f"unknown measure {quoted(measure)}", "measure")
            fields["measure"] = measure
        if kind == "rate":
            fields["rate"] = self.number(d, "rate")
            if d.get("window") is not None:
                fields["window"] = self._window(d)
        elif kind == "tiered":
            fields["tiers"] = self._tiers(d)
            basis = d.get("basis", "attainment")
            if basis not in ("attainment", "amount"):
                raise self.fail(f"{quoted(basis)} is not one of attainment, amount", "basis")
            method = d.get("method", "marginal")
            if method not in ("marginal", "retroactive"):
                raise self.fail(f"{quoted(method)} is not one of marginal, retroactive", "method")
            fields["basis"], fields["method"] = basis, method
        elif kind == "bonus":
            has_condition = d.get("condition") is not None
            has_steps = d.get("steps") is not None
            if has_condition == has_steps:
                raise self.fail("a bonus needs either condition + amount or measure + steps")
            if has_condition:
                if d.get("amount") is None:
                    raise self.fail("is required with condition", "amount")
                if "measure" in d:
                    raise self.fail("measure goes with steps, not with condition", "measure")
                fields["condition"] = self.expression(d, "condition", transaction=False)
                fields["amount"] = self.number(d, "amount")
            else:
                if "measure" not in fields:
                    raise self.fail("is required with steps", "measure")
                if "amount" in d:
                    raise self.fail("amount goes with condition; steps carry their own", "amount")
                fields["steps"] = self._steps(d)
        else:
            fields["expression"] = self.expression(d, "expression", transaction=False)
        component = Component(**fields)
        self._check_references(component, measure_ids, earlier)
        return component

    def _check_references(
        self, c: Component, measure_ids: set[str], earlier: list[Component]
    ) -> None:
        earlier_ids = {e.id for e in earlier}
        for key, expr in (
            ("gate", c.gate),
            ("condition", c.condition),
            ("expression", c.expression),
        ):
            if expr is None:
                continue
            for fn, ref in sorted(expr.references):
                if fn == "component":
                    if ref not in earlier_ids:
                        raise self.fail(
                            f"component({quoted(ref)}) must name a component listed earlier", key
                        )
                elif ref not in measure_ids:
                    raise self.fail(f"{fn}({quoted(ref)}) names an unknown measure", key)

    def _window(self, d: Mapping[str, Any]) -> Window:
        w = _Reader(d["window"], self.at("window"))
        wd = w.mapping({"from", "to"}, {"from", "to"})
        start = _date(wd["from"], w.at("from"))
        end = _date(wd["to"], w.at("to"))
        if end < start:
            raise w.fail("must not be before from", "to")
        return Window(start, end)

    def _tiers(self, d: Mapping[str, Any]) -> tuple[Tier, ...]:
        tiers: list[Tier] = []
        for i, t in enumerate(self._list(d, "tiers")):
            r = _Reader(t, f"{self.at('tiers')}[{i}]")
            td = r.mapping({"from", "rate"}, {"from", "rate"})
            start = r.number(td, "from")
            if i == 0 and start != 0:
                raise r.fail("the first tier must start at 0", "from")
            if tiers and start <= tiers[-1].start:
                raise r.fail(f"tiers must rise strictly ({start} after {tiers[-1].start})", "from")
            tiers.append(Tier(start, r.number(td, "rate")))
        return tuple(tiers)

    def _steps(self, d: Mapping[str, Any]) -> tuple[Step, ...]:
        steps: list[Step] = []
        for i, s in enumerate(self._list(d, "steps")):
            r = _Reader(s, f"{self.at('steps')}[{i}]")
            sd = r.mapping({"at", "amount"}, {"at", "amount"})
            at = r.number(sd, "at", minimum=Decimal(0))
            if steps and at <= steps[-1].at:
                raise r.fail(f"steps must rise strictly ({at} after {steps[-1].at})", "at")
            steps.append(Step(at, r.number(sd, "amount")))
        return tuple(steps)


def _number(
    value: Any, where: str, *, minimum: Decimal | None = None, positive: bool = False
) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise PlanError(f"expected a number, got {_kind(value)}", field=where)
    if isinstance(value, float):  # only from callers that built documents with floats by hand
        value = repr(value)
    try:
        number = parse_decimal(
            value,
            field=where,
            exponent=True,
            integer_digits=PLAN_INTEGER_DIGITS,
            decimals=PLAN_DECIMALS,
        )
    except InvalidInput as exc:
        raise PlanError(exc.message, field=where) from None
    if minimum is not None and number < minimum:
        raise PlanError(f"must be at least {minimum}, got {number}", field=where)
    if positive and number <= 0:
        raise PlanError(f"must be positive, got {number}", field=where)
    return number


def _date(value: Any, where: str) -> date:
    try:
        if isinstance(value, date):
            return check_day(value, field=where)
        return parse_date(value, field=where)
    except InvalidInput:
        raise PlanError(
            f"expected a date like 2026-10-15 (from {FIRST_DAY.isoformat()} to "
            f"{LAST_DAY.isoformat()}), got {quoted(value)}",
            field=where,
        ) from None


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), quoted(value)
    )
