"""How the applies are paced: what the latency budget leaves after an apply and its
recompute, within bounds (workers.tasks.draining)."""

from __future__ import annotations

from typing import Any

import pytest

from workers.tasks.draining import (
    APPLY_SECONDS,
    LATENCY_BUDGET,
    MAX_PACE,
    MIN_PACE,
    RECOMPUTE_SECONDS,
    UNSEEN_RECOMPUTE,
    apply_pace,
    record_batch,
)


def test_given_no_batch_yet_then_the_budget_less_a_guessed_recompute():
    assert apply_pace({}) == pytest.approx(LATENCY_BUDGET - UNSEEN_RECOMPUTE)


@pytest.mark.parametrize(
    ("apply", "recompute", "pace"),
    [
        (0.01, 0.03, LATENCY_BUDGET - 0.04),  # quick batches: events gather longer
        (0.0, 0.0, MAX_PACE),  # never more than the longest pause
        (0.05, 0.2, MIN_PACE),  # slow batches (a busy machine): the shortest pause
    ],
)
def test_given_recent_batches_then_the_pace_is_what_the_budget_leaves(
    apply: float, recompute: float, pace: float
):
    ctx: dict[str, Any] = {APPLY_SECONDS: apply, RECOMPUTE_SECONDS: recompute}

    assert apply_pace(ctx) == pytest.approx(pace)


def test_given_a_fixed_pause_in_ctx_then_it_is_the_pace():
    assert apply_pace({"batch_pause": 0.3, APPLY_SECONDS: 1.0}) == 0.3


def test_given_batch_times_then_a_moving_average():
    ctx: dict[str, Any] = {}

    record_batch(ctx, APPLY_SECONDS, 0.10)
    record_batch(ctx, APPLY_SECONDS, 0.20)

    assert ctx[APPLY_SECONDS] == pytest.approx(0.12)
