"""What each component type pays (PLAN_SPEC section 1, components), gates and caps."""

from __future__ import annotations

import pytest

from tests.factories import (
    AE_TIERS,
    D,
    amount_of,
    errors_of,
    formula_component,
    make_inputs,
    make_plan,
    rate_component,
    rep,
    run,
    run_rep,
    tiered_component,
    tx,
)

# --- rate ----------------------------------------------------------------------------------


def test_given_rate_component_when_calculated_then_pays_total_times_rate():
    plan = make_plan(rate_component("0.05"))
    inputs = make_inputs(["ana"], [tx("t1", "ana", "1000"), tx("t2", "ana", "2500.50")])

    result = run_rep(plan, inputs, "ana")

    assert result.component("commission").amount == D("175.03")  # 3500.50 x 0.05 = 175.025
    assert result.total == D("175.03")
    assert result.measure("bookings").total == D("3500.50")


def test_given_rate_component_when_calculated_then_one_line_per_transaction():
    plan = make_plan(rate_component("0.05"))
    inputs = make_inputs(["ana"], [tx("t1", "ana", "1000"), tx("t2", "ana", "2500.50")])

    lines = run_rep(plan, inputs, "ana").lines

    assert [(ln.component, ln.transaction_id, ln.value, ln.amount) for ln in lines] == [
        ("commission", "t1", D("1000"), D("50.00")),
        ("commission", "t2", D("2500.50"), D("125.0250")),
    ]


def test_given_count_measure_when_rate_component_then_fixed_amount_per_unit():
    plan = make_plan(
        rate_component("120", id="per_install", measure="installs"),
        measures=[{"id": "installs", "filter": "type == 'installation'", "value": "count"}],
    )
    inputs = make_inputs(
        ["ivo"],
        [
            tx("i1", "ivo", "0", type="installation"),
            tx("i2", "ivo", "99999", type="installation"),
            tx("i3", "ivo", "-5", type="installation"),
            tx("i4", "ivo", "5000", type="deal"),
        ],
    )

    result = run_rep(plan, inputs, "ivo")

    assert result.component("per_install").amount == D("360.00")
    assert result.measure("installs").total == D("3")
    assert [ln.value for ln in result.lines] == [D("1"), D("1"), D("1")]


def test_given_value_expression_when_measure_totalled_then_value_replaces_amount():
    plan = make_plan(
        rate_component("1", measure="margin"),
        measures=[{"id": "margin", "value": "amount - cost"}],
    )
    inputs = make_inputs(["ana"], [tx("t1", "ana", "1000", cost=D("600"))])

    assert amount_of(plan, inputs, "ana", "commission") == D("400.00")


@pytest.mark.parametrize(
    ("date", "inside"),
    [
        ("2026-10-09", False),
        ("2026-10-10", True),
        ("2026-10-15", True),
        ("2026-10-20", True),
        ("2026-10-21", False),
    ],
)
def test_given_spiff_window_when_transaction_dated_then_both_ends_included(date: str, inside: bool):
    plan = make_plan(
        rate_component("80", id="spiff", window={"from": "2026-10-10", "to": "2026-10-20"}),
        measures=[{"id": "bookings", "value": "count"}],
    )
    inputs = make_inputs(["ana"], [tx("t1", "ana", "0", date=date)])

    result = run_rep(plan, inputs, "ana")

    assert result.component("spiff").amount == (D("80.00") if inside else D("0.00"))
    assert [ln.transaction_id for ln in result.lines] == (["t1"] if inside else [])
    # The measure itself still counts the whole period.
    assert result.measure("bookings").total == D("1")


def test_given_transaction_outside_the_period_when_calculated_then_not_credited():
    plan = make_plan(rate_component("0.1"))
    inputs = make_inputs(
        ["ana"],
        [
            tx("t1", "ana", "100", date="2026-09-30"),
            tx("t2", "ana", "200", date="2026-10-01"),
            tx("t3", "ana", "400", date="2026-10-31"),
            tx("t4", "ana", "800", date="2026-11-01"),
        ],
    )

    result = run_rep(plan, inputs, "ana")

    assert result.measure("bookings").total == D("600")
    assert result.component("commission").amount == D("60.00")


def test_given_filter_when_measure_totalled_then_only_matching_transactions_count():
    plan = make_plan(
        rate_component("0.1"),
        measures=[{"id": "bookings", "filter": "type == 'deal' and state == 'won'"}],
    )
    inputs = make_inputs(
        ["ana"],
        [
            tx("t1", "ana", "100"),
            tx("t2", "ana", "200", state="lost"),
            tx("t3", "ana", "400", type="lead"),
            tx("t4", "ana", "800", state=None),
        ],
    )

    assert run_rep(plan, inputs, "ana").measure("bookings").total == D("100")


