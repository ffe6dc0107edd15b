from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info
from tortoise.transactions import in_transaction

from api.graphql.errors import UserError, user_error
from api.graphql.statements.types import ApprovalResult
from domain.kit.errors import DomainError
from payments.statements.service import approve_statements as approve

ApproveStatementsResult = Annotated[
    ApprovalResult | UserError, strawberry.union("ApproveStatementsResult")
]


async def approve_statements(
    info: Info[Any, None], period: str, rep_ids: list[strawberry.ID] | None = None
) -> ApproveStatementsResult:
    """Approve a period's draft statements: of `repIds` (all or none), or every one the
    viewer may approve (open disputes skipped). Someone else's team, an open dispute or a
    second approval is a UserError naming the field, and nothing changes."""
    viewer = info.context.viewer
    try:
        async with in_transaction():
            done = await approve(
                viewer=viewer,
                period=period,
                rep_ids=None if rep_ids is None else [str(r) for r in rep_ids],
            )
    except DomainError as exc:
        return user_error(exc)
    return ApprovalResult(approved=done.approved, skipped=done.skipped)
