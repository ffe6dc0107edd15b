"""Pushes through the real firebase-admin client, over real HTTP, to an FCM stand-in on
127.0.0.1 (workers/push.py points firebase-admin 7.7's `_fcm_url` at it)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from structlog.testing import capture_logs

from domain.earnings.service import recompute_rep_period
from domain.notifications.models import Device, DevicePlatform
from domain.notifications.push import PushMessage, PushOutcome
from domain.notifications.service import register_device
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
from tests.domain.notifications.plans import AE_PLAN
from tests.workers.fcm_standin import ACCESS_TOKEN, PROJECT, fcm_standin
from workers import push
from workers.push import FcmPushSender
from workers.realtime import notify_thresholds, realtime_shutdown, realtime_startup

PERIOD = "2026-10"


async def test_given_tokens_when_sent_then_one_request_each_and_unregistered_is_told_apart():
    async with fcm_standin() as standin:
        standin.unregistered.add("gone")
        sender = FcmPushSender.create(
            project_id=PROJECT, fcm_url=standin.url, access_token=ACCESS_TOKEN
        )
        try:
            outcomes = await sender.send(
                [
                    PushMessage(token="alive", title="T", body="B", data={"kind": "tier"}),
                    PushMessage(token="gone", title="T", body="B"),
                ]
            )
        finally:
            await sender.aclose()

    assert outcomes == [PushOutcome.SENT, PushOutcome.UNREGISTERED]
    assert [r["authorization"] for r in standin.requests] == [f"Bearer {ACCESS_TOKEN}"] * 2
    assert standin.messages[0] == {
        "token": "alive",
        "notification": {"title": "T", "body": "B"},
        "data": {"kind": "tier"},
    }


async def test_given_a_stand_in_that_is_down_then_failed_not_raised():
    async with fcm_standin() as standin:
        url = standin.url
    sender = FcmPushSender.create(project_id=PROJECT, fcm_url=url, access_token=ACCESS_TOKEN)
    try:
        outcomes = await sender.send([PushMessage(token="t", title="T", body="B")])
    finally:
        await sender.aclose()

    assert outcomes == [PushOutcome.FAILED]


async def test_given_a_french_rep_with_two_phones_when_notified_then_pushed_and_pruned(
    db: str, monkeypatch
):
    tenant = await make_tenant()
    ana = await make_user(tenant=tenant, external_id="ana", locale="fr-FR")
    await assign(user=ana, plan=await publish_plan(tenant=tenant, document=AE_PLAN))
    await set_quota(user=ana, value="100000")
    await make_transaction(rep=ana, external_id="t1", amount="85000")
    await recompute_rep_period(viewer=system_viewer(tenant), user_id=ana.id, period=PERIOD)
    await register_device(viewer=viewer_of(ana), token="ana-iphone", platform=DevicePlatform.IOS)
    await register_device(viewer=viewer_of(ana), token="ana-old", platform=DevicePlatform.ANDROID)

    async with fcm_standin() as standin:
        standin.unregistered.add("ana-old")
        monkeypatch.setenv("FIREBASE_PROJECT_ID", PROJECT)
        monkeypatch.setenv("PODIUM_FCM_URL", standin.url)
        monkeypatch.setenv("PODIUM_FCM_ACCESS_TOKEN", ACCESS_TOKEN)
        monkeypatch.delenv("PODIUM_ENV", raising=False)
        ctx: dict[str, Any] = {}
        await realtime_startup(ctx)
        try:
            created = await notify_thresholds(
                ctx, tenant_id=tenant.id, user_id=ana.id, period=PERIOD
            )
            again = await notify_thresholds(ctx, tenant_id=tenant.id, user_id=ana.id, period=PERIOD)
        finally:
            await realtime_shutdown(ctx)

    assert (created, again) == (4, 0)
    assert len(standin.requests) == 8
    titles = [m["notification"]["title"] for m in standin.messages if m["token"] == "ana-iphone"]
    assert titles == [
        "Vous avez atteint 50\u00a0% de votre objectif",
        "Vous avez atteint 80\u00a0% de votre objectif",
        "Nouveau palier atteint : Commission",
        "Commissions débloquées",
    ]
    payable = standin.messages[-1]
    assert "3\u202f600,00\u00a0€" in payable["notification"]["body"]
    assert payable["data"]["kind"] == "payable"
    assert payable["data"]["period"] == PERIOD
    assert await Device.filter(user_id=ana.id).values_list("token", flat=True) == ["ana-iphone"]


def test_given_production_when_the_test_overrides_are_set_then_refused():
    env = {
        "FIREBASE_PROJECT_ID": PROJECT,
        "PODIUM_ENV": "production",
        "PODIUM_FCM_URL": "http://127.0.0.1:1/v1/projects/p/messages:send",
    }

    with pytest.raises(ValueError, match="tests only"):
        FcmPushSender.from_env(env)


@pytest.mark.parametrize("how", ["stall", "trickle"])
async def test_given_fcm_that_never_finishes_answering_then_failed_by_the_deadline(
    monkeypatch: pytest.MonkeyPatch, how: str
):
    monkeypatch.setattr(push, "PUSH_TIMEOUT", 0.5, raising=False)
    monkeypatch.setattr(push, "SEND_DEADLINE", 1.5, raising=False)
    async with fcm_standin() as standin:
        standin.garble = how  # headers, then nothing, or a space every 50 ms, for ever
        sender = FcmPushSender.create(
            project_id=PROJECT, fcm_url=standin.url, access_token=ACCESS_TOKEN
        )
        try:
            outcomes = await asyncio.wait_for(
                sender.send([PushMessage(token="t", title="T", body="B")] * 2), 10
            )  # firebase-admin's own timeout: 120 s, past the push job's 60 s
        finally:
            await sender.aclose()

    assert outcomes == [PushOutcome.FAILED] * 2


@pytest.mark.parametrize("how", ["html", "empty", "cut", "shapeless"])
async def test_given_fcm_answering_garbage_then_failed_not_raised(how: str):
    async with fcm_standin() as standin:
        standin.garble = how
        sender = FcmPushSender.create(
            project_id=PROJECT, fcm_url=standin.url, access_token=ACCESS_TOKEN
        )
        try:
            outcomes = await sender.send([PushMessage(token="t", title="T", body="B")])
        finally:
            await sender.aclose()

    assert outcomes == [PushOutcome.FAILED]


@pytest.mark.parametrize(
    ("how", "reason"),
    [
        ("huge", "more than 1000000 bytes"),  # 20 MB around a good answer, Content-Length set
        ("endless", "more than 1000000 bytes"),  # chunked, for ever, 13 MB a second
        ("gzip", "Content-Encoding gzip"),  # 20 KB that would decode to 20 MB
    ],
)
async def test_given_fcm_answering_more_than_the_limit_then_failed_with_why_not_read_whole(
    monkeypatch: pytest.MonkeyPatch, how: str, reason: str
):
    # read whole, the huge and gzipped answers say "sent"; the endless one would be read
    # until the send's deadline, into memory
    monkeypatch.setattr(push, "SEND_DEADLINE", 3.0, raising=False)
    async with fcm_standin() as standin:
        standin.garble = how
        sender = FcmPushSender.create(
            project_id=PROJECT, fcm_url=standin.url, access_token=ACCESS_TOKEN
        )
        try:
            with capture_logs() as logs:
                outcomes = await asyncio.wait_for(
                    sender.send([PushMessage(token="t", title="T", body="B")] * 2), 10
                )
        finally:
            await sender.aclose()

    assert outcomes == [PushOutcome.FAILED] * 2  # not UNREGISTERED: the devices are kept
    failures = [e for e in logs if e["event"] == "push failed"]
    assert len(failures) == 2
    assert all(reason in e["reason"] for e in failures)
    assert standin.sent < 2 * 5_000_000  # what the client did not read stayed unsent


async def test_given_fcm_answering_endlessly_when_the_push_job_runs_then_it_ends_and_keeps_devices(
    db: str, monkeypatch: pytest.MonkeyPatch
):
    tenant = await make_tenant()
    ana = await make_user(tenant=tenant, external_id="ana")
    await assign(user=ana, plan=await publish_plan(tenant=tenant, document=AE_PLAN))
    await set_quota(user=ana, value="100000")
    await make_transaction(rep=ana, external_id="t1", amount="85000")
    await recompute_rep_period(viewer=system_viewer(tenant), user_id=ana.id, period=PERIOD)
    await register_device(viewer=viewer_of(ana), token="ana-iphone", platform=DevicePlatform.IOS)

    async with fcm_standin() as standin:
        standin.garble = "endless"
        monkeypatch.setenv("FIREBASE_PROJECT_ID", PROJECT)
        monkeypatch.setenv("PODIUM_FCM_URL", standin.url)
        monkeypatch.setenv("PODIUM_FCM_ACCESS_TOKEN", ACCESS_TOKEN)
        monkeypatch.delenv("PODIUM_ENV", raising=False)
        ctx: dict[str, Any] = {}
        await realtime_startup(ctx)
        try:
            created = await asyncio.wait_for(
                notify_thresholds(ctx, tenant_id=tenant.id, user_id=ana.id, period=PERIOD), 10
            )
        finally:
            await realtime_shutdown(ctx)

    assert created == 4
    assert len(standin.requests) == 4
    assert standin.sent < 4 * 5_000_000
    assert await Device.filter(user_id=ana.id).values_list("token", flat=True) == ["ana-iphone"]
