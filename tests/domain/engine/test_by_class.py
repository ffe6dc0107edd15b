"""Crediting by class (the fast path) must give exactly what the general crediting loop gives:
same figures, same exponents, same lines in the same order, same errors."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.engine import by_class
from domain.engine.calculate import _Calculation, natural_key
from domain.engine.inputs import Inputs, Transaction
from domain.engine.plan import Plan
from domain.engine.results import PlanResult
from tests.factories import (
    AE_TIERS,
    D,
    formula_component,
    make_inputs,
    make_plan,
    rate_component,
    rep,
    run,
    tiered_component,
    tx,
)

REPS = [rep("r1"), rep("r2", manager_id="r1"), rep("r3", manager_id="r2"), rep("r4")]
REP_IDS = [r.id for r in REPS]
QUOTAS = {r: "40000" for r in REP_IDS} | {(r, "team"): "90000" for r in REP_IDS}
FX = [("2026-09-01", "GBP", "1.15"), ("2026-10-18", "GBP", "1.17"), ("2026-10-10", "USD", "0.9")]

MEASURES = [
    {"id": "bookings", "filter": "state in ('won', 'activated')"},
    {"id": "team", "filter": "state in ('won', 'activated')", "scope": "team"},
    {"id": "units", "value": "count"},
    {"id": "cloud", "filter": "product == 'cloud' and state != 'lost'"},
]

PLAN = make_plan(
    tiered_component(*AE_TIERS),
    tiered_component(("0", "0.005"), ("0.9", "0.01"), id="override", measure="team"),
    rate_component(
        "50", id="spiff", measure="units", window={"from": "2026-10-10", "to": "2026-10-20"}
    ),
    rate_component("0.01", id="flat", measure="bookings", cap="400"),
    rate_component("0.02", id="team_lines", measure="team"),
    rate_component(
        "0.03", id="cloud_spiff", measure="cloud", window={"from": "2026-10-15", "to": "2026-10-31"}
    ),
    rate_component("0.01", id="cloud_all", measure="cloud"),
    {
        "id": "club",
        "type": "bonus",
        "measure": "bookings",
        "steps": [{"at": "1", "amount": "1000"}],
    },
    formula_component("count('units') * 3 + count('cloud')", id="kicker"),
    measures=MEASURES,
    payable_when="state == 'activated'",
    cap="6000",
)


def run_both(plan: Plan, inputs: Inputs) -> tuple[PlanResult, PlanResult]:
    fast = run(plan, inputs)
    _Calculation.credit_by_class = False
    try:
        general = run(plan, inputs)
    finally:
        _Calculation.credit_by_class = True
    return fast, general


def exactly(result: PlanResult) -> str:
    """Every figure with its exponent (repr tells Decimal('1E+3') from Decimal('1000')),
    every line in order, every error and every explanation text."""
    reps: list[Any] = []
    for r in result.reps:
        reps.append(
            (
                tuple(r[:9]),
                tuple(c[:5] for c in r.components),
                r.lines,
                r.reasons,
                [c.reasons for c in r.components],
                [result.line_words(r.rep_id, line) for line in r.lines],
            )
        )
    return repr((reps, result.errors))


def test_given_bench_like_plan_when_applies_then_fast_path_is_used() -> None:
    assert by_class.applies(PLAN)


def test_given_value_expression_or_id_filter_when_applies_then_general_loop() -> None:
    with_value = make_plan(
        rate_component("0.1"), measures=[{"id": "bookings", "value": "amount * 2"}]
    )
    by_id = make_plan(rate_component("0.1"), measures=[{"id": "bookings", "filter": "id != 't1'"}])
    assert not by_class.applies(with_value)
    assert not by_class.applies(by_id)


# --- hypothesis: the two paths agree on any data -----------------------------------------

amounts = st.one_of(
    st.integers(min_value=-200_000, max_value=3_000_000).map(lambda c: Decimal(c) / 100),
    st.sampled_from(["1E+3", "-0.00", "0", "12.5000", "0.001"]).map(Decimal),
)
days = st.one_of(
    st.integers(min_value=1, max_value=31).map(lambda d: date(2026, 10, d)),
    st.sampled_from([date(2026, 9, 30), date(2026, 11, 1)]),
)
states = st.sampled_from(["won", "activated", "signed", "lost", None])
products = st.sampled_from(["cloud", "onprem", None, "missing"])
shares = st.sampled_from(["0.5", "0.25", "0.6", "0.125", "0.90"])


@st.composite
def splits(draw: st.DrawFn) -> list[tuple[str, str]] | None:
    kind = draw(st.sampled_from(["none", "none", "two", "one"]))
    if kind == "none":
        return None
    if kind == "one":  # a split to one rep with share 1 (not the ONE object)
        return [(draw(st.sampled_from(REP_IDS)), "1.0")]
    first, second = draw(st.permutations(REP_IDS))[:2]
    share = D(draw(shares))
    return [(first, str(share)), (second, str(1 - share))]


# Ids of one stem and one length ('j007'), in any order and repeated: lines in natural order
# are then neither in transaction order nor in the order of the mixed ids above.
same_shape_ids = st.integers(min_value=0, max_value=40).map(lambda j: f"j{j:03d}")


@st.composite
def transaction_lists(
    draw: st.DrawFn, max_size: int = 16, same_shape: bool = False
) -> list[Transaction]:
    n = draw(st.integers(min_value=0, max_value=max_size))
    out = []
    for i in range(1, n + 1):
        product = draw(products)
        extra = {} if product == "missing" else {"product": product}
        out.append(
            tx(
                # repeated ids and ids whose text order is not their natural order
                draw(same_shape_ids)
                if same_shape
                else draw(st.sampled_from([f"t{i}", f"t{i}", f"x-{i}", "dup"])),
                draw(st.sampled_from(REP_IDS)),
                draw(amounts),
                date=draw(days).isoformat(),
                currency=draw(st.sampled_from(["EUR", "EUR", "GBP", "USD"])),
                state=draw(states),
                splits=draw(splits()),
                **extra,
            )
        )
    return out


@settings(deadline=None, max_examples=200)
@given(transactions=transaction_lists())
def test_given_any_transactions_when_credited_by_class_then_exactly_the_general_result(
    transactions: list[Transaction],
) -> None:
    inputs = make_inputs(REPS, transactions, quotas=QUOTAS, fx=FX)

    fast, general = run_both(PLAN, inputs)

    assert exactly(fast) == exactly(general)


@settings(deadline=None, max_examples=200)
@given(transactions=transaction_lists(same_shape=True))
def test_given_ids_of_one_shape_when_credited_by_class_then_exactly_the_general_result(
    transactions: list[Transaction],
) -> None:
    inputs = make_inputs(REPS, transactions, quotas=QUOTAS, fx=FX)

    fast, general = run_both(PLAN, inputs)

    assert exactly(fast) == exactly(general)


# --- the rare paths ----------------------------------------------------------------------


def agree(plan: Plan, transactions: list[Transaction]) -> PlanResult:
    fast, general = run_both(plan, make_inputs(REPS, transactions, quotas=QUOTAS, fx=FX))
    assert exactly(fast) == exactly(general)
    return fast


def _credited(
    transactions: list[Transaction],
    line_component: tuple[int, date | None, date | None],
    component_id: str,
) -> by_class.ByClass:
    """PLAN's transactions credited by class, with one line component (of the measure and
    window given) whose lines are ``component_id``'s, as `calculate` asks for them."""
    rate = next(c.rate for c in PLAN.components if c.id == component_id)
    assert rate is not None
    crediting = by_class.ByClass(
        PLAN,
        REP_IDS,
        date(2026, 10, 1),
        date(2026, 10, 31),
        make_inputs(REPS, transactions, quotas=QUOTAS, fx=FX).fx,
        [line_component],
        (ArithmeticError,),
        [(component_id, rate)],
    )
    crediting.run(transactions, lambda t: None, lambda t, fields, exc: None)
    return crediting


