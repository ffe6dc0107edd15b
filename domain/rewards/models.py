"""A money reward: what gamification awards (a contest prize) written where statements read it,
so gamification and payments meet in the domain and never import each other."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from tortoise import fields

from domain.orm import Model

if TYPE_CHECKING:
    from domain.org.models import User
    from domain.tenants.models import Tenant


class Reward(Model):
    id = fields.UUIDField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="rewards", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "podium.User", related_name="rewards", on_delete=fields.RESTRICT
    )
    user_id: UUID
    period = fields.CharField(max_length=10)  # the commission period it is paid in
    amount = fields.DecimalField(max_digits=20, decimal_places=6)  # negative: a clawback
    currency = fields.CharField(max_length=3)
    source_kind = fields.CharField(max_length=30)  # "contest_prize", "contest_clawback"
    source_id = fields.CharField(max_length=200)  # makes the award idempotent
    reason = fields.CharField(max_length=500)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "rewards"
        unique_together = (("tenant", "source_kind", "source_id", "user"),)
        indexes = (("tenant_id", "user_id", "period"),)
