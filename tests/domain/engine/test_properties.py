"""Properties of the engine that must hold for any data (hypothesis)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.engine.inputs import Inputs, Transaction
from domain.engine.plan import Plan
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

SETTINGS = settings(deadline=None, max_examples=100)

REPS = [rep("r1"), rep("r2", manager_id="r1"), rep("r3", manager_id="r2"), rep("r4")]
REP_IDS = [r.id for r in REPS]
QUOTAS = {r: "40000" for r in REP_IDS} | {(r, "team"): "90000" for r in REP_IDS}
FX = [("2026-09-01", "GBP", "1.15"), ("2026-10-18", "GBP", "1.17")]

MEASURES = [
    {"id": "bookings", "filter": "state in ('won', 'activated')"},
    {"id": "team", "filter": "state in ('won', 'activated')", "scope": "team"},
    {"id": "units", "value": "count"},
]


def full_plan(cap: str = "6000") -> Plan:
    """Every component type, team scope, a SPIFF window, payable_when and a plan cap."""
    return make_plan(
        tiered_component(*AE_TIERS),
        tiered_component(
            ("0", "0.005"),
            ("0.9", "0.01"),
            ("1.1", "0.015"),
            id="override",
            measure="team",
            method="retroactive",
        ),
        rate_component(
            "50", id="spiff", measure="units", window={"from": "2026-10-10", "to": "2026-10-20"}
        ),
        rate_component("0.01", id="flat", measure="bookings", cap="400"),
        {
            "id": "club",
            "type": "bonus",
            "measure": "bookings",
            "steps": [{"at": "0.5", "amount": "250"}, {"at": "1", "amount": "1000"}],
        },
        formula_component(
            "component('commission') * 0.1 + count('units') * 3 + total('team') / 1000",
            id="kicker",
            gate="attainment('bookings') >= 0.25",
        ),
        measures=MEASURES,
        payable_when="state == 'activated'",
        cap=cap,
    )


FULL_PLAN = full_plan()

# --- strategies ----------------------------------------------------------------------------

amounts = st.integers(min_value=-200_000, max_value=3_000_000).map(lambda c: Decimal(c) / 100)
days = st.one_of(
    st.integers(min_value=1, max_value=31).map(lambda d: date(2026, 10, d)),
    st.sampled_from([date(2026, 9, 30), date(2026, 11, 1)]),
)
states = st.sampled_from(["won", "activated", "signed", "lost", None])
shares = st.sampled_from(["0.5", "0.25", "0.6", "0.125", "0.9"])


@st.composite
def splits(draw: st.DrawFn) -> list[tuple[str, str]] | None:
    if not draw(st.booleans()):
        return None
    first, second = draw(st.permutations(REP_IDS))[:2]
    share = D(draw(shares))
    return [(first, str(share)), (second, str(1 - share))]


@st.composite
def transaction_lists(draw: st.DrawFn, max_size: int = 12) -> list[Transaction]:
    n = draw(st.integers(min_value=0, max_value=max_size))
    out = []
    for i in range(1, n + 1):
        out.append(
            tx(
                f"t{i}",
                draw(st.sampled_from(REP_IDS)),
                draw(amounts),
                date=draw(days).isoformat(),
                currency=draw(st.sampled_from(["EUR", "EUR", "GBP"])),
                state=draw(states),
                splits=draw(splits()),
            )
        )
    return out


def inputs_of(transactions: list[Transaction]) -> Inputs:
    return make_inputs(REPS, transactions, quotas=QUOTAS, fx=FX)


# --- (a) order -----------------------------------------------------------------------------


@SETTINGS
@given(data=st.data(), transactions=transaction_lists())
def test_given_any_transactions_when_order_changes_then_results_do_not(
    data: st.DataObject, transactions: list[Transaction]
):
    shuffled = data.draw(st.permutations(transactions))

    original = run(FULL_PLAN, inputs_of(transactions)).to_dict(explain=True)
    reordered = run(FULL_PLAN, inputs_of(list(shuffled))).to_dict(explain=True)

    assert reordered == original


# --- (b) splitting a transaction -----------------------------------------------------------

SPLIT_PLAN = make_plan(
    rate_component("0.07", id="rate"),
    rate_component("0.03", id="spiff", window={"from": "2026-10-05", "to": "2026-10-25"}),
    tiered_component(*AE_TIERS, id="marginal"),
    tiered_component(*AE_TIERS, id="retroactive", method="retroactive"),
    tiered_component(
        ("0", "0.01"), ("10000", "0.03"), ("25000", "0.05"), id="by_amount", basis="amount"
    ),
    tiered_component(
        ("0", "0.01"),
        ("10000", "0.03"),
        ("25000", "0.05"),
        id="by_amount_retro",
        basis="amount",
        method="retroactive",
    ),
    tiered_component(*AE_TIERS, id="team_marginal", measure="team"),
    measures=MEASURES,
    payable_when="state == 'activated'",
)


def _split(t: Transaction, part: Decimal) -> list[Transaction]:
    splits = None if t.credits == ((t.rep_id, D(1)),) else list(t.credits)
    common = {
        "date": t.date.isoformat(),
        "currency": t.currency,
        "state": t.fields["state"],
        "splits": splits,
    }
    return [
        tx(f"{t.id}a", t.rep_id, part, **common),
        tx(f"{t.id}b", t.rep_id, t.amount - part, **common),
    ]


def _money_figures(result) -> dict[str, object]:
    figures: dict[str, object] = {"errors": {e.rep_id for e in result.errors}}
    for r in result.reps:
        figures[r.rep_id] = (
            r.total,
            r.payable,
            r.pending,
            [(c.id, c.amount, c.payable, c.pending) for c in r.components],
            [(m.id, m.total) for m in r.measures if m.id != "units"],
        )
    return figures


@SETTINGS
@given(data=st.data(), transactions=transaction_lists().filter(bool))
def test_given_transaction_split_in_two_of_same_date_and_total_then_rate_and_tiered_unchanged(
    data: st.DataObject, transactions: list[Transaction]
):
    index = data.draw(st.integers(min_value=0, max_value=len(transactions) - 1))
    part = data.draw(amounts)
    target = transactions[index]
    split = [*transactions[:index], *_split(target, part), *transactions[index + 1 :]]

    whole = run(SPLIT_PLAN, inputs_of(transactions))
    halves = run(SPLIT_PLAN, inputs_of(split))

    assert _money_figures(halves) == _money_figures(whole)


# --- (c) marginal never pays more than retroactive -----------------------------------------


@st.composite
def rising_tiers(draw: st.DrawFn) -> list[tuple[str, str]]:
    n = draw(st.integers(min_value=1, max_value=5))
    gaps = draw(
        st.lists(st.integers(min_value=1, max_value=50_000), min_size=n - 1, max_size=n - 1)
    )
    steps = draw(st.lists(st.integers(min_value=0, max_value=500), min_size=n, max_size=n))
    starts, start = [Decimal(0)], Decimal(0)
    for gap in gaps:
        start += Decimal(gap) / 100
        starts.append(start)
    rates, rate = [], Decimal(0)
    for step in steps:
        rate += Decimal(step) / 10_000
        rates.append(rate)
    return [(str(s), str(r)) for s, r in zip(starts, rates, strict=True)]


@SETTINGS
@given(
    pairs=rising_tiers(),
    basis=st.sampled_from(["amount", "attainment"]),
    totals=st.lists(amounts, min_size=0, max_size=4),
    quota=st.integers(min_value=1, max_value=10_000_000).map(lambda c: Decimal(c) / 100),
)
def test_given_non_decreasing_rates_when_marginal_and_retroactive_then_marginal_pays_no_more(
    pairs: list[tuple[str, str]], basis: str, totals: list[Decimal], quota: Decimal
):
    if basis == "attainment":
        # Attainment bounds are fractions of quota: keep them modest.
        pairs = [(str(D(s) / 10_000), r) for s, r in pairs]
    plan = make_plan(
        tiered_component(*pairs, id="marginal", basis=basis),
        tiered_component(*pairs, id="retroactive", basis=basis, method="retroactive"),
    )
    transactions = [tx(f"t{i}", "r1", amount) for i, amount in enumerate(totals)]
    inputs = make_inputs(["r1"], transactions, quotas={"r1": quota})

    result = run(plan, inputs).rep("r1")

    marginal = result.component("marginal").amount
    retroactive = result.component("retroactive").amount
    assert marginal <= retroactive
    if result.measure("bookings").total <= 0:
        assert marginal == retroactive


# --- (d) the plan cap ----------------------------------------------------------------------


@SETTINGS
@given(
    transactions=transaction_lists(),
    cap=st.integers(min_value=0, max_value=800_000).map(lambda c: Decimal(c) / 100),
)
def test_given_plan_cap_when_calculated_then_rep_total_never_exceeds_it(
    transactions: list[Transaction], cap: Decimal
):
    result = run(full_plan(str(cap)), inputs_of(transactions))

    for r in result.reps:
        uncapped = sum((c.amount for c in r.components), Decimal(0))
        assert r.total <= cap
        assert r.cap_adjustment <= 0
        assert r.total == uncapped + r.cap_adjustment
        assert r.payable + r.pending == r.total
        if uncapped > cap:
            assert r.total == cap
