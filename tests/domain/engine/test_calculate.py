"""Edges of the calculation: bounds, rounding, teams, quotas, proration, splits, FX, payable."""

from __future__ import annotations

import pytest

from domain.engine.results import PlanResult
from domain.kit.errors import PeriodError, PlanError
from tests.factories import (
    AE_TIERS,
    BOOKINGS,
    D,
    amount_of,
    assignment,
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

# --- a value exactly on a tier bound -------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("marginal", "1000.00"),  # 2% of 50,000; nothing in the 5% tier
        ("retroactive", "2500.00"),  # on the bound: the higher tier, 5% of 50,000
    ],
)
def test_given_value_on_attainment_tier_bound_when_calculated_then_bound_belongs_to_higher_tier(
    method: str, expected: str
):
    plan = make_plan(tiered_component(*AE_TIERS, method=method))
    inputs = make_inputs(["ana"], [tx("t1", "ana", "50000")], quotas={"ana": "100000"})

    assert amount_of(plan, inputs, "ana", "commission") == D(expected)


@pytest.mark.parametrize(
    ("method", "total", "expected"),
    [
        ("marginal", "10000", "100.00"),
        ("retroactive", "10000", "200.00"),
        ("marginal", "20000", "300.00"),
        ("retroactive", "20000", "600.00"),
        ("retroactive", "9999.99", "100.00"),  # just below the bound: still tier 1
    ],
)
def test_given_value_on_amount_tier_bound_when_calculated_then_retroactive_takes_higher_tier(
    method: str, total: str, expected: str
):
    plan = make_plan(
        tiered_component(
            ("0", "0.01"), ("10000", "0.02"), ("20000", "0.03"), basis="amount", method=method
        )
    )
    inputs = make_inputs(["ana"], [tx("t1", "ana", total)])

    assert amount_of(plan, inputs, "ana", "commission") == D(expected)


@pytest.mark.parametrize("method", ["marginal", "retroactive"])
@pytest.mark.parametrize(
    ("total", "expected"),
    [("0", "0.00"), ("-5000", "-100.00"), ("-0.25", "-0.01")],  # -0.005 -> -0.01
)
def test_given_total_not_positive_when_tiered_then_total_times_first_rate(
    method: str, total: str, expected: str
):
    plan = make_plan(tiered_component(*AE_TIERS, method=method))
    inputs = make_inputs(["ana"], [tx("t1", "ana", total)], quotas={"ana": "100000"})

    assert amount_of(plan, inputs, "ana", "commission") == D(expected)


@pytest.mark.parametrize("method", ["marginal", "retroactive"])
def test_given_credit_notes_outweigh_bookings_when_tiered_then_negative_at_first_rate(method: str):
    plan = make_plan(
        tiered_component(("0", "0.01"), ("1000", "0.5"), basis="amount", method=method)
    )
    inputs = make_inputs(["ana"], [tx("t1", "ana", "5000"), tx("t2", "ana", "-8000")])

    assert amount_of(plan, inputs, "ana", "commission") == D("-30.00")


# --- rounding ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "amount", "expected"),
    [
        ("EUR", "0.005", "0.01"),
        ("EUR", "-0.005", "-0.01"),
        ("EUR", "2.675", "2.68"),
        ("EUR", "1.004", "1.00"),
        ("EUR", "-1.004", "-1.00"),
        ("JPY", "0.5", "1"),
        ("JPY", "-0.5", "-1"),
        ("JPY", "2.5", "3"),
        ("JPY", "-2.5", "-3"),
        ("JPY", "1234.4", "1234"),
        ("KWD", "0.0005", "0.001"),
        ("KWD", "-0.0005", "-0.001"),
        ("KWD", "1.2345", "1.235"),
        ("KWD", "-1.2345", "-1.235"),
        ("KWD", "2", "2.000"),
    ],
)
def test_given_raw_amount_when_rounded_to_plan_currency_then_half_away_from_zero(
    currency: str, amount: str, expected: str
):
    plan = make_plan(rate_component("1"), currency=currency)
    inputs = make_inputs(["ana"], [tx("t1", "ana", amount, currency=currency)])

    result = run(plan, inputs)
    rep_dict = result.to_dict()["reps"][0]

    assert rep_dict["components"][0]["amount"] == expected
    assert rep_dict["total"] == expected
    assert rep_dict["payable"] == expected
    assert rep_dict["cap_adjustment"] == str(D(0).quantize(D(expected)))


