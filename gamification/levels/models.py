"""The append-only XP ledger and the tenant's level map."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from tortoise import fields

from domain.orm import Model

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


class StreakDefinition(Model):
    """A streak: consecutive units meeting ``rule``. ``unit`` is ``period`` (the rule reads a
    period's facts, as a badge rule does) or ``workday`` (the rule reads ``deals``, the deals
    won that day; weekends and the tenant's holidays neither break nor extend it)."""

    id = fields.UUIDField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="streaks", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    name = fields.CharField(max_length=100)
    rule = fields.TextField()
    unit = fields.CharField(max_length=10)
    period_kind = fields.CharField(max_length=10, default="month")

    class Meta:
        table = "streak_definitions"
        unique_together = (("tenant", "name"),)


class Holiday(Model):
    id = fields.UUIDField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="holidays", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    day = fields.DateField()
    name = fields.CharField(max_length=100, default="")

    class Meta:
        table = "holidays"
        unique_together = (("tenant", "day"),)