def test_given_no_fx_rate_when_credited_by_class_then_same_errors() -> None:
    result = agree(
        PLAN,
        [
            tx("t1", "r1", "100", currency="USD", date="2026-10-05"),  # USD starts on the 10th
            tx("t2", "r4", "100", currency="JPY"),
            tx("t3", "r4", "100", currency="JPY", state="lost"),  # fails though no filter passes
        ],
    )
    assert {e.rep_id for e in result.errors} == {"r1", "r4"}


def test_given_filter_failing_on_a_value_when_credited_by_class_then_same_errors() -> None:
    plan = make_plan(rate_component("0.1"), measures=[{"id": "bookings", "filter": "size > 3"}])
    result = agree(
        plan,
        [tx("t1", "r1", "100", size="big"), tx("t2", "r2", "100", size=Decimal(5))],
    )
    assert [e.rep_id for e in result.errors] == ["r1"]


def test_given_unhashable_field_when_credited_by_class_then_same_result() -> None:
    plan = make_plan(rate_component("0.1"), measures=[{"id": "bookings", "filter": "tags != None"}])
    result = agree(plan, [tx("t1", "r1", "100", tags=["a"]), tx("t2", "r1", "50", tags=None)])
    assert result.rep("r1").component("commission").amount == D("10.00")


