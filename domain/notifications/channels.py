"""Redis pub/sub channel names: one per tenant and rep, so a subscriber can only ever be
attached to the channel of the viewer it authenticated as."""

from __future__ import annotations

from uuid import UUID

PREFIX = "podium"


def earnings_channel(tenant_id: UUID, user_id: UUID) -> str:
    return f"{PREFIX}:t:{tenant_id}:earnings:{user_id}"
