"""A PushSender that records what it was asked to send and answers from a script."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from domain.notifications.push import PushMessage, PushOutcome


@dataclass
class FakePushSender:
    unregistered: set[str] = field(default_factory=set)
    sent: list[PushMessage] = field(default_factory=list)

    async def send(self, messages: Sequence[PushMessage]) -> list[PushOutcome]:
        self.sent.extend(messages)
        return [
            PushOutcome.UNREGISTERED if m.token in self.unregistered else PushOutcome.SENT
            for m in messages
        ]
