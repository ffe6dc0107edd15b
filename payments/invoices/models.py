"""External payees' legal data, the tenant's tax rules per country, and the self-billing
(pro-forma) invoices issued when a partner's statement is approved, and the credit notes that
cancel an invoice when a later version of its statement is approved: one series per tenant
and year for both, numbered without gaps (a counter row locked by the approving transaction)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

from tortoise import fields

from domain.orm import Model

if TYPE_CHECKING:
    from domain.org.models import User
    from domain.tenants.models import Tenant
    from payments.statements.models import Statement


class TaxKind(StrEnum):
    VAT = "vat"  # added to the fee
    REVERSE_CHARGE = "reverse_charge"  # no VAT charged: the partner accounts for it
    WITHHOLDING = "withholding"  # income tax withheld, on base_share of the fee
    SOCIAL_SECURITY = "social_security"  # contributions withheld, on base_share of the fee
    BACKUP_WITHHOLDING = "backup_withholding"  # withheld only when no tax id is on file


class InvoiceKind(StrEnum):
    INVOICE = "invoice"
    # cancels an invoice (its amounts reversed): its statement's version was replaced by a
    # later one, approved again
    CREDIT_NOTE = "credit_note"


class PartnerProfile(Model):
    """A payee that is a business (an agency, an installer): who invoices are made out to."""

    id = fields.UUIDField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="partner_profiles", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "podium.User", related_name="partner_profiles", on_delete=fields.RESTRICT
    )
    user_id: UUID
    legal_name = fields.CharField(max_length=200)
    address = fields.TextField()
    country = fields.CharField(max_length=2)  # ISO 3166-1 alpha-2
    tax_id = fields.CharField(max_length=50, null=True)  # validated with python-stdnum
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "partner_profiles"
        unique_together = (("tenant", "user"),)


class TaxRule(Model):
    id = fields.UUIDField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="tax_rules", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    country = fields.CharField(max_length=2)
    kind = fields.CharField(max_length=20)  # a TaxKind value
    rate = fields.DecimalField(max_digits=9, decimal_places=6)  # percent, 0 to 100
    base_share = fields.DecimalField(max_digits=7, decimal_places=6, default=1)  # 0 to 1

    class Meta:
        table = "tax_rules"
        unique_together = (("tenant", "country", "kind"),)


class InvoiceCounter(Model):
    """The last invoice number of a tenant's year: incremented in the transaction that
    issues the invoice, so a rolled-back approval leaves no gap."""

    id = fields.BigIntField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="invoice_counters", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    year = fields.IntField()
    last_number = fields.IntField(default=0)

    class Meta:
        table = "invoice_counters"
        unique_together = (("tenant", "year"),)


class Invoice(Model):
    id = fields.UUIDField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="invoices", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    statement: fields.ForeignKeyRelation[Statement] = fields.ForeignKeyField(
        "podium.Statement", related_name="invoices", on_delete=fields.RESTRICT
    )
    statement_id: UUID  # a credit note: the statement version of the invoice it cancels
    user_id = fields.UUIDField()
    kind = fields.CharField(max_length=12, default=InvoiceKind.INVOICE.value)  # InvoiceKind
    # a credit note: the invoice it cancels (an invoice is cancelled once at most)
    cancels: fields.OneToOneNullableRelation[Invoice] = fields.OneToOneField(
        "podium.Invoice", related_name="cancelled_by", null=True, on_delete=fields.RESTRICT
    )
    cancels_id: UUID | None
    year = fields.IntField()
    sequence = fields.IntField()
    number = fields.CharField(max_length=30)  # "2026-000042", credit notes in the same series
    currency = fields.CharField(max_length=3)
    net = fields.DecimalField(max_digits=20, decimal_places=6)
    # [{"kind", "rate", "base", "amount"}], decimals as strings; amount signed (a credit
    # note: the cancelled invoice's, each negated)
    items: list[dict[str, Any]] = fields.JSONField(default=list)
    payable = fields.DecimalField(max_digits=20, decimal_places=6)
    # the partner's legal data as it was when issued
    legal: dict[str, Any] = fields.JSONField(default=dict)
    issued_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "invoices"
        unique_together = (("tenant", "year", "sequence"), ("tenant", "statement", "kind"))
