"""Hostile plan documents (PublishPlan, `podium simulate`, plan files): a PlanError naming
where, in time linear in the text, never another exception and never a large echo."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.engine.plan import MAX_DEPTH, Plan, parse_plan_text
from domain.kit.errors import PlanError

PLAN = """\
id: ae
currency: EUR
period: month
measures:
  - id: bookings
components:
  - id: commission
    type: tiered
    measure: bookings
    tiers:
      - {from: 0, rate: 0.02}
      - {from: 0.5, rate: 0.05}
"""

# the 450-byte YAML "billion laughs" of the report: 9^6 strings once expanded (52 MB answer)
ALIAS_BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
id: [*f]
"""


def refused(text: str) -> PlanError:
    with pytest.raises(PlanError) as info:
        parse_plan_text(text)
    assert len(str(info.value)) < 300, str(info.value)[:300]
    return info.value


def test_given_the_yaml_alias_bomb_when_parsed_then_refused_without_expanding_it():
    assert "aliases" in refused(ALIAS_BOMB).message


def test_given_an_anchor_alone_when_parsed_then_refused():
    assert "anchors" in refused(PLAN.replace("id: ae", "id: &x ae")).message


@pytest.mark.parametrize(
    ("key", "kind"), [("[a, b]", "a list"), ("? {a: 1}\n", "a mapping"), ("? [x]\n", "a list")]
)
def test_given_a_mapping_or_list_as_a_key_when_parsed_then_plan_error(key: str, kind: str):
    text = f"{key}: 1\n" if not key.startswith("?") else key + ": 1\n"
    error = refused(text + PLAN)

    assert f"a key must be a name, not {kind}" in error.message


@pytest.mark.parametrize(
    "text",
    [
        "x: " + "[" * 50_000 + "]" * 50_000,
        "x:\n" + "".join("  " * i + "- \n" for i in range(200)),
        '{"x": ' + "[" * 50_000 + "]" * 50_000 + "}",
        "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
    ],
    ids=["yaml flow", "yaml block", "json", "one past the limit"],
)
def test_given_deep_nesting_when_parsed_then_plan_error_not_recursion_error(text: str):
    # ours ("nested deeper than 32 levels") or libyaml's own, past 1,000 ("nesting depth")
    assert "nest" in refused(text).message


@pytest.mark.parametrize(
    ("rate", "fragment"),
    [
        ("1e999999", "too large"),
        ("1.0e+999999", "too large"),
        ("'1e-999999'", "decimals"),
        ("'١٢'", "is not a number"),
        ("'NaN'", "not a finite number"),
        ("99999999999999999999999999", "too large"),
        ("'0x10'", "is not a number"),
    ],
)
def test_given_an_unbounded_or_non_ascii_rate_when_parsed_then_plan_error_naming_it(
    rate: str, fragment: str
):
    error = refused(PLAN.replace("rate: 0.05", f"rate: {rate}"))

    assert error.field == "components[0].tiers[1].rate"
    assert fragment in error.message


def test_given_an_exponent_within_bounds_when_parsed_then_exact():
    plan = parse_plan_text(PLAN.replace("rate: 0.05", "rate: 5e-2"))

    assert plan.components[0].tiers[1].rate == Decimal("0.05")


@pytest.mark.parametrize(
    "window",
    [
        "{from: 0000-01-01, to: 2026-12-31}",
        "{from: 2026-01-01, to: 9999-99-99}",
        "{from: ١, to: 2}",
    ],
)
def test_given_an_impossible_window_date_when_parsed_then_plan_error(window: str):
    text = PLAN.split("components:")[0] + (
        "components:\n"
        "  - id: spiff\n"
        "    type: rate\n"
        "    measure: bookings\n"
        "    rate: 0.1\n"
        f"    window: {window}\n"
    )
    error = refused(text)

    assert "expected a date" in error.message


def test_given_a_huge_unknown_key_when_parsed_then_the_error_quotes_it_cut_short():
    error = refused(PLAN + "z" * 1_000 + ": 1\n")

    assert "unknown key" in error.message
    assert len(error.field or "") <= 80


def test_given_a_huge_value_when_refused_then_it_is_not_echoed():
    error = refused(PLAN.replace("currency: EUR", "currency: " + "E" * 100_000))

    assert "is not an ISO 4217" in error.message


def test_given_an_id_with_a_trailing_newline_when_parsed_then_refused():
    document = yaml.safe_load(PLAN)
    document["id"] = "ae\n"

    assert refused(json.dumps(document)).field == "id"


