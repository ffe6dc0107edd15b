"""Draws on a plan assignment and their ledger: what was advanced, recovered and forgiven,
period by period (the balance is what the payee still owes back)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING
from uuid import UUID

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from domain.org.models import User
    from domain.plans.models import PlanAssignment
    from domain.tenants.models import Tenant


class OnTermination(StrEnum):
    FORGIVE = "forgive"  # the balance is written off when the payee leaves
    KEEP = "keep"  # the balance stays owed


class EntryKind(StrEnum):
    ADVANCE = "advance"  # paid on top of earnings below the draw (recoverable: owed back)
    RECOVERY = "recovery"  # taken back from later earnings
    FORGIVEN = "forgiven"  # written off on termination


class Draw(Model):
    id = fields.UUIDField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="draws", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    assignment: fields.ForeignKeyRelation[PlanAssignment] = fields.ForeignKeyField(
        "podium.PlanAssignment", related_name="draws", on_delete=fields.RESTRICT
    )
    assignment_id: UUID
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "podium.User", related_name="draws", on_delete=fields.RESTRICT
    )
    user_id: UUID
    currency = fields.CharField(max_length=3)
    amount = fields.DecimalField(max_digits=20, decimal_places=6)  # guaranteed per period
    recoverable = fields.BooleanField()
    recovery_share = fields.DecimalField(max_digits=7, decimal_places=6, default=1)
    on_termination = fields.CharField(max_length=10, default=OnTermination.FORGIVE.value)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "draws"
        unique_together = (("tenant", "assignment"),)


class DrawEntry(Model):
    id = fields.BigIntField(primary_key=True)
    draw: fields.ForeignKeyRelation[Draw] = fields.ForeignKeyField(
        "podium.Draw", related_name="entries", on_delete=fields.CASCADE
    )
    draw_id: UUID
    tenant_id = fields.UUIDField()
    period = fields.CharField(max_length=10)
    kind = fields.CharField(max_length=10)  # an EntryKind value
    amount = fields.DecimalField(max_digits=20, decimal_places=6)  # positive
    statement_id = fields.UUIDField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "draw_entries"
        unique_together = (("draw", "period", "kind"),)