def test_given_components_when_summed_then_rep_total_is_sum_of_rounded_components():
    # Each 0.005 rounds to 0.01 on its own; the rep total is 0.02, not round(0.01) = 0.01.
    plan = make_plan(
        rate_component("1", id="a", measure="a"),
        rate_component("1", id="b", measure="b"),
        measures=[{"id": "a", "filter": "type == 'a'"}, {"id": "b", "filter": "type == 'b'"}],
    )
    inputs = make_inputs(
        ["ana"], [tx("t1", "ana", "0.005", type="a"), tx("t2", "ana", "0.005", type="b")]
    )

    assert run_rep(plan, inputs, "ana").total == D("0.02")


# --- team scope ----------------------------------------------------------------------------


def _team_inputs():
    # mia <- noa <- pia <- quinn, and raf outside the hierarchy.
    reps = [
        rep("mia"),
        rep("noa", manager_id="mia"),
        rep("pia", manager_id="noa"),
        rep("quinn", manager_id="pia"),
        rep("raf"),
    ]
    transactions = [
        tx("t1", "mia", "1"),
        tx("t2", "noa", "10"),
        tx("t3", "pia", "100"),
        tx("t4", "quinn", "1000"),
        tx("t5", "raf", "10000"),
    ]
    return make_inputs(reps, transactions)


@pytest.mark.parametrize(
    ("rep_id", "team_total"),
    [("mia", "1111"), ("noa", "1110"), ("pia", "1100"), ("quinn", "1000"), ("raf", "10000")],
)
def test_given_team_scope_three_levels_deep_when_calculated_then_everyone_below_counts(
    rep_id: str, team_total: str
):
    plan = make_plan(
        rate_component("0.01", measure="team"),
        measures=[{"id": "team", "scope": "team"}, {"id": "own"}],
    )

    result = run_rep(plan, _team_inputs(), rep_id)

    assert result.measure("team").total == D(team_total)
    assert result.component("commission").amount == D(team_total) * D("0.01")


def test_given_team_scope_when_own_measure_also_listed_then_own_counts_only_self():
    plan = make_plan(
        rate_component("1", measure="own"),
        measures=[{"id": "team", "scope": "team"}, {"id": "own"}],
    )

    result = run_rep(plan, _team_inputs(), "mia")

    assert result.measure("own").total == D("1")
    assert result.measure("team").total == D("1111")


def test_given_team_scope_rate_when_lines_explained_then_team_transactions_appear():
    plan = make_plan(
        rate_component("0.01", measure="team"), measures=[{"id": "team", "scope": "team"}]
    )

    result = run_rep(plan, _team_inputs(), "noa")

    assert [line.transaction_id for line in result.lines] == ["t2", "t3", "t4"]


def test_given_team_member_with_split_when_team_total_then_shares_counted_once_each():
    plan = make_plan(
        rate_component("1", measure="team"), measures=[{"id": "team", "scope": "team"}]
    )
    inputs = make_inputs(
        [rep("mia"), rep("noa", manager_id="mia"), rep("raf")],
        [tx("t1", "noa", "1000", splits=[("noa", "0.6"), ("raf", "0.4")])],
    )

    result = run(plan, inputs)

    assert result.rep("mia").measure("team").total == D("600.0")
    assert result.rep("raf").measure("team").total == D("400.0")


# --- quotas --------------------------------------------------------------------------------


def test_given_missing_quota_when_plan_needs_it_then_rep_error_with_exact_message():
    plan = make_plan(tiered_component(*AE_TIERS))
    inputs = make_inputs(
        ["ana", "ben"], [tx("t1", "ana", "1"), tx("t2", "ben", "1")], quotas={"ana": "100"}
    )

    result = run(plan, inputs)

    assert errors_of(result) == {"ben": "no quota for measure 'bookings' in 2026-10"}
    assert [r.rep_id for r in result.reps] == ["ana"]
    assert result.to_dict()["errors"] == [
        {"rep_id": "ben", "message": "no quota for measure 'bookings' in 2026-10"}
    ]