def test_given_a_plan_over_the_size_limit_when_parsed_then_refused_before_parsing():
    assert "longer than" in refused(PLAN + "#" * 600_000).message


# --- generated documents ---------------------------------------------------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from(
        [
            "1e999999",
            "-1e999999",
            "NaN",
            "١٢",
            "2026-10\n",
            "0000-01-01",
            "9999-12-31",
            "\x00",
            "x" * 300,
            "state == 'won'",
            "total('bookings') > 1e999999",
            "(" * 300 + "1" + ")" * 300,
            "amount * 1e999999",
            "month",
            "EUR",
            "rate",
            "tiered",
            "bookings",
        ]
    ),
    st.text(max_size=20),
)
KEYS = st.sampled_from(
    [
        "id",
        "name",
        "currency",
        "period",
        "measures",
        "components",
        "type",
        "measure",
        "rate",
        "tiers",
        "from",
        "to",
        "window",
        "cap",
        "gate",
        "filter",
        "value",
        "steps",
        "at",
        "amount",
        "condition",
        "expression",
        "payable_when",
        "basis",
        "method",
        "scope",
    ]
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=6)),
    max_leaves=30,
)


def _mutations(base: str) -> st.SearchStrategy[str]:
    """Texts near a valid plan: a line changed, cut, or hostile YAML put in."""
    lines = base.splitlines(keepends=True)
    return st.builds(
        lambda i, insert, cut: "".join(lines[:i]) + insert + "".join(lines[i + cut :]),
        st.integers(0, len(lines)),
        st.sampled_from(
            [
                "",
                "  - &a {from: 1, rate: 0.1}\n",
                "x: *a\n",
                "? [a]\n: 1\n",
                "      - {from: 1, rate: 1e999999}\n",
                "      - {from: 1, rate: '١٢'}\n",
                "  cap: 99999999999999999999\n",
                "\t- bad indent\n",
                "x: " + "[" * 100 + "\n",
                "!!python/object:os.system ls\n",
                "x: !!binary AAAA\n",
                "x: !!timestamp 0000-01-01\n",
                "x: !!set {a, b}\n",
                "x: 2026-02-30\n",
                "\x00\n",
                "\ufeff",
                "%YAML 1.1\n---\n",
                "---\n...\n---\n",
            ]
        ),
        st.integers(0, 2),
    )


def _typed(exc: PlanError) -> None:
    assert exc.field
    assert len(exc.message) < 1_000


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    st.one_of(
        DOCUMENTS.map(lambda d: yaml.safe_dump(d, allow_unicode=True)),
        DOCUMENTS.map(lambda d: json.dumps(d)),
        _mutations(PLAN),
        st.text(max_size=200),
    )
)
def test_given_generated_plan_text_when_parsed_then_a_plan_or_a_plan_error(text: str):
    try:
        plan: Any = parse_plan_text(text)
    except PlanError as exc:
        _typed(exc)
        return
    assert isinstance(plan, Plan)


@pytest.mark.parametrize(
    "expression",
    [
        "total('bookings') * 99999999999999 * 99999999999999 * 99999999999999 * 99999999999999",
        "round(total('bookings'), 100000)",
    ],
)
def test_given_a_calculation_beyond_the_engines_precision_then_the_reps_error_is_in_words(
    expression: str,
):
    """Every rep's result once read ``[<class 'decimal.InvalidOperation'>]``."""
    from domain.datasets.csvfiles import csv_lines, read_directory_texts
    from domain.engine.calculate import calculate
    from domain.kit.periods import parse_period

    plan = parse_plan_text(
        "id: f\ncurrency: EUR\nperiod: month\nmeasures: [{id: bookings}]\ncomponents:\n"
        f'  - {{id: c, type: formula, expression: "{expression}"}}\n'
    )
    texts = {
        "reps.csv": csv_lines("id,name,manager_id,hire_date,end_date\nana,Ana,,,\n"),
        "transactions.csv": csv_lines(
            "id,rep_id,type,amount,currency,date,state,splits\n"
            "t1,ana,deal,99999999999999,EUR,2026-10-03,won,\n"
        ),
        "quotas.csv": csv_lines("rep_id,measure,period,value\n"),
    }

    result = calculate(plan, parse_period("2026-10"), read_directory_texts(texts, "2026-10"))

    [error] = result.errors
    assert error.message.startswith("component 'c': a calculation with a number too large")
    assert "<class" not in error.message