# --- tiered --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        ("25000", "500.00"),  # 2% of 25,000
        ("85000", "2750.00"),  # 2% of 50,000 + 5% of 35,000
        ("130000", "5900.00"),  # 1,000 + 2,500 + 8% of 30,000
    ],
)
def test_given_marginal_attainment_tiers_when_calculated_then_each_slice_at_its_rate(
    total: str, expected: str
):
    plan = make_plan(tiered_component(*AE_TIERS))
    inputs = make_inputs(["ana"], [tx("t1", "ana", total)], quotas={"ana": "100000"})

    assert amount_of(plan, inputs, "ana", "commission") == D(expected)


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        ("25000", "500.00"),  # tier 1: 2% of everything
        ("85000", "4250.00"),  # tier 2: 5% of everything
        ("130000", "10400.00"),  # tier 3: 8% of everything
    ],
)
def test_given_retroactive_attainment_tiers_when_calculated_then_reached_rate_on_everything(
    total: str, expected: str
):
    plan = make_plan(tiered_component(*AE_TIERS, method="retroactive"))
    inputs = make_inputs(["ana"], [tx("t1", "ana", total)], quotas={"ana": "100000"})

    assert amount_of(plan, inputs, "ana", "commission") == D(expected)


AMOUNT_TIERS = (("0", "0.01"), ("10000", "0.02"), ("20000", "0.03"))


@pytest.mark.parametrize(
    ("method", "total", "expected"),
    [
        ("marginal", "5000", "50.00"),
        ("marginal", "25000", "450.00"),  # 100 + 200 + 150
        ("retroactive", "5000", "50.00"),
        ("retroactive", "15000", "300.00"),
        ("retroactive", "25000", "750.00"),
    ],
)
def test_given_amount_basis_tiers_when_calculated_then_bounds_are_plan_currency_amounts(
    method: str, total: str, expected: str
):
    plan = make_plan(tiered_component(*AMOUNT_TIERS, basis="amount", method=method))
    # No quota at all: an amount basis does not need one.
    inputs = make_inputs(["ana"], [tx("t1", "ana", total)])

    assert amount_of(plan, inputs, "ana", "commission") == D(expected)


def test_given_attainment_tiers_when_quota_is_prorated_then_bounds_use_prorated_quota():
    # Hired on the 16th: 16 of 31 days, so the 62,000 quota becomes 32,000 and the 50% bound
    # is 16,000: 2% of 16,000 + 5% of 7,400 = 690.
    plan = make_plan(tiered_component(*AE_TIERS))
    inputs = make_inputs(
        [rep("ben", hire_date="2026-10-16")],
        [tx("t1", "ben", "23400", date="2026-10-20")],
        quotas={"ben": "62000"},
    )

    result = run_rep(plan, inputs, "ben")

    assert result.measure("bookings").quota == D("32000")
    assert result.component("commission").amount == D("690.00")


def test_given_tiered_component_when_calculated_then_it_has_no_lines():
    plan = make_plan(tiered_component(*AE_TIERS))
    inputs = make_inputs(["ana"], [tx("t1", "ana", "1000")], quotas={"ana": "100000"})

    assert run_rep(plan, inputs, "ana").lines == ()


# --- bonus ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("total", "expected"), [("49999.99", "0.00"), ("50000", "500.00")])
def test_given_condition_bonus_when_condition_holds_then_pays_amount(total: str, expected: str):
    plan = make_plan(
        {"id": "club", "type": "bonus", "condition": "total('bookings') >= 50000", "amount": "500"}
    )
    inputs = make_inputs(["ana"], [tx("t1", "ana", total)])

    assert amount_of(plan, inputs, "ana", "club") == D(expected)


STEPS = {
    "id": "club",
    "type": "bonus",
    "measure": "bookings",
    "steps": [{"at": "1.0", "amount": "1000"}, {"at": "1.25", "amount": "2500"}],
}


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        ("0", "0.00"),
        ("99999.99", "0.00"),  # below the first step: nothing
        ("100000", "1000.00"),  # exactly on a step reaches it
        ("124999", "1000.00"),
        ("125000", "2500.00"),
        ("300000", "2500.00"),  # the highest step reached, not a sum of steps
    ],
)
def test_given_bonus_steps_when_attainment_reaches_a_step_then_highest_step_reached_pays(
    total: str, expected: str
):
    plan = make_plan(STEPS)
    inputs = make_inputs(["ana"], [tx("t1", "ana", total)], quotas={"ana": "100000"})

    assert amount_of(plan, inputs, "ana", "club") == D(expected)