def test_given_quota_of_another_measure_when_plan_needs_bookings_then_still_an_error():
    plan = make_plan(tiered_component(*AE_TIERS))
    inputs = make_inputs(["ana"], [tx("t1", "ana", "1")], quotas={("ana", "units"): "5"})

    assert errors_of(run(plan, inputs)) == {"ana": "no quota for measure 'bookings' in 2026-10"}


@pytest.mark.parametrize(
    "component",
    [
        tiered_component(*AE_TIERS),
        {
            "id": "club",
            "type": "bonus",
            "measure": "bookings",
            "steps": [{"at": "1", "amount": "100"}],
        },
        formula_component("quota('bookings') * 0.01"),
        formula_component("100 if attainment('bookings') > 1 else 0"),
        rate_component("0.1", gate="attainment('bookings') > 0.5"),
    ],
    ids=["tiered", "bonus-steps", "formula-quota", "formula-attainment", "gate"],
)
def test_given_quota_of_zero_when_plan_needs_it_then_rep_error_naming_measure_and_period(
    component: dict[str, str],
):
    plan = make_plan(component)
    inputs = make_inputs(["ana"], [tx("t1", "ana", "1000")], quotas={"ana": "0"})

    result = run(plan, inputs)

    assert result.reps == ()
    message = errors_of(result)["ana"]
    assert "'bookings'" in message
    assert "2026-10" in message


def test_given_quota_of_zero_when_plan_does_not_need_quotas_then_rep_is_calculated():
    plan = make_plan(rate_component("0.1"))
    inputs = make_inputs(["ana"], [tx("t1", "ana", "1000")], quotas={"ana": "0"})

    result = run_rep(plan, inputs, "ana")

    assert result.total == D("100.00")
    assert result.measure("bookings").attainment is None


def test_given_measure_without_quota_when_reported_then_quota_and_attainment_are_null():
    plan = make_plan(
        rate_component("0.1"), measures=[{"id": "bookings"}, {"id": "units", "value": "count"}]
    )
    inputs = make_inputs(["ana"], [tx("t1", "ana", "1000")], quotas={"ana": "4000"})

    measures = run(plan, inputs).to_dict()["reps"][0]["measures"]

    assert measures == [
        {"id": "bookings", "total": "1000", "quota": "4000", "attainment": "0.25"},
        {"id": "units", "total": "1", "quota": None, "attainment": None},
    ]


HEAT_PUMPS = {
    "id": "heat_pumps",
    "filter": "category == 'heat_pump'",
    "quota": "bookings[category=heat_pump]",
}


def test_given_a_measure_reading_a_breakdown_quota_when_calculated_then_attainment_against_it():
    # bookings has a quota of its own; heat pumps the quota given for the heat-pump category
    plan = make_plan(
        tiered_component(("0", "0.01"), ("1", "0.1"), measure="heat_pumps", id="hp"),
        measures=[BOOKINGS, HEAT_PUMPS],
    )
    inputs = make_inputs(
        ["ana"],
        [
            tx("t1", "ana", "3000", category="heat_pump"),
            tx("t2", "ana", "9000", category="solar"),
        ],
        quotas={("ana", "bookings"): "100000", ("ana", "bookings[category=heat_pump]"): "2000"},
    )

    result = run_rep(plan, inputs, "ana")

    assert result.measure("heat_pumps").quota == D("2000")
    assert result.measure("heat_pumps").attainment == D("1.5")
    assert result.measure("bookings").attainment == D("0.12")
    # 1% of the first 2,000, 10% of the 1,000 above the heat-pump quota
    assert result.component("hp").amount == D("120.00")


def test_given_a_breakdown_quota_missing_when_needed_then_error_names_measure_and_key():
    plan = make_plan(
        tiered_component(*AE_TIERS, measure="heat_pumps"), measures=[BOOKINGS, HEAT_PUMPS]
    )
    inputs = make_inputs(
        ["ana"], [tx("t1", "ana", "1", category="heat_pump")], quotas={"ana": "100"}
    )

    assert errors_of(run(plan, inputs)) == {
        "ana": "no quota for measure 'heat_pumps' (quota 'bookings[category=heat_pump]') in 2026-10"
    }


