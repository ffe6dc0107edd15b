"""The audit log: append-only (a database trigger refuses UPDATE, DELETE and TRUNCATE)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from tortoise import fields

from domain.orm import Model

if TYPE_CHECKING:
    from domain.tenants.models import Tenant


class AuditEntry(Model):
    id = fields.BigIntField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="audit", on_delete=fields.RESTRICT
    )
    tenant_id: UUID
    # A plain column, not a foreign key: ON DELETE SET NULL would be an UPDATE of the log.
    actor_id = fields.UUIDField(null=True)
    actor_label = fields.CharField(max_length=200)  # "user:<id>", "system:worker", "system:cli"
    action = fields.CharField(max_length=100)  # "plan.published", "quota.set", ...
    entity_type = fields.CharField(max_length=50)
    entity_id = fields.CharField(max_length=200)
    before: dict[str, Any] | None = fields.JSONField(null=True)
    after: dict[str, Any] | None = fields.JSONField(null=True)
    request_id = fields.CharField(max_length=64, null=True)
    at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "audit_log"
        indexes = (("tenant_id", "entity_type", "entity_id"),)
