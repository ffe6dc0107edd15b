from __future__ import annotations

import logging
from typing import Annotated, Any

import strawberry
from strawberry.types import Info
from tortoise.transactions import in_transaction

from api.graphql.errors import UserError, user_error
from domain.earnings import close as closing
from domain.kit.errors import DomainError, Forbidden

log = logging.getLogger("podium.api.close")

WORKER_HELPERS = 2  # close jobs queued per call: each worker process that takes one helps


@strawberry.type(description="A period's close under way: the workers recompute its people.")
class PeriodClose:
    period: str
    people: int
    people_done: int
    closed: bool

    @classmethod
    def of(cls, period: str, progress: closing.CloseProgress, closed: bool) -> PeriodClose:
        return cls(
            period=period, people=progress.people, people_done=progress.people_done, closed=closed
        )


ClosePeriodResult = Annotated[PeriodClose | UserError, strawberry.union("ClosePeriodResult")]


async def close_period(info: Info[Any, None], period: str) -> ClosePeriodResult:
    """Admins and payout ops: start (or resume) the close of a period: the arq workers
    recompute everyone on a plan in it in chunks and then close it, its results final
    (`podium close` does the same in the foreground). Calling it again shows the progress;
    a closed period answers PERIOD_CLOSED."""
    viewer = info.context.viewer
    try:
        async with in_transaction():
            run = await closing.start_close(viewer=viewer, period=period)
            progress = await closing.close_progress(viewer=viewer, run_id=run.id)
    except Forbidden:
        raise
    except DomainError as exc:
        return user_error(exc)
    queue = info.context.request.app.state.job_queue
    try:
        await queue.enqueue_close(viewer.tenant_id, run.id, WORKER_HELPERS)
    except Exception:  # the run is stored: calling again (or `podium close`) finishes it
        log.exception("could not queue the close of %s", run.period)
    return PeriodClose.of(run.period, progress, closed=False)
