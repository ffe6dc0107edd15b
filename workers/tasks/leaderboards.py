"""The after-recompute hook that keeps the leaderboards in Redis: every board that ranks a
recomputed person gets their new score in the same step that publishes their earnings, and
its subscribers are told (`leaderboardChanged`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from gamification.leaderboards.service import refresh_after_recompute
from gamification.leaderboards.store import BoardStore


async def update_leaderboards(
    ctx: dict[str, Any], *, tenant_id: UUID, user_id: UUID, period: str
) -> int:
    return await update_leaderboards_of(ctx, tenant_id=tenant_id, pairs=[(user_id, period)])


async def update_leaderboards_of(
    ctx: dict[str, Any],
    *,
    tenant_id: UUID,
    pairs: Sequence[tuple[UUID, str]],
    results: Mapping[tuple[UUID, str], Sequence[Any]] | None = None,
) -> int:
    """Returns how many boards changed."""
    changed = await refresh_after_recompute(
        store=BoardStore(ctx["redis"]), tenant_id=tenant_id, pairs=pairs, results=results
    )
    return len(changed)


update_leaderboards.many = update_leaderboards_of  # type: ignore[attr-defined]
