"""The inbox, MarkRead and RegisterDevice as the apps send them (the documents of
tests/spec/client-operations.graphql, unchanged), with two reps and a second tenant."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

import pytest
from graphql import print_ast
from tortoise.transactions import in_transaction

from domain.notifications.models import Device, Notification
from domain.notifications.service import notify_crossings
from domain.org.models import User
from domain.tenants.models import Tenant
from tests.api.graphql import helpers as h
from tests.api.graphql.helpers import Api
from tests.api.graphql.test_contract import operation_document
from tests.domain.notifications.plans import AE_PLAN

INBOX = print_ast(operation_document("Inbox"))
MARK_READ = print_ast(operation_document("MarkRead"))
REGISTER_DEVICE = print_ast(operation_document("RegisterDevice"))
PERIOD = "2026-10"


@dataclass
class Company:
    tenant: Tenant
    ana: User
    bob: User


async def company(slug: str, *, ana_locale: str | None = None) -> Company:
    t = await h.tenant(slug)
    version = await h.publish(t, AE_PLAN, effective_from=date(2026, 10, 1))
    ana = await h.person(t, f"{slug}-ana", locale=ana_locale)
    bob = await h.person(t, f"{slug}-bob")
    for rep, amount in ((ana, "85000"), (bob, "55000")):
        await h.assign(t, version, rep, date(2026, 10, 1))
        await h.quota(t, rep, PERIOD, "100000")
        await h.deal(t, rep, f"{rep.external_id}-1", amount, date(2026, 10, 5))
        await h.recompute(t, rep, PERIOD)
        async with in_transaction():
            await notify_crossings(tenant_id=t.id, user_id=rep.id, period=PERIOD)
    return Company(t, ana, bob)


def nodes(result: dict) -> list[dict]:
    return [e["node"] for e in result["data"]["me"]["notifications"]["edges"]]


async def ids_of(user: User) -> list[str]:
    return [str(i) for i in await Notification.filter(user_id=user.id).values_list("id", flat=True)]


async def test_given_notifications_when_inbox_then_own_newest_first_in_the_reps_language(api: Api):
    acme = await company("acme", ana_locale="de")
    await company("globex")

    result = await api.as_(acme.tenant, acme.ana).gql(INBOX, {"first": 10})

    assert "errors" not in result, result
    inbox = nodes(result)
    assert [n["kind"] for n in inbox] == ["PAYABLE", "TIER", "ATTAINMENT", "ATTAINMENT"]
    assert inbox[0]["title"] == "Provision freigegeben"
    assert inbox[0]["body"] == (
        "Weitere 3.600,00\u00a0€ sind für Oktober 2026 auszahlbar: insgesamt 3.600,00\u00a0€."
    )
    assert {n["readAt"] for n in inbox} == {None}
    assert sorted(n["id"] for n in inbox) == sorted(await ids_of(acme.ana))
    assert inbox[0]["createdAt"] >= inbox[-1]["createdAt"]


async def test_given_first_when_inbox_then_that_many(api: Api):
    acme = await company("acme")

    result = await api.as_(acme.tenant, acme.bob).gql(INBOX, {"first": 1})

    assert len(nodes(result)) == 1
    assert await Notification.filter(user_id=acme.bob.id).count() == 3


async def test_given_own_others_and_another_tenants_ids_when_mark_read_then_only_own_count(
    api: Api,
):
    acme = await company("acme")
    globex = await company("globex")
    own = await ids_of(acme.ana)
    others = [*await ids_of(acme.bob), *await ids_of(globex.ana)]
    rep = api.as_(acme.tenant, acme.ana)

    first = await rep.gql(MARK_READ, {"ids": [*own[:2], *others, str(uuid.uuid4())]})
    again = await rep.gql(MARK_READ, {"ids": own})

    assert first["data"]["markNotificationsRead"] == {"__typename": "MarkReadResult", "count": 2}
    assert again["data"]["markNotificationsRead"] == {"__typename": "MarkReadResult", "count": 2}
    assert await Notification.filter(user_id=acme.ana.id, read_at=None).count() == 0
    assert await Notification.filter(read_at__isnull=False).count() == len(own)
    read = [n["readAt"] for n in nodes(await rep.gql(INBOX, {"first": 10}))]
    assert None not in read


async def test_given_malformed_ids_when_mark_read_then_a_user_error(api: Api):
    acme = await company("acme")

    result = await api.as_(acme.tenant, acme.ana).gql(MARK_READ, {"ids": ["not-an-id"]})

    assert result["data"]["markNotificationsRead"] == {
        "__typename": "UserError",
        "code": "INVALID_NOTIFICATION_IDS",
        "message": "'not-an-id' is not a notification id",
        "field": "ids",
    }


async def test_given_a_token_when_registered_twice_then_one_device(api: Api):
    t = await h.tenant("acme")
    ana = await h.person(t, "ana")
    rep = api.as_(t, ana)

    first = await rep.gql(REGISTER_DEVICE, {"token": "fcm-token-1", "platform": "IOS"})
    again = await rep.gql(REGISTER_DEVICE, {"token": "fcm-token-1", "platform": "IOS"})
    web = await rep.gql(REGISTER_DEVICE, {"token": "fcm-token-2", "platform": "WEB"})

    device = first["data"]["registerDevice"]
    assert device["__typename"] == "Device"
    assert device["platform"] == "IOS"
    assert again["data"]["registerDevice"]["id"] == device["id"]
    assert web["data"]["registerDevice"]["platform"] == "WEB"
    assert sorted(await Device.filter(user_id=ana.id).values_list("token", flat=True)) == [
        "fcm-token-1",
        "fcm-token-2",
    ]


async def test_given_a_token_of_another_tenant_when_registered_then_their_device_stays(api: Api):
    acme, globex = await h.tenant("acme"), await h.tenant("globex")
    ana, gus = await h.person(acme, "ana"), await h.person(globex, "gus")

    theirs = await api.as_(acme, ana).gql(REGISTER_DEVICE, {"token": "shared", "platform": "IOS"})
    ours = await api.as_(globex, gus).gql(REGISTER_DEVICE, {"token": "shared", "platform": "WEB"})
    again = await api.as_(globex, gus).gql(REGISTER_DEVICE, {"token": "shared", "platform": "WEB"})

    assert ours["data"]["registerDevice"]["id"] != theirs["data"]["registerDevice"]["id"]
    assert again["data"]["registerDevice"]["id"] == ours["data"]["registerDevice"]["id"]
    acme_row = await Device.get(tenant_id=acme.id, token="shared")
    assert (acme_row.user_id, acme_row.platform.value) == (ana.id, "ios")
    assert str(acme_row.id) == theirs["data"]["registerDevice"]["id"]
    globex_row = await Device.get(tenant_id=globex.id, token="shared")
    assert (globex_row.user_id, globex_row.platform.value) == (gus.id, "web")
    assert await Device.all().count() == 2


async def test_given_a_blank_token_when_registered_then_a_user_error(api: Api):
    t = await h.tenant("acme")
    ana = await h.person(t, "ana")

    result = await api.as_(t, ana).gql(REGISTER_DEVICE, {"token": "  ", "platform": "ANDROID"})

    assert result["data"]["registerDevice"]["__typename"] == "UserError"
    assert result["data"]["registerDevice"]["field"] == "token"
    assert await Device.all().count() == 0


@pytest.mark.parametrize(
    "token", ["fcm\ttoken", "fcm\x01token", "fcm token", "fcm\u00e9", "\u200bfcm"]
)
async def test_given_a_token_with_other_than_printable_ascii_then_a_user_error(
    api: Api, token: str
):
    t = await h.tenant("acme")
    ana = await h.person(t, "ana")

    result = await api.as_(t, ana).gql(REGISTER_DEVICE, {"token": token, "platform": "IOS"})

    assert result["data"]["registerDevice"] == {
        "__typename": "UserError",
        "code": "INVALID_DEVICE_TOKEN",
        "message": "this is not a push token",
        "field": "token",
    }
    assert await Device.all().count() == 0


async def test_given_no_token_then_inbox_and_mutations_are_unauthenticated(api: Api):
    await company("acme")

    inbox = await api.gql(INBOX, {"first": 5})
    device = await api.gql(REGISTER_DEVICE, {"token": "x", "platform": "IOS"})
    mark = await api.gql(MARK_READ, {"ids": []})

    assert h.codes(inbox) == ["UNAUTHENTICATED"]
    assert h.codes(device) == ["UNAUTHENTICATED"]
    assert h.codes(mark) == ["UNAUTHENTICATED"]
    assert await Device.all().count() == 0
