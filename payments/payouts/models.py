"""Payout details: one row per payee; everything that identifies an account is sealed."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING
from uuid import UUID

from tortoise import fields

from domain.orm import Model

if TYPE_CHECKING:
    from domain.org.models import User
    from domain.tenants.models import Tenant


# The secret payout details are sealed under in development (`payments.payouts.sealing`):
# production refuses to start without its own (api.settings). Here, not in the sealing
# module, so that the settings need not import the cryptography and account validation
# (about 30 ms of the start of every `podium` command).
DEVELOPMENT_SECRET = b"podium-development-payout-details-secret"


class PayoutMethod(StrEnum):
    STRIPE = "stripe"  # a transfer to the payee's Stripe connected account
    SEPA_FILE = "sepa_file"  # a credit transfer in a pain.001 file (IBAN)
    NACHA_FILE = "nacha_file"  # an ACH credit in a NACHA file (US routing + account number)
    CSV_FILE = "csv_file"  # the SAP journal of a batch: no payee account of its own
    GIFT_CARD = "gift_card"  # a gift card ordered for the payee's e-mail address
    PAYROLL_FILE = "payroll_file"  # a line of the payroll input file (ADP paydata)


class BankAccountType(StrEnum):
    CHECKING = "checking"
    SAVINGS = "savings"


class PayoutDetails(Model):
    id = fields.UUIDField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="payout_details", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "podium.User", related_name="payout_details", on_delete=fields.CASCADE
    )
    user_id: UUID
    method = fields.CharEnumField(PayoutMethod, max_length=20)
    # shown to people and written to the audit log: never enough to pay anyone
    masked_account = fields.CharField(max_length=80)
    # AES-GCM under PODIUM_PAYOUT_DETAILS_SECRET, the tenant and payee ids as associated data:
    # base64url(nonce + ciphertext) of the details' JSON
    sealed = fields.TextField()
    updated_by = fields.UUIDField(null=True)  # None: the system
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "payout_details"
        unique_together = (("tenant", "user"),)