@pytest.mark.parametrize(("quota", "fragment"), [("", "non-empty"), ("x" * 101, "longer")])
def test_given_a_bad_quota_key_when_loaded_then_plan_error_names_it(quota: str, fragment: str):
    with pytest.raises(PlanError) as caught:
        make_plan(rate_component("0.1"), measures=[{"id": "bookings", "quota": quota}])

    assert caught.value.field == "measures[0].quota"
    assert fragment in caught.value.message


# --- proration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hire_date", "end_date", "quota"),
    [
        (None, None, "31000"),
        ("2026-10-16", None, "16000"),  # hired mid-period: 16 of 31 days
        (None, "2026-10-10", "10000"),  # left mid-period: 10 of 31 days, end day included
        ("2026-10-11", "2026-10-20", "10000"),
        ("2026-10-31", None, "1000"),
        ("2025-01-01", "2026-10-01", "1000"),
    ],
)
def test_given_employment_within_period_when_calculated_then_quota_prorated_by_active_days(
    hire_date: str | None, end_date: str | None, quota: str
):
    plan = make_plan(tiered_component(*AE_TIERS))
    inputs = make_inputs(
        [rep("ana", hire_date=hire_date, end_date=end_date)],
        [tx("t1", "ana", "500", date="2026-10-20")],
        quotas={"ana": "31000"},
    )

    result = run_rep(plan, inputs, "ana")

    assert result.measure("bookings").quota == D(quota)
    assert result.measure("bookings").attainment == D("500") / D(quota)
    assert result.active_days * 1000 == int(D(quota))


@pytest.mark.parametrize(
    ("hire_date", "end_date"),
    [("2026-11-01", None), (None, "2026-09-30"), ("2025-01-01", "2025-12-31")],
)
def test_given_rep_not_employed_in_period_when_calculated_then_not_calculated_at_all(
    hire_date: str | None, end_date: str | None
):
    plan = make_plan(tiered_component(*AE_TIERS))
    inputs = make_inputs(
        [rep("ana", hire_date=hire_date, end_date=end_date), "ben"],
        [tx("t1", "ana", "500")],
        quotas={"ben": "1"},
    )

    result = run(plan, inputs)

    assert [r.rep_id for r in result.reps] == ["ben"]
    assert result.errors == ()


def test_given_quarter_plan_when_rep_hired_mid_quarter_then_prorated_over_quarter_days():
    plan = make_plan(tiered_component(*AE_TIERS), period="quarter")
    inputs = make_inputs(
        [rep("ana", hire_date="2026-12-01")], [tx("t1", "ana", "1")], quotas={"ana": "92000"}
    )

    result = run_rep(plan, inputs, "ana", period="2026-Q4")

    assert result.measure("bookings").quota == D("31000")


def test_given_assignment_from_mid_period_when_calculated_then_quota_prorated():
    plan = make_plan(tiered_component(*AE_TIERS))
    inputs = make_inputs(
        ["ana"],
        [tx("t1", "ana", "500")],
        quotas={"ana": "31000"},
        assignments=[assignment("ana", "2026-10-11")],
    )

    assert run_rep(plan, inputs, "ana").measure("bookings").quota == D("21000")


def test_given_assignment_and_employment_when_calculated_then_days_within_both():
    # Employed from the 6th, assigned until the 25th: 6..25 = 20 days.
    plan = make_plan(tiered_component(*AE_TIERS))
    inputs = make_inputs(
        [rep("ana", hire_date="2026-10-06")],
        [tx("t1", "ana", "500")],
        quotas={"ana": "31000"},
        assignments=[assignment("ana", "2026-09-01", "2026-10-25")],
    )

    result = run_rep(plan, inputs, "ana")

    assert result.active_days == 20
    assert result.measure("bookings").quota == D("20000")


def test_given_assignments_when_rep_not_assigned_then_rep_not_calculated():
    plan = make_plan(rate_component("0.1"))
    inputs = make_inputs(
        ["ana", "ben", "cara"],
        [tx("t1", "ana", "100"), tx("t2", "ben", "100"), tx("t3", "cara", "100")],
        assignments=[assignment("ana"), assignment("cara", plan_id="other-plan")],
    )

    result = run(plan, inputs)

    assert [r.rep_id for r in result.reps] == ["ana"]
    assert result.errors == ()


