"""The after-recompute hooks: live updates on the rep's own Redis channel, notifications in
the inbox, pushes to the rep's devices (a fake sender here; the real client in
test_realtime_fcm.py)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from redis.asyncio import Redis

from domain.earnings.service import recompute_rep_period
from domain.notifications.channels import earnings_channel
from domain.notifications.models import Device, DevicePlatform, Notification, NotificationKind
from domain.notifications.repository import NewNotification, NotifierRepository
from domain.notifications.service import register_device
from domain.org.models import User
from domain.plans.models import PlanVersion
from domain.tenants.models import Tenant
from tests.domain.builders import (
    assign,
    make_tenant,
    make_transaction,
    make_user,
    publish_plan,
    set_quota,
    system_viewer,
    viewer_of,
)
from tests.domain.notifications.fakes import FakePushSender
from tests.domain.notifications.plans import AE_PLAN
from workers.realtime import (
    notify_thresholds,
    publish_earnings,
    realtime_shutdown,
    realtime_startup,
)
from workers.tasks.gamification import award_gamification
from workers.tasks.leaderboards import update_leaderboards

PERIOD = "2026-10"


async def rep_with_deal(tenant: Tenant, external_id: str, amount: str) -> User:
    user = await make_user(tenant=tenant, external_id=external_id)
    version = await PlanVersion.filter(tenant_id=tenant.id).first()
    await assign(user=user, plan=version or await publish_plan(tenant=tenant, document=AE_PLAN))
    await set_quota(user=user, value="100000")
    await make_transaction(rep=user, external_id=f"{external_id}-1", amount=amount)
    await recompute_rep_period(viewer=system_viewer(tenant), user_id=user.id, period=PERIOD)
    return user


async def next_message(pubsub: Any, wait: float = 2.0) -> dict[str, Any] | None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while loop.time() < deadline:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
        if message is not None:
            return json.loads(message["data"])
    return None


async def test_given_startup_then_the_hooks_registered_once_and_no_sender_without_project(
    monkeypatch,
):
    monkeypatch.delenv("FIREBASE_PROJECT_ID", raising=False)
    ctx: dict[str, Any] = {"after_recompute": [print]}

    await realtime_startup(ctx)
    await realtime_startup(ctx)

    assert ctx["after_recompute"] == [
        print,
        publish_earnings,
        award_gamification,
        update_leaderboards,
        notify_thresholds,
    ]
    assert ctx["push_sender"] is None
    await realtime_shutdown(ctx)


async def test_given_a_recompute_when_published_then_only_that_reps_channel_gets_it(
    db: str, redis: Redis
):
    tenant = await make_tenant()
    ana = await rep_with_deal(tenant, "ana", "12345.67")
    bob = await make_user(tenant=tenant, external_id="bob")
    pubsub = redis.pubsub()
    await pubsub.subscribe(earnings_channel(tenant.id, ana.id), earnings_channel(tenant.id, bob.id))

    receivers = await publish_earnings(
        {"redis": redis}, tenant_id=tenant.id, user_id=ana.id, period=PERIOD
    )
    first = await next_message(pubsub)
    second = await next_message(pubsub, wait=0.3)
    await pubsub.aclose()

    assert receivers == 1
    assert first is not None
    assert {
        k: first[k] for k in ("user_id", "period", "currency", "total", "payable", "pending")
    } == {
        "user_id": str(ana.id),
        "period": PERIOD,
        "currency": "EUR",
        "total": "370.37",
        "payable": "370.37",
        "pending": "0",
    }
    assert second is None


async def test_given_devices_when_notified_then_pushed_once_each_and_dead_tokens_pruned(db: str):
    tenant = await make_tenant()
    ana = await rep_with_deal(tenant, "ana", "85000")
    for token, platform in (("ios-1", DevicePlatform.IOS), ("dead-1", DevicePlatform.ANDROID)):
        await register_device(viewer=viewer_of(ana), token=token, platform=platform)
    sender = FakePushSender(unregistered={"dead-1"})
    ctx: dict[str, Any] = {"push_sender": sender}

    created = await notify_thresholds(ctx, tenant_id=tenant.id, user_id=ana.id, period=PERIOD)
    again = await notify_thresholds(ctx, tenant_id=tenant.id, user_id=ana.id, period=PERIOD)

    assert (created, again) == (4, 0)
    assert sorted({m.token for m in sender.sent}) == ["dead-1", "ios-1"]
    assert len(sender.sent) == 8  # 4 notifications x 2 devices, the second run pushes nothing
    assert sender.sent[0].title == "You reached 50% of your quota"
    assert set(await Device.filter(user_id=ana.id).values_list("token", flat=True)) == {"ios-1"}
    assert await Notification.filter(user_id=ana.id, pushed_at=None).count() == 0


async def test_given_no_push_sender_then_the_inbox_still_gets_them(db: str):
    tenant = await make_tenant()
    ana = await rep_with_deal(tenant, "ana", "55000")

    created = await notify_thresholds({}, tenant_id=tenant.id, user_id=ana.id, period=PERIOD)

    assert created == 3  # 50%, tier 2, payable
    assert await Notification.filter(user_id=ana.id).count() == 3


async def test_given_two_reps_when_one_is_notified_then_the_other_gets_nothing(db: str):
    tenant = await make_tenant()
    ana = await rep_with_deal(tenant, "ana", "85000")
    bob = await rep_with_deal(tenant, "bob", "85000")
    await register_device(viewer=viewer_of(bob), token="bob-phone", platform=DevicePlatform.IOS)
    sender = FakePushSender()

    await notify_thresholds(
        {"push_sender": sender}, tenant_id=tenant.id, user_id=ana.id, period=PERIOD
    )

    assert await Notification.filter(user_id=bob.id).count() == 0
    assert sender.sent == []  # ana has no device; bob's phone hears nothing


async def test_given_a_registered_token_when_registered_again_then_one_device_moving_owner(
    db: str,
):
    tenant = await make_tenant()
    ana = await make_user(tenant=tenant, external_id="ana")
    bob = await make_user(tenant=tenant, external_id="bob")

    first = await register_device(viewer=viewer_of(ana), token="tok", platform=DevicePlatform.IOS)
    again = await register_device(viewer=viewer_of(ana), token="tok", platform=DevicePlatform.IOS)
    moved = await register_device(viewer=viewer_of(bob), token="tok", platform=DevicePlatform.WEB)

    assert first.id == again.id == moved.id
    assert again.last_seen_at >= first.last_seen_at
    assert (moved.user_id, moved.platform) == (bob.id, DevicePlatform.WEB)
    assert await Device.all().count() == 1


def test_given_the_worker_settings_then_realtime_startup_is_a_startup_extension():
    from workers.settings import STARTUP_EXTENSIONS

    assert realtime_startup in STARTUP_EXTENSIONS


async def test_given_a_target_notification_waiting_then_the_next_hook_pushes_it_once(db: str):
    """Notifications made elsewhere (a target to validate) wait unpushed until the rep's next
    recompute hook claims them with its own, in the same statement."""
    tenant = await make_tenant()
    ana = await rep_with_deal(tenant, "ana", "55000")
    await register_device(viewer=viewer_of(ana), token="ios-1", platform=DevicePlatform.IOS)
    await NotifierRepository(tenant.id).add_notifications(
        [
            NewNotification(
                user_id=ana.id,
                period=PERIOD,
                kind=NotificationKind.TARGET,
                title="Target to validate",
                body="Q4 bookings",
                params={},
                locale="en",
                sent=(),
            )
        ]
    )
    sender = FakePushSender()

    created = await notify_thresholds(
        {"push_sender": sender}, tenant_id=tenant.id, user_id=ana.id, period=PERIOD
    )
    again = await notify_thresholds(
        {"push_sender": sender}, tenant_id=tenant.id, user_id=ana.id, period=PERIOD
    )

    assert (created, again) == (3, 0)  # 50%, tier 2, payable
    # the waiting one first (oldest), then the three new ones: one device, each once
    assert [m.title for m in sender.sent][:2] == [
        "Target to validate",
        "You reached 50% of your quota",
    ]
    assert len(sender.sent) == 4
    assert await Notification.filter(user_id=ana.id, pushed_at=None).count() == 0
