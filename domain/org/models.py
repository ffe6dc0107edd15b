"""People: reps, managers, admins and payout ops, and the manager hierarchy."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

from tortoise import fields

from domain.orm import Model

if TYPE_CHECKING:
    from domain.tenants.models import Tenant


class Role(StrEnum):
    REP = "rep"
    MANAGER = "manager"
    ADMIN = "admin"
    PAYOUT_OPS = "payout_ops"


class User(Model):
    id = fields.UUIDField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="users", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    external_id = fields.CharField(max_length=200)  # the CRM's id for this person
    email = fields.CharField(max_length=320, null=True)
    display_name = fields.CharField(max_length=200)
    role = fields.CharEnumField(Role, max_length=20, default=Role.REP)
    manager: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "podium.User", related_name="reports", null=True, on_delete=fields.SET_NULL
    )
    manager_id: UUID | None
    locale = fields.CharField(max_length=35, null=True)
    country = fields.CharField(max_length=2, null=True)
    hire_date = fields.DateField(null=True)
    end_date = fields.DateField(null=True)
    avatar_url = fields.CharField(max_length=500, null=True)
    firebase_uid = fields.CharField(max_length=128, null=True)
    # the CRM's other columns for this person (reps.csv extra columns); decimals as strings
    attributes: dict[str, Any] = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "users"
        unique_together = (("tenant", "external_id"),)
        indexes = (("tenant_id", "manager_id"),)
