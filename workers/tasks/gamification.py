"""The after-recompute hook of badges, XP and levels: deal XP, badge rules and their
revocations, and the BADGE and LEVEL notifications (pushed by the notification hook that runs
after it), all in one transaction per batch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from tortoise.transactions import in_transaction

from gamification.badges.service import after_recompute


async def award_gamification(
    ctx: dict[str, Any], *, tenant_id: UUID, user_id: UUID, period: str
) -> int:
    return await award_gamification_of(ctx, tenant_id=tenant_id, pairs=[(user_id, period)])


async def award_gamification_of(
    ctx: dict[str, Any],
    *,
    tenant_id: UUID,
    pairs: Sequence[tuple[UUID, str]],
    results: Mapping[tuple[UUID, str], Sequence[Any]] | None = None,
) -> int:
    """Returns how many badges were awarded or revoked."""
    async with in_transaction():
        awarded, revoked = await after_recompute(tenant_id=tenant_id, pairs=pairs, results=results)
    return len(awarded) + len(revoked)


award_gamification.many = award_gamification_of  # type: ignore[attr-defined]
