"""Plans, their effective-dated versions, assignments to reps, and quotas."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

from tortoise import fields

from domain.orm import Model

if TYPE_CHECKING:
    from domain.org.models import User
    from domain.tenants.models import Tenant


class Plan(Model):
    id = fields.UUIDField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="plans", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    key = fields.CharField(max_length=100)  # the document's `id`
    name = fields.CharField(max_length=200)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "plans"
        unique_together = (("tenant", "key"),)


class PlanVersion(Model):
    """One published plan document, effective-dated.

    In force from ``effective_from`` to ``effective_to`` (inclusive; open-ended while it is the
    latest). Versions of a plan never overlap.
    """

    id = fields.UUIDField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="plan_versions", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    plan: fields.ForeignKeyRelation[Plan] = fields.ForeignKeyField(
        "podium.Plan", related_name="versions", on_delete=fields.CASCADE
    )
    plan_id: UUID
    version = fields.IntField()
    # the parsed document (decimals as strings) for queries, and the text as published, which
    # is what gets compiled: byte for byte what the admin approved
    document: dict[str, Any] = fields.JSONField()
    document_text = fields.TextField()
    document_sha256 = fields.CharField(max_length=64)
    currency = fields.CharField(max_length=3)
    period_kind = fields.CharField(max_length=10)
    effective_from = fields.DateField()
    effective_to = fields.DateField(null=True)
    published_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "podium.User", related_name="published_plans", null=True, on_delete=fields.SET_NULL
    )
    published_by_id: UUID | None
    published_by_label = fields.CharField(max_length=200)  # "user:<id>" or "system:cli"
    published_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "plan_versions"
        unique_together = (("plan", "version"),)
        indexes = (("plan_id", "effective_from"),)


class AssignmentStatus(StrEnum):
    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class PlanAssignment(Model):
    """A rep on a plan between two dates.

    From ``effective_from`` to ``effective_to`` (inclusive). Offered plans already pay:
    acceptance is the rep's sign-off, not a condition of earning.
    """

    id = fields.UUIDField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="assignments", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    plan: fields.ForeignKeyRelation[Plan] = fields.ForeignKeyField(
        "podium.Plan", related_name="assignments", on_delete=fields.CASCADE
    )
    plan_id: UUID
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "podium.User", related_name="assignments", on_delete=fields.CASCADE
    )
    user_id: UUID
    status = fields.CharEnumField(AssignmentStatus, max_length=20, default=AssignmentStatus.OFFERED)
    effective_from = fields.DateField()
    effective_to = fields.DateField(null=True)
    offered_at = fields.DatetimeField(auto_now_add=True)
    accepted_at = fields.DatetimeField(null=True)

    class Meta:
        table = "plan_assignments"
        indexes = (("tenant_id", "user_id"),)


class Quota(Model):
    id = fields.BigIntField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="quotas", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "podium.User", related_name="quotas", on_delete=fields.CASCADE
    )
    user_id: UUID
    measure = fields.CharField(max_length=100)
    period = fields.CharField(max_length=10)
    value = fields.DecimalField(max_digits=20, decimal_places=6)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "quotas"
        unique_together = (("tenant", "user", "measure", "period"),)
