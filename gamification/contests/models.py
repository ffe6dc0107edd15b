"""Contest definitions, their lifecycle and their frozen results (PostgreSQL)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

from tortoise import fields

from domain.orm import Model

if TYPE_CHECKING:
    from domain.tenants.models import Tenant


class ContestStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"
    AWARDED = "awarded"


class Contest(Model):
    id = fields.UUIDField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="contests", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    name = fields.CharField(max_length=100)
    metric = fields.CharField(max_length=120)  # `metrics.scorer_of` reads it
    format = fields.CharField(max_length=10)  # rules.Format
    tie_rule = fields.CharField(max_length=10)  # rules.TieRule
    target = fields.DecimalField(max_digits=20, decimal_places=6, null=True)  # race only
    starts_at = fields.DatetimeField()
    ends_at = fields.DatetimeField()
    status = fields.CharEnumField(ContestStatus, max_length=10, default=ContestStatus.DRAFT)
    hidden = fields.BooleanField(default=False)  # test mode: its manager alone sees it
    # the manager who launched it (null: an admin or the system); scope and hidden mode
    manager_id = fields.UUIDField(null=True)
    participant_ids: list[str] = fields.JSONField(default=list)
    # [{"rank", "description", "amount", "currency", "badge_id"}]; badge_id is a plain uuid
    prizes: list[dict[str, Any]] = fields.JSONField(default=list)
    # frozen at award: [{"key", "rank", "score", "reached_at"}] and the winners
    results: dict[str, Any] | None = fields.JSONField(null=True)
    notified: list[str] = fields.JSONField(default=list)  # notification kinds already sent
    created_by_label = fields.CharField(max_length=200)
    created_at = fields.DatetimeField(auto_now_add=True)
    awarded_at = fields.DatetimeField(null=True)

    class Meta:
        table = "contests"
        indexes = (("tenant_id", "status"),)
