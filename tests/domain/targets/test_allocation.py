"""The remainder rule: children always add up to the parent exactly."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.kit.periods import parse_period
from domain.targets.allocation import split_amount
from domain.targets.errors import AllocationError
from domain.targets.service import period_quota

CENT = Decimal("0.01")
amounts = st.integers(min_value=0, max_value=10**16).map(lambda n: Decimal(n) * CENT)
weights = st.decimals(min_value=0, max_value=10**9, places=6, allow_nan=False, allow_infinity=False)


@st.composite
def trees(draw: st.DrawFn, depth: int = 3) -> list:
    """A tree of weights: a list of (weight, subtree) pairs; an empty list is a leaf."""
    if depth == 0:
        return []
    count = draw(st.integers(min_value=0, max_value=4))
    children = [(draw(weights), draw(trees(depth - 1))) for _ in range(count)]
    if children and not any(w for w, _ in children):
        children[0] = (Decimal(1), children[0][1])
    return children


def _leaves(amount: Decimal, tree: list) -> list[Decimal]:
    if not tree:
        return [amount]
    split = split_amount(amount, {i: w for i, (w, _) in enumerate(tree)}, CENT)
    return [leaf for i, (_, sub) in enumerate(tree) for leaf in _leaves(split[i], sub)]


@settings(max_examples=300, deadline=None)
@given(amount=amounts, tree=trees())
def test_given_any_root_and_weights_when_allocated_down_a_tree_then_leaves_sum_to_root(
    amount: Decimal, tree: list
):
    leaves = _leaves(amount, tree)

    assert sum(leaves, Decimal(0)) == amount
    assert all(leaf >= 0 and leaf % CENT == 0 for leaf in leaves)


@settings(max_examples=200, deadline=None)
@given(amount=amounts, ws=st.lists(weights, min_size=1, max_size=12))
def test_given_weights_when_split_then_each_is_within_one_cent_of_its_exact_share(
    amount: Decimal, ws: list[Decimal]
):
    if not any(ws):
        ws[0] = Decimal(1)
    split = split_amount(amount, dict(enumerate(ws)), CENT)
    total = sum(ws, Decimal(0))

    assert sum(split.values(), Decimal(0)) == amount
    for i, w in enumerate(ws):
        exact = amount * w / total
        assert abs(split[i] - exact) < CENT + Decimal("1e-20")


def test_given_three_equal_people_when_100_split_then_first_ids_get_the_extra_cent():
    split = split_amount(
        Decimal("100.00"), {"b": Decimal(1), "a": Decimal(1), "c": Decimal(1)}, CENT
    )

    assert split == {"a": Decimal("33.34"), "b": Decimal("33.33"), "c": Decimal("33.33")}


def test_given_largest_remainder_when_split_then_it_gets_the_cent():
    # exact shares 0.666.., 0.333..: the larger remainder (0.666..) gets the cent
    split = split_amount(Decimal("0.01"), {"z": Decimal(2), "a": Decimal(1)}, CENT)

    assert split == {"z": Decimal("0.01"), "a": Decimal("0.00")}


@pytest.mark.parametrize(
    ("amount", "ws", "field"),
    [
        (Decimal("-1"), {"a": Decimal(1)}, "value"),
        (Decimal("1.005"), {"a": Decimal(1)}, "value"),
        (Decimal("1"), {"a": Decimal(0)}, "allocations"),
        (Decimal("1"), {"a": Decimal(-1), "b": Decimal(2)}, "allocations"),
        (Decimal("1"), {}, "allocations"),
    ],
)
def test_given_bad_input_when_split_then_allocation_error_names_the_field(amount, ws, field):
    with pytest.raises(AllocationError) as caught:
        split_amount(amount, ws, CENT)
    assert caught.value.field == field


NOVEMBER = parse_period("2026-11")


def prorated(effective: date, old: Decimal, new: Decimal) -> Decimal | None:
    """November's quota when a version of ``new`` a month replaces one of ``old`` on
    ``effective``."""
    return period_quota(NOVEMBER, [(date(2026, 10, 1), old), (effective, new)], CENT)


@settings(max_examples=200, deadline=None)
@given(amounts, amounts, st.integers(min_value=-5, max_value=40))
def test_given_a_revision_in_a_month_when_prorated_then_cents_near_the_day_weighted_mix(
    old: Decimal, new: Decimal, day: int
):
    effective = NOVEMBER.start + timedelta(days=day)

    quota = prorated(effective, old, new)

    before = min(max(day, 0), 30)
    exact = (old * before + new * (30 - before)) / 30
    assert quota is not None
    assert quota % CENT == 0
    assert abs(quota - exact) < 2 * CENT
    if before == 0:
        assert quota == new
    if before == 30:
        assert quota == old


def test_given_a_tie_when_prorated_then_the_cent_goes_to_the_days_before():
    # 15 days of 0.01 and 15 of nothing: half a cent each side, the tie to the days before
    assert prorated(date(2026, 11, 16), CENT, Decimal(0)) == CENT
    assert prorated(date(2026, 11, 16), Decimal(0), CENT) == 0


@st.composite
def histories(draw: st.DrawFn) -> list[tuple[date, Decimal | None]]:
    """Versions with effective dates that never go back, some without a share (the person
    is not in that version)."""
    day = NOVEMBER.start + timedelta(days=draw(st.integers(-40, 10)))
    out = []
    for _ in range(draw(st.integers(1, 5))):
        out.append((day, draw(st.none() | amounts)))
        day += timedelta(days=draw(st.integers(0, 20)))
    return out


@settings(max_examples=300, deadline=None)
@given(histories())
def test_given_any_history_of_versions_when_a_month_is_prorated_then_exact_to_the_cent(
    history: list[tuple[date, Decimal | None]],
):
    quota = period_quota(NOVEMBER, history, CENT)

    # the exact day-weighted mix of the versions in force on each day of November
    exact, covered = Decimal(0), False
    for offset in range(30):
        day = NOVEMBER.start + timedelta(days=offset)
        in_force = [share for start, share in history if start <= day]
        if in_force and in_force[-1] is not None:
            exact += in_force[-1] / 30
            covered = True
    if not covered:
        assert quota is None
        return
    assert quota is not None
    assert quota % CENT == 0
    # each version's part is within a cent of its exact part
    assert abs(quota - exact) < CENT * len(history) + Decimal("1e-20")


def test_given_a_person_dropped_on_the_11th_when_prorated_then_ten_days_of_the_old_share():
    dropped = [(date(2026, 10, 1), Decimal("3000")), (date(2026, 11, 11), None)]

    assert period_quota(NOVEMBER, dropped, CENT) == Decimal("1000")
    assert period_quota(parse_period("2026-12"), dropped, CENT) is None