def test_given_bonus_steps_without_quota_when_calculated_then_rep_error():
    plan = make_plan(STEPS)
    inputs = make_inputs(["ana"], [tx("t1", "ana", "100")])

    assert errors_of(run(plan, inputs)) == {"ana": "no quota for measure 'bookings' in 2026-10"}


# --- formula -------------------------------------------------------------------------------


def test_given_formula_with_component_when_calculated_then_uses_the_rounded_amount():
    # commission = 1000.10 x 0.05 = 50.005 -> 50.01; x 100 = 5001.00 (not 5000.50).
    plan = make_plan(
        rate_component("0.05"),
        formula_component("component('commission') * 100", id="kicker"),
    )
    inputs = make_inputs(["ana"], [tx("t1", "ana", "1000.10")])

    result = run_rep(plan, inputs, "ana")

    assert result.component("kicker").amount == D("5001.00")
    assert result.total == D("5051.01")


def test_given_formula_with_component_when_earlier_component_capped_then_uses_capped_amount():
    plan = make_plan(
        rate_component("0.1", cap="50"),
        formula_component("component('commission') * 2", id="kicker"),
    )
    inputs = make_inputs(["ana"], [tx("t1", "ana", "1000")])

    assert amount_of(plan, inputs, "ana", "kicker") == D("100.00")


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("total('bookings') * 0.01", "850.00"),
        ("quota('bookings') * 0.001", "100.00"),
        ("1000 if attainment('bookings') >= 0.85 else 0", "1000.00"),
        ("500 if attainment('bookings') >= 0.9 else 0", "0.00"),
        ("count('bookings') * 10", "30.00"),
        ("total('bookings') / 3", "28333.33"),
        ("min(total('bookings'), 10000) - 0.005", "10000.00"),  # 9999.995, half away from 0
        ("max(total('bookings') - quota('bookings'), 0)", "0.00"),
    ],
)
def test_given_formula_when_calculated_then_pays_its_value_rounded(expression: str, expected: str):
    plan = make_plan(formula_component(expression))
    inputs = make_inputs(
        ["ana"],
        [tx("t1", "ana", "40000"), tx("t2", "ana", "40000"), tx("t3", "ana", "5000")],
        quotas={"ana": "100000"},
    )

    assert amount_of(plan, inputs, "ana", "formula") == D(expected)


def test_given_formula_of_a_boolean_when_calculated_then_rep_error_not_a_silent_number():
    plan = make_plan(formula_component("total('bookings') > 0"))
    inputs = make_inputs(["ana"], [tx("t1", "ana", "1")])

    assert "formula" in errors_of(run(plan, inputs))["ana"]


# --- gates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "component",
    [
        rate_component("0.1", gate="total('bookings') > 5000"),
        tiered_component(("0", "0.1"), basis="amount", gate="total('bookings') > 5000"),
        formula_component("total('bookings')", id="commission", gate="count('bookings') > 1"),
        {
            "id": "commission",
            "type": "bonus",
            "condition": "total('bookings') > 0",
            "amount": "300",
            "gate": "total('bookings') > 5000",
        },
    ],
    ids=["rate", "tiered", "formula", "bonus"],
)
def test_given_gate_false_when_calculated_then_component_pays_zero(component: dict[str, str]):
    plan = make_plan(component)
    inputs = make_inputs(["ana"], [tx("t1", "ana", "1000")])

    result = run_rep(plan, inputs, "ana")

    assert result.component("commission").amount == D("0.00")
    assert result.component("commission").payable == D("0.00")
    assert result.total == D("0.00")
    assert all(line.amount == 0 for line in result.lines)


def test_given_gate_true_when_calculated_then_component_pays_normally():
    plan = make_plan(rate_component("0.1", gate="total('bookings') > 500"))
    inputs = make_inputs(["ana"], [tx("t1", "ana", "1000")])

    assert amount_of(plan, inputs, "ana", "commission") == D("100.00")


def test_given_gate_on_attainment_without_quota_when_calculated_then_rep_error():
    plan = make_plan(rate_component("0.1", gate="attainment('bookings') >= 1"))
    inputs = make_inputs(["ana"], [tx("t1", "ana", "1000")])

    assert errors_of(run(plan, inputs))["ana"] == "no quota for measure 'bookings' in 2026-10"


# --- component cap -------------------------------------------------------------------------


