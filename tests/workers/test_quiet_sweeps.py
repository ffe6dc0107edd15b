"""The worker's log drops the sweeper's routine job lines and nothing else: the start-up line,
which names cron:sweep among the functions, is what `bench/realtime.py` and people wait for."""

from __future__ import annotations

import logging

import pytest

from workers.settings import _QuietSweeps


def _record(message: str) -> logging.LogRecord:
    return logging.LogRecord("arq.worker", logging.INFO, __file__, 1, message, None, None)


@pytest.mark.parametrize(
    "message",
    ["  0.01s → cron:sweep()", "  0.02s ← cron:sweep ● None"],
)
def test_given_a_sweep_job_line_then_it_is_dropped(message: str):
    assert not _QuietSweeps().filter(_record(message))


@pytest.mark.parametrize(
    "message",
    [
        "Starting worker for 4 functions: apply_inbox_events, recompute_requested, "
        "close_chunks, cron:sweep",
        "  0.05s → 1a2b:recompute_requested('t')",
    ],
)
def test_given_any_other_line_then_it_is_kept(message: str):
    assert _QuietSweeps().filter(_record(message))
