from __future__ import annotations

import logging
from typing import Annotated, Any

import strawberry
from strawberry.types import Info
from tortoise.transactions import in_transaction

from api.graphql.disputes.types import Dispute
from api.graphql.errors import UserError, user_error
from domain.kit.errors import DomainError
from payments.disputes import service

log = logging.getLogger("podium.api.disputes")

RaiseDisputeResult = Annotated[Dispute | UserError, strawberry.union("RaiseDisputeResult")]


async def push_after_commit(info: Info[Any, None], user_ids: list[Any]) -> None:
    """The inbox rows are committed: a worker pushes them to the people's phones."""
    try:
        queue = info.context.request.app.state.job_queue
        await queue.enqueue_push(info.context.viewer.tenant_id, user_ids)
    except Exception:  # the inbox has them: the next push to these people carries them
        log.exception("could not queue the pushes of a dispute")


async def raise_dispute(
    info: Info[Any, None],
    statement_id: strawberry.ID,
    message: str,
    line_id: strawberry.ID | None = None,
) -> RaiseDisputeResult:
    """The payee disputes their statement in force (or one line of it): their manager is
    told; until it is resolved, the statement cannot be approved."""
    viewer = info.context.viewer
    try:
        async with in_transaction():
            dispute, told = await service.raise_dispute(
                viewer=viewer,
                statement_id=str(statement_id),
                line_id=None if line_id is None else str(line_id),
                message=message,
            )
    except DomainError as exc:
        return user_error(exc)
    await push_after_commit(info, told)
    return Dispute.of(dispute)
