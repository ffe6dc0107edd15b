"""Statements per payee, period and currency: versioned (a change after approval is a new
version, the old one stays readable), with lines that each say where their money comes from.
Adjustments are the manual lines, kept apart so they reach the statement built later."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

from tortoise import fields

from domain.orm import Model

if TYPE_CHECKING:
    from domain.org.models import User
    from domain.tenants.models import Tenant


class StatementStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    PAID = "paid"
    # below zero, approved, and settled by carrying its balance into the payee's statement
    # of a later period (``carried_into_period``): owed no more, changed no more
    CARRIED = "carried"


class LineKind(StrEnum):
    EARNINGS = "earnings"  # a component's payable earnings of the frozen result
    ADJUSTMENT = "adjustment"  # a manual adjustment (or a dispute resolved with one)
    CLAWBACK = "clawback"  # a late change to an earlier closed period, netted here
    PRIZE = "prize"  # a contest prize (domain.rewards)
    DRAW = "draw"  # a draw paid on top of earnings below it
    DRAW_RECOVERY = "draw_recovery"  # a recoverable draw taken back from earnings
    CARRY_FORWARD = "carry_forward"  # an earlier statement's balance below zero, netted here


class Statement(Model):
    id = fields.UUIDField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="statements", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "podium.User", related_name="statements", on_delete=fields.RESTRICT
    )
    user_id: UUID
    period = fields.CharField(max_length=10)
    currency = fields.CharField(max_length=3)
    version = fields.IntField(default=1)
    # the version in force; older ones stay as they were approved (a partial unique index
    # keeps one current version per payee, period and currency: migration 0021)
    current = fields.BooleanField(default=True)
    status = fields.CharField(max_length=10, default=StatementStatus.DRAFT.value)
    total = fields.DecimalField(max_digits=20, decimal_places=6, default=0)
    # the plan versions of its earnings and a sha256 of everything it was built from
    plan_versions: list[str] = fields.JSONField(default=list)
    inputs_hash = fields.CharField(max_length=64, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    approved_at = fields.DatetimeField(null=True)
    approved_by = fields.UUIDField(null=True)
    paid_at = fields.DatetimeField(null=True)
    # CARRIED: the later period whose statement holds its balance (a CARRY_FORWARD line)
    carried_into_period = fields.CharField(max_length=10, null=True)

    class Meta:
        table = "statements"
        unique_together = (("tenant", "user", "period", "currency", "version"),)
        indexes = (("tenant_id", "period", "current"),)


class StatementLine(Model):
    id = fields.BigIntField(primary_key=True)
    statement: fields.ForeignKeyRelation[Statement] = fields.ForeignKeyField(
        "podium.Statement", related_name="lines", on_delete=fields.CASCADE
    )
    statement_id: UUID
    tenant_id = fields.UUIDField()
    position = fields.IntField()
    kind = fields.CharField(max_length=20)  # a LineKind value
    amount = fields.DecimalField(max_digits=20, decimal_places=6)
    # what the words are made from when read, in the reader's language (texts.py)
    params: dict[str, Any] = fields.JSONField(default=dict)
    # where the money comes from: "result:<id>:<component>", "reward:<id>", "adjustment:<id>",
    # "late:<period>:<plan version>:<component>", "carry:<statement id>"
    source = fields.CharField(max_length=300)
    # a clawback: the period it corrects and the earnings line it names; a carried balance:
    # the period of the statement it comes from
    original_period = fields.CharField(max_length=10, null=True)
    original_line_id = fields.BigIntField(null=True)

    class Meta:
        table = "statement_lines"
        indexes = (("statement_id", "position"), ("tenant_id", "original_period"))


class Adjustment(Model):
    """A manual amount for a payee and period (amount, currency, reason, who): audited, and
    a line of the payee's statement of that period (a new version once it is approved)."""

    id = fields.UUIDField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="adjustments", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "podium.User", related_name="adjustments", on_delete=fields.RESTRICT
    )
    user_id: UUID
    period = fields.CharField(max_length=10)
    amount = fields.DecimalField(max_digits=20, decimal_places=6)
    currency = fields.CharField(max_length=3)
    reason = fields.CharField(max_length=500)
    created_by = fields.UUIDField(null=True)
    created_by_label = fields.CharField(max_length=200)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "adjustments"
        indexes = (("tenant_id", "user_id", "period"),)