def test_given_infinite_amounts_when_sums_trap_then_general_loop_names_the_transaction() -> None:
    result = agree(
        PLAN,
        [tx("t1", "r1", "Infinity"), tx("t2", "r1", "-Infinity"), tx("t3", "r4", "10")],
    )
    assert [e.rep_id for e in result.errors] == ["r1"]


def test_given_filter_on_rep_id_and_extra_fields_when_credited_by_class_then_same_result() -> None:
    # rep_id is a transaction's own value, not in its shared kind: the key reads it from the
    # transaction
    plan = make_plan(
        tiered_component(("0", "0.1")),
        measures=[{"id": "bookings", "filter": "rep_id != 'r2' and product == 'cloud'"}],
    )
    result = agree(
        plan,
        [
            tx("t1", "r1", "100", product="cloud"),
            tx("t2", "r2", "100", product="cloud"),
            tx("t3", "r1", "50", currency="GBP", date="2026-10-19", product="cloud"),
            tx("t4", "r2", "50", currency="GBP", date="2026-10-19", product="cloud"),
            tx("t5", "r1", "70", currency="GBP", date="2026-10-19"),  # no product field
        ],
    )
    assert by_class.applies(plan)
    assert result.rep("r1").measure("bookings").total == D("158.50")  # 100 + 50 x 1.17
    assert result.rep("r2").measure("bookings").total == D("0")
    conversions = [r for r in result.rep("r1").components[0].reasons if r[0] == "fx_transaction"]
    assert [dict(r[1])["transaction"] for r in conversions] == ["t3"]


def test_given_no_expressions_when_credited_by_class_then_key_is_date_and_currency() -> None:
    plan = make_plan(rate_component("0.1", window={"from": "2026-10-10", "to": "2026-10-20"}))
    result = agree(
        plan,
        [tx("t2", "r1", "100", date="2026-10-12"), tx("t10", "r1", "7", date="2026-10-11")],
    )
    assert [line.transaction_id for line in result.rep("r1").lines] == ["t2", "t10"]


def test_given_credits_to_reps_not_on_the_run_when_credited_by_class_then_same_result() -> None:
    result = agree(
        PLAN,
        [
            tx("t1", "ghost", "100", product="cloud"),
            tx("t2", "r1", "100", splits=[("ghost", "0.5"), ("r1", "0.5")], product="cloud"),
            tx("t3", "r1", "40", state="activated", product="cloud"),
        ],
    )
    assert result.rep("r1").measure("bookings").total == D("90")


def test_given_two_line_components_in_one_class_when_lines_listed_then_each_has_its_own() -> None:
    result = agree(
        PLAN,
        [
            tx("t1", "r1", "100", date="2026-10-20", product="cloud"),
            tx("t2", "r1", "50", date="2026-10-21", product="cloud", state="activated"),
        ],
    )
    lines = [(line.component, line.transaction_id) for line in result.rep("r1").lines]
    assert lines.count(("cloud_spiff", "t1")) == 1
    assert lines.count(("cloud_all", "t2")) == 1


