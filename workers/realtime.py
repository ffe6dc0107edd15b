"""The realtime side of a recompute: live updates on Redis pub/sub and notifications.

The pipeline's worker calls every hook in `ctx["after_recompute"]` after a recompute commits,
as `await hook(ctx, tenant_id=..., user_id=..., period=...)`. `realtime_startup` (called from
WorkerSettings.on_startup) registers the two hooks here and creates the push sender.

Both hooks read what is stored, never what the recompute computed in memory, so a job
delivered twice publishes the same figures twice and notifies nothing twice: the batch job
reads the stored results of a batch once, after its commit, and gives them to both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

import structlog
from redis.asyncio import Redis
from tortoise.transactions import in_transaction

from domain.earnings.models import EarningsResult
from domain.notifications.channels import earnings_channel
from domain.notifications.push import PushMessage, PushOutcome, PushSender
from domain.notifications.service import (
    claim_pushes,
    earnings_summaries,
    forget_tokens,
    notify_and_claim_pushes,
)
from workers.push import FcmPushSender
from workers.tasks.gamification import award_gamification
from workers.tasks.leaderboards import update_leaderboards

log = structlog.get_logger("podium.workers.realtime")

PUSH_SENDER = "push_sender"  # ctx key: a PushSender, or None for no pushes
AFTER_RECOMPUTE = "after_recompute"


Results = Mapping[tuple[UUID, str], Sequence[EarningsResult]]


async def publish_earnings(
    ctx: dict[str, Any], *, tenant_id: UUID, user_id: UUID, period: str
) -> int:
    """Publishes the rep's stored earnings for ``period`` on their channel; returns how many
    subscribers (API processes) received it."""
    return await publish_earnings_of(ctx, tenant_id=tenant_id, pairs=[(user_id, period)])


async def publish_earnings_of(
    ctx: dict[str, Any],
    *,
    tenant_id: UUID,
    pairs: Sequence[tuple[UUID, str]],
    results: Results | None = None,
) -> int:
    """``publish_earnings`` for a batch: the results read in one statement (or given: what
    the job read after its commit), the messages sent in one Redis round trip. Returns how
    many deliveries Redis reported."""
    redis: Redis = ctx["redis"]
    summaries = await earnings_summaries(tenant_id=tenant_id, pairs=pairs, results=results)
    async with redis.pipeline(transaction=False) as pipe:
        for (user_id, _period), summary in summaries.items():
            pipe.publish(earnings_channel(tenant_id, user_id), summary.to_json())
        receivers = await pipe.execute()
    return sum(int(r) for r in receivers)


async def notify_thresholds(
    ctx: dict[str, Any], *, tenant_id: UUID, user_id: UUID, period: str
) -> int:
    """Notifies what the stored result crossed (inbox and sent records in one transaction),
    then pushes the rep's notifications not pushed yet to their devices. Returns how many
    notifications were created."""
    return await notify_thresholds_of(ctx, tenant_id=tenant_id, pairs=[(user_id, period)])


async def notify_thresholds_of(
    ctx: dict[str, Any],
    *,
    tenant_id: UUID,
    pairs: Sequence[tuple[UUID, str]],
    results: Results | None = None,
) -> int:
    """``notify_thresholds`` for a batch: one transaction deciding every crossing and
    claiming every push, one call to the push service."""
    async with in_transaction():
        notified = await notify_and_claim_pushes(tenant_id=tenant_id, pairs=pairs, results=results)
    await _send(ctx, tenant_id, notified.pushes)
    return sum(len(found) for found in notified.created.values())


async def _send(ctx: dict[str, Any], tenant_id: UUID, pushes: Sequence[PushMessage]) -> None:
    """Send claimed pushes; forget the devices the push service says are gone."""
    sender: PushSender | None = ctx.get(PUSH_SENDER)
    if sender is None or not pushes:
        return
    outcomes = await sender.send(list(pushes))
    dead = [m.token for m, o in zip(pushes, outcomes, strict=True) if o is PushOutcome.UNREGISTERED]
    if dead:
        async with in_transaction():
            removed = await forget_tokens(tenant_id=tenant_id, tokens=dead)
        log.info("pruned unregistered devices", tenant_id=str(tenant_id), count=removed)


async def push_notifications(ctx: dict[str, Any], tenant_id: str, user_ids: list[str]) -> int:
    """Push what the API put in these people's inboxes (a dispute raised or resolved):
    claimed in one transaction, sent after it. Returns how many messages were sent."""
    async with in_transaction():
        pushes = await claim_pushes(tenant_id=UUID(tenant_id), user_ids=[UUID(u) for u in user_ids])
    await _send(ctx, UUID(tenant_id), pushes)
    return len(pushes)


# the batch recompute job calls a hook's ``many`` with every pair of a batch at once, and the
# stored results of those pairs (read once, after the commit, for every hook)
publish_earnings.many = publish_earnings_of  # type: ignore[attr-defined]
notify_thresholds.many = notify_thresholds_of  # type: ignore[attr-defined]
# notifications may be decided while the job recomputes its next batches: the live updates of
# those do not queue behind them (one run at a time, in order, at most one every 0.3 s: the
# batches meanwhile are gathered into the next run, workers.tasks.earnings.BEHIND_EVERY)
notify_thresholds.runs_behind = True  # type: ignore[attr-defined]


async def realtime_startup(ctx: dict[str, Any]) -> None:
    """Registers the hooks (once) and creates the push sender from the environment, unless
    one was put in ``ctx`` already (tests)."""
    hooks: list[Any] = ctx.setdefault(AFTER_RECOMPUTE, [])
    # badges and levels before the notifications: theirs are pushed with the others; and
    # before the leaderboards: the XP boards read the XP the batch wrote
    for hook in (publish_earnings, award_gamification, update_leaderboards, notify_thresholds):
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
