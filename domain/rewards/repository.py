"""Reading rewards, scoped to one tenant."""

from __future__ import annotations

from uuid import UUID

from domain.rewards.models import Reward


async def for_user_period(*, tenant_id: UUID, user_id: UUID, period: str) -> list[Reward]:
    return await Reward.filter(tenant_id=tenant_id, user_id=user_id, period=period).order_by(
        "created_at", "id"
    )
