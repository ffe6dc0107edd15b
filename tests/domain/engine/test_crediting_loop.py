"""The hot loop of crediting by class in C (`domain/engine/_crediting.c`) does what the same
loop in Python (`by_class._loop_source`) does, on the inputs the engine never sees from its own
readers too: fields that are not a dict, a missing field, an unhashable value, a Transaction
subclass with its own attributes, callbacks that fail. Each case runs both loops on fresh
`ByClass` objects and compares everything they leave behind, exceptions included."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

import pytest

from domain.engine import by_class
from domain.engine.calculate import _CONTEXT, _FAILURES, _Calculation
from domain.engine.inputs import ONE, Transaction
from domain.engine.plan import Plan
from domain.kit.periods import parse_period
from tests.factories import D, make_inputs, make_plan, rate_component, tx

FX = [("2026-09-01", "GBP", "1.15"), ("2026-10-18", "GBP", "1.17")]
PLAN = make_plan(
    rate_component("0.01", id="flat", measure="bookings"),
    rate_component(
        "0.03", id="cloud_spiff", measure="cloud", window={"from": "2026-10-15", "to": "2026-10-31"}
    ),
    measures=[
        {"id": "bookings", "filter": "state in ('won', 'activated')"},
        {"id": "cloud", "filter": "product == 'cloud' and state != 'lost'"},
    ],
    payable_when="state == 'activated'",
)


def test_given_an_install_with_a_compiler_when_imported_then_the_c_loop_is_built() -> None:
    # `.ci/run` and `make install` build it; without it the engine is correct but slower.
    assert by_class._crediting is not None, (
        "domain/engine/_crediting.c is not built: install a C compiler and the Python headers, "
        "then `pip install -e .` again"
    )


@dataclass
class Outcome:
    in_order: Any
    error: str | None
    sums: list[Any]
    made: list[Any]
    splits: list[Any]
    failures: list[Any]


def credit(plan: Plan, transactions: list[Any], c_loop: bool) -> Outcome:
    """Runs one loop on a fresh ByClass and records what it leaves behind."""
    inputs = make_inputs(["r1", "r2"], [], fx=FX)
    period = parse_period("2026-10")
    calculation = _Calculation(plan, period, inputs)
    failures: list[Any] = []
    crediting = by_class.ByClass(
        plan,
        ["r1", "r2"],
        period.start,
        period.end,
        inputs.fx,
        calculation.line_components,
        lambda t: failures.append(("fx", t.id)),
        lambda t, fields, exc: failures.append(("fail", t.id, type(exc).__name__, str(exc))),
        _FAILURES,
        calculation._own_line_rates(),
    )
    crediting.c_loop = c_loop
    in_order: Any = None
    error = None
    with localcontext(_CONTEXT):
        try:
            in_order = crediting.credit(transactions)
        except Exception as exc:  # noqa: BLE001 - the exception is what is compared
            error = f"{type(exc).__name__}: {exc}"
    sums = [
        (verdict, s.reps, [repr(a) for a in s.amounts]) for verdict, s in crediting.totals.items()
    ]
    made = [
        ([repr(x) for x in lines], reps, [t.id for t in at]) for lines, reps, at in crediting.made
    ]
    splits = [
        (cls.measures, t.id, rep_id, share, repr(amount))
        for cls, t, rep_id, share, amount in crediting.splits
    ]
    return Outcome(in_order, error, sums, made, splits, failures)


def both(transactions: list[Any], plan: Plan = PLAN) -> Outcome:
    c_loop = credit(plan, transactions, c_loop=True)
    python_loop = credit(plan, transactions, c_loop=False)
    assert c_loop == python_loop
    return c_loop


def test_given_usual_transactions_when_credited_then_both_loops_agree() -> None:
    outcome = both(
        [
            tx("t1", "r1", "100"),
            tx("t2", "r2", "50.5", currency="GBP", product="cloud", date="2026-10-20"),
            tx("t3", "r1", "7", state="lost"),
            tx("t4", "r1", "9", date="2026-11-02"),  # outside the period
            tx("t5", "r2", "3", currency="JPY"),  # no rate
            tx("t6", "r1", "10", splits=[("r1", "0.5"), ("r2", "0.5")], product="cloud"),
            tx("t7", "r1", "12", product="cloud", date="2026-10-25", state="activated"),
        ]
    )
    assert outcome.error is None
    assert outcome.in_order is True
    assert ("fx", "t5") in outcome.failures
    # t1, t2 and t7 (a class may pass several measures: its credits are listed once)
    assert sum(len(reps) for _, reps, _ in outcome.sums) == 3
    assert len(outcome.splits) == 2  # t6, one per share


def test_given_line_ids_out_of_natural_order_when_credited_then_in_order_is_false() -> None:
    outcome = both(
        [
            tx("t10", "r1", "1", product="cloud", date="2026-10-20"),
            tx("t9", "r1", "2", product="cloud", date="2026-10-21"),
        ]
    )
    assert outcome.in_order is False


class Fields(Mapping[str, Any]):
    """A read-only mapping that is not a dict."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def with_fields(t: Transaction, fields: Any) -> Transaction:
    return Transaction(t.id, t.rep_id, t.amount, t.currency, t.date, t.credits, fields)


def test_given_fields_not_a_dict_or_missing_a_name_when_credited_then_both_loops_agree() -> None:
    plain = tx("t1", "r1", "100", product="cloud", date="2026-10-20")
    missing = tx("t2", "r2", "40", date="2026-10-20")  # no product: read as None
    outcome = both(
        [
            with_fields(plain, Fields(dict(plain.fields))),
            missing,
            with_fields(missing, Fields(dict(missing.fields))),
        ]
    )
    assert outcome.error is None
    assert sum(len(reps) for _, reps, _ in outcome.sums) == 3


