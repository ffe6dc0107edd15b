"""Leaderboard definitions (PostgreSQL); their scores live in Redis (`store`), rebuilt from
stored earnings results whenever needed."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from tortoise import fields

from domain.orm import Model

if TYPE_CHECKING:
    from domain.org.models import User
    from domain.tenants.models import Tenant


class Leaderboard(Model):
    id = fields.UUIDField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="leaderboards", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    name = fields.CharField(max_length=100)
    metric = fields.CharField(max_length=120)  # `metrics.Metric.text`
    period_kind = fields.CharField(max_length=10)  # month | quarter | year
    # a manager's subtree (the manager included); null: the whole tenant
    team: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "podium.User", related_name="leaderboards", null=True, on_delete=fields.CASCADE
    )
    team_id: UUID | None
    # a named group: the people whose `User.attributes["group"]` is this name; null: no group
    group_name = fields.CharField(max_length=100, null=True)
    created_by_label = fields.CharField(max_length=200)
    created_at = fields.DatetimeField()

    class Meta:
        table = "leaderboards"
        unique_together = (("tenant", "name"),)