def test_given_assignment_outside_period_when_calculated_then_rep_not_calculated():
    plan = make_plan(rate_component("0.1"))
    inputs = make_inputs(
        ["ana"], [tx("t1", "ana", "100")], assignments=[assignment("ana", None, "2026-09-30")]
    )

    assert run(plan, inputs).reps == ()


# --- splits --------------------------------------------------------------------------------


def test_given_split_transaction_when_calculated_then_each_rep_credited_with_its_share():
    plan = make_plan(rate_component("0.1"))
    inputs = make_inputs(
        ["ana", "ben"], [tx("t1", "ana", "1000", splits=[("ana", "0.6"), ("ben", "0.4")])]
    )

    result = run(plan, inputs)

    assert result.rep("ana").measure("bookings").total == D("600")
    assert result.rep("ben").measure("bookings").total == D("400")
    assert result.rep("ana").total == D("60.00")
    assert result.rep("ben").total == D("40.00")
    assert [(ln.transaction_id, ln.value) for ln in result.rep("ben").lines] == [("t1", D("400"))]


def test_given_split_not_naming_the_owner_when_calculated_then_owner_gets_nothing():
    plan = make_plan(rate_component("0.1"))
    inputs = make_inputs(["ana", "ben"], [tx("t1", "ana", "1000", splits=[("ben", "1")])])

    result = run(plan, inputs)

    assert result.rep("ana").total == D("0.00")
    assert result.rep("ben").total == D("100.00")


def test_given_split_transactions_when_counted_then_count_adds_their_shares():
    plan = make_plan(
        rate_component("100", measure="units"),
        formula_component("count('bookings') * 1000", id="per_deal"),
        measures=[{"id": "bookings"}, {"id": "units", "value": "count"}],
    )
    inputs = make_inputs(
        ["ana", "ben"],
        [
            tx("t1", "ana", "10", splits=[("ana", "0.5"), ("ben", "0.5")]),
            tx("t2", "ana", "10", splits=[("ana", "0.25"), ("ben", "0.75")]),
            tx("t3", "ana", "10"),
        ],
    )

    result = run(plan, inputs)

    assert result.rep("ana").measure("units").total == D("1.75")
    assert result.rep("ana").component("commission").amount == D("175.00")
    assert result.rep("ana").component("per_deal").amount == D("1750.00")
    assert result.rep("ben").component("per_deal").amount == D("1250.00")


# --- FX ------------------------------------------------------------------------------------

FX = [("2026-10-01", "GBP", "1.15"), ("2026-10-18", "GBP", "1.17"), ("2026-09-01", "GBP", "9")]


@pytest.mark.parametrize(
    ("date", "converted"),
    [
        ("2026-10-01", "23000.00"),  # the rate of that very day
        ("2026-10-17", "23000.00"),  # latest on or before: 1 October
        ("2026-10-18", "23400.00"),
        ("2026-10-31", "23400.00"),
    ],
)
def test_given_foreign_currency_when_converted_then_latest_rate_on_or_before_the_date(
    date: str, converted: str
):
    plan = make_plan(rate_component("1"))
    inputs = make_inputs(["ben"], [tx("t1", "ben", "20000", currency="GBP", date=date)], fx=FX)

    result = run_rep(plan, inputs, "ben")

    assert result.measure("bookings").total == D(converted)


def test_given_fx_converted_when_expression_reads_amounts_then_amount_is_converted():
    plan = make_plan(
        rate_component("1"),
        measures=[{"id": "bookings", "filter": "amount > 1000 and amount_original < 1000"}],
    )
    inputs = make_inputs(["ben"], [tx("t1", "ben", "900", currency="GBP")], fx=FX)

    assert run_rep(plan, inputs, "ben").measure("bookings").total == D("1035.00")


