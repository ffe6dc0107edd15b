"""Payout batches as payout ops see them: the batch, its items' states and reasons."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.types import Info

from api.graphql.money import Money, money
from api.graphql.payouts.types import PayoutMethod
from api.graphql.people.types import Rep
from api.graphql.relay import Connection, decode_offset, offset_connection, page_size
from api.payout_files import payout_file_url
from payments.batches import models, service
from payments.methods.models import idempotency_key


@strawberry.enum(description="draft → approved (by another person) → executing → done.")
class PayoutBatchStatus(Enum):
    DRAFT = "draft"
    APPROVED = "approved"
    EXECUTING = "executing"
    DONE = "done"


@strawberry.enum(description="pending → paid | failed (with its reason); submitted: "
                 "accepted by a provider that tells later.")  # fmt: skip
class PayoutItemStatus(Enum):
    PENDING = "pending"
    SUBMITTED = "submitted"
    PAID = "paid"
    FAILED = "failed"


@strawberry.enum(description="What became of a pending item settled by hand: PAID (its "
                 "statement paid) or FAILED (its statement paid by the next batch).")  # fmt: skip
class SettledAs(Enum):
    PAID = "paid"
    FAILED = "failed"


@strawberry.input(description="The period's approved, unpaid statements paid by one method, "
                  "in one currency (left out: the only one there is), of repIds (left out: "
                  "everyone paid by that method).")  # fmt: skip
class CreatePayoutBatchInput:
    period: str
    method: PayoutMethod
    rep_ids: list[strawberry.ID] | None = None
    currency: str | None = None


@strawberry.type(description="One payee's statement in a batch.")
class PayoutItem:
    id: strawberry.ID
    status: PayoutItemStatus
    reference: str = strawberry.field(description="Unique per tenant: the payment's key.")
    failure_reason: str | None = strawberry.field(
        description="Why it failed, or why it is still pending (sent again by the next run); "
        "on a paid item, what to look at (a failed bank payout, a payment the provider "
        "reported after the item was settled by hand)."
    )
    provider_id: str | None
    attempts: int
    settled_at: datetime | None = strawberry.field(
        description="When a person settled it by hand (settlePayoutItem); null otherwise."
    )
    settle_reason: str | None = strawberry.field(description="Why, as they said.")
    settle_reference: str | None = strawberry.field(
        description="The transfer, order or bank reference they gave."
    )
    item: strawberry.Private[models.PayoutItem]

    @strawberry.field
    def amount(self, info: Info[Any, None]) -> Money:
        return money(self.item.amount, self.item.currency, info.context.locale)

    @strawberry.field
    async def rep(self, info: Info[Any, None]) -> Rep | None:
        from domain.org.models import User

        found = await info.context.loaders.people.load(self.item.user_id)
        return Rep.of(found) if isinstance(found, User) else None

    @strawberry.field(
        description="The key its payment is sent under, the same on every run: Stripe's "
        "Idempotency-Key, a gift card order's external_id. What to search the provider for "
        "before settling a pending item by hand."
    )
    def idempotency_key(self) -> str:
        return idempotency_key(tenant_id=self.item.tenant_id, reference=self.item.reference)

    @strawberry.field(description="Who settled it by hand; null otherwise.")
    async def settled_by(self, info: Info[Any, None]) -> Rep | None:
        from domain.org.models import User

        if self.item.settled_by is None:
            return None
        found = await info.context.loaders.people.load(self.item.settled_by)
        return Rep.of(found) if isinstance(found, User) else None

    @classmethod
    def of(cls, i: models.PayoutItem) -> PayoutItem:
        return cls(id=strawberry.ID(str(i.id)), status=PayoutItemStatus(i.status.value),
                   reference=i.reference, failure_reason=i.failure_reason,
                   provider_id=i.provider_id, attempts=i.attempts, settled_at=i.settled_at,
                   settle_reason=i.settle_reason, settle_reference=i.settle_reference,
                   item=i)  # fmt: skip


@strawberry.type(description="What confirmPayoutBatch made of one submitted item.")
class PayoutItemConfirmation:
    reference: str
    status: PayoutItemStatus = strawberry.field(
        description="PAID (the provider shows the gift card order executed, or a file "
        "batch's bank paid), FAILED (the order failed or was canceled: its statement goes to "
        "the next batch) or SUBMITTED (left as it was: still waiting for approval, or the "
        "provider could not be asked)."
    )
    reason: str = strawberry.field(description="Why: what the provider showed.")
    provider_asked: bool = strawberry.field(
        description="False: the provider could not be asked about it (reason says why)."
    )

    @classmethod
    def of(cls, c: service.ItemConfirmed) -> PayoutItemConfirmation:
        return cls(reference=c.reference, status=PayoutItemStatus(c.became.value),
                   reason=c.why, provider_asked=c.asked)  # fmt: skip


@strawberry.type(description="Approved statements paid together by one method.")
class PayoutBatch:
    id: strawberry.ID
    status: PayoutBatchStatus
    method: PayoutMethod
    period: str
    currency: str
    item_count: int
    created_at: datetime
    approved_at: datetime | None
    finished_at: datetime | None
    batch: strawberry.Private[models.PayoutBatch]
    confirmed_items: list[PayoutItemConfirmation] | None = strawberry.field(
        default=None,
        description="In confirmPayoutBatch's answer only (null elsewhere): what became of "
        "each item that waited for confirmation, and why.",
    )

    @strawberry.field(
        description="A signed link to the batch's file (file methods, once executed), valid "
        "for an hour; null otherwise."
    )
    def file_url(self, info: Info[Any, None]) -> str | None:
        if self.batch.file_content is None:
            return None
        context = info.context
        return payout_file_url(context.settings, self.batch.id)

    @strawberry.field
    def total(self, info: Info[Any, None]) -> Money:
        return money(self.batch.total, self.batch.currency, info.context.locale)

    @strawberry.field(description="In the batch's order.")
    async def items(
        self, info: Info[Any, None], first: int | None = 100, after: str | None = None
    ) -> Connection[PayoutItem]:
        size, offset = page_size(first, 100), decode_offset(after)
        found = await service.items_of(
            viewer=info.context.viewer, batch_id=self.batch.id, first=size, after=offset - 1
        )
        return offset_connection(
            [PayoutItem.of(i) for i in found[:size]], offset=offset, has_next=len(found) > size
        )

    @classmethod
    def of(
        cls, b: models.PayoutBatch, confirmed: service.Confirmation | None = None
    ) -> PayoutBatch:
        return cls(
            id=strawberry.ID(str(b.id)), status=PayoutBatchStatus(b.status.value),
            method=PayoutMethod(b.method.value), period=b.period, currency=b.currency,
            item_count=b.item_count, created_at=b.created_at, approved_at=b.approved_at,
            finished_at=b.finished_at, batch=b,
            confirmed_items=None if confirmed is None
            else [PayoutItemConfirmation.of(c) for c in confirmed.items],
        )  # fmt: skip


@strawberry.type(description="What a payee was paid through batches in a year, per currency.")
class PaidInYear:
    rep: Rep
    total: Money = strawberry.field(
        description="What was paid: a partner's invoice payable (fee + VAT − withholdings)."
    )
    nonemployee_compensation: Money = strawberry.field(
        description="1099-NEC box 1: the gross fee (a partner's invoice net, before what it "
        "withheld; anyone else's payment)."
    )
    federal_tax_withheld: Money = strawberry.field(
        description="1099-NEC box 4: the backup withholding kept from a US partner with no "
        "TIN on file."
    )
    form_1099_nec: bool = strawberry.field(
        description="A US payee paid in USD at least the year's 1099-NEC threshold ($600 "
        "through 2025, $2,000 from 2026) in box 1, or with any backup withholding in box 4: "
        "file a 1099-NEC."
    )
