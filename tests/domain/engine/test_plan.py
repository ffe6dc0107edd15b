"""Plan documents (PLAN_SPEC section 1): accepted shapes, and errors named by key path."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from domain.engine.plan import Plan, load_plan, parse_plan_text
from domain.kit.errors import ExpressionError, PlanError
from tests.factories import (
    AE_TIERS,
    BOOKINGS,
    D,
    formula_component,
    plan_document,
    plan_from_yaml,
    rate_component,
    tiered_component,
)

AE_PLAN_YAML = """
    id: ae-emea
    name: Account Executive EMEA
    currency: EUR
    period: month
    payable_when: "state == 'activated'"
    cap: 25000
    measures:
      - id: bookings
        filter: "type == 'deal' and category in ('solar', 'heat_pump')"
        value: amount
        scope: self
      - id: units
        value: count
    components:
      - id: commission
        type: tiered
        measure: bookings
        basis: attainment
        method: marginal
        tiers:
          - {from: 0, rate: 0.02}
          - {from: 0.5, rate: 0.05}
          - {from: 1.0, rate: 0.08}
        cap: 10000
      - id: spiff
        type: rate
        measure: units
        rate: 50
        window: {from: 2026-10-10, to: 2026-10-20}
      - id: club
        type: bonus
        measure: bookings
        steps:
          - {at: 1.0, amount: 1000}
          - {at: 1.25, amount: 2500}
      - id: welcome
        type: bonus
        condition: "count('units') >= 3"
        amount: 200
      - id: kicker
        type: formula
        expression: "component('commission') * 0.1"
        gate: "attainment('bookings') >= 1"
