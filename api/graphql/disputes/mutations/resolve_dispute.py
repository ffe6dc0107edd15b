from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry.types import Info
from tortoise.transactions import in_transaction

from api.graphql.disputes.mutations.raise_dispute import push_after_commit
from api.graphql.disputes.types import Dispute, DisputeComment
from api.graphql.errors import UserError, user_error
from domain.kit.errors import DomainError
from payments.disputes import service


@strawberry.input
class ResolveDisputeInput:
    id: strawberry.ID
    accept: bool
    comment: str
    adjustment: Decimal | None = None


ResolveDisputeResult = Annotated[Dispute | UserError, strawberry.union("ResolveDisputeResult")]
CommentDisputeResult = Annotated[
    DisputeComment | UserError, strawberry.union("CommentDisputeResult")
]


async def resolve_dispute(
    info: Info[Any, None], input: ResolveDisputeInput
) -> ResolveDisputeResult:
    """The payee's manager (or someone above, an admin, payout ops) accepts a dispute, with an
    adjustment on the statement or without, or rejects it with a reason; the payee is told."""
    viewer = info.context.viewer
    try:
        async with in_transaction():
            dispute, told = await service.resolve_dispute(
                viewer=viewer,
                dispute_id=str(input.id),
                accept=input.accept,
                comment=input.comment,
                adjustment=input.adjustment,
            )
    except DomainError as exc:
        return user_error(exc)
    await push_after_commit(info, told)
    return Dispute.of(dispute)


async def comment_dispute(
    info: Info[Any, None], id: strawberry.ID, body: str
) -> CommentDisputeResult:
    """A comment on a dispute by the payee or whoever may answer it."""
    try:
        async with in_transaction():
            made = await service.comment(viewer=info.context.viewer, dispute_id=str(id), body=body)
    except DomainError as exc:
        return user_error(exc)
    return DisputeComment.of(made)
