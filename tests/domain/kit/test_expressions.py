"""The expression subset of PLAN_SPEC section 2: what is accepted, what it means, what is not."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from domain.kit.errors import ExpressionError
from domain.kit.expressions import (
    CompiledExpression,
    EvaluationError,
    compile_expression,
    evaluate_safely,
)
from tests.factories import D

REP_FUNCTIONS = {
    "total": "totals",
    "quota": "quotas",
    "attainment": "attainments",
    "count": "counts",
    "component": "components",
}


def field_expr(source: str) -> CompiledExpression:
    """An expression over a transaction's fields (filter, value, payable_when)."""
    return compile_expression(source, where="filter", allow_names=True)


def rep_expr(source: str) -> CompiledExpression:
    """An expression over a rep's figures (gate, condition, formula)."""
    return compile_expression(
        source, where="expression", allow_names=False, reference_functions=REP_FUNCTIONS
    )


def ev(source: str, **fields: Any) -> Any:
    return field_expr(source)(fields)


def rep_env(**figures: dict[str, Decimal]) -> SimpleNamespace:
    return SimpleNamespace(
        totals=figures.get("totals", {}),
        quotas=figures.get("quotas", {}),
        attainments=figures.get("attainments", {}),
        counts=figures.get("counts", {}),
        components=figures.get("components", {}),
    )


def rejection(source: str, *, allow_names: bool = True) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        compile_expression(
            source,
            where="components[0].expression",
            allow_names=allow_names,
            reference_functions=None if allow_names else REP_FUNCTIONS,
        )
    return info.value


# --- numbers and arithmetic ----------------------------------------------------------------


def test_given_decimal_literals_when_added_then_result_is_exact_decimal():
    result = ev("0.1 + 0.2")

    assert type(result) is Decimal
    assert result == Decimal("0.3")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 + 2 * 3", "7"),
        ("(1 + 2) * 3", "9"),
        ("7 / 2", "3.5"),
        ("10 - 2 - 3", "5"),
        ("-3 + +1", "-2"),
        ("1_000 * 2", "2000"),
        ("amount * 0.05", "60.00"),
        ("amount - amount_original", "0"),
    ],
)
def test_given_arithmetic_when_evaluated_then_decimal_result(source: str, expected: str):
    result = ev(source, amount=D("1200"), amount_original=D("1200"))

    assert result == D(expected)
    assert isinstance(result, Decimal)


def test_given_integer_literal_when_compiled_then_it_is_a_decimal_not_an_int():
    assert type(ev("3")) is Decimal


def test_given_long_literal_when_evaluated_then_no_float_precision_is_lost():
    assert ev("0.123456789012345678901 * 1") == Decimal("0.123456789012345678901")


# --- comparisons, chains, booleans ---------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "expected"),
    [("1", False), ("1.5", True), ("3", True), ("3.01", False)],
)
def test_given_comparison_chain_when_evaluated_then_every_link_must_hold(
    amount: str, expected: bool
):
    assert ev("1 < amount <= 3", amount=D(amount)) is expected


def test_given_chain_of_three_links_when_evaluated_then_like_python():
    assert ev("1 < 2 < 3 < 4") is True
    assert ev("1 < 2 > 3 < 4") is False
    assert ev("1 == 1 != 2") is True


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("True and False", False),
        ("True or False", True),
        ("not False", True),
        ("not (1 < 2)", False),
        ("1 < 2 and 2 < 3 or False", True),
        ("type == 'deal' and state == 'won'", True),
        ("type == 'deal' and not state == 'won'", False),
        ("type == 'lead' or state == 'won'", True),
    ],
)
def test_given_boolean_operators_when_evaluated_then_like_python(source: str, expected: bool):
    assert ev(source, type="deal", state="won") == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("type in ('deal', 'renewal')", True),
        ("type in ['deal', 'renewal']", True),
        ("type in ('lead',)", False),
        ("type not in ('lead', 'quote')", True),
        ("type not in ['deal']", False),
        ("amount in (1200, 1300)", True),
        ("type in ()", False),
    ],
)
def test_given_in_with_tuple_or_list_when_evaluated_then_membership(source: str, expected: bool):
    assert ev(source, type="deal", amount=D("1200")) is expected


@pytest.mark.parametrize(
    ("state", "expected"),
    [("won", "1"), ("lost", "0"), (None, "0")],
)
def test_given_if_else_when_evaluated_then_branch_by_condition(state: str | None, expected: str):
    assert ev("1 if state == 'won' else 0", state=state) == D(expected)


