"""Target plans and their tree of targets, one per person, down the manager hierarchy."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING
from uuid import UUID

from tortoise import fields

from domain.orm import Model

if TYPE_CHECKING:
    from domain.org.models import User
    from domain.tenants.models import Tenant


class TargetStatus(StrEnum):
    DRAFT = "draft"  # allocated by a manager, not yet sent up
    PROPOSED = "proposed"  # sent to the level above for validation
    VALIDATED = "validated"  # the level above agreed
    PUBLISHED = "published"  # written as quotas; the person is asked to accept
    ACCEPTED = "accepted"
    DISPUTED = "disputed"  # not accepted, with a comment


class PlanStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    SUPERSEDED = "superseded"  # a later version was published


class AllocationMethod(StrEnum):
    EQUAL = "equal"
    ACTUALS = "actuals"
    WEIGHTS = "weights"
    MANUAL = "manual"


class TargetPlan(Model):
    """A tenant-level target for a period and measure, optionally for one value of a
    transaction field (``breakdown_field`` = ``breakdown_value``). A revision is a new row
    with the same ``key`` and ``version`` + 1."""

    id = fields.UUIDField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="target_plans", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    key = fields.CharField(max_length=100)
    version = fields.IntField(default=1)
    period = fields.CharField(max_length=10)
    measure = fields.CharField(max_length=100)
    breakdown_field = fields.CharField(max_length=100, null=True)
    breakdown_value = fields.CharField(max_length=200, null=True)
    amount = fields.DecimalField(max_digits=20, decimal_places=6)
    currency = fields.CharField(max_length=3, null=True)  # null: a count
    status = fields.CharEnumField(PlanStatus, max_length=12, default=PlanStatus.DRAFT)
    created_at = fields.DatetimeField(auto_now_add=True)
    published_at = fields.DatetimeField(null=True)
    # the first day its quotas apply (published versions): the previous version's apply
    # before it, and the engine period it falls in mixes the two by day
    effective_from = fields.DateField(null=True)

    class Meta:
        table = "target_plans"
        unique_together = (("tenant", "key", "version"),)

    @property
    def quota_key(self) -> str:
        """The quota its targets become: see ``quota_key``."""
        return quota_key(self.measure, self.breakdown_field, self.breakdown_value)


def quota_key(measure: str, breakdown_field: str | None, breakdown_value: str | None) -> str:
    """The measure of the quotas a target plan publishes: the measure's id, or with a
    breakdown ``bookings[category=heat_pump]``, which a plan's measure reads with
    ``quota: "bookings[category=heat_pump]"`` (domain.engine.plan.Measure.quota)."""
    if breakdown_field is None or breakdown_value is None:
        return measure
    return f"{measure}[{breakdown_field}={breakdown_value}]"


class Target(Model):
    """One person's share of a target plan; the root is the plan's whole amount."""

    id = fields.UUIDField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="targets", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    plan: fields.ForeignKeyRelation[TargetPlan] = fields.ForeignKeyField(
        "podium.TargetPlan", related_name="targets", on_delete=fields.CASCADE
    )
    plan_id: UUID
    parent: fields.ForeignKeyNullableRelation[Target] = fields.ForeignKeyField(
        "podium.Target", related_name="children", null=True, on_delete=fields.CASCADE
    )
    parent_id: UUID | None
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "podium.User", related_name="targets", on_delete=fields.CASCADE
    )
    user_id: UUID
    value = fields.DecimalField(max_digits=20, decimal_places=6)
    status = fields.CharEnumField(TargetStatus, max_length=12, default=TargetStatus.DRAFT)
    method = fields.CharEnumField(AllocationMethod, max_length=10, null=True)  # of its children
    comment = fields.TextField(null=True)
    accepted_at = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "targets"
        unique_together = (("plan", "user"),)
        indexes = (("tenant_id", "user_id"),)