@pytest.mark.parametrize(("total", "expected"), [("2000", "200.00"), ("6000", "300.00")])
def test_given_component_cap_when_amount_exceeds_it_then_capped(total: str, expected: str):
    plan = make_plan(rate_component("0.1", cap="300"))
    inputs = make_inputs(["ana"], [tx("t1", "ana", total)])

    assert amount_of(plan, inputs, "ana", "commission") == D(expected)


def test_given_component_cap_when_applied_then_before_rounding():
    # raw 100.006 capped at 100.004, then rounded: 100.00 (rounding first would give 100.004).
    plan = make_plan(rate_component("1", cap="100.004"))
    inputs = make_inputs(["ana"], [tx("t1", "ana", "100.006")])

    assert str(amount_of(plan, inputs, "ana", "commission")) == "100.00"


def test_given_component_cap_when_lines_explained_then_lines_share_the_capped_amount():
    plan = make_plan(rate_component("1", cap="500"))
    inputs = make_inputs(["ana"], [tx("t1", "ana", "600"), tx("t2", "ana", "400")])

    lines = run_rep(plan, inputs, "ana").lines

    assert [line.amount for line in lines] == [D("300"), D("200")]


def test_given_component_cap_of_zero_when_calculated_then_pays_nothing():
    plan = make_plan(rate_component("1", cap="0"))
    inputs = make_inputs(["ana"], [tx("t1", "ana", "600")])

    assert amount_of(plan, inputs, "ana", "commission") == D("0.00")


# --- plan cap ------------------------------------------------------------------------------


def _two_component_plan(cap: str):
    return make_plan(
        rate_component("0.1", id="deals", measure="deals"),
        rate_component("0.1", id="renewals", measure="renewals"),
        measures=[
            {"id": "deals", "filter": "type == 'deal'"},
            {"id": "renewals", "filter": "type == 'renewal'"},
        ],
        payable_when="state == 'activated'",
        cap=cap,
    )


def test_given_plan_cap_below_total_when_calculated_then_total_is_cap_with_adjustment():
    plan = _two_component_plan("1000")
    inputs = make_inputs(
        ["ana"],
        [
            tx("d1", "ana", "7000", state="activated"),
            tx("d2", "ana", "1000", state="signed"),
            tx("r1", "ana", "4000", type="renewal", state="signed"),
        ],
    )

    result = run_rep(plan, inputs, "ana")

    # deals 800.00 (payable 700.00), renewals 400.00 (payable 0): uncapped 1200.00.
    assert [c.amount for c in result.components] == [D("800.00"), D("400.00")]
    assert result.total == D("1000.00")
    assert result.cap_adjustment == D("-200.00")
    # payable = round(700 x 1000 / 1200) = round(583.333...) = 583.33
    assert result.payable == D("583.33")
    assert result.pending == D("416.67")
    assert result.payable + result.pending == result.total


def test_given_plan_cap_above_total_when_calculated_then_no_adjustment():
    plan = _two_component_plan("5000")
    inputs = make_inputs(["ana"], [tx("d1", "ana", "7000", state="activated")])

    result = run_rep(plan, inputs, "ana")

    assert result.total == D("700.00")
    assert str(result.cap_adjustment) == "0.00"
    assert result.payable == D("700.00")


def test_given_plan_cap_equal_to_total_when_calculated_then_no_adjustment():
    plan = _two_component_plan("700")
    inputs = make_inputs(["ana"], [tx("d1", "ana", "7000", state="activated")])

    result = run_rep(plan, inputs, "ana")

    assert (result.total, result.cap_adjustment) == (D("700.00"), D("0"))


def test_given_plan_cap_when_payable_scaled_then_rounded_to_the_minor_unit():
    # Components 0.03 (payable 0.01) and 0.00; cap 0.02: payable = round(0.01 x 0.02 / 0.03)
    # = round(0.00666...) = 0.01, pending 0.01.
    plan = _two_component_plan("0.02")
    inputs = make_inputs(
        ["ana"],
        [tx("d1", "ana", "0.1", state="activated"), tx("d2", "ana", "0.2", state="signed")],
    )

    result = run_rep(plan, inputs, "ana")

    assert result.total == D("0.02")
    assert result.cap_adjustment == D("-0.01")
    assert (result.payable, result.pending) == (D("0.01"), D("0.01"))


def test_given_plan_cap_when_reported_then_components_keep_their_uncapped_amounts():
    plan = _two_component_plan("100")
    inputs = make_inputs(["ana"], [tx("d1", "ana", "7000", state="activated")])

    result = run_rep(plan, inputs, "ana")

    assert result.component("deals").amount == D("700.00")
    assert result.total == D("100.00")
    assert result.cap_adjustment == D("-600.00")
