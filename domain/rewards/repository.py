"""Reading rewards, scoped to one tenant."""

from __future__ import annotations

from uuid import UUID

from domain.rewards.models import Reward


async def for_user_period(*, tenant_id: UUID, user_id: UUID, period: str) -> list[Reward]:
    return await Reward.filter(tenant_id=tenant_id, user_id=user_id, period=period).order_by(
        "created_at", "id"
    )


async def for_source(*, tenant_id: UUID, source_kind: str, source_id: str) -> list[Reward]:
    return await Reward.filter(
        tenant_id=tenant_id, source_kind=source_kind, source_id=source_id
    ).order_by("created_at", "id")
