"""CRM records as Podium keeps them: transactions (with splits and extra fields) and FX rates."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from tortoise import fields

from domain.orm import Model

if TYPE_CHECKING:
    from domain.org.models import User
    from domain.tenants.models import Tenant


class Transaction(Model):
    id = fields.BigIntField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="transactions", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    external_id = fields.CharField(max_length=200)  # the CRM's record id
    rep: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "podium.User", related_name="transactions", on_delete=fields.RESTRICT
    )
    rep_id: UUID
    type = fields.CharField(max_length=100, null=True)
    amount = fields.DecimalField(max_digits=20, decimal_places=6)
    currency = fields.CharField(max_length=3)
    date = fields.DateField()
    state = fields.CharField(max_length=100, null=True)
    # [{"rep_id": "<user uuid>", "share": "0.6"}, ...], or null: all of it to `rep`
    splits: list[dict[str, str]] | None = fields.JSONField(null=True)
    # every user credited (`rep`, or the split reps) as uuid strings: "which transactions
    # credit this rep" is a GIN-indexed `?|` (migration 0002)
    credited_user_ids: list[str] = fields.JSONField(default=list)
    # the CRM's other fields, seen by plan expressions; numbers are JSON numbers (exact)
    extra_fields: dict[str, Any] = fields.JSONField(default=dict)
    # the CRM's record version: an older version never overwrites a newer one
    version = fields.BigIntField(default=0)
    deleted = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "transactions"
        unique_together = (("tenant", "external_id"),)
        indexes = (("tenant_id", "date"),)


class FxRate(Model):
    """An exchange rate into a plan currency, effective from its date.

    ``rate`` units of ``quote_currency`` buy one unit of ``currency`` from ``date`` until the
    next rate of that pair.
    """

    id = fields.BigIntField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="fx_rates", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    date = fields.DateField()
    currency = fields.CharField(max_length=3)
    quote_currency = fields.CharField(max_length=3)
    rate = fields.DecimalField(max_digits=20, decimal_places=10)

    class Meta:
        table = "fx_rates"
        unique_together = (("tenant", "quote_currency", "currency", "date"),)
