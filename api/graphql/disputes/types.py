"""Disputes of a statement: leaf fields are plain attributes."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from payments.disputes.models import Dispute as StoredDispute
from payments.disputes.models import DisputeComment as StoredComment


@strawberry.enum
class DisputeStatus(Enum):
    OPEN = "open"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


@strawberry.type(description="A comment on a dispute, by the payee or whoever answers it.")
class DisputeComment:
    id: strawberry.ID
    body: str
    created_at: datetime

    @classmethod
    def of(cls, c: StoredComment) -> DisputeComment:
        return cls(id=strawberry.ID(str(c.id)), body=c.body, created_at=c.created_at)


@strawberry.type(
    description="A payee's dispute of a statement (or one of its lines), assigned to their "
    "manager; open, it holds the statement's approval."
)
class Dispute:
    id: strawberry.ID
    status: DisputeStatus
    message: str
    resolution: str | None
    statement_id: strawberry.ID
    line_id: strawberry.ID | None
    adjustment_id: strawberry.ID | None
    created_at: datetime
    resolved_at: datetime | None
    comments: list[DisputeComment] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, d: StoredDispute, comments: list[StoredComment] | None = None) -> Dispute:
        return cls(
            id=strawberry.ID(str(d.id)),
            status=DisputeStatus(d.status),
            message=d.message,
            resolution=d.resolution,
            statement_id=strawberry.ID(str(d.statement_id)),
            line_id=strawberry.ID(str(d.line_id)) if d.line_id is not None else None,
            adjustment_id=strawberry.ID(str(d.adjustment_id)) if d.adjustment_id else None,
            created_at=d.created_at,
            resolved_at=d.resolved_at,
            comments=[DisputeComment.of(c) for c in comments or []],
        )