def test_given_negative_zero_payable_credit_when_order_changes_then_same_payable() -> None:
    won = tx("t1", "r1", "0.01", product="cloud")
    activated_zero = tx("t2", "r1", "-0.00", product="cloud", state="activated")

    first = agree(PLAN, [won, activated_zero])
    second = agree(PLAN, [activated_zero, won])

    assert exactly(first) == exactly(second)
    assert str(first.rep("r1").component("flat").payable) == "0.00"


def test_given_lines_out_of_transaction_order_when_listed_then_natural_order() -> None:
    transactions = [
        tx("j12", "r1", "10", date="2026-10-20", product="cloud"),
        tx("j03", "r1", "20", date="2026-10-21", product="cloud", state="activated"),
        tx("j07", "r1", "30", date="2026-10-16", product="cloud"),
        tx("j03", "r1", "40", date="2026-10-17", product="cloud"),  # a repeated id
    ]
    result = agree(PLAN, transactions)
    spiff = [
        (line.transaction_id, line.value)
        for line in result.rep("r1").lines
        if line.component == "cloud_spiff"
    ]
    assert spiff == [("j03", D("20")), ("j03", D("40")), ("j07", D("30")), ("j12", D("10"))]


def test_given_classes_differing_only_in_lines_when_credited_then_each_has_its_sums() -> None:
    transactions = [
        tx("t1", "r1", "100", date="2026-10-01", product="cloud"),  # outside the SPIFF window
        tx("t2", "r1", "50", date="2026-10-20", product="cloud"),  # inside it
    ]
    result = agree(PLAN, transactions)
    crediting = _credited(transactions, (3, date(2026, 10, 15), date(2026, 10, 31)), "cloud_spiff")
    assert len(crediting.classes) == 2
    # the SPIFF's lines are exactly the credits of one of them: its value is that one's sum
    assert len(crediting.totals) == 2
    assert crediting.own_line_totals(0) is not None
    assert crediting.own_line_totals(0)[0]["r1"] == D("50")
    assert [
        line.transaction_id for line in crediting.own_lines(0, "cloud_spiff", D("0.03"))["r1"]
    ] == ["t2"]
    assert result.rep("r1").measure("cloud").total == D("150")


def test_given_sums_past_28_digits_when_credited_by_class_then_the_general_loop_credits() -> None:
    # Rounded sums depend on the order of their terms: the fast path must not guess.
    transactions = [
        tx("t1", "r1", "1234567890123456789012345.678", product="cloud"),
        tx("t2", "r1", "0.0000000001", product="cloud", date="2026-10-20"),
        tx("t3", "r1", "9876543210987654321098765.4321", product="cloud", date="2026-10-21"),
    ]
    agree(PLAN, transactions)


def test_given_one_transaction_object_twice_with_ids_out_of_order_then_same_result() -> None:
    twice = tx("j5", "r1", "10", date="2026-10-20", product="cloud")
    transactions = [
        twice,
        tx("j5", "r1", "20", date="2026-10-21", product="cloud", state="activated"),
        tx("j1", "r1", "30", date="2026-10-22", product="cloud"),
        twice,
    ]
    result = agree(PLAN, transactions)
    spiff = [
        (line.transaction_id, line.value)
        for line in result.rep("r1").lines
        if line.component == "cloud_spiff"
    ]
    assert spiff == [("j1", D("30")), ("j5", D("10")), ("j5", D("20")), ("j5", D("10"))]


def test_given_ids_in_natural_order_when_credited_by_class_then_lines_need_no_sort() -> None:
    transactions = [
        tx(f"t{i}", "r1" if i % 2 else "r2", str(i), date="2026-10-20", product="cloud")
        for i in (1, 2, 9, 10, 11, 100)
    ]
    result = agree(PLAN, transactions)
    r1 = [line.transaction_id for line in result.rep("r1").lines if line.component == "cloud_all"]
    assert r1 == ["t1", "t9", "t11"]


def test_given_ids_when_line_order_then_natural_order_with_ties_in_transaction_order() -> None:
    ids = ["t10", "t9", "x-1", "dup", "t09", "t9", "7", "t"]
    keys = [by_class.line_order(tid, position) for position, tid in enumerate(ids)]
    ordered = [ids[key[3]] + f"@{key[3]}" for key in sorted(keys)]
    # the order `calculate` sorts lines into (stem, digit count, id), stable by position
    expected = [
        f"{tid}@{position}"
        for position, tid in sorted(
            enumerate(ids), key=lambda item: (*natural_key(item[1]), item[0])
        )
    ]
    assert ordered == expected
    assert ordered[:3] == ["7@6", "dup@3", "t@7"]


