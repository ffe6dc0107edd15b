"""Periods and stored earnings: per rep, plan version and period, with explained lines."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

from tortoise import fields

from domain.orm import Model

if TYPE_CHECKING:
    from domain.org.models import User
    from domain.plans.models import PlanVersion
    from domain.tenants.models import Tenant


class PeriodStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Period(Model):
    """A commission period of a tenant.

    Results of a closed period are final: recomputing them is refused.
    """

    id = fields.BigIntField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="periods", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    key = fields.CharField(max_length=10)  # "2026-10", "2026-Q4", "2026"
    kind = fields.CharField(max_length=10)
    starts_on = fields.DateField()
    ends_on = fields.DateField()
    status = fields.CharEnumField(PeriodStatus, max_length=10, default=PeriodStatus.OPEN)
    closed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "periods"
        unique_together = (("tenant", "key"),)


class ResultStatus(StrEnum):
    OK = "ok"
    ERROR = "error"  # the engine could not calculate this rep (missing quota or FX rate, ...)


class EarningsResult(Model):
    id = fields.UUIDField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="results", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "podium.User", related_name="results", on_delete=fields.CASCADE
    )
    user_id: UUID
    plan_version: fields.ForeignKeyRelation[PlanVersion] = fields.ForeignKeyField(
        "podium.PlanVersion", related_name="results", on_delete=fields.CASCADE
    )
    plan_version_id: UUID
    period = fields.CharField(max_length=10)
    status = fields.CharEnumField(ResultStatus, max_length=10, default=ResultStatus.OK)
    error = fields.TextField(null=True)
    currency = fields.CharField(max_length=3)
    total = fields.DecimalField(max_digits=20, decimal_places=6, default=0)
    payable = fields.DecimalField(max_digits=20, decimal_places=6, default=0)
    pending = fields.DecimalField(max_digits=20, decimal_places=6, default=0)
    cap_adjustment = fields.DecimalField(max_digits=20, decimal_places=6, default=0)
    active_days = fields.IntField(default=0)
    period_days = fields.IntField(default=0)
    # [{"id", "name", "total", "count", "quota", "attainment"}] and
    # [{"id", "name", "type", "amount", "payable", "pending"}], decimals as exact strings (a
    # component's reasons are on its line, `EarningsLine` at its position); ``explanation``
    # is the result's reasons (`domain.engine.explanations`)
    measures: list[dict[str, Any]] = fields.JSONField(default=list)
    components: list[dict[str, Any]] = fields.JSONField(default=list)
    explanation: list[str] = fields.JSONField(default=list)
    # when these figures were last written: a recompute that finds the same figures and lines
    # (same ``fingerprint``) writes nothing, so this is "last changed", not "last looked at"
    computed_at = fields.DatetimeField()
    # sha256 of the figures and lines as stored: what "nothing changed" is checked against
    fingerprint = fields.CharField(max_length=64, default="")

    class Meta:
        table = "earnings_results"
        unique_together = (("user", "plan_version", "period"),)
        # a period's results, and some people's among them: with the person last, a lookup
        # of a batch's people (tenant, period, person = ANY) walks only their rows, whatever
        # the planner guesses of a period it has no statistics for yet (a new month)
        indexes = (("tenant_id", "period", "user_id"),)


class EarningsLine(Model):
    """One explained line of an earnings result.

    Either a component's explanation (no transaction) or one transaction's share of a
    line-based component.
    """

    id = fields.BigIntField(primary_key=True)
    # No foreign key constraint either (migration 0046): a line is written only in the
    # transaction that inserts or rewrites its result, with the result's person locked, so a
    # check per line (a fifth of a close's PostgreSQL time) found nothing; a trigger on
    # earnings_results deletes the lines of every deleted result (the cascade's work).
    result: fields.ForeignKeyRelation[EarningsResult] = fields.ForeignKeyField(
        "podium.EarningsResult", related_name="lines", on_delete=fields.CASCADE, db_constraint=False
    )
    result_id: UUID
    # no constraint of its own: a line's result is of the same tenant and goes with it (its
    # constraint and cascade), and a close writes a few hundred thousand lines, each
    # checked against tenants for nothing (migration 0014)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant",
        related_name="earnings_lines",
        on_delete=fields.CASCADE,
        db_constraint=False,
    )
    tenant_id: UUID
    position = fields.IntField()  # stable order within the result
    component = fields.CharField(max_length=100)
    transaction_external_id = fields.CharField(max_length=200, null=True)
    credited_rep = fields.CharField(max_length=200, null=True)  # team scope: whose credit
    occurred_on = fields.DateField(null=True)
    value = fields.DecimalField(max_digits=28, decimal_places=10, null=True)
    amount = fields.DecimalField(max_digits=28, decimal_places=10)
    status = fields.CharField(max_length=10)  # payable | pending | partial
    explanation = fields.TextField()

    class Meta:
        table = "earnings_lines"
        indexes = (("result_id", "position"),)


class CloseRunStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"


class CloseRun(Model):
    """A close of a period under way (or done): its people split in chunks that any number of
    processes claim with SKIP LOCKED; a chunk is done in the transaction that stores its
    results, so a killed close resumes where it stopped."""

    id = fields.BigIntField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="close_runs", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    period = fields.CharField(max_length=10)
    status = fields.CharEnumField(CloseRunStatus, max_length=10, default=CloseRunStatus.RUNNING)
    people = fields.IntField()
    started_at = fields.DatetimeField()
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "close_runs"
        unique_together = (("tenant", "period"),)


class CloseChunk(Model):
    id = fields.BigIntField(primary_key=True)
    run: fields.ForeignKeyRelation[CloseRun] = fields.ForeignKeyField(
        "podium.CloseRun", related_name="chunks", on_delete=fields.CASCADE
    )
    run_id: int
    position = fields.IntField()
    user_ids: list[str] = fields.JSONField()
    done = fields.BooleanField(default=False)
    transactions = fields.IntField(default=0)  # read by its recompute (progress, rate)

    class Meta:
        table = "close_chunks"
        unique_together = (("run", "position"),)


class LateEvent(Model):
    """A change to a closed period's inputs (a CRM event that landed after the close): the
    closed results stay as they were; the change is flagged for the next open period, whose
    statements and close read it."""

    id = fields.BigIntField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="late_events", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "podium.User", related_name="late_events", on_delete=fields.CASCADE
    )
    user_id: UUID
    period = fields.CharField(max_length=10)  # the closed period the change belongs to
    flagged_for = fields.CharField(max_length=10)  # the next open period of the same kind
    recorded_at = fields.DatetimeField()

    class Meta:
        table = "late_events"
        indexes = (("tenant_id", "flagged_for"),)
