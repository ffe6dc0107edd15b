"""The append-only XP ledger and the tenant's level map."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from domain.org.models import User
    from domain.tenants.models import Tenant


# One grant (or its reversal: ``points`` negated, source ``<source>:reversed``). Rows are only
# ever inserted, and (tenant, user, source) is unique, so a replayed event counts once.
class XpEntry(Model):
    id = fields.BigIntField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="xp_entries", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "podium.User", related_name="xp_entries", on_delete=fields.CASCADE
    )
    user_id: UUID
    source = fields.CharField(max_length=220)
    points = fields.IntField()
    reason = fields.CharField(max_length=200)
    created_at = fields.DatetimeField()

    class Meta:
        table = "xp_entries"
        unique_together = (("tenant", "user", "source"),)
        indexes = (("tenant_id", "user_id", "created_at"),)


class LevelDefinition(Model):
    id = fields.UUIDField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="levels", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    number = fields.IntField()
    name = fields.CharField(max_length=100)
    xp_required = fields.IntField()
    reward = fields.CharField(max_length=200, default="")

    class Meta:
        table = "level_definitions"
        unique_together = (("tenant", "number"),)