"""


def plan_error(document: Any) -> PlanError:
    with pytest.raises(PlanError) as info:
        load_plan(document)
    return info.value


def yaml_error(text: str) -> PlanError:
    with pytest.raises(PlanError) as info:
        plan_from_yaml(text)
    return info.value


def with_component(component: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return plan_document(component, **extra)


# --- accepted documents --------------------------------------------------------------------


def test_given_full_yaml_plan_when_loaded_then_every_part_is_compiled():
    plan = plan_from_yaml(AE_PLAN_YAML)

    assert (plan.id, plan.name, plan.currency, plan.period) == (
        "ae-emea",
        "Account Executive EMEA",
        "EUR",
        "month",
    )
    assert plan.cap == D("25000")
    assert plan.payable_when is not None
    assert [m.id for m in plan.measures] == ["bookings", "units"]
    assert plan.measure("units").is_count
    assert plan.measure("bookings").value is not None
    assert [c.id for c in plan.components] == ["commission", "spiff", "club", "welcome", "kicker"]
    commission, spiff, club, welcome, kicker = plan.components
    assert [(t.start, t.rate) for t in commission.tiers] == [
        (D("0"), D("0.02")),
        (D("0.5"), D("0.05")),
        (D("1.0"), D("0.08")),
    ]
    assert commission.cap == D("10000")
    assert spiff.window is not None
    assert (spiff.window.start, spiff.window.end) == (date(2026, 10, 10), date(2026, 10, 20))
    assert [(s.at, s.amount) for s in club.steps] == [(D("1.0"), D("1000")), (D("1.25"), D("2500"))]
    assert welcome.amount == D("200")
    assert kicker.gate is not None
    assert plan.quota_measures == {"bookings"}


def test_given_plan_without_name_when_loaded_then_name_defaults_to_id():
    plan = load_plan(plan_document(rate_component("0.05")))

    assert plan.name == "test-plan"


def test_given_defaults_when_tiered_component_has_no_basis_or_method_then_attainment_marginal():
    component = {
        "id": "c",
        "type": "tiered",
        "measure": "bookings",
        "tiers": [{"from": 0, "rate": "0.1"}],
    }
    plan = load_plan(with_component(component))

    assert (plan.components[0].basis, plan.components[0].method) == ("attainment", "marginal")
    assert plan.measures[0].scope == "self"


def test_given_yaml_floats_when_loaded_then_they_are_exact_decimals_from_their_text():
    plan = plan_from_yaml(
        """
        id: p
        currency: EUR
        period: month
        cap: 1234567890.123456789
        measures: [{id: bookings}]
        components:
          - {id: c, type: rate, measure: bookings, rate: 0.123456789012345678901}
        """
    )

    rate = plan.components[0].rate
    assert type(rate) is Decimal
    assert rate == Decimal("0.123456789012345678901")
    assert plan.cap == Decimal("1234567890.123456789")


def test_given_yaml_float_point_one_when_loaded_then_not_a_binary_float():
    plan = plan_from_yaml(
        """
        id: p
        currency: EUR
        period: month
        measures: [{id: bookings}]
        components: [{id: c, type: rate, measure: bookings, rate: 0.1}]
        """
    )

    assert plan.components[0].rate == Decimal("0.1")
    assert plan.components[0].rate != Decimal(0.1)


def test_given_json_document_when_parsed_then_accepted_with_exact_decimals():
    text = json.dumps(
        {
            "id": "json-plan",
            "currency": "USD",
            "period": "quarter",
            "measures": [{"id": "bookings", "filter": "state == 'won'"}],
            "components": [
                {
                    "id": "c",
                    "type": "tiered",
                    "measure": "bookings",
                    "basis": "amount",
                    "tiers": [{"from": 0, "rate": 0.1}, {"from": 1000, "rate": 0.2}],
                },
                {
                    "id": "w",
                    "type": "rate",
                    "measure": "bookings",
                    "rate": 1,
                    "window": {"from": "2026-10-01", "to": "2026-10-31"},
                },
            ],
        }
    ).replace('"rate": 0.2', '"rate": 0.123456789012345678901')

    plan = parse_plan_text(text)

    assert plan.id == "json-plan"
    assert plan.period == "quarter"
    assert plan.components[0].tiers[1].rate == Decimal("0.123456789012345678901")
    assert plan.components[0].tiers[0].rate == Decimal("0.1")
    assert plan.components[1].window is not None
    assert plan.components[1].window.start == date(2026, 10, 1)


def test_given_quota_needing_components_when_loaded_then_quota_measures_lists_them():
    plan = load_plan(
        plan_document(
            tiered_component(*AE_TIERS, id="t1", measure="a"),
            tiered_component(*AE_TIERS, id="t2", measure="b", basis="amount"),
            {"id": "s", "type": "bonus", "measure": "c", "steps": [{"at": 1, "amount": 5}]},
            formula_component("quota('d') + total('e')", id="f"),
            rate_component("1", id="g", measure="e", gate="attainment('f') > 0"),
            measures=[{"id": x} for x in "abcdef"],
        )
    )

    assert plan.quota_measures == {"a", "c", "d", "f"}


@pytest.mark.parametrize("period", ["month", "quarter", "year"])
def test_given_each_period_kind_when_loaded_then_accepted(period: str):
    assert load_plan(plan_document(rate_component("1"), period=period)).period == period


# --- unknown keys --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "path"),
    [
        (plan_document(rate_component("1"), capp="5"), "capp"),
        (
            plan_document(
                {"id": "c", "type": "tiered", "measure": "bookings", "tier": []},
            ),
            "components[0].tier",
        ),
        (
            plan_document(
                rate_component("1"),
                measures=[BOOKINGS, {"id": "units", "scopee": "team"}],
            ),
            "measures[1].scopee",
        ),
        (
            plan_document(
                rate_component("1"),
                rate_component(
                    "1", id="d", window={"from": "2026-10-01", "to": "2026-10-02", "too": "x"}
                ),
            ),
            "components[1].window.too",
        ),
        (
            plan_document(
                tiered_component(("0", "0.1"), ("1", "0.2"))
                | {"tiers": [{"from": 0, "rate": 1}, {"from": 1, "rate": 2, "to": 3}]}
            ),
            "components[0].tiers[1].to",
        ),
        (
            plan_document(
                {
                    "id": "s",
                    "type": "bonus",
                    "measure": "bookings",
                    "steps": [{"at": 1, "amount": 5, "amout": 6}],
                }
            ),
            "components[0].steps[0].amout",
        ),
        (plan_document(formula_component("1", rate="0.1")), "components[0].rate"),
    ],
)
def test_given_unknown_key_when_loaded_then_error_names_its_path(document: Any, path: str):
    error = plan_error(document)

    assert error.field == path
    assert "unknown key" in error.message
    assert str(error).startswith(f"{path}: ")


def test_given_unknown_key_in_yaml_when_parsed_then_error_names_its_path():
    error = yaml_error(
        """
        id: p
        currency: EUR
        period: month
        measures: [{id: bookings}]
        components:
          - id: c
            type: tiered
            measure: bookings
            tier: [{from: 0, rate: 0.1}]
        """
    )

    assert error.field == "components[0].tier"


# --- required keys and values --------------------------------------------------------------


@pytest.mark.parametrize("key", ["id", "currency", "period", "measures", "components"])
def test_given_required_key_missing_when_loaded_then_error_names_it(key: str):
    document = plan_document(rate_component("1"))
    del document[key]

    error = plan_error(document)

    assert error.field == key
    assert "required" in error.message


@pytest.mark.parametrize("currency", ["EURO", "eur", "XYZ", "E", 978, "XXX", "XAU"])
def test_given_bad_currency_when_loaded_then_error_on_currency(currency: Any):
    error = plan_error(plan_document(rate_component("1"), currency=currency))

    assert error.field == "currency"


@pytest.mark.parametrize("period", ["week", "Month", "2026-10", "monthly", 12])
def test_given_bad_period_when_loaded_then_error_on_period(period: Any):
    error = plan_error(plan_document(rate_component("1"), period=period))

    assert error.field == "period"


@pytest.mark.parametrize("plan_id", ["AE-EMEA", "ae emea", "", "ae.emea"])
def test_given_bad_plan_id_when_loaded_then_error_on_id(plan_id: str):
    document = plan_document(rate_component("1"))
    document["id"] = plan_id

    assert plan_error(document).field == "id"


@pytest.mark.parametrize("key", ["measures", "components"])
def test_given_empty_list_when_loaded_then_error(key: str):
    document = plan_document(rate_component("1"))
    document[key] = []

    assert plan_error(document).field == key


def test_given_negative_plan_cap_when_loaded_then_error_on_cap():
    assert plan_error(plan_document(rate_component("1"), cap="-1")).field == "cap"


@pytest.mark.parametrize("rate", ["abc", None, True, "NaN", "Infinity"])
def test_given_non_number_rate_when_loaded_then_error_on_rate(rate: Any):
    assert plan_error(with_component(rate_component(rate))).field == "components[0].rate"


def test_given_unknown_component_type_when_loaded_then_error_on_type():
    error = plan_error(with_component({"id": "c", "type": "commission"}))

    assert error.field == "components[0].type"


def test_given_duplicate_component_ids_when_loaded_then_error():
    error = plan_error(plan_document(rate_component("1"), rate_component("2")))

    assert error.field == "components[1].id"


def test_given_duplicate_measure_ids_when_loaded_then_error():
    error = plan_error(plan_document(rate_component("1"), measures=[BOOKINGS, BOOKINGS]))

    assert error.field == "measures[1].id"


def test_given_bad_measure_scope_when_loaded_then_error_on_scope():
    error = plan_error(
        plan_document(rate_component("1"), measures=[{"id": "bookings", "scope": "org"}])
    )

    assert error.field == "measures[0].scope"


# --- tiers, steps, windows -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("pairs", "path"),
    [
        ((("0.1", "0.02"), ("0.5", "0.05")), "components[0].tiers[0].from"),
        ((("0", "0.02"), ("0.5", "0.05"), ("0.5", "0.08")), "components[0].tiers[2].from"),
        ((("0", "0.02"), ("0.8", "0.05"), ("0.5", "0.08")), "components[0].tiers[2].from"),
        ((("0", "0.02"), ("0", "0.05")), "components[0].tiers[1].from"),
    ],
)
def test_given_tiers_not_starting_at_zero_or_not_rising_when_loaded_then_error(
    pairs: tuple[tuple[str, str], ...], path: str
):
    assert plan_error(with_component(tiered_component(*pairs))).field == path


def test_given_empty_tiers_when_loaded_then_error():
    component = tiered_component(("0", "1")) | {"tiers": []}

    assert plan_error(with_component(component)).field == "components[0].tiers"


def test_given_bonus_steps_not_rising_when_loaded_then_error():
    component = {
        "id": "s",
        "type": "bonus",
        "measure": "bookings",
        "steps": [{"at": "1", "amount": 5}, {"at": "1", "amount": 6}],
    }

    assert plan_error(with_component(component)).field == "components[0].steps[1].at"


@pytest.mark.parametrize(
    "component",
    [
        {"id": "b", "type": "bonus"},
        {"id": "b", "type": "bonus", "condition": "1 > 0"},
        {"id": "b", "type": "bonus", "steps": [{"at": 1, "amount": 1}]},
        {
            "id": "b",
            "type": "bonus",
            "condition": "1 > 0",
            "amount": 1,
            "measure": "bookings",
            "steps": [{"at": 1, "amount": 1}],
        },
        {"id": "b", "type": "bonus", "condition": "1 > 0", "amount": 1, "measure": "bookings"},
    ],
)
def test_given_bonus_neither_condition_amount_nor_measure_steps_when_loaded_then_error(
    component: dict[str, Any],
):
    assert plan_error(with_component(component)).field.startswith("components[0]")


def test_given_window_ending_before_it_starts_when_loaded_then_error_on_to():
    component = rate_component("1", window={"from": "2026-10-20", "to": "2026-10-10"})

    assert plan_error(with_component(component)).field == "components[0].window.to"


def test_given_window_with_bad_date_when_loaded_then_error_on_from():
    component = rate_component("1", window={"from": "10/10/2026", "to": "2026-10-20"})

    assert plan_error(with_component(component)).field == "components[0].window.from"


# --- references ----------------------------------------------------------------------------


def test_given_component_with_unknown_measure_when_loaded_then_error_on_measure():
    error = plan_error(with_component(rate_component("1", measure="revenue")))

    assert error.field == "components[0].measure"
    assert "revenue" in error.message


@pytest.mark.parametrize(
    ("expression", "key"),
    [
        ("total('revenue') * 2", "expression"),
        ("quota('revenue')", "expression"),
        ("attainment('revenue')", "expression"),
        ("count('revenue')", "expression"),
    ],
)
def test_given_function_of_unknown_measure_when_loaded_then_error(expression: str, key: str):
    error = plan_error(with_component(formula_component(expression)))

    assert error.field == f"components[0].{key}"
    assert "'revenue'" in error.message


def test_given_gate_of_unknown_measure_when_loaded_then_error_on_gate():
    error = plan_error(with_component(rate_component("1", gate="total('nope') > 0")))

    assert error.field == "components[0].gate"


def test_given_component_reference_to_a_later_component_when_loaded_then_error():
    error = plan_error(
        plan_document(
            formula_component("component('commission') * 0.1", id="kicker"),
            rate_component("0.05"),
        )
    )

    assert error.field == "components[0].expression"
    assert "listed earlier" in error.message


def test_given_component_reference_to_itself_when_loaded_then_error():
    error = plan_error(with_component(formula_component("component('formula') + 1")))

    assert error.field == "components[0].expression"


def test_given_component_reference_to_unknown_component_when_loaded_then_error():
    error = plan_error(plan_document(rate_component("1"), formula_component("component('nope')")))

    assert error.field == "components[1].expression"


def test_given_component_reference_to_an_earlier_component_when_loaded_then_accepted():
    plan = load_plan(
        plan_document(
            rate_component("0.05"),
            formula_component("component('commission') * 0.1", id="kicker"),
        )
    )

    assert plan.components[1].expression is not None


# --- expressions in the plan ---------------------------------------------------------------


def test_given_bad_expression_when_loaded_then_expression_error_with_path_and_column():
    with pytest.raises(ExpressionError) as info:
        load_plan(
            plan_document(
                rate_component("1"),
                measures=[{"id": "bookings", "filter": "type == 'deal' and amount.real > 0"}],
            )
        )

    assert info.value.field == "measures[0].filter"
    assert info.value.column == 20


def test_given_field_name_in_gate_when_loaded_then_rejected():
    with pytest.raises(ExpressionError) as info:
        load_plan(with_component(rate_component("1", gate="amount > 0")))

    assert info.value.field == "components[0].gate"


def test_given_bad_payable_when_when_loaded_then_error_on_payable_when():
    with pytest.raises(ExpressionError) as info:
        load_plan(plan_document(rate_component("1"), payable_when="state.lower() == 'x'"))

    assert info.value.field == "payable_when"


# --- YAML and JSON ---------------------------------------------------------------------------


def test_given_yaml_with_duplicate_top_level_key_when_parsed_then_rejected():
    error = yaml_error(
        """
        id: p
        currency: EUR
        currency: USD
        period: month
        measures: [{id: bookings}]
        components: [{id: c, type: rate, measure: bookings, rate: 1}]
        """
    )

    assert "duplicate key 'currency'" in error.message


def test_given_yaml_with_duplicate_nested_key_when_parsed_then_rejected():
    error = yaml_error(
        """
        id: p
        currency: EUR
        period: month
        measures: [{id: bookings}]
        components:
          - id: c
            type: rate
            measure: bookings
            rate: 0.05
            rate: 0.5
        """
    )

    assert "duplicate key 'rate'" in error.message


@pytest.mark.parametrize(
    "text",
    ["id: [unclosed", '{"id": ', "- just\n- a list", "id: p\n  bad: indent\n x"],
)
def test_given_unparsable_or_non_mapping_document_when_parsed_then_plan_error(text: str):
    with pytest.raises(PlanError):
        parse_plan_text(text)


def test_given_yaml_document_when_parsed_then_equal_to_the_same_json_document():
    yaml_plan = plan_from_yaml(AE_PLAN_YAML)
    json_plan = parse_plan_text(json.dumps(yaml_plan.document, default=str))

    assert isinstance(json_plan, Plan)
    assert [c.id for c in json_plan.components] == [c.id for c in yaml_plan.components]
    assert json_plan.components[0].tiers == yaml_plan.components[0].tiers
