"""All queries about payout details, scoped to one tenant."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from payments.payouts.models import PayoutDetails


class PayoutDetailsRepository:
    def __init__(self, tenant_id: UUID) -> None:
        self.tenant_id = tenant_id

    async def of(self, user_id: UUID, *, for_update: bool = False) -> PayoutDetails | None:
        query = PayoutDetails.filter(tenant_id=self.tenant_id, user_id=user_id)
        if for_update:
            query = query.select_for_update()
        return await query.first()

    async def of_many(self, user_ids: Iterable[UUID]) -> dict[UUID, PayoutDetails]:
        rows = await PayoutDetails.filter(tenant_id=self.tenant_id, user_id__in=list(user_ids))
        return {r.user_id: r for r in rows}

    async def save(self, details: PayoutDetails) -> None:
        await details.save()
