"""Metrics and ranks (pure): exact integer scores, ties only between equal Decimals at the
board's precision, refusal of a score Redis could not hold exactly, competition ranks."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.kit.errors import InvalidInput
from gamification.leaderboards.metrics import EXACT_LIMIT, Metric, ScoreTooLarge, parse_metric
from gamification.leaderboards.ranking import competition_ranks, ordered

MEASURES = {"bookings", "cloud"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bookings", Metric("total", "bookings")),
        ("attainment:bookings", Metric("attainment", "bookings")),
        ("count:cloud", Metric("count", "cloud")),
        ("earnings", Metric("earnings")),
        ("xp", Metric("xp")),
    ],
)
def test_given_a_metric_text_then_parsed(text: str, expected: Metric):
    assert parse_metric(text, measures=MEASURES) == expected
    assert parse_metric(text, measures=MEASURES).text == text


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("revenue", "no plan of the tenant has a measure 'revenue'"),
        ("speed:bookings", "is not a metric"),
        ("attainment:", "is not a metric"),
        ("", "is not a metric"),
        ("xp:bookings", "is not a metric"),
    ],
)
def test_given_an_unknown_metric_then_refused_naming_the_field(text: str, says: str):
    with pytest.raises(InvalidInput) as refused:
        parse_metric(text, measures=MEASURES)

    assert refused.value.field == "metric"
    assert says in refused.value.message


def test_given_scores_near_2_pow_53_then_exact_and_unequal_ones_never_tie():
    money = Metric("earnings")
    top = Decimal(EXACT_LIMIT - 1).scaleb(-2)  # the largest exact amount in cents
    below = top - Decimal("0.01")

    assert money.exact(top) == EXACT_LIMIT - 1
    assert money.exact(below) == EXACT_LIMIT - 2
    # as doubles the two stay apart, and read back as the same Decimals
    assert float(money.exact(top)) != float(money.exact(below))
    assert money.shown(int(float(money.exact(below)))) == below
    with pytest.raises(ScoreTooLarge):
        money.exact(top + Decimal("0.01"))


def test_given_equal_decimals_then_equal_scores_and_attainment_kept_to_a_millionth():
    attainment = Metric("attainment", "bookings")

    assert attainment.exact(Decimal("1.0")) == attainment.exact(Decimal("1.000000"))
    assert attainment.exact(Decimal("0.999999")) < attainment.exact(Decimal("1"))
    assert Metric("earnings").exact(Decimal("100.004")) == Metric("earnings").exact(
        Decimal("100.00")
    )  # the board's precision is the cent: what a rep is shown


def test_given_results_then_the_score_is_the_sum_over_ok_results():
    rows = [
        {"status": "ok", "total": Decimal("10.50"),
         "measures": [{"id": "bookings", "total": "100", "count": "2", "quota": "200",
                       "attainment": "0.5"}]},
        {"status": "ok", "total": Decimal("1.25"), "measures": []},
        {"status": "error", "total": Decimal("999"), "measures": []},
    ]  # fmt: skip

    assert Metric("earnings").score(rows) == Decimal("11.75")
    assert Metric("count", "bookings").score(rows) == 2
    assert Metric("attainment", "bookings").score(rows) == Decimal("0.5")
    assert Metric("total", "cloud").score(rows) is None


def test_given_several_months_then_attainment_is_their_total_over_their_quota():
    def month(total: str, quota: str | None) -> dict[str, object]:
        attainment = None if quota in (None, "0") else str(Decimal(total) / Decimal(quota))
        measure = {"id": "bookings", "total": total, "count": "1", "quota": quota,
                   "attainment": attainment}  # fmt: skip
        return {"status": "ok", "total": "0", "measures": [measure]}

    attainment = Metric("attainment", "bookings")
    # 100 % of 10,000, 0 % of 30,000, 100 % of 10,000: 20,000 of 50,000 (not 66.7 %)
    quarter = [month("10000", "10000"), month("0", "30000"), month("10000", "10000")]

    assert attainment.score(quarter) == Decimal("0.4")
    # a month without a quota (or a zero one) has no target: its bookings are not attained
    assert attainment.score([*quarter, month("5000", None), month("5000", "0")]) == Decimal("0.4")
    assert attainment.score([month("5000", None)]) is None


def test_given_ties_then_standard_competition_ranks_in_id_order():
    scores = ordered([("c", 5), ("b", 7), ("a", 7), ("d", 3), ("e", 5)])

    ranked = competition_ranks(scores)

    assert [(r.rank, r.key) for r in ranked] == [(1, "a"), (1, "b"), (3, "c"), (3, "e"), (5, "d")]


def test_given_xp_then_whole_points_read_from_the_ledger_not_from_results():
    xp = Metric("xp")

    assert xp.from_ledger
    assert xp.exact(Decimal(1234)) == 1234
    assert xp.shown(1234) == Decimal(1234)
    with pytest.raises(ValueError, match="ledger"):
        xp.score([{"status": "ok", "total": "1", "measures": []}])


def test_given_split_shares_then_a_count_keeps_millionths_and_shows_no_trailing_zeros():
    count = Metric("count", "bookings")

    # half a deal is not a whole one, and a third is not none (rounding to whole deals tied
    # a rep with half a deal to one with a whole deal)
    assert count.exact(Decimal("0.5")) == 500000
    assert count.exact(Decimal("0.5")) < count.exact(Decimal(1))
    assert count.exact(Decimal("0.3333333333")) == 333333
    assert [str(count.shown(n)) for n in (0, 500000, 1000000, 10000000, 833333)] == [
        "0", "0.5", "1", "10", "0.833333"
    ]  # fmt: skip
