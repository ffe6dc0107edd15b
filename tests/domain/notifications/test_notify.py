"""What a stored result crossed becomes inbox notifications, once per rep, period and key."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from domain.earnings.service import recompute_rep_period
from domain.notifications.models import Notification, NotificationKind, NotificationSent
from domain.notifications.repository import Created
from domain.notifications.service import earnings_summary, notify_crossings
from domain.org.models import User
from domain.tenants.models import Tenant
from tests.domain.builders import (
    assign,
    make_tenant,
    make_transaction,
    make_user,
    publish_plan,
    set_quota,
    system_viewer,
)
from tests.domain.notifications.plans import AE_PLAN

PERIOD = "2026-10"


async def rep_on_plan(tenant: Tenant, external_id: str = "ana", locale: str | None = None) -> User:
    user = await make_user(tenant=tenant, external_id=external_id, locale=locale)
    version = await publish_plan(tenant=tenant, document=AE_PLAN)
    await assign(user=user, plan=version)
    await set_quota(user=user, value="100000")
    return user


async def book(user: User, external_id: str, amount: str, on: str = "2026-10-10") -> None:
    await make_transaction(rep=user, external_id=external_id, amount=amount, on=on)


async def recompute_and_notify(tenant: Tenant, user: User, period: str = PERIOD) -> list[Created]:
    await recompute_rep_period(viewer=system_viewer(tenant), user_id=user.id, period=period)
    async with in_transaction():
        return await notify_crossings(tenant_id=tenant.id, user_id=user.id, period=period)


def summary(notifications: list[Created]) -> list[tuple[str, str]]:
    out = []
    for n in notifications:
        p = n.params
        detail = {
            NotificationKind.ATTAINMENT: lambda p: p["threshold"],
            NotificationKind.TIER: lambda p: f"{p['component']} {p['tier']}",
            NotificationKind.PAYABLE: lambda p: f"{p['released']}/{p['payable']}",
        }[NotificationKind(n.kind)](p)
        out.append((str(n.kind), detail))
    return out


async def test_given_85_percent_when_notified_then_50_80_tier_2_and_payable_once(db: str):
    tenant = await make_tenant()
    ana = await rep_on_plan(tenant)
    await book(ana, "t1", "85000")

    created = await recompute_and_notify(tenant, ana)

    assert summary(created) == [
        ("attainment", "50"),
        ("attainment", "80"),
        ("tier", "commission 2"),
        ("payable", "3600.00/3600.00"),
    ]
    assert created[0].title == "You reached 50% of your quota"
    assert created[3].body == "€3,600.00 more is payable for October 2026: €3,600.00 in total."
    keys = sorted(await NotificationSent.filter(user_id=ana.id).values_list("key", flat=True))
    assert keys == ["EUR:3600.00", "ae:commission:2", "bookings:50", "bookings:80"]


async def test_given_notified_when_the_job_runs_again_then_nothing_new(db: str):
    tenant = await make_tenant()
    ana = await rep_on_plan(tenant)
    await book(ana, "t1", "85000")
    await recompute_and_notify(tenant, ana)

    again = await recompute_and_notify(tenant, ana)
    async with in_transaction():
        third = await notify_crossings(tenant_id=tenant.id, user_id=ana.id, period=PERIOD)

    assert again == []
    assert third == []
    assert await Notification.filter(user_id=ana.id).count() == 4


async def test_given_two_deliveries_of_one_job_at_once_then_notified_once(db: str):
    tenant = await make_tenant()
    ana = await rep_on_plan(tenant)
    await book(ana, "t1", "85000")
    await recompute_rep_period(viewer=system_viewer(tenant), user_id=ana.id, period=PERIOD)

    async def deliver() -> list[Created]:
        async with in_transaction():
            return await notify_crossings(tenant_id=tenant.id, user_id=ana.id, period=PERIOD)

    first, second = await asyncio.gather(deliver(), deliver())

    assert sorted([len(first), len(second)]) == [0, 4]
    assert await Notification.filter(user_id=ana.id).count() == 4


async def test_given_progress_over_time_then_each_threshold_and_tier_when_crossed(db: str):
    tenant = await make_tenant()
    ana = await rep_on_plan(tenant)

    await book(ana, "t1", "40000")
    step1 = await recompute_and_notify(tenant, ana)
    await book(ana, "t2", "20000")
    step2 = await recompute_and_notify(tenant, ana)
    await book(ana, "t3", "45000")
    step3 = await recompute_and_notify(tenant, ana)

    # 40%: 800 + 400 payable; 60%: 1000 + 500 + 600 = 2100; 105%: 1000 + 2500 + 400 + 1050
    assert summary(step1) == [("payable", "1200.00/1200.00")]
    assert summary(step2) == [
        ("attainment", "50"),
        ("tier", "commission 2"),
        ("payable", "900.00/2100.00"),
    ]
    assert summary(step3) == [
        ("attainment", "80"),
        ("attainment", "100"),
        ("tier", "commission 3"),
        ("payable", "2850.00/4950.00"),
    ]


async def test_given_payable_going_down_and_back_then_only_new_money_is_released(db: str):
    tenant = await make_tenant()
    tenant.settings = {"notification_thresholds": [500]}
    await tenant.save()
    ana = await rep_on_plan(tenant)
    await book(ana, "t1", "40000")
    await recompute_and_notify(tenant, ana)  # 1200 payable
    deal = await book_returning(ana, "t2", "10000")
    await recompute_and_notify(tenant, ana)  # 50%: tier 2 from its bound; 1000 + 500 = 1500

    deal.deleted = True
    await deal.save()
    down = await recompute_and_notify(tenant, ana)  # 1200 again
    await book(ana, "t3", "20000")
    up = await recompute_and_notify(tenant, ana)  # 60%: 2100

    assert down == []
    # told 1500 before: only what is above it is news
    assert summary(up) == [("payable", "600.00/2100.00")]


async def book_returning(user: User, external_id: str, amount: str):
    return await make_transaction(rep=user, external_id=external_id, amount=amount, on="2026-10-11")


async def test_given_a_new_period_then_thresholds_start_fresh(db: str):
    tenant = await make_tenant()
    ana = await rep_on_plan(tenant)
    await set_quota(user=ana, period="2026-11", value="100000")
    await book(ana, "t1", "85000")
    await recompute_and_notify(tenant, ana)

    await book(ana, "n1", "55000", on="2026-11-05")
    november = await recompute_and_notify(tenant, ana, "2026-11")

    assert summary(november) == [
        ("attainment", "50"),
        ("tier", "commission 2"),
        ("payable", "1800.00/1800.00"),
    ]
    assert {n.period for n in november} == {"2026-11"}


async def test_given_tenant_thresholds_then_only_theirs_are_notified(db: str):
    tenant = await make_tenant()
    tenant.settings = {"notification_thresholds": [75, "90", 200]}
    await tenant.save()
    ana = await rep_on_plan(tenant)
    await book(ana, "t1", "85000")

    created = await recompute_and_notify(tenant, ana)

    assert [n.params["threshold"] for n in created if n.kind == NotificationKind.ATTAINMENT] == [
        "75"
    ]


async def test_given_a_german_rep_then_the_inbox_text_is_german(db: str):
    tenant = await make_tenant()
    ana = await rep_on_plan(tenant, locale="de-DE")
    await book(ana, "t1", "85000")

    created = await recompute_and_notify(tenant, ana)

    assert created[0].title == "Sie haben 50\u00a0% Ihrer Quote erreicht"
    assert created[0].locale == "de-DE"
    assert created[3].body == (
        "Weitere 3.600,00\u00a0€ sind für Oktober 2026 auszahlbar: insgesamt 3.600,00\u00a0€."
    )


async def test_given_a_rep_without_quota_then_no_attainment_and_no_error(db: str):
    tenant = await make_tenant()
    ana = await make_user(tenant=tenant, external_id="ana")
    await assign(user=ana, plan=await publish_plan(tenant=tenant, document=AE_PLAN))
    await book(ana, "t1", "85000")

    created = await recompute_and_notify(tenant, ana)  # the result is an error: no quota

    assert created == []


async def test_given_a_rollback_then_neither_notification_nor_sent_record_stays(db: str):
    tenant = await make_tenant()
    ana = await rep_on_plan(tenant)
    await book(ana, "t1", "85000")
    await recompute_rep_period(viewer=system_viewer(tenant), user_id=ana.id, period=PERIOD)

    async def dies_before_commit() -> None:
        async with in_transaction():
            await notify_crossings(tenant_id=tenant.id, user_id=ana.id, period=PERIOD)
            raise RuntimeError("the job died before commit")

    with pytest.raises(RuntimeError):
        await dies_before_commit()

    assert await Notification.filter(user_id=ana.id).count() == 0
    assert await NotificationSent.filter(user_id=ana.id).count() == 0
    async with in_transaction():
        assert len(await notify_crossings(tenant_id=tenant.id, user_id=ana.id, period=PERIOD)) == 4


async def test_given_a_sent_record_when_inserted_twice_then_the_database_refuses(db: str):
    tenant = await make_tenant()
    ana = await make_user(tenant=tenant, external_id="ana")
    values = {
        "tenant_id": tenant.id,
        "user_id": ana.id,
        "period": PERIOD,
        "kind": NotificationKind.ATTAINMENT,
        "key": "bookings:50",
    }
    await NotificationSent.create(**values)

    with pytest.raises(IntegrityError):
        await NotificationSent.create(**values)


async def test_given_stored_results_then_the_summary_is_exact(db: str):
    tenant = await make_tenant()
    ana = await rep_on_plan(tenant)
    await book(ana, "t1", "12345.67")
    await recompute_rep_period(viewer=system_viewer(tenant), user_id=ana.id, period=PERIOD)

    found = await earnings_summary(tenant_id=tenant.id, user_id=ana.id, period=PERIOD)

    # 12345.67 x 2% = 246.9134 -> 246.91; spiff 123.4567 -> 123.46
    assert (found.currency, found.total, found.payable, found.pending) == (
        "EUR",
        Decimal("370.37"),
        Decimal("370.37"),
        Decimal(0),
    )
