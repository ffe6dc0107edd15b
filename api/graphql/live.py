"""The API's side of Redis pub/sub: relays the messages of one rep's channel.

Workers publish (workers/realtime.py); channel names come from domain.notifications.channels,
so the API can only ever listen to the channel of the viewer it authenticated.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import UUID

import structlog
from redis.asyncio import Redis

from domain.notifications.channels import earnings_channel
from domain.notifications.summary import EarningsSummary

log = structlog.get_logger("podium.live")

POLL_SECONDS = 1.0  # a read waits at most this long, well under the client's socket timeout


async def earnings_updates(
    redis: Redis, *, tenant_id: UUID, user_id: UUID
) -> AsyncIterator[EarningsSummary]:
    """Every earnings summary published for (tenant, rep) from now on, until the consumer
    stops (the subscription ends or the socket closes: the channel is then left)."""
    channel = earnings_channel(tenant_id, user_id)
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(channel)
    try:
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=POLL_SECONDS)
            if message is None or message.get("type") != "message":
                continue
            try:
                summary = EarningsSummary.from_json(message["data"])
            except (ValueError, KeyError, TypeError):
                log.warning("unreadable earnings message", channel=channel)
                continue
            # the channel is the viewer's already; the payload must agree, or it is dropped
            if summary.tenant_id == tenant_id and summary.user_id == user_id:
                yield summary
    finally:
        try:
            await pubsub.unsubscribe(channel)
        finally:
            await pubsub.aclose()