def test_given_nested_if_else_when_evaluated_then_first_true_branch_wins():
    source = "0.08 if amount >= 1000 else 0.05 if amount >= 500 else 0.02"

    assert ev(source, amount=D("1000")) == D("0.08")
    assert ev(source, amount=D("999")) == D("0.05")
    assert ev(source, amount=D("10")) == D("0.02")


@pytest.mark.parametrize(
    ("day", "expected"),
    [("2026-10-14", False), ("2026-10-15", True), ("2026-11-01", True)],
)
def test_given_iso_date_field_when_compared_with_string_then_calendar_order(
    day: str, expected: bool
):
    assert ev("date >= '2026-10-15'", date=day) is expected


def test_given_date_range_chain_when_evaluated_then_both_ends_included():
    source = "'2026-10-10' <= date <= '2026-10-20'"

    assert ev(source, date="2026-10-10") is True
    assert ev(source, date="2026-10-20") is True
    assert ev(source, date="2026-10-21") is False


# --- functions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("min(3, 1, 2)", "1"),
        ("max(3, 1, 2)", "3"),
        ("min(amount, 1000)", "1000"),
        ("max(amount * 0.1, 100)", "120.0"),
        ("abs(-2.5)", "2.5"),
        ("abs(2.5)", "2.5"),
        ("round(2.5)", "3"),
        ("round(-2.5)", "-3"),
        ("round(3.5)", "4"),
        ("round(0.125, 2)", "0.13"),
        ("round(-0.125, 2)", "-0.13"),
        ("round(1.005, 2)", "1.01"),
        ("round(2.675, 2)", "2.68"),
        ("round(1234.5, -2)", "1.2E+3"),
        ("round(amount / 7, 3)", "171.429"),
    ],
)
def test_given_builtin_function_when_evaluated_then_exact_result(source: str, expected: str):
    result = ev(source, amount=D("1200"))

    assert result == D(expected)


def test_given_round_of_a_tie_when_evaluated_then_half_away_from_zero_not_to_even():
    assert ev("round(0.5)") == D("1")
    assert ev("round(-0.5)") == D("-1")
    assert ev("round(0.045, 2)") == D("0.05")
    assert ev("round(-0.045, 2)") == D("-0.05")


def test_given_round_with_digits_when_evaluated_then_result_has_those_digits():
    assert str(ev("round(2, 2)")) == "2.00"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("total('bookings')", "85000"),
        ("quota('bookings')", "100000"),
        ("attainment('bookings')", "0.85"),
        ("count('bookings')", "2.5"),
        ("component('commission')", "2750.00"),
        ("component('commission') * 0.1 if attainment('bookings') >= 0.8 else 0", "275.000"),
        ("total('bookings') / count('bookings')", "34000"),
    ],
)
def test_given_plan_function_when_evaluated_then_reads_the_reps_figures(source: str, expected: str):
    env = rep_env(
        totals={"bookings": D("85000")},
        quotas={"bookings": D("100000")},
        attainments={"bookings": D("0.85")},
        counts={"bookings": D("2.5")},
        components={"commission": D("2750.00")},
    )

    assert rep_expr(source)(env) == D(expected)


def test_given_plan_functions_when_compiled_then_references_are_recorded():
    compiled = rep_expr("total('a') + quota('b') + attainment('c') + component('x')")

    assert compiled.references == {
        ("total", "a"),
        ("quota", "b"),
        ("attainment", "c"),
        ("component", "x"),
    }


def test_given_field_names_when_compiled_then_names_are_recorded():
    assert field_expr("type == 'deal' and region != None").names == {"type", "region"}


# --- None semantics ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("region == None", True),
        ("region != None", False),
        ("None == region", True),
        ("region == 'north'", False),
        ("region != 'north'", True),
        ("amount < 5", False),
        ("amount <= 5", False),
        ("amount > 5", False),
        ("amount >= 5", False),
        ("5 < amount", False),
        ("5 >= amount", False),
        ("region in ('north', 'south')", False),
        ("region not in ('north', 'south')", False),
        ("None in (None, 'north')", False),
        ("None not in ('north',)", False),
        ("'north' in ('north', None)", True),
        ("date >= '2026-10-01'", False),
        ("1 < amount < 10", False),
    ],
)
def test_given_missing_field_when_compared_then_spec_none_semantics(source: str, expected: bool):
    # Neither `region`, `amount` nor `date` is present: each reads as None.
    assert ev(source) is expected


