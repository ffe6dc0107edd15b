"""Notification, device and live-update types: leaf fields are plain attributes."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from api.graphql.money import Money, money
from domain.notifications.models import Device as StoredDevice
from domain.notifications.models import Notification as StoredNotification
from domain.notifications.summary import EarningsSummary


@strawberry.enum(description="What a notification is about.")
class NotificationKind(Enum):
    ATTAINMENT = "attainment"
    TIER = "tier"
    PAYABLE = "payable"
    TARGET = "target"
    LEADERBOARD = "leaderboard"
    BADGE = "badge"
    LEVEL = "level"
    CONTEST_STARTED = "contest_started"
    CONTEST_ENDED = "contest_ended"
    CONTEST_WON = "contest_won"
    DISPUTE_RAISED = "dispute_raised"
    DISPUTE_RESOLVED = "dispute_resolved"
    PAYOUT_DETAILS = "payout_details"


@strawberry.enum
class DevicePlatform(Enum):
    IOS = "ios"
    ANDROID = "android"
    WEB = "web"


@strawberry.type(description="A message in the viewer's inbox, in their language.")
class Notification:
    id: strawberry.ID
    kind: NotificationKind
    period: str
    title: str
    body: str
    created_at: datetime
    read_at: datetime | None

    @classmethod
    def of(cls, n: StoredNotification) -> Notification:
        return cls(
            id=strawberry.ID(str(n.id)),
            kind=NotificationKind(str(n.kind)),
            period=n.period,
            title=n.title,
            body=n.body,
            created_at=n.created_at,
            read_at=n.read_at,
        )


@strawberry.type(description="An app install that receives push notifications.")
class Device:
    id: strawberry.ID
    platform: DevicePlatform
    last_seen_at: datetime

    @classmethod
    def of(cls, d: StoredDevice) -> Device:
        return cls(
            id=strawberry.ID(str(d.id)),
            platform=DevicePlatform(str(d.platform)),
            last_seen_at=d.last_seen_at,
        )


@strawberry.type
class MarkReadResult:
    count: int = strawberry.field(description="How many of the viewer's notifications became read.")


@strawberry.type(description="The viewer's earnings in a period, sent after every recompute.")
class EarningsUpdate:
    period: str
    total: Money
    payable: Money = strawberry.field(description="Earned and payable now.")
    pending: Money = strawberry.field(description="Earned, waiting for a condition.")
    updated_at: datetime | None

    @classmethod
    def of(cls, s: EarningsSummary, locale: str) -> EarningsUpdate:
        return cls(
            period=s.period,
            total=money(s.total, s.currency, locale),
            payable=money(s.payable, s.currency, locale),
            pending=money(s.pending, s.currency, locale),
            updated_at=s.updated_at,
        )
