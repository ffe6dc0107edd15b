"""Disputes: a payee questions their statement or one line of it; their manager (or, with
none, the tenant's admins) answers with an adjustment or a reason for rejecting it."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING
from uuid import UUID

from tortoise import fields

from domain.orm import Model

if TYPE_CHECKING:
    from domain.org.models import User
    from domain.tenants.models import Tenant
    from payments.statements.models import Statement


class DisputeStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class Dispute(Model):
    id = fields.UUIDField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="disputes", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    statement: fields.ForeignKeyRelation[Statement] = fields.ForeignKeyField(
        "podium.Statement", related_name="disputes", on_delete=fields.CASCADE
    )
    statement_id: UUID
    line_id = fields.BigIntField(null=True)  # a line of that statement version
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "podium.User", related_name="disputes", on_delete=fields.RESTRICT
    )
    user_id: UUID  # the payee (who raised it)
    period = fields.CharField(max_length=10)
    assignee_id = fields.UUIDField(null=True)  # the payee's manager; None: the admins
    status = fields.CharField(max_length=10, default=DisputeStatus.OPEN.value)
    message = fields.TextField()
    resolution = fields.TextField(null=True)
    adjustment_id = fields.UUIDField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    resolved_at = fields.DatetimeField(null=True)
    resolved_by = fields.UUIDField(null=True)

    class Meta:
        table = "disputes"
        indexes = (("tenant_id", "user_id", "period", "status"),)


class DisputeComment(Model):
    id = fields.BigIntField(primary_key=True)
    dispute: fields.ForeignKeyRelation[Dispute] = fields.ForeignKeyField(
        "podium.Dispute", related_name="comments", on_delete=fields.CASCADE
    )
    dispute_id: UUID
    author_id = fields.UUIDField(null=True)
    author_label = fields.CharField(max_length=200)
    body = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "dispute_comments"
