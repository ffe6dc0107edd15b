"""The realtime side of a recompute: live updates on Redis pub/sub and notifications.

The pipeline's worker calls every hook in `ctx["after_recompute"]` after a recompute commits,
as `await hook(ctx, tenant_id=..., user_id=..., period=...)`. `realtime_startup` (called from
WorkerSettings.on_startup) registers the two hooks here and creates the push sender.

Both hooks read what is stored, never what the recompute computed in memory, so a job
delivered twice publishes the same figures twice and notifies nothing twice.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import structlog
from redis.asyncio import Redis
from tortoise.transactions import in_transaction

from domain.notifications.channels import earnings_channel
from domain.notifications.push import PushOutcome, PushSender
from domain.notifications.service import (
    claim_pushes,
    earnings_summary,
    forget_tokens,
    notify_crossings,
)
from workers.push import FcmPushSender

log = structlog.get_logger("podium.workers.realtime")

PUSH_SENDER = "push_sender"  # ctx key: a PushSender, or None for no pushes
AFTER_RECOMPUTE = "after_recompute"


async def publish_earnings(
    ctx: dict[str, Any], *, tenant_id: UUID, user_id: UUID, period: str
) -> int:
    """Publishes the rep's stored earnings for ``period`` on their channel; returns how many
    subscribers (API processes) received it."""
    redis: Redis = ctx["redis"]
    summary = await earnings_summary(tenant_id=tenant_id, user_id=user_id, period=period)
    receivers: int = await redis.publish(earnings_channel(tenant_id, user_id), summary.to_json())
    return receivers


async def notify_thresholds(
    ctx: dict[str, Any], *, tenant_id: UUID, user_id: UUID, period: str
) -> int:
    """Notifies what the stored result crossed (inbox and sent records in one transaction),
    then pushes the rep's notifications not pushed yet to their devices. Returns how many
    notifications were created."""
    async with in_transaction():
        created = await notify_crossings(tenant_id=tenant_id, user_id=user_id, period=period)
    sender: PushSender | None = ctx.get(PUSH_SENDER)
    # claimed even without a sender: pushes switched on later must not replay old news
    async with in_transaction():
        batch = await claim_pushes(tenant_id=tenant_id, user_id=user_id)
    if sender is None or not batch.messages:
        return len(created)
    outcomes = await sender.send(batch.messages)
    dead = [
        m.token
        for m, o in zip(batch.messages, outcomes, strict=True)
        if o is PushOutcome.UNREGISTERED
    ]
    if dead:
        async with in_transaction():
            removed = await forget_tokens(tenant_id=tenant_id, tokens=dead)
        log.info("pruned unregistered devices", tenant_id=str(tenant_id), count=removed)
    return len(created)


async def realtime_startup(ctx: dict[str, Any]) -> None:
    """Registers the hooks (once) and creates the push sender from the environment, unless
    one was put in ``ctx`` already (tests)."""
    hooks: list[Any] = ctx.setdefault(AFTER_RECOMPUTE, [])
    for hook in (publish_earnings, notify_thresholds):
        if hook not in hooks:
            hooks.append(hook)
    if PUSH_SENDER not in ctx:
        ctx[PUSH_SENDER] = FcmPushSender.from_env()
        if ctx[PUSH_SENDER] is None:
            log.info("pushes off: FIREBASE_PROJECT_ID is not set")


async def realtime_shutdown(ctx: dict[str, Any]) -> None:
    sender = ctx.pop(PUSH_SENDER, None)
    if isinstance(sender, FcmPushSender):
        await sender.aclose()
