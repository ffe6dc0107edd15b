"""A deadlock between two workers' transactions is retried (arq's Retry), not failed: arq
runs a job that raised only once, and its events would wait for the sweeper."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import asyncpg
import pytest
from arq.worker import Retry
from tortoise.exceptions import OperationalError

import workers.tasks.ingest as ingest_task
from workers.tasks.transient import is_transient


def deadlock() -> OperationalError:
    try:
        raise OperationalError("deadlock") from asyncpg.exceptions.DeadlockDetectedError(
            "deadlock detected"
        )
    except OperationalError as exc:
        return exc


def test_given_tortoise_wrapping_a_deadlock_then_transient_and_other_errors_not():
    assert is_transient(deadlock())
    assert is_transient(asyncpg.exceptions.SerializationError("could not serialize"))
    assert not is_transient(OperationalError("relation does not exist"))
    assert not is_transient(ValueError("bad"))


async def test_given_a_deadlock_while_applying_then_the_job_is_retried(
    db: str, monkeypatch: pytest.MonkeyPatch
):
    async def deadlocked(**kwargs: Any) -> Any:
        raise deadlock()

    monkeypatch.setattr(ingest_task.service, "claim_pending", deadlocked)

    with pytest.raises(Retry) as retried:
        await ingest_task.apply_inbox_events({"job_try": 2, "redis": None}, str(uuid4()), [1])

    assert retried.value.defer_score == 100  # 2 x 50 ms, in milliseconds


async def test_given_another_database_error_while_applying_then_the_job_fails(
    db: str, monkeypatch: pytest.MonkeyPatch
):
    async def broken(**kwargs: Any) -> Any:
        raise OperationalError("relation does not exist")

    monkeypatch.setattr(ingest_task.service, "claim_pending", broken)

    with pytest.raises(OperationalError):
        await ingest_task.apply_inbox_events({"job_try": 1, "redis": None}, str(uuid4()), [1])