def test_given_no_fx_rate_on_or_before_date_when_calculated_then_rep_error_never_zero():
    plan = make_plan(rate_component("1"))
    inputs = make_inputs(
        ["ben", "cara"],
        [
            tx("t1", "ben", "100", currency="USD", date="2026-10-09"),
            tx("t2", "cara", "100", currency="GBP", date="2026-10-02"),
        ],
        fx=[("2026-10-10", "USD", "0.9"), ("2026-10-01", "GBP", "1.15")],
    )

    result = run(plan, inputs)

    assert [r.rep_id for r in result.reps] == ["cara"]
    message = errors_of(result)["ben"]
    assert "USD" in message
    assert "t1" in message
    assert "2026-10-09" in message


def test_given_no_fx_rate_for_split_transaction_when_calculated_then_every_credited_rep_errs():
    plan = make_plan(rate_component("1"))
    inputs = make_inputs(
        ["ana", "ben", "cara"],
        [
            tx("t1", "ana", "100", currency="CHF", splits=[("ana", "0.5"), ("ben", "0.5")]),
            tx("t2", "cara", "100"),
        ],
    )

    result = run(plan, inputs)

    assert set(errors_of(result)) == {"ana", "ben"}
    assert [r.rep_id for r in result.reps] == ["cara"]


def test_given_no_fx_rate_for_team_member_when_manager_calculated_then_manager_errs_too():
    plan = make_plan(
        rate_component("1", measure="team"), measures=[{"id": "team", "scope": "team"}]
    )
    inputs = make_inputs(
        [rep("mia"), rep("noa", manager_id="mia")], [tx("t1", "noa", "100", currency="CHF")]
    )

    assert set(errors_of(run(plan, inputs))) == {"mia", "noa"}


def test_given_two_transactions_without_fx_rate_when_order_changes_then_same_error():
    plan = make_plan(rate_component("1"))
    transactions = [
        tx("t1", "ben", "100", currency="USD", date="2026-10-05"),
        tx("t2", "ben", "100", currency="CHF", date="2026-10-06"),
    ]

    forward = run(plan, make_inputs(["ben"], transactions)).to_dict()
    backward = run(plan, make_inputs(["ben"], reversed(transactions))).to_dict()

    assert forward == backward


# --- payable_when --------------------------------------------------------------------------


def _payable_plan(*components: dict[str, str]):
    return make_plan(*components, payable_when="state == 'activated'")


def test_given_payable_when_when_rate_component_then_payable_in_proportion_p_over_v():
    plan = _payable_plan(rate_component("0.1"))
    inputs = make_inputs(
        ["ana"],
        [
            tx("t1", "ana", "1000", state="activated"),
            tx("t2", "ana", "500", state="signed"),
            tx("t3", "ana", "500", state="activated"),
        ],
    )

    component = run_rep(plan, inputs, "ana").component("commission")

    assert (component.amount, component.payable, component.pending) == (
        D("200.00"),
        D("150.00"),
        D("50.00"),
    )


def test_given_payable_when_when_tiered_component_then_payable_in_proportion_p_over_v():
    plan = _payable_plan(tiered_component(*AE_TIERS))
    inputs = make_inputs(
        ["ana"],
        [tx("t1", "ana", "60000", state="activated"), tx("t2", "ana", "25000", state="signed")],
        quotas={"ana": "100000"},
    )

    result = run_rep(plan, inputs, "ana")

    # 2750.00 x 60000 / 85000 = 1941.176... -> 1941.18
    assert result.component("commission").payable == D("1941.18")
    assert result.component("commission").pending == D("808.82")
    assert (result.payable, result.pending) == (D("1941.18"), D("808.82"))


def test_given_payable_share_on_a_tie_when_rounded_then_half_away_from_zero():
    # amount 0.03; payable = round(0.03 x 0.015 / 0.03) = round(0.015) = 0.02
    plan = _payable_plan(rate_component("1"))
    inputs = make_inputs(
        ["ana"],
        [tx("t1", "ana", "0.015", state="activated"), tx("t2", "ana", "0.015", state="signed")],
    )

    component = run_rep(plan, inputs, "ana").component("commission")

    assert (component.amount, component.payable, component.pending) == (
        D("0.03"),
        D("0.02"),
        D("0.01"),
    )


