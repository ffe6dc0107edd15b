"""Explanations a rep trusts: reasons kept exact and language-neutral, put into words per
reader language, money rounded and formatted in the reader's locale, attainment as a
percentage, components and measures by display name, FX conversions explained."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from domain.engine import explanations
from domain.engine.explanations import LANGUAGES, encode, reason, render, render_stored
from domain.engine.results import PlanResult
from tests.domain.engine.test_by_class import FX as BY_CLASS_FX
from tests.domain.engine.test_by_class import PLAN as EVERY_KIND
from tests.domain.engine.test_by_class import QUOTAS, REPS
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

FX = [("2026-10-01", "GBP", "1.1634"), ("2026-10-18", "GBP", "1.17")]

PLAN = make_plan(
    tiered_component(("0", "0.02"), ("0.5", "0.05"), id="commission", name="Commission AE"),
    rate_component(
        "0.0375",
        id="cloud_spiff",
        measure="cloud",
        name="Cloud SPIFF",
        window={"from": "2026-10-15", "to": "2026-10-31"},
    ),
    {
        "id": "kicker",
        "type": "bonus",
        "condition": "count('cloud') >= 2 and attainment('bookings') >= 0.5",
        "amount": "750",
    },
    measures=[
        {"id": "bookings", "name": "Bookings won", "filter": "state == 'won'"},
        {"id": "cloud", "name": "Cloud bookings", "filter": "product == 'cloud'"},
    ],
)


def calculated() -> PlanResult:
    inputs = make_inputs(
        [rep("ana")],
        [
            tx("t1", "ana", "2102.61", state="open", product="cloud", date="2026-10-16"),
            tx(
                "t2",
                "ana",
                "1000",
                currency="GBP",
                state="open",
                product="cloud",
                date="2026-10-20",
            ),
            tx("t3", "ana", "40000", date="2026-10-05"),
        ],
        quotas={"ana": "60000"},
        fx=FX,
    )
    return run(PLAN, inputs)


def test_given_a_result_when_calculated_then_stored_values_stay_exact() -> None:
    result = calculated()
    ana = result.rep("ana")
    # the line keeps its exact amount (3.75% of 2,102.61 = 78.847875): only words round
    line = next(line for line in ana.lines if line.transaction_id == "t1")
    assert line.amount == D("78.847875")
    stored = json.loads(encode(result.explain_line("ana", line)))
    assert stored == [
        ["line", {"component": "Cloud SPIFF", "measure": "Cloud bookings", "rate": "0.0375"}]
    ]


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en", "Cloud SPIFF: 3.75% of €2,102.61 Cloud bookings from transaction t1 = €78.85"),
        (
            "de",
            "Cloud SPIFF: 3,75\xa0% von 2.102,61\xa0€ Cloud bookings aus Transaktion t1 "
            "= 78,85\xa0€",
        ),
        (
            "fr",
            "Cloud SPIFF : 3,75\xa0% de 2\u202f102,61\xa0€ de Cloud bookings de la transaction t1 "
            "= 78,85\xa0€",
        ),
        (
            "ms",
            "Cloud SPIFF: 3.75% daripada €2,102.61 Cloud bookings daripada transaksi t1 = €78.85",
        ),
        ("hi", "Cloud SPIFF: लेन-देन t1 के €2,102.61 Cloud bookings का 3.75% = €78.85"),
    ],
)
def test_given_a_line_when_rendered_per_language_then_money_rounded_in_the_locale(
    locale: str, expected: str
) -> None:
    result = calculated()
    line = next(line for line in result.rep("ana").lines if line.transaction_id == "t1")
    assert result.line_words("ana", line, locale) == expected


def test_given_every_language_when_rendered_then_every_template_renders() -> None:
    result = calculated()
    ana = result.rep("ana")
    texts = set()
    for locale in LANGUAGES:
        words = [
            render((r,), locale=locale, currency="EUR") for c in ana.components for r in c.reasons
        ]
        words += [result.line_words("ana", line, locale) for line in ana.lines]
        assert all(w and "{" not in w for w in words), words
        texts.add(tuple(words))
    assert len(texts) == len(LANGUAGES)  # each language its own words
    # an unknown locale reads English
    english = [result.line_words("ana", line, "en") for line in ana.lines]
    assert [result.line_words("ana", line, "xx") for line in ana.lines] == english


def test_given_a_tiered_component_when_explained_then_attainment_as_percent_and_names() -> None:
    ana = calculated().rep("ana")
    commission = [
        render((r,), locale="de", currency="EUR") for r in ana.component("commission").reasons
    ]
    # 40,000 won of a 60,000 quota: 66.666...% truncated to 66.6%, never rounded up
    assert commission[0] == (
        "Bookings won: 40.000,00\xa0€ von 60.000,00\xa0€ Quote, 66,6\xa0% erreicht"
    )
    assert commission[1] == "2\xa0% von 30.000,00\xa0€ in Stufe 1 (0\xa0%–50\xa0% der Quote)"
    assert commission[2] == "5\xa0% von 10.000,00\xa0€ in Stufe 2 (ab 50\xa0% der Quote)"


def test_given_a_condition_when_explained_then_it_reads_in_words_with_display_names() -> None:
    ana = calculated().rep("ana")
    (kicker,) = ana.component("kicker").reasons
    assert render((kicker,), locale="en", currency="EUR") == (
        "number of Cloud bookings ≥ 2 and Bookings won attainment ≥ 50% holds: €750.00"
    )
    assert render((kicker,), locale="fr", currency="EUR") == (
        "nombre de Cloud bookings ≥ 2 et atteinte Bookings won ≥ 50\xa0% est rempli : 750,00\xa0€"
    )


def test_given_a_line_based_component_when_explained_then_it_says_where_it_rounds() -> None:
    result = calculated()
    spiff = result.rep("ana").component("cloud_spiff")
    words = [render((r,), locale="en", currency="EUR") for r in spiff.reasons]
    # 3.75% x (2,102.61 + 1,170.00) = 122.722875, rounded once to 122.72
    assert spiff.amount == D("122.72")
    assert "the lines' exact amounts are added up and the total is rounded once: €122.72" in words
    summary = render(result.component_reasons(spiff), locale="en", currency="EUR")
    assert summary.startswith("Cloud SPIFF: €122.72; 3.75% of €3,272.61 Cloud bookings")


def test_given_a_count_measure_when_explained_then_the_count_reads_whatever_its_number() -> None:
    # before: "1 Energy contracts × €35.00": the count beside the measure's (plural) name
    plan = make_plan(
        rate_component("35", id="fee", measure="contracts", name="Contract fee"),
        measures=[{"id": "contracts", "name": "Energy contracts", "value": "count"}],
    )
    result = run(plan, make_inputs([rep("ana")], [tx("c1", "ana", "100.00")]))
    fee = result.rep("ana").component("fee")
    (line,) = result.rep("ana").lines
    words = [render((r,), locale="en", currency="EUR") for r in fee.reasons]
    assert "1 × €35.00 (Energy contracts) = €35.00" in words
    assert result.line_words("ana", line, "en") == (
        "Contract fee: 1 × €35.00 (Energy contracts) from transaction c1 = €35.00"
    )
    assert result.line_words("ana", line, "de") == (
        "Contract fee: 1 × 35,00\xa0€ (Energy contracts) aus Transaktion c1 = 35,00\xa0€"
    )


def test_given_a_transaction_in_another_currency_when_its_line_is_read_then_fx_explained() -> None:
    result = calculated()
    line = next(line for line in result.rep("ana").lines if line.transaction_id == "t2")
    assert line.value == D("1170.00")  # 1,000 GBP at the 18 October rate of 1.17
    assert result.line_words("ana", line, "en") == (
        "Cloud SPIFF: 3.75% of €1,170.00 Cloud bookings from transaction t2 = €43.88; "
        "£1,000.00 converted at the Oct 18, 2026 rate of 1.17: €1,170.00"
    )
    assert "1.000,00\xa0£ umgerechnet zum Kurs 1,17 vom 18.10.2026: 1.170,00\xa0€" in (
        result.line_words("ana", line, "de")
    )


def test_given_a_tiered_measure_with_a_converted_transaction_then_the_component_says_so() -> None:
    plan = make_plan(tiered_component(("0", "0.02"), ("0.5", "0.05")))
    inputs = make_inputs(
        [rep("ben")],
        [tx("b1", "ben", "20000", currency="GBP", date="2026-10-20")],
        quotas={"ben": "62000"},
        fx=FX,
    )
    ben = run(plan, inputs).rep("ben")
    words = [render((r,), locale="en", currency="EUR") for r in ben.components[0].reasons]
    assert "transaction b1: £20,000.00 converted at the Oct 18, 2026 rate of 1.17: €23,400.00" in (
        words
    )


@pytest.mark.parametrize(
    ("ids", "listed"),
    [
        (["b2", "b10", "b1"], ["b1", "b2", "b10"]),  # numbered as people do: by the number
        (["b03", "b01", "b02"], ["b01", "b02", "b03"]),  # one stem, one length: as text
        (["x55", "x1y", "x12"], ["x12", "x55", "x1y"]),  # one length, stems apart: natural
    ],
)
def test_given_conversions_when_listed_then_in_the_natural_order_of_their_ids(
    ids: list[str], listed: list[str]
) -> None:
    plan = make_plan(tiered_component(("0", "0.02"), ("0.5", "0.05")))
    transactions = [tx(i, "ben", "100", currency="GBP", date="2026-10-20") for i in ids]
    inputs = make_inputs([rep("ben")], transactions, quotas={"ben": "62000"}, fx=FX)
    reasons = run(plan, inputs).rep("ben").components[0].reasons
    named = [dict(params)["transaction"] for key, params in reasons if key == "fx_transaction"]
    assert named == listed


@pytest.mark.parametrize("locale", LANGUAGES)
def test_given_conversions_when_stored_then_by_position_and_read_as_the_same_words(
    locale: str,
) -> None:
    result = calculated()
    line = next(line for line in result.rep("ana").lines if line.transaction_id == "t2")
    tiered = run(
        make_plan(tiered_component(("0", "0.02"), ("0.5", "0.05"))),
        make_inputs(
            [rep("ben")],
            [tx("b1", "ben", "20000", currency="GBP", date="2026-10-20")],
            quotas={"ben": "62000"},
            fx=FX,
        ),
    )
    cases = (
        (
            result.explain_line("ana", line),
            {"transaction": "t2", **line.params()},
            '["fx",["2026-10-18","GBP","1.17","1000"]]',
        ),
        (
            tiered.component_reasons(tiered.rep("ben").components[0]),
            {},
            '["fx_transaction",["2026-10-18","GBP","1.17","20000","b1"]]',
        ),
    )
    for reasons, extra, compact in cases:
        stored = encode(reasons)
        # a conversion is its values by position, the converted amount not stored
        assert compact in stored
        assert "converted" not in stored
        words = render(reasons, locale=locale, currency="EUR", extra=extra)
        assert "1.17" in words or "1,17" in words
        decoded = explanations.decode(stored) or []
        assert render(decoded, locale=locale, currency="EUR", extra=extra) == words
        # stored by name before, the converted amount with them: reads the same
        named = explanations.plain(reasons)
        for r in named:
            if r[0] in ("fx", "fx_transaction"):
                r[1]["converted"] = str(D(r[1]["original"]) * D(r[1]["fx_rate"]))
        assert '"converted": "' in json.dumps(named)
        assert render_stored(json.dumps(named), locale=locale, currency="EUR", **extra) == words


def test_given_reasons_when_encoded_then_the_json_of_their_plain_form() -> None:
    result = calculated()
    ana = result.rep("ana")
    for reasons in (
        ana.reasons,
        *(result.component_reasons(c) for c in ana.components),
        *(result.explain_line("ana", line) for line in ana.lines),
    ):
        named = [explanations._named(r) for r in json.loads(encode(reasons))]
        decoded = explanations.decode(encode(reasons))
        assert decoded == named == json.loads(json.dumps(explanations.plain(reasons)))


def test_given_a_split_and_a_capped_component_when_lines_read_then_share_and_cap_said() -> None:
    plan = make_plan(rate_component("0.1", cap="10"))
    inputs = make_inputs(
        [rep("ana"), rep("bo")],
        [tx("t1", "ana", "200", splits=[("ana", "0.6"), ("bo", "0.4")])],
        quotas={"ana": "1000", "bo": "1000"},
    )
    result = run(plan, inputs)
    (line,) = result.rep("ana").lines
    words = result.line_words("ana", line, "en")
    assert "a 60% share of the transaction" in words
    assert words.endswith("scaled down by the component's cap")
    assert "= €10.00" in words  # 120 x 0.1 = 12, scaled to the cap of 10


def test_given_a_stored_line_when_read_then_rendered_from_its_row_and_old_text_as_is() -> None:
    stored = encode((reason("line", component="Spiff", measure="Deals", rate=Decimal("0.01")),))
    text = render_stored(
        stored,
        locale="de-DE",
        currency="EUR",
        value=Decimal("123450.0000000000"),
        amount=Decimal("1234.5000000000"),
        transaction="d1",
    )
    assert text == "Spiff: 1\xa0% von 123.450,00\xa0€ Deals aus Transaktion d1 = 1.234,50\xa0€"
    assert render_stored("3% of 100 = 3", locale="de", currency="EUR") == "3% of 100 = 3"


def test_given_stored_reasons_this_version_cannot_read_when_rendered_then_no_failure() -> None:
    unknown = '[["from_the_future",{}],["capped",{"cap":"x1"}],["line",{}]]'
    assert render_stored(unknown, locale="en", currency="EUR") == "from_the_future; capped; line"


def test_given_a_currency_without_cents_when_rendered_then_its_minor_unit() -> None:
    assert render((reason("capped", cap="1000", raw="1234.5"),), locale="en", currency="JPY") == (
        "capped at ¥1,000 (was ¥1,235)"
    )


def test_given_no_display_name_when_named_then_the_id_made_readable() -> None:
    plan = make_plan(rate_component("0.1", id="quota_club"))
    assert plan.component_name("quota_club") == "Quota club"
    assert PLAN.component_name("cloud_spiff") == "Cloud SPIFF"
    assert PLAN.measure_name("bookings") == "Bookings won"


def test_given_a_plan_with_an_empty_name_when_loaded_then_the_key_is_named() -> None:
    from domain.kit.errors import PlanError

    with pytest.raises(PlanError) as caught:
        make_plan(rate_component("0.1", name=""))
    assert caught.value.field == "components[0].name"


def test_given_the_module_when_imported_then_every_key_has_every_language() -> None:
    assert all(len(t) == len(LANGUAGES) for t in explanations._T.values())


def _sorted_everywhere(value: object) -> bool:
    """Whether every reason in ``value`` (nested ones too) has its parameters in `reason`'s
    order, by name."""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        params = value[1]
        if isinstance(params, tuple) and all(
            isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) for p in params
        ):
            names = [name for name, _ in params]
            return names == sorted(names) and all(_sorted_everywhere(v) for _, v in params)
    return True


def test_given_every_kind_of_component_when_explained_then_parameters_in_reason_order() -> None:
    # the engine writes the reasons it makes for every rep as tuples (not through `reason`,
    # which sorts its keywords): they must be the ones `reason` makes, to compare, hash and
    # store alike
    stepped = make_plan(
        {
            "id": "club",
            "type": "bonus",
            "measure": "bookings",
            "steps": [{"at": "0.5", "amount": "100"}],
        },
        {
            "id": "kicker",
            "type": "bonus",
            "condition": "attainment('bookings') >= 0.1",
            "amount": "50",
        },
        payable_when="state == 'activated'",
    )
    transactions = [
        tx("t1", "r1", "50000", state="activated", product="cloud", date="2026-10-16"),
        tx("t2", "r1", "9000", currency="GBP", date="2026-10-19", product="cloud"),
        tx("t3", "r2", "100", currency="USD", date="2026-10-12"),
        tx("t4", "r4", "10"),
    ]
    seen: set[str] = set()
    for plan in (EVERY_KIND, stepped):
        result = run(plan, make_inputs(REPS, transactions, quotas=QUOTAS, fx=BY_CLASS_FX))
        for r in result.reps:
            every = [*r.reasons, *(x for c in r.components for x in c.reasons)]
            every += [x for line in r.lines for x in result.line_reasons(r.rep_id, line)]
            assert all(_sorted_everywhere(x) for x in every), every
            seen |= {key for key, _ in every}
    assert {
        "attainment",
        "tier",
        "fx_transaction",
        "step",
        "below_step",
        "condition_met",
        "rate",
        "window",
        "rounded_once",
        "payable",
    } <= seen


# --- errors, in the reader's language ------------------------------------------------------


def _error_words(result, rep_id: str, locale: str) -> str:
    from domain.engine.explanations import decode, encode, error_words

    (error,) = [e for e in result.errors if e.rep_id == rep_id]
    stored = encode((error.reason,))  # what the result row keeps: a key and parameters
    assert decode(stored) is not None
    return error_words(stored, error.message, locale=locale, currency=result.currency)


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        ("en", "no quota for Bookings in 2026-10"),
        ("de", "keine Quote für Bookings in 2026-10"),
        ("fr", "aucun objectif pour Bookings en 2026-10"),
        ("ms", "tiada kuota untuk Bookings dalam 2026-10"),
        ("hi", "2026-10 में Bookings के लिए कोई कोटा नहीं"),
    ],
)
def test_given_a_missing_quota_then_the_error_reads_in_the_readers_language(locale, words):
    plan = make_plan(tiered_component(*AE_TIERS))
    result = run(plan, make_inputs(["ben"], [tx("t1", "ben", "1")]))

    assert _error_words(result, "ben", locale) == words
    assert result.errors[0].message == "no quota for measure 'bookings' in 2026-10"  # logs, CLI


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        ("en", "team member Noa (noa): no USD exchange rate on or before Oct 9, 2026 "
               "(transaction t1)"),
        ("de", "Teammitglied Noa (noa): kein Wechselkurs für USD am oder vor dem 09.10.2026 "
               "(Transaktion t1)"),
        ("fr", "membre de l’équipe Noa (noa) : aucun taux de change USD au 9 oct. 2026 ou "
               "avant (transaction t1)"),
    ],
)  # fmt: skip
def test_given_a_team_members_deal_without_fx_rate_then_the_manager_reads_their_name(locale, words):
    plan = make_plan(
        rate_component("0.01", measure="team"), measures=[{"id": "team", "scope": "team"}]
    )
    inputs = make_inputs(
        [rep("mia"), rep("noa", manager_id="mia")],
        [tx("t1", "noa", "100", currency="USD", date="2026-10-09")],
    )

    assert _error_words(run(plan, inputs), "mia", locale) == words


# a component's expression failing for one rep: said in the reader's language, like a missing
# quota (it read in English only, whatever the reader's locale)
@pytest.mark.parametrize(
    ("locale", "words"),
    [
        ("en", "Ratio: division by zero in (Bookings total ÷ number of Bookings)"),
        ("de", "Ratio: Division durch null in (Bookings gesamt ÷ Anzahl Bookings)"),
        ("fr", "Ratio : division par zéro dans (total Bookings ÷ nombre de Bookings)"),
        ("ms", "Ratio: pembahagian dengan sifar dalam (jumlah Bookings ÷ bilangan Bookings)"),
        ("hi", "Ratio: (Bookings कुल ÷ Bookings की संख्या) में शून्य से भाग"),
    ],
)
def test_given_a_formula_dividing_by_zero_then_the_error_reads_in_the_readers_language(
    locale, words
):
    plan = make_plan(
        formula_component("total('bookings') / count('bookings')", id="ratio", name="Ratio")
    )
    result = run(plan, make_inputs(["ana"], []))

    assert _error_words(result, "ana", locale) == words
    # logs and the command line keep the message they had
    assert result.errors[0].message == (
        "component 'ratio': division by zero in \"total('bookings') / count('bookings')\""
    )


@pytest.mark.parametrize(
    ("expression", "en", "de"),
    [
        ("'a lot'", "F: “a lot” does not give a number", "F: “a lot” ergibt keine Zahl"),
        (
            "round('x', 2)",
            "F: a value of the wrong kind (a text where a number is needed) in round(“x”, 2)",
            "F: ein Wert der falschen Art (ein Text statt einer Zahl) in round(“x”, 2)",
        ),
    ],
)
def test_given_a_formula_of_the_wrong_kind_then_its_error_reads_in_the_readers_language(
    expression, en, de
):
    plan = make_plan(formula_component(expression, id="f", name="F"))
    result = run(plan, make_inputs(["ana"], [tx("t1", "ana", "100")]))

    assert _error_words(result, "ana", "en") == en
    assert _error_words(result, "ana", "de") == de


def test_given_every_component_failure_then_each_language_has_its_words() -> None:
    from domain.kit.expressions import PROBLEMS

    for problem in PROBLEMS:
        for key in (f"error_{problem}", f"error_{problem}_in"):
            r = reason(
                "error_component",
                component="C",
                cause=reason(key, expression="total('b') / 2", names=(("b", "Bookings"),)),
            )
            texts = {render((r,), locale=locale, currency="EUR") for locale in LANGUAGES}
            assert len(texts) == len(LANGUAGES), (key, texts)
            assert all(t.startswith("C") and key not in t and "{" not in t for t in texts)


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        ("en", "transaction t1: division by zero in (amount ÷ units)"),
        ("de", "Transaktion t1: Division durch null in (amount ÷ units)"),
        ("fr", "transaction t1 : division par zéro dans (amount ÷ units)"),
        ("ms", "transaksi t1: pembahagian dengan sifar dalam (amount ÷ units)"),
        ("hi", "लेन-देन t1: (amount ÷ units) में शून्य से भाग"),
    ],
)
def test_given_a_measure_value_failing_on_a_transaction_then_the_error_reads_in_language(
    locale, words
):
    plan = make_plan(
        rate_component("0.1"), measures=[{"id": "bookings", "value": "amount / units"}]
    )
    result = run(plan, make_inputs(["ana"], [tx("t1", "ana", "100", units=0)]))

    assert _error_words(result, "ana", locale) == words
    assert result.errors[0].message == (
        "transaction t1: measure 'bookings' value: division by zero in 'amount / units'"
    )