def test_given_credits_when_transaction_built_then_sole_credit_says_whether_all_to_its_rep() -> (
    None
):
    assert tx("t1", "r1", "10").sole_credit
    assert not tx("t2", "r1", "10", splits=[("r1", "0.5"), ("r2", "0.5")]).sole_credit
    assert not tx("t3", "r1", "10", splits=[("r1", "1")]).sole_credit  # not the ONE object
    built = tx("t4", "r1", "10")
    direct = Transaction(
        built.id, built.rep_id, built.amount, built.currency, built.date, built.credits, {}
    )
    assert direct.sole_credit
    assert direct == Transaction(
        built.id, "r1", built.amount, built.currency, built.date, built.credits, {}
    )
    other = Transaction(built.id, "r2", built.amount, built.currency, built.date, built.credits, {})
    assert not other.sole_credit  # credits to r1, though the transaction is r2's


def test_given_two_transactions_of_one_id_when_a_line_is_explained_then_by_the_first() -> None:
    first = tx("dup", "r1", "100", currency="GBP", date="2026-10-16", product="cloud")
    second = tx("dup", "r1", "200", date="2026-10-20", product="cloud")
    result = agree(PLAN, [first, second])
    lines = [
        line
        for line in result.rep("r1").lines
        if line.transaction_id == "dup" and line.component == "cloud_all"
    ]
    assert lines
    for line in lines:
        # not handed the line's transaction, the explainer looks it up: the first of the id
        looked_up = result.explain_line("r1", line)
        assert looked_up == result.explain_line("r1", line, first)
        assert "fx" in [key for key, _ in looked_up]  # the first's conversion (GBP)
        assert "fx" not in [key for key, _ in result.explain_line("r1", line, second)]


def _ordered_after_crediting(transactions: list[Transaction]) -> bool:
    return _credited(transactions, (3, None, None), "cloud_all").ordered[0]


def test_given_each_rep_in_id_order_but_not_all_when_credited_then_lines_need_no_sort() -> None:
    # a batch's people joined person after person, each person's sorted by id
    person_after_person = [
        tx(tid, rep_id, "10", date="2026-10-20", product="cloud")
        for tid, rep_id in [("t5", "r1"), ("t9", "r1"), ("t10", "r1"), ("t1", "r2"), ("t7", "r2")]
    ]
    assert _ordered_after_crediting(person_after_person)
    result = agree(PLAN, person_after_person)
    r1 = [line.transaction_id for line in result.rep("r1").lines if line.component == "cloud_all"]
    assert r1 == ["t5", "t9", "t10"]

    one_rep_out_of_order = person_after_person[:3] + person_after_person[3:][::-1]
    assert not _ordered_after_crediting(one_rep_out_of_order)
    result = agree(PLAN, one_rep_out_of_order)
    r2 = [line.transaction_id for line in result.rep("r2").lines if line.component == "cloud_all"]
    assert r2 == ["t1", "t7"]


def test_given_classes_summed_up_when_credited_then_their_credits_are_let_go() -> None:
    # A million transactions leave about 80 MB of credited amounts in the classes: once added
    # up they are read no more, and what the run makes next (its results) reuses their memory.
    transactions = [
        tx("t1", "r1", "100", date="2026-10-01", product="cloud"),
        tx("t2", "r1", "50", date="2026-10-20", product="cloud", state="activated"),
        tx("t3", "r2", "70", date="2026-10-21", product="onprem"),
    ]
    crediting = _credited(transactions, (3, date(2026, 10, 15), date(2026, 10, 31)), "cloud_spiff")
    assert len(crediting.totals) >= 3
    assert all(not s.amounts and not s.reps for s in crediting.totals.values())
    # what was summed is all there
    assert crediting.accumulators[0]["r1"][0] == D("150")
    assert crediting.accumulators[0]["r2"][0] == D("70")
    assert crediting.own_line_totals(0) is not None
    assert crediting.own_line_totals(0)[0]["r1"] == D("50")