def test_given_payable_when_and_spiff_window_when_calculated_then_v_counts_only_the_window():
    plan = _payable_plan(
        rate_component("1", window={"from": "2026-10-10", "to": "2026-10-20"}),
    )
    inputs = make_inputs(
        ["ana"],
        [
            tx("t1", "ana", "100", state="activated", date="2026-10-12"),
            tx("t2", "ana", "300", state="signed", date="2026-10-13"),
            tx("t3", "ana", "5000", state="activated", date="2026-10-01"),
        ],
    )

    component = run_rep(plan, inputs, "ana").component("commission")

    assert (component.amount, component.payable, component.pending) == (
        D("400.00"),
        D("100.00"),
        D("300.00"),
    )


def test_given_payable_when_and_v_zero_when_calculated_then_all_payable_without_error():
    plan = _payable_plan(rate_component("0.1"))
    inputs = make_inputs(
        ["ana"],
        [tx("t1", "ana", "100", state="activated"), tx("t2", "ana", "-100", state="signed")],
    )

    component = run_rep(plan, inputs, "ana").component("commission")

    assert (component.amount, component.payable, component.pending) == (
        D("0.00"),
        D("0.00"),
        D("0.00"),
    )


def test_given_payable_when_when_nothing_satisfies_it_then_all_pending():
    plan = _payable_plan(rate_component("0.1"))
    inputs = make_inputs(["ana"], [tx("t1", "ana", "100", state="signed")])

    result = run_rep(plan, inputs, "ana")

    assert (result.total, result.payable, result.pending) == (D("10.00"), D("0.00"), D("10.00"))


def test_given_payable_when_when_bonus_and_formula_then_wholly_payable():
    plan = _payable_plan(
        {"id": "club", "type": "bonus", "condition": "total('bookings') > 0", "amount": "500"},
        formula_component("total('bookings') * 0.01"),
    )
    inputs = make_inputs(["ana"], [tx("t1", "ana", "1000", state="signed")])

    result = run_rep(plan, inputs, "ana")

    assert [(c.amount, c.payable, c.pending) for c in result.components] == [
        (D("500.00"), D("500.00"), D("0.00")),
        (D("10.00"), D("10.00"), D("0.00")),
    ]


def test_given_no_payable_when_when_calculated_then_everything_payable():
    plan = make_plan(rate_component("0.1"))
    inputs = make_inputs(["ana"], [tx("t1", "ana", "100", state="signed")])

    result = run_rep(plan, inputs, "ana")

    assert (result.payable, result.pending) == (D("10.00"), D("0.00"))


def test_given_payable_when_with_splits_when_calculated_then_p_and_v_use_shares():
    plan = _payable_plan(rate_component("1"))
    inputs = make_inputs(
        ["ana", "ben"],
        [
            tx("t1", "ana", "100", state="activated", splits=[("ana", "0.25"), ("ben", "0.75")]),
            tx("t2", "ana", "100", state="signed"),
        ],
    )

    component = run_rep(plan, inputs, "ana").component("commission")

    # V = 25 + 100, P = 25: payable = round(125.00 x 25 / 125) = 25.00
    assert (component.amount, component.payable) == (D("125.00"), D("25.00"))


# --- lines, ordering, errors ---------------------------------------------------------------


def test_given_transaction_ids_with_numbers_when_lines_listed_then_natural_order():
    plan = make_plan(rate_component("1"))
    ids = ["t10", "t2", "t100", "t1", "a3", "t9"]
    inputs = make_inputs(["ana"], [tx(i, "ana", "1") for i in ids])

    lines = run_rep(plan, inputs, "ana").lines

    assert [line.transaction_id for line in lines] == ["a3", "t1", "t2", "t9", "t10", "t100"]


def test_given_two_rate_components_when_lines_listed_then_grouped_by_component_in_plan_order():
    plan = make_plan(rate_component("1", id="b_first"), rate_component("2", id="a_second"))
    inputs = make_inputs(["ana"], [tx("t2", "ana", "1"), tx("t1", "ana", "1")])

    lines = run_rep(plan, inputs, "ana").lines

    assert [(ln.component, ln.transaction_id) for ln in lines] == [
        ("b_first", "t1"),
        ("b_first", "t2"),
        ("a_second", "t1"),
        ("a_second", "t2"),
    ]


