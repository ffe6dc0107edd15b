"""A payout batch and its items. One item per statement (a payee's approved statement of a
period in one currency); its ``reference`` is unique per tenant and gives the payment's
idempotency key, so an item asks its provider for one payment whatever is retried."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING
from uuid import UUID

from tortoise import fields

from domain.orm import Model
from payments.payouts.models import PayoutMethod

if TYPE_CHECKING:
    from domain.org.models import User
    from domain.tenants.models import Tenant
    from payments.statements.models import Statement


class BatchStatus(StrEnum):
    DRAFT = "draft"  # created: waits for a second person's approval
    APPROVED = "approved"  # may be executed
    EXECUTING = "executing"  # a worker pays its items (again, after a crash or a retry)
    DONE = "done"  # every item paid or failed


class ItemStatus(StrEnum):
    PENDING = "pending"  # not sent yet, or sent with no answer (sent again with its key)
    SUBMITTED = "submitted"  # accepted by the provider, which tells later (a webhook)
    PAID = "paid"
    FAILED = "failed"  # with its reason; the amount is unpaid again for the next batch


class PayoutBatch(Model):
    id = fields.UUIDField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="payout_batches", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    period = fields.CharField(max_length=10)
    method = fields.CharEnumField(PayoutMethod, max_length=20)
    currency = fields.CharField(max_length=3)
    status = fields.CharEnumField(BatchStatus, max_length=12, default=BatchStatus.DRAFT)
    total = fields.DecimalField(max_digits=20, decimal_places=6)
    item_count = fields.IntField()
    created_by = fields.UUIDField()
    created_at = fields.DatetimeField()
    approved_by = fields.UUIDField(null=True)
    approved_at = fields.DatetimeField(null=True)
    executed_at = fields.DatetimeField(null=True)  # the first execution's start
    finished_at = fields.DatetimeField(null=True)
    # file methods: the file the execution wrote (the same bytes whenever written again)
    file_name = fields.CharField(max_length=100, null=True)
    file_media_type = fields.CharField(max_length=60, null=True)
    file_content = fields.BinaryField(null=True)

    class Meta:
        table = "payout_batches"
        indexes = (("tenant_id", "period"),)


class PayoutItem(Model):
    id = fields.UUIDField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="payout_items", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    batch: fields.ForeignKeyRelation[PayoutBatch] = fields.ForeignKeyField(
        "podium.PayoutBatch", related_name="items", on_delete=fields.CASCADE
    )
    batch_id: UUID
    statement: fields.ForeignKeyRelation[Statement] = fields.ForeignKeyField(
        "podium.Statement", related_name="payout_items", on_delete=fields.RESTRICT
    )
    statement_id: UUID
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "podium.User", related_name="payout_items", on_delete=fields.RESTRICT
    )
    user_id: UUID
    position = fields.IntField()  # order within the batch
    reference = fields.CharField(max_length=35)  # unique per tenant: the idempotency key's
    # the statement's total; a partner's, their invoice's payable (fee + VAT − withholdings);
    # less what an earlier version's item was paid (`create_batch`)
    amount = fields.DecimalField(max_digits=20, decimal_places=6)
    currency = fields.CharField(max_length=3)
    status = fields.CharEnumField(ItemStatus, max_length=10, default=ItemStatus.PENDING)
    failure_code = fields.CharField(max_length=60, null=True)
    failure_reason = fields.TextField(null=True)
    provider_id = fields.CharField(max_length=255, null=True)
    attempts = fields.IntField(default=0)
    updated_at = fields.DatetimeField()
    # settled by hand (`settle_item`): a pending item whose provider never answered for sure,
    # declared paid or failed by a person (admin or payout ops), why, and their reference
    settled_at = fields.DatetimeField(null=True)
    settled_by = fields.UUIDField(null=True)
    settle_reason = fields.TextField(null=True)
    settle_reference = fields.CharField(max_length=100, null=True)

    class Meta:
        table = "payout_items"
        unique_together = (("tenant", "reference"),)
        # (tenant_id, provider_id): the item a gift card webhook names by its order id
        indexes = (("batch_id", "position"), ("statement_id",), ("tenant_id", "provider_id"))
