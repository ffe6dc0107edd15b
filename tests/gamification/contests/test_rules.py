from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from gamification.contests.rules import (
    Entry,
    Prize,
    TieRule,
    award,
    overlapping_prizes,
    race,
    rank,
    team_entries,
)
from gamification.leaderboards.ranking import competition_ranks, ordered, shared_ranks

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)


def test_given_equal_scores_when_sharing_then_ranks_are_1_2_2_4():
    placed = rank(
        [Entry("a", Decimal(10)), Entry("b", Decimal(7)), Entry("c", Decimal(7)), Entry("d", 1)],
        tie_rule=TieRule.SHARE,
    )
    assert [(p.key, p.rank) for p in placed] == [("a", 1), ("b", 2), ("c", 2), ("d", 4)]


@pytest.mark.parametrize(
    "scores",
    [[10, 7, 7, 1], [5, 5, 5], [9, 8, 8, 8, 2, 2, 1], [3], []],
)
def test_given_the_same_scores_then_a_board_and_a_share_contest_rank_alike(scores: list[int]):
    keys = [f"k{i}" for i in range(len(scores))]
    board = competition_ranks(ordered(list(zip(keys, scores, strict=True))))
    contest = rank(
        [Entry(k, Decimal(s)) for k, s in zip(keys, scores, strict=True)], tie_rule=TieRule.SHARE
    )

    assert [(p.key, p.rank) for p in contest] == [(r.key, r.rank) for r in board]


def test_given_a_page_below_the_top_then_shared_ranks_count_those_before():
    # a page starting at the 11th place, whose first two tie
    assert list(shared_ranks([Decimal("4.50"), Decimal("4.5"), 3], before=10)) == [11, 11, 13]


def test_given_equal_scores_when_earliest_then_the_earlier_one_ranks_higher():
    placed = rank(
        [
            Entry("b", Decimal(7), T0 + timedelta(seconds=2)),
            Entry("c", Decimal(7), T0 + timedelta(microseconds=1)),
        ],
        tie_rule=TieRule.EARLIEST,
    )
    assert [(p.key, p.rank) for p in placed] == [("c", 1), ("b", 2)]


def test_given_three_tied_for_first_then_prizes_of_ranks_1_to_3_split_to_the_cent():
    placed = rank(
        [
            Entry("x", Decimal(5), T0 + timedelta(seconds=3)),
            Entry("y", Decimal(5), T0 + timedelta(seconds=1)),
            Entry("z", Decimal(5), T0 + timedelta(seconds=2)),
            Entry("w", Decimal(1), T0),
        ],
        tie_rule=TieRule.SHARE,
    )
    prizes = [
        Prize(1, "first", Decimal("100.00"), "USD"),
        Prize(2, "second", Decimal("50.00"), "USD"),
        Prize(3, "third", Decimal("0.01"), "USD"),
        Prize(4, "fourth", Decimal("5.00"), "USD"),
    ]
    won = {w.key: w for w in award(placed, prizes)}
    # 150.01 / 3 = 50.003..: 50.00 each, the leftover cent to the earliest (y)
    assert won["y"].amount == Decimal("50.01")
    assert won["z"].amount == won["x"].amount == Decimal("50.00")
    assert sum(w.amount for k, w in won.items() if k != "w") == Decimal("150.01")
    assert won["w"].rank == 4
    assert won["w"].amount == Decimal("5.00")


def test_given_zero_decimal_currency_then_split_is_in_whole_units():
    placed = rank([Entry("a", Decimal(1)), Entry("b", Decimal(1))], tie_rule=TieRule.SHARE)
    won = award(placed, [Prize(1, "p", Decimal(1001), "JPY")])
    assert sorted(w.amount for w in won) == [Decimal(500), Decimal(501)]


def test_given_a_race_then_the_first_to_reach_win_in_order():
    placed = race(
        [
            Entry("a", Decimal(12), T0 + timedelta(hours=2)),
            Entry("b", Decimal(10), T0 + timedelta(hours=1)),
            Entry("c", Decimal(9), None),
        ],
        target=Decimal(10),
    )
    assert [(p.key, p.rank) for p in placed] == [("b", 1), ("a", 2)]


def test_given_teams_then_scores_are_summed_per_team():
    teams, members = team_entries(
        [("t1", Entry("a", Decimal(3))), ("t1", Entry("b", Decimal(4))),
         ("t2", Entry("c", Decimal(5))),
         # b moved to t2: what b scored there counts for t2, and b is on both teams
         ("t2", Entry("b", Decimal(1)))]
    )  # fmt: skip
    assert {t.key: t.score for t in teams} == {"t1": Decimal(7), "t2": Decimal(6)}
    assert members == {"t1": ["a", "b"], "t2": ["b", "c"]}


def test_given_a_badge_prize_then_each_tied_member_gets_it():
    placed = rank([Entry("a", Decimal(1)), Entry("b", Decimal(1))], tie_rule=TieRule.SHARE)
    won = award(placed, [Prize(1, "gold", badge_id="B1")])
    assert [(w.key, w.badge_id, w.amount) for w in won] == [("a", "B1", None), ("b", "B1", None)]


def test_overlapping_prizes_are_found():
    assert overlapping_prizes([Prize(1, "a"), Prize(2, "b"), Prize(1, "c")]) == 1
    assert overlapping_prizes([Prize(1, "a"), Prize(2, "b")]) is None


@pytest.mark.parametrize("tie_rule", list(TieRule))
def test_given_no_score_above_zero_then_no_prize(tie_rule: TieRule):
    # nobody sold anything: everyone tied at 0 split the money of every prize rank (SHARE)
    # or the lowest ids took them (EARLIEST); a negative score (a credit note) neither wins
    placed = rank(
        [Entry("a", Decimal(3), T0), Entry("b", Decimal(0)), Entry("c", Decimal(0)),
         Entry("d", Decimal(-5), T0)],
        tie_rule=tie_rule,
    )  # fmt: skip
    prizes = [
        Prize(1, "first", Decimal("100.00"), "EUR"),
        Prize(2, "second", Decimal("60"), "EUR"),
        Prize(3, "third", badge_id="B3"),
        Prize(4, "fourth", Decimal("5"), "EUR"),
    ]
    assert [(w.key, w.rank, w.amount) for w in award(placed, prizes)] == [
        ("a", 1, Decimal("100.00"))
    ]
    nobody = rank([Entry("b", Decimal(0)), Entry("c", Decimal(0))], tie_rule=tie_rule)
    assert award(nobody, prizes) == []
