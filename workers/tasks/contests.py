"""Contests in the worker: the cron that moves every contest along its lifecycle (and tells
the people in it), and the after-recompute hook that claws money prizes back when a deal of an
awarded contest is reversed (if the tenant says so). Live standings need no hook: they are
computed from PostgreSQL when read, so a deleted deal is gone from them once its event applied.

The badge and XP grants of the award come from the badges and levels area: ``ctx`` keys
``contest_award_badge``, ``contest_award_places`` (the badges whose rule reads
``contest_place``) and ``contest_grant_xp`` (their services, set at start-up); the XP boards
take the placed people's new XP once the award commits."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from tortoise.transactions import in_transaction

from domain.kit.clock import utc_now
from domain.notifications.push import PushSender
from domain.notifications.service import notify_events
from domain.tenants.repository import get_tenant
from gamification.contests import service
from gamification.contests.models import Contest, ContestStatus
from gamification.leaderboards.service import refresh_xp_boards
from gamification.leaderboards.store import BoardStore
from workers.realtime import PUSH_SENDER

log = logging.getLogger(__name__)
AWARD_BADGE = "contest_award_badge"
GRANT_XP = "contest_grant_xp"
AWARD_PLACES = "contest_award_places"


async def advance_contests(ctx: dict[str, Any]) -> int:
    """One lifecycle step for every contest, in one transaction with its notifications; the
    pushes are sent after it commits. Returns how many contests moved."""
    async with in_transaction():
        moved = await service.tick(
            now=ctx.get("now") or utc_now(),
            award_badge=ctx.get(AWARD_BADGE),
            grant_xp=ctx.get(GRANT_XP),
            award_places=ctx.get(AWARD_PLACES),
        )
        by_tenant: dict[UUID, list[tuple[Contest, str]]] = {}
        for contest, what in moved:
            by_tenant.setdefault(contest.tenant_id, []).append((contest, what))
        pushes = []
        for tenant_id, items in by_tenant.items():
            zone = (await get_tenant(tenant_id)).time_zone
            notified = await notify_events(
                tenant_id=tenant_id, events=service.notification_events(items, time_zone=zone)
            )
            pushes += notified.pushes
    # the XP of the places (and of badge prizes) moves the XP boards once committed
    store = BoardStore(ctx["redis"])
    for contest, what in moved:
        if what == "won":
            placed = await service.places(contest, await service.current_standings(contest))
            await refresh_xp_boards(
                store=store, tenant_id=contest.tenant_id, user_ids=[u for u, _ in placed]
            )
    sender: PushSender | None = ctx.get(PUSH_SENDER)
    if sender is not None and pushes:
        await sender.send(pushes)
    return len(moved)


async def claw_back_contests(
    ctx: dict[str, Any], *, tenant_id: UUID, user_id: UUID, period: str
) -> int:
    return await claw_back_contests_of(ctx, tenant_id=tenant_id, pairs=[(user_id, period)])


async def claw_back_contests_of(
    ctx: dict[str, Any],
    *,
    tenant_id: UUID,
    pairs: Sequence[tuple[UUID, str]],
    results: Mapping[tuple[UUID, str], Sequence[Any]] | None = None,
) -> int:
    """After a batch's recompute: every awarded contest one of its people won money in is
    checked against its recomputed standings (the tenant's claw-back rule decides). One
    statement finds them; only those are locked, in one transaction."""
    found = await service.awarded_money_to(
        tenant_id=tenant_id, user_ids=sorted({user_id for user_id, _ in pairs})
    )
    if not found:
        return 0
    made = 0
    async with in_transaction():
        for contest in await Contest.filter(id__in=found).order_by("id").select_for_update():
            if contest.status == ContestStatus.AWARDED:
                made += len(await service.claw_back_after_reversal(contest=contest))
    return made


claw_back_contests.many = claw_back_contests_of  # type: ignore[attr-defined]


async def contests_startup(ctx: dict[str, Any]) -> None:
    from gamification.badges.service import award_badge, award_contest_badges
    from gamification.levels.service import grant_xp

    # badge prizes, badges of the places (`contest_place` rules) and XP for places, through
    # the badges and levels areas
    ctx.setdefault(AWARD_BADGE, award_badge)
    ctx.setdefault(GRANT_XP, grant_xp)
    ctx.setdefault(AWARD_PLACES, award_contest_badges)
    hooks: list[Any] = ctx.setdefault("after_recompute", [])
    if claw_back_contests not in hooks:
        hooks.append(claw_back_contests)
