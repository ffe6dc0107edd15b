"""Draws on a plan assignment and their ledger: what was advanced, recovered and forgiven,
period by period (the balance is what the payee still owes back)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING
from uuid import UUID

from tortoise import fields

from domain.orm import Model

if TYPE_CHECKING:
    from domain.org.models import User
    from domain.plans.models import Plan, PlanAssignment
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
    # None: as the plan says (its PlanDrawTerms; without them: all of it, forgiven)
    recovery_share = fields.DecimalField(max_digits=7, decimal_places=6, null=True)
    on_termination = fields.CharField(max_length=10, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "draws"
        unique_together = (("tenant", "assignment"),)


class PlanDrawTerms(Model):
    """What a plan says of its draws: the share of later earnings a recoverable draw takes
    back, and what becomes of the balance when the payee leaves. A draw with terms of its
    own keeps them; the others follow these, as they are when a statement is built."""

    id = fields.UUIDField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="plan_draw_terms", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    plan: fields.ForeignKeyRelation[Plan] = fields.ForeignKeyField(
        "podium.Plan", related_name="draw_terms", on_delete=fields.CASCADE
    )
    plan_id: UUID
    recovery_share = fields.DecimalField(max_digits=7, decimal_places=6)
    on_termination = fields.CharField(max_length=10)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "plan_draw_terms"
        unique_together = (("tenant", "plan"),)


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