def test_given_present_field_when_tested_against_none_then_not_missing():
    assert ev("region != None", region="north") is True
    assert ev("region == None", region="north") is False


def test_given_missing_field_in_arithmetic_when_evaluated_safely_then_evaluation_error():
    with pytest.raises(EvaluationError, match="missing value"):
        evaluate_safely(field_expr("bonus_points * 2"), {})


def test_given_division_by_zero_when_evaluated_safely_then_evaluation_error_names_expression():
    with pytest.raises(EvaluationError, match=r"division by zero in 'amount / 0'"):
        evaluate_safely(field_expr("amount / 0"), {"amount": D("5")})


def test_given_round_of_a_string_when_evaluated_safely_then_evaluation_error():
    with pytest.raises(EvaluationError, match="round"):
        evaluate_safely(field_expr("round(type)"), {"type": "deal"})


# --- rejections ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "column", "fragment"),
    [
        ("amount.real", 1, "attribute access"),
        ("1 + amount.real", 5, "attribute access"),
        ("amount.__class__", 1, "attribute access"),
        ("__class__", 1, "'__class__' is not allowed"),
        ("amount + __builtins__", 10, "'__builtins__' is not allowed"),
        ("_private", 1, "is not allowed"),
        ("len(type)", 1, "unknown function 'len'"),
        ("amount + open('x')", 10, "unknown function 'open'"),
        ("__import__('os')", 1, "unknown function '__import__'"),
        ("eval('1')", 1, "unknown function 'eval'"),
        ("type[0]", 1, "subscript"),
        ("amount * type[1:2]", 10, "subscript"),
        ("lambda: 1", 1, "lambda"),
        ("1 + (lambda x: x)", 6, "lambda"),
        ("[x for x in (1, 2)]", 1, "comprehension"),
        ("max(x for x in (1, 2))", 4, "comprehension"),
        ("{x: 1 for x in (1, 2)}", 1, "comprehension"),
        ("amount ** 2", 1, "operator ** is not allowed"),
        ("2 * amount ** 2", 5, "operator ** is not allowed"),
        ("amount % 2", 1, "operator % is not allowed"),
        ("amount // 2", 1, "operator // is not allowed"),
        ("amount is None", 1, "'is' is not allowed"),
        ("amount is not None", 1, "'is' is not allowed"),
        ("round(amount, ndigits=2)", 1, "keyword"),
        ("1 + max(amount, default=0)", 5, "keyword"),
        ("f'{type}'", 1, "f-string"),
        ("type == f'x{amount}'", 9, "f-string"),
        ("{'a': 1}", 1, "dict"),
        ("(y := 1)", 2, ":="),
        ("~amount", 1, "~"),
        ("type in type", 9, "'in' needs a tuple or list"),
        ("min(*amount)", 1, "*"),
        ("amount.real()", 1, "only calls of"),
    ],
)
def test_given_construct_outside_the_subset_when_compiled_then_rejected_with_its_column(
    source: str, column: int, fragment: str
):
    error = rejection(source)

    assert error.column == column
    assert fragment in error.message
    assert f"at column {column}" in error.message
    assert repr(source) in error.message
    assert error.field == "components[0].expression"
    assert error.expression == source


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("amount +", "syntax error"),
        ("", "non-empty"),
        ("   ", "non-empty"),
        ("amount = 1", "syntax error"),
        ("1j * amount", "not allowed"),
        ("abs(1, 2)", "abs() takes one argument"),
        ("min(1)", "at least two"),
        ("round(1, 2, 3)", "round() takes one or two"),
    ],
)
def test_given_malformed_expression_when_compiled_then_expression_error(source: str, fragment: str):
    assert fragment in rejection(source).message


@pytest.mark.parametrize(
    "source",
    ["total(bookings)", "total('a', 'b')", "total()", "quota(1)", "component(x)"],
)
def test_given_plan_function_without_one_quoted_id_when_compiled_then_rejected(source: str):
    error = rejection(source, allow_names=False)

    assert "one quoted id" in error.message


def test_given_field_name_in_rep_expression_when_compiled_then_rejected():
    error = rejection("amount > 1000", allow_names=False)

    assert "unknown name 'amount'" in error.message
    assert error.column == 1