def test_given_reps_when_reported_then_sorted_by_rep_id():
    plan = make_plan(rate_component("1"))
    inputs = make_inputs(["cara", "ana", "ben"], [])

    assert [r.rep_id for r in run(plan, inputs).reps] == ["ana", "ben", "cara"]


def test_given_formula_dividing_by_zero_when_calculated_then_rep_error_not_a_crash():
    plan = make_plan(
        formula_component("total('bookings') / total('returns') * 100", id="ratio"),
        measures=[
            {"id": "bookings", "filter": "type == 'deal'"},
            {"id": "returns", "filter": "type == 'return'"},
        ],
    )
    inputs = make_inputs(
        ["ana", "ben"],
        [tx("t1", "ana", "100"), tx("t2", "ben", "100"), tx("t3", "ben", "50", type="return")],
    )

    result = run(plan, inputs)

    assert [r.rep_id for r in result.reps] == ["ben"]
    assert result.rep("ben").component("ratio").amount == D("200.00")
    message = errors_of(result)["ana"]
    assert "ratio" in message
    assert "division by zero" in message


def test_given_formula_dividing_zero_by_zero_when_calculated_then_rep_error():
    plan = make_plan(formula_component("total('bookings') / total('bookings')"))
    inputs = make_inputs(["ana"], [])

    assert "division by zero" in errors_of(run(plan, inputs))["ana"]


def test_given_value_expression_failing_on_a_transaction_when_calculated_then_rep_error():
    plan = make_plan(rate_component("1"), measures=[{"id": "bookings", "value": "points * 2"}])
    inputs = make_inputs(["ana", "ben"], [tx("t1", "ana", "1"), tx("t2", "ben", "1", points=D(3))])

    result = run(plan, inputs)

    assert "t1" in errors_of(result)["ana"]
    assert result.rep("ben").total == D("6.00")


@pytest.mark.parametrize(
    ("plan_period", "period"),
    [("month", "2026-Q4"), ("month", "2026"), ("quarter", "2026-10"), ("year", "2026-Q1")],
)
def test_given_period_of_the_wrong_kind_when_calculated_then_period_error(
    plan_period: str, period: str
):
    plan = make_plan(rate_component("1"), period=plan_period)

    with pytest.raises(PeriodError) as info:
        run(plan, make_inputs(["ana"], []), period)

    assert info.value.field == "period"
    assert period in info.value.message


def test_given_result_when_serialised_then_matches_the_spec_document_shape():
    plan = make_plan(rate_component("0.05"))
    inputs = make_inputs(["ana"], [tx("t1", "ana", "1500")])

    result: PlanResult = run(plan, inputs)

    assert result.to_dict() == {
        "plan": "test-plan",
        "period": "2026-10",
        "currency": "EUR",
        "reps": [
            {
                "rep_id": "ana",
                "total": "75.00",
                "payable": "75.00",
                "pending": "0.00",
                "cap_adjustment": "0.00",
                "measures": [
                    {"id": "bookings", "total": "1500", "quota": None, "attainment": None}
                ],
                "components": [
                    {"id": "commission", "amount": "75.00", "payable": "75.00", "pending": "0.00"}
                ],
                "lines": [
                    {
                        "component": "commission",
                        "transaction_id": "t1",
                        "value": "1500",
                        "amount": "75.00",
                    }
                ],
            }
        ],
        "errors": [],
    }


def test_given_split_transaction_in_team_scope_when_lines_explained_then_each_names_its_credit():
    # mia manages noa; both hold half of t1 (owned by mia) and of t2 (owned by noa). Of mia's
    # team lines, the share credited to mia herself names nobody, noa's share names noa.
    plan = make_plan(
        rate_component("1", measure="team"), measures=[{"id": "team", "scope": "team"}]
    )
    halves = [("mia", "0.5"), ("noa", "0.5")]
    inputs = make_inputs(
        [rep("mia"), rep("noa", manager_id="mia")],
        [tx("t1", "mia", "100", splits=halves), tx("t2", "noa", "10", splits=halves)],
    )

    lines = run_rep(plan, inputs, "mia").lines

    assert sorted((line.transaction_id, line.rep_id) for line in lines) == [
        ("t1", ""),
        ("t1", "noa"),
        ("t2", ""),
        ("t2", "noa"),
    ]