def test_given_unhashable_or_failing_field_values_when_credited_then_both_loops_agree() -> None:
    plan = make_plan(
        rate_component("0.1"), measures=[{"id": "bookings", "filter": "size > 3 and tags != 1"}]
    )
    outcome = both(
        [
            tx("t1", "r1", "100", size=D(5), tags=["a"]),  # unhashable: classified uncached
            tx("t2", "r1", "100", size=D(5), tags=["a"]),
            tx("t3", "r2", "100", size="big", tags=None),  # the filter fails: reported
            tx("t4", "r2", "100", size=D(4), tags=None),
        ],
        plan,
    )
    assert outcome.error is None
    assert [f[:2] for f in outcome.failures] == [("fail", "t3")]


def test_given_a_trapping_conversion_when_credited_then_both_loops_raise_the_same() -> None:
    outcome = both([tx("t1", "r1", "sNaN"), tx("t2", "r1", "5")])
    # the caller (`ByClass.run`) turns this into a fallback to the general loop
    assert str(outcome.error).startswith("InvalidOperation")


class LoudTransaction(Transaction):
    """A subclass whose amount is not its slot's: the C loop must not read the slot."""

    __slots__ = ()

    @property  # type: ignore[misc]
    def amount(self) -> Decimal:  # type: ignore[override]
        return Decimal("1")


def test_given_a_transaction_subclass_when_credited_then_its_attributes_are_read() -> None:
    base = tx("t1", "r1", "100")
    loud = tx("t2", "r1", "100")
    object.__setattr__(loud, "__class__", LoudTransaction)
    outcome = both([base, loud])
    assert outcome.sums[0][2] == [repr(D("100")), repr(D("1"))]


def test_given_callbacks_or_credits_that_fail_when_credited_then_both_loops_raise_alike() -> None:
    bad_credits = tx("t1", "r1", "100")
    object.__setattr__(bad_credits, "sole_credit", False)
    object.__setattr__(bad_credits, "credits", (("r1",),))
    outcome = both([tx("t0", "r2", "1"), bad_credits])
    assert str(outcome.error).startswith("ValueError")
    not_iterable = tx("t2", "r1", "100")
    object.__setattr__(not_iterable, "sole_credit", False)
    object.__setattr__(not_iterable, "credits", 7)
    outcome = both([not_iterable])
    assert str(outcome.error).startswith("TypeError")


def test_given_a_sole_credit_that_is_not_a_bool_when_credited_then_read_by_truth() -> None:
    t = tx("t1", "r1", "100")
    object.__setattr__(t, "sole_credit", 0)
    both([t])  # credits read instead: the same credit, ((r1, ONE),)
    assert t.credits[0][1] is ONE


def test_given_many_runs_when_credited_in_c_then_no_reference_is_leaked() -> None:
    transactions = [
        tx("t1", "r1", "100"),
        tx("t2", "r2", "50.5", currency="GBP", product="cloud", date="2026-10-20"),
        tx("t3", "r1", "7", state="lost"),
        tx("t5", "r2", "3", currency="JPY"),
        tx("t6", "r1", "10", splits=[("r1", "0.5"), ("r2", "0.5")], product="cloud"),
        tx("t7", "r1", "sNaN"),
    ]
    watched = [transactions[1], transactions[1].fields, transactions[1].date, "r1", ONE]
    for _ in range(3):  # warm every cache first
        credit(PLAN, transactions, c_loop=True)
    gc.collect()
    before = [sys.getrefcount(x) for x in watched]
    for _ in range(200):
        credit(PLAN, transactions, c_loop=True)
    gc.collect()
    assert [sys.getrefcount(x) for x in watched] == before


def test_given_credits_when_columns_added_up_in_c_then_as_the_maps_add_them() -> None:
    amounts = [D("1.10"), D("-0.00"), D("1E+3"), D("2.125"), D("-1.10")]
    reps = ["a", "b", "a", "ghost", "a"]
    sums = by_class._Sums(payable=True, measures=(0,))
    sums.reps.extend(reps)
    sums.amounts.extend(amounts)
    keys = ["b", "a", "c"]
    positions = {key: k for k, key in enumerate(keys)}
    in_c = sums.columns(keys, positions, in_c=True)
    by_maps = sums.columns(keys, positions, in_c=False)
    assert repr(in_c) == repr(by_maps)
    assert repr(in_c) == repr(
        ([D("-0.00"), D("1.10") + D("1E+3") + D("-1.10"), by_class._IDENTITY], [1, 3, 0])
    )


def test_given_bad_arguments_when_columns_added_up_in_c_then_clear_errors() -> None:
    crediting = by_class._crediting
    if crediting is None:
        pytest.fail("domain/engine/_crediting.c is not built")
    start = by_class._IDENTITY
    with pytest.raises(ValueError, match="differ in length"):
        crediting.columns({"a": 0}, ["a"], [], start)
    with pytest.raises(ValueError, match="position 1 out of range"):
        crediting.columns({"a": 1}, ["a"], [D(1)], start)
    with pytest.raises(TypeError):
        crediting.columns({"a": 0}, ["a"], ["x"], start)  # Decimal + str
    # a rep without a position is added up all the same: here its sum traps
    with pytest.raises(InvalidOperation):
        crediting.columns({}, ["ghost", "ghost"], [D("Infinity"), D("-Infinity")], start)
