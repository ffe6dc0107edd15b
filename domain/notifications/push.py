"""What the domain needs from a push service. The FCM adapter (workers/push.py) is the one
implementation; tests use a fake that records what it was given."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


@dataclass(frozen=True, slots=True)
class PushMessage:
    token: str
    title: str
    body: str
    data: Mapping[str, str] = field(default_factory=dict)


class PushOutcome(StrEnum):
    SENT = "sent"
    UNREGISTERED = "unregistered"  # the token is dead: forget the device
    FAILED = "failed"  # anything else (quota, outage): the inbox still has the notification


class PushSender(Protocol):
    async def send(self, messages: Sequence[PushMessage]) -> list[PushOutcome]:
        """One outcome per message, in order. Never raises for a message's own failure."""
        ...