def test_given_plan_function_in_field_expression_when_compiled_then_rejected():
    error = rejection("amount > total('bookings')")

    assert "unknown function 'total'" in error.message
    assert error.column == 10


def test_given_rejected_expression_when_reported_then_str_names_where_and_column():
    error = rejection("amount.real")

    assert str(error) == (
        "components[0].expression: attribute access is not allowed at column 1 in 'amount.real'"
    )


def test_given_non_ascii_text_before_the_error_when_rejected_then_column_counts_characters():
    # 'Müller' is 6 characters but 7 UTF-8 bytes; `amount` starts at character 22.
    source = "name == 'Müller' and amount.real"

    error = rejection(source)

    assert source[error.column - 1 :].startswith("amount.real")
    assert error.column == 22


def test_given_long_but_valid_sum_when_compiled_then_it_works_or_is_an_expression_error():
    # 250 terms is valid Python; the loader must accept it or reject it as a plan error, never
    # leak an internal SyntaxError or RecursionError (the simulator would print a traceback).
    source = " + ".join(["amount"] * 250)

    try:
        compiled = field_expr(source)
    except ExpressionError:
        return
    assert compiled({"amount": D("2")}) == D("500")


def test_given_expression_when_compiled_twice_then_constants_do_not_leak_between_them():
    first, second = field_expr("amount * 2"), field_expr("amount * 3")

    assert first({"amount": D("10")}) == D("20")
    assert second({"amount": D("10")}) == D("30")


# --- long flat expressions ------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "+".join(["1"] * 999),  # 1,997 characters, a tree 999 deep
        "-" * 1990 + "1",
        "*".join(["a"] * 999),
    ],
)
def test_given_a_long_flat_expression_under_the_limit_when_compiled_then_refused_naming_the_field(
    source: str,
):
    # the translator recursed once a term: a RecursionError escaped (the simulator's traceback)
    error = rejection(source)

    assert error.field == "components[0].expression"
    assert "too long or nested too deeply" in error.message


def test_given_a_long_flat_formula_in_a_plan_when_parsed_then_plan_error_naming_the_component():
    from domain.engine.plan import parse_plan_text
    from domain.kit.errors import PlanError

    chain = "+".join(["1"] * 999)
    text = (
        "id: chain\ncurrency: EUR\nperiod: month\nmeasures:\n  - id: bookings\n"
        f"components:\n  - id: c\n    type: formula\n    expression: '{chain}'\n"
    )

    with pytest.raises(PlanError) as info:
        parse_plan_text(text)

    assert "expression" in (info.value.field or "")
    assert "too long or nested too deeply" in info.value.message


# --- parts that fail whatever the figures ---------------------------------------------------


def checked(source: str) -> CompiledExpression:
    return compile_expression(source, where="rule", allow_names=True, refuse_constant_failures=True)


@pytest.mark.parametrize(
    ("source", "column", "reason"),
    [
        ("1/0 > 1", 1, "division by zero"),
        ("deals > 1 and (2 - 2) / (1 - 1) > 1", 15, "division by zero"),
        ("deals / 0 > 1", 1, "division by zero"),
        ("deals / (3 - 3) > 1", 1, "division by zero"),
        ("None + 1 > deals", 1, "a missing value (None)"),
        ("round(1, 0.5) > deals", 1, "round() needs a whole number of digits"),
    ],
)
def test_given_a_part_failing_whatever_the_figures_when_checked_then_refused_naming_it(
    source: str, column: int, reason: str
):
    with pytest.raises(ExpressionError) as info:
        checked(source)

    assert info.value.field == "rule"
    assert info.value.column == column
    assert f"always fails: {reason}" in info.value.message


@pytest.mark.parametrize(
    "source",
    [
        "1 / deals >= 1",  # divides by zero only for someone without deals
        "deals / (deals - 1) > 1",
        "False and 1/0 > 1",  # never evaluated
        "(1/0 if False else 1) > deals",
        "min(1, 2) / max(3, deals) > 0",
        "deals / 2 > 1",
    ],
)
def test_given_a_rule_that_could_fail_for_some_figures_when_checked_then_accepted(source: str):
    assert checked(source).source == source


def test_given_a_constant_failure_in_a_plan_expression_then_it_still_fails_at_run_time():
    # plans keep their run-time failure (a rep error naming the component): not checked
    compiled = rep_expr("1 / 0")

    with pytest.raises(EvaluationError, match="division by zero"):
        evaluate_safely(compiled, rep_env())
