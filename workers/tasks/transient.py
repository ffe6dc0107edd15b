"""Transient database failures a job retries instead of failing, and data failures it must
not retry.

arq does not retry a job that raises: only ``Retry`` (or a timeout) runs it again. A deadlock
or a serialization failure between two workers' transactions is no fault of the job and
succeeds when run again (PostgreSQL has rolled the victim back, and the jobs are idempotent),
so the job re-raises it as ``Retry`` rather than leaving its work to the sweeper's next pass.
"""

from __future__ import annotations

import asyncpg
from arq.worker import Retry

from domain.kit.errors import DomainError

TRANSIENT = (
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.LockNotAvailableError,
)
RETRY_STEP = 0.05  # seconds; grows with each try so the two jobs fall out of step


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` (tortoise wraps asyncpg's errors) is, or was caused by, a deadlock
    or a serialization failure."""
    return _caused_by(exc, TRANSIENT)


# What the same data fails with every time: a value PostgreSQL refuses (SQLSTATE class 22, such
# as `cannot subtract infinite dates`), a limit it enforces (class 54: an index row too large)
# or a typed domain refusal. Running it again changes nothing until the data does, and a
# change to the data asks for its work again (a recompute request, an inbox event).
DATA_FAILURES = (
    asyncpg.exceptions.DataError,
    asyncpg.exceptions.ProgramLimitExceededError,
    DomainError,
)


def is_data_failure(exc: BaseException) -> bool:
    """True when ``exc`` (or what it wraps: tortoise wraps asyncpg's errors) is one of
    ``DATA_FAILURES``: a failure that retrying cannot mend."""
    return _caused_by(exc, DATA_FAILURES)


def _caused_by(exc: BaseException, kinds: tuple[type[BaseException], ...]) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kinds):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def retry_later(job_try: int | None) -> Retry:
    return Retry(defer=RETRY_STEP * (job_try or 1))
