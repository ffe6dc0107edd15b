"""Transient database failures a job retries instead of failing.

arq does not retry a job that raises: only ``Retry`` (or a timeout) runs it again. A deadlock
or a serialization failure between two workers' transactions is no fault of the job and
succeeds when run again (PostgreSQL has rolled the victim back, and the jobs are idempotent),
so the job re-raises it as ``Retry`` rather than leaving its work to the sweeper's next pass.
"""

from __future__ import annotations

import asyncpg
from arq.worker import Retry

TRANSIENT = (
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.LockNotAvailableError,
)
RETRY_STEP = 0.05  # seconds; grows with each try so the two jobs fall out of step


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` (tortoise wraps asyncpg's errors) is, or was caused by, a deadlock
    or a serialization failure."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, TRANSIENT):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def retry_later(job_try: int | None) -> Retry:
    return Retry(defer=RETRY_STEP * (job_try or 1))
