"""Push devices, the in-app inbox, and the durable "sent" records that make every
notification once-only under at-least-once job delivery."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

from tortoise import fields

from domain.orm import Model

if TYPE_CHECKING:
    from domain.org.models import User
    from domain.tenants.models import Tenant


class DevicePlatform(StrEnum):
    IOS = "ios"
    ANDROID = "android"
    WEB = "web"


class NotificationKind(StrEnum):
    ATTAINMENT = "attainment"  # a quota attainment threshold reached (50, 80, 100, 120%)
    TIER = "tier"  # a higher tier of a tiered component reached
    PAYABLE = "payable"  # payable earnings went up
    TARGET = "target"  # a target to allocate, validate, accept, or a dispute to answer
    LEADERBOARD = "leaderboard"  # entered the top 3 of a leaderboard
    BADGE = "badge"  # a badge awarded
    LEVEL = "level"  # a new level reached
    CONTEST_STARTED = "contest_started"  # a contest one takes part in went live
    CONTEST_ENDED = "contest_ended"  # ... ended (awarding follows after the grace period)
    CONTEST_WON = "contest_won"  # ... and one won a prize in it
    DISPUTE_RAISED = "dispute_raised"  # a payee disputes their statement: to their manager
    DISPUTE_RESOLVED = "dispute_resolved"  # ... and the answer: back to the payee
    PAYOUT_DETAILS = "payout_details"  # one's payout method or account was changed


class Device(Model):
    """A push token of an installed app. Within a tenant a token belongs to one signed-in
    person at a time: registering it again (maybe as someone else, after a sign-out) moves it.
    Another tenant registering the same token gets its own row: tenants never share one."""

    id = fields.UUIDField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="devices", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "podium.User", related_name="devices", on_delete=fields.CASCADE
    )
    user_id: UUID
    token = fields.CharField(max_length=1024)
    platform = fields.CharEnumField(DevicePlatform, max_length=10)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_seen_at = fields.DatetimeField()

    class Meta:
        table = "devices"
        unique_together = (("tenant", "token"),)
        indexes = (("tenant_id", "user_id"),)


class Notification(Model):
    """One message in a rep's inbox, rendered in their locale when it was created."""

    id = fields.UUIDField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="notifications", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "podium.User", related_name="notifications", on_delete=fields.CASCADE
    )
    user_id: UUID
    period = fields.CharField(max_length=10)
    kind = fields.CharEnumField(NotificationKind, max_length=20)
    title = fields.CharField(max_length=200)
    body = fields.TextField()
    # what the texts were rendered from (decimals as strings), for clients and re-rendering
    params: dict[str, Any] = fields.JSONField(default=dict)
    locale = fields.CharField(max_length=35)
    created_at = fields.DatetimeField(auto_now_add=True)
    read_at = fields.DatetimeField(null=True)
    # claimed for push (set before sending: a push is sent at most once)
    pushed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "notifications"
        indexes = (("tenant_id", "user_id", "created_at"),)


class NotificationSent(Model):
    """That (rep, period, kind, key) was notified: written in the transaction that creates the
    notification, so a job delivered twice finds it and sends nothing."""

    id = fields.BigIntField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="notifications_sent", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "podium.User", related_name="notifications_sent", on_delete=fields.CASCADE
    )
    user_id: UUID
    period = fields.CharField(max_length=10)
    kind = fields.CharEnumField(NotificationKind, max_length=20)
    key = fields.CharField(max_length=300)  # "bookings:80", "ae:commission:2", "250.00"
    # the figure notified (the payable amount for PAYABLE), to compare the next one with
    value = fields.DecimalField(max_digits=20, decimal_places=6, null=True)
    notification: fields.ForeignKeyNullableRelation[Notification] = fields.ForeignKeyField(
        "podium.Notification", related_name="sent_records", null=True, on_delete=fields.SET_NULL
    )
    notification_id: UUID | None
    sent_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "notifications_sent"
        unique_together = (("tenant", "user", "period", "kind", "key"),)
