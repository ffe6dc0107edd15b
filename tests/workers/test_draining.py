"""How the applies are paced: what the latency budget leaves after an apply and its
recompute, within bounds (workers.tasks.draining)."""

from __future__ import annotations

import pytest

from workers.tasks.draining import (
    BATCH_TIMES,
    LATENCY_BUDGET,
    MAX_PACE,
    MIN_PACE,
    UNSEEN_RECOMPUTE,
    BatchTimes,
    apply_pace,
    batch_times,
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
    assert apply_pace({BATCH_TIMES: BatchTimes(apply, recompute)}) == pytest.approx(pace)


def test_given_a_fixed_pause_in_ctx_then_it_is_the_pace():
    assert apply_pace({"batch_pause": 0.3, BATCH_TIMES: BatchTimes(1.0, 1.0)}) == 0.3


def test_given_batch_times_then_moving_averages_shared_by_the_jobs_ctx_copies():
    worker_ctx: dict[str, object] = {BATCH_TIMES: BatchTimes()}
    apply_job, recompute_job = dict(worker_ctx), dict(worker_ctx)  # as arq gives each job

    batch_times(apply_job).record("apply", 0.10)
    batch_times(apply_job).record("apply", 0.20)
    batch_times(recompute_job).record("recompute", 0.05)

    assert batch_times(recompute_job).apply == pytest.approx(0.12)
    assert batch_times(apply_job).recompute == pytest.approx(0.05)
