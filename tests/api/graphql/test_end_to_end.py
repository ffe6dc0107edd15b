"""A rep, a manager and an admin use the client operations of client-operations.graphql over
HTTP, on data computed by the real engine and stored in PostgreSQL. Figures to the cent.

The plan (helpers.AE_PLAN): marginal tiers on attainment (2% to 50%, 5% to 100%, 8% above), a
quota club bonus (1000 at 100%, 2500 at 125%) and a 1% spiff per deal. Quota 40,000 EUR.
Ana closes 10,000 + 15,000 + 5,000 = 30,000 (75%): 400 + 500 + 0 + 300 spiff = 1,200.00.
Ben closes 50,000 (125%): 400 + 1,000 + 800 + 2,500 + 500 = 5,200.00.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from graphql import print_ast

from domain.kit.periods import Period
from domain.org.models import Role, User
from domain.plans.models import PlanAssignment, PlanVersion
from domain.tenants.models import Tenant
from tests.api.graphql import helpers as h
from tests.api.graphql.helpers import Api
from tests.api.graphql.test_contract import operation_document


def client_operation(name: str, drop: Set[str] = frozenset()) -> str:
    return print_ast(operation_document(name, drop))


@dataclass
class World:
    tenant: Tenant
    admin: User
    manager: User
    ana: User
    ben: User
    version: PlanVersion
    ana_assignment: PlanAssignment
    period: Period
    previous: Period


@pytest.fixture
async def world(api: Api) -> World:
    t = await h.tenant("acme", currency="EUR", locale="en")
    admin = await h.person(t, "ada-admin", role=Role.ADMIN)
    manager = await h.person(t, "mia-manager", role=Role.MANAGER, locale="de-DE")
    ana = await h.person(t, "ana", manager=manager, locale="de-DE")
    ben = await h.person(t, "ben", manager=manager)
    period = h.this_period()
    previous = period.previous()
    version = await h.publish(t, effective_from=previous.start)
    ana_assignment = await h.assign(t, version, ana, previous.start)
    await h.assign(t, version, ben, previous.start)
    for p in (previous, period):
        await h.quota(t, ana, p.id, "40000")
        await h.quota(t, ben, p.id, "40000")
    await h.deal(t, ana, "old-1", "20000", previous.start)
    await h.deal(t, ana, "d1", "10000", period.start)
    await h.deal(t, ana, "d2", "15000", period.start + timedelta(days=1))
    await h.deal(t, ana, "d3", "5000", period.start + timedelta(days=2))
    await h.deal(t, ben, "b1", "50000", period.start)
    for user in (ana, ben):
        for p in (previous, period):
            await h.recompute(t, user, p.id)
    return World(t, admin, manager, ana, ben, version, ana_assignment, period, previous)


def money(amount: str, formatted: str, currency: str = "EUR") -> dict[str, str]:
    return {"amount": amount, "currency": currency, "formatted": formatted}


async def test_given_a_rep_when_home_is_asked_then_every_field_answers(api: Api, world: World):
    result = await api.as_(world.tenant, world.ana).gql(client_operation("Home"), {})

    assert "errors" not in result, result
    me = result["data"]["me"]
    assert me["id"] == str(world.ana.id)
    assert me["displayName"] == "Ana"
    assert me["locale"] == "de-DE"
    assert me["currentPeriod"] == world.period.id
    earnings = me["earnings"]
    assert earnings["period"] == world.period.id
    assert earnings["total"] == money("1200.00", "1.200,00\xa0€")
    assert earnings["payable"] == money("1200.00", "1.200,00\xa0€")
    assert earnings["pending"] == money("0.00", "0,00\xa0€")
    assert earnings["updatedAt"] is not None
    assert [(c["name"], c["amount"]["amount"]) for c in earnings["components"]] == [
        ("Commission", "900.00"),
        ("Quota club", "0.00"),
        ("Spiff", "300.00"),
    ]
    assert me["quotaProgress"] == [
        {
            "measure": "bookings",
            "name": "Bookings",
            "total": "30000",
            "quota": "40000",
            "attainment": "0.75",
        }
    ]
    assert me["level"] == {"number": 0, "name": "", "xp": 0, "nextLevelXp": None}
    assert me["badges"] == {"edges": []}
    assert me["standings"] == []


async def test_given_a_past_period_when_home_names_it_then_that_period_answers(
    api: Api, world: World
):
    result = await api.as_(world.tenant, world.ana).gql(
        client_operation("Home"), {"period": world.previous.id}
    )

    earnings = result["data"]["me"]["earnings"]
    assert earnings["period"] == world.previous.id
    assert earnings["total"]["amount"] == "600.00"  # 2% of 20,000 + 1% spiff


async def test_given_earnings_lines_when_paged_by_three_then_cursors_walk_newest_first(
    api: Api, world: World
):
    client = api.as_(world.tenant, world.ana)
    query = client_operation("EarningsLines")
    nodes: list[dict[str, Any]] = []
    pages: list[bool] = []
    after = None
    for _ in range(5):
        result = await client.gql(query, {"period": world.period.id, "first": 3, "after": after})
        assert "errors" not in result, result
        lines = result["data"]["me"]["earnings"]["lines"]
        nodes += [e["node"] for e in lines["edges"]]
        pages.append(lines["pageInfo"]["hasNextPage"])
        after = lines["pageInfo"]["endCursor"]
        if not lines["pageInfo"]["hasNextPage"]:
            break

    # one summary per component (commission, quota club, spiff), then the spiff's 3 deals
    assert pages == [True, False]
    assert len(nodes) == 6
    assert len({n["id"] for n in nodes}) == 6
    summaries, deals = nodes[:3], nodes[3:]
    assert all(n["transactionId"] is None and n["occurredAt"] is None for n in summaries)
    # each summary carries its own component's amount, never another's or a repeat of it
    assert sorted((n["component"], n["amount"]["amount"]) for n in summaries) == [
        ("commission", "900.00"),
        ("quota_club", "0.00"),
        ("spiff", "300.00"),
    ]
    commission = next(n for n in summaries if n["component"] == "commission")
    # in the viewer's language (Ana reads German): money rounded and formatted as money in
    # her locale, attainment as a percentage, the component and measure by name
    assert commission["explanation"].startswith("Commission: 900,00\xa0€; Bookings: ")
    assert "75\xa0% erreicht" in commission["explanation"]
    assert (
        "2\xa0% von 20.000,00\xa0€ in Stufe 1 (0\xa0%–50\xa0% der Quote)"
        in (commission["explanation"])
    )
    assert "Stufe 2" in commission["explanation"]
    assert [(n["transactionId"], n["occurredAt"], n["amount"]["amount"]) for n in deals] == [
        ("d3", (world.period.start + timedelta(days=2)).isoformat(), "50.00"),
        ("d2", (world.period.start + timedelta(days=1)).isoformat(), "150.00"),
        ("d1", world.period.start.isoformat(), "100.00"),
    ]
    assert {n["component"] for n in deals} == {"spiff"}
    assert deals[0]["value"] == "5000"
    assert deals[0]["status"] == "PAYABLE"
    assert deals[0]["amount"]["formatted"] == "50,00\xa0€"
    assert deals[0]["explanation"].startswith("Spiff: ")
    assert "5.000,00\xa0€" in deals[0]["explanation"]
    assert "aus Transaktion d3 = 50,00\xa0€" in deals[0]["explanation"]


async def test_given_a_bad_cursor_when_lines_are_asked_then_bad_user_input(api: Api, world: World):
    result = await api.as_(world.tenant, world.ana).gql(
        client_operation("EarningsLines"), {"period": world.period.id, "after": "not-a-cursor"}
    )

    assert h.codes(result) == ["BAD_USER_INPUT"]


async def test_given_two_periods_when_history_is_asked_then_oldest_first(api: Api, world: World):
    result = await api.as_(world.tenant, world.ana).gql(client_operation("EarningsHistory"), {})

    assert result["data"]["me"]["earningsHistory"] == [
        {
            "period": world.previous.id,
            "total": money("600.00", "600,00\xa0€"),
            "payable": money("600.00", "600,00\xa0€"),
        },
        {
            "period": world.period.id,
            "total": money("1200.00", "1.200,00\xa0€"),
            "payable": money("1200.00", "1.200,00\xa0€"),
        },
    ]


async def test_given_a_history_of_one_when_last_is_one_then_only_the_newest(api: Api, world: World):
    result = await api.as_(world.tenant, world.ana).gql(
        client_operation("EarningsHistory"), {"last": 1}
    )

    assert [p["period"] for p in result["data"]["me"]["earningsHistory"]] == [world.period.id]


async def test_given_a_10000_deal_when_what_if_then_before_after_and_delta_to_the_cent(
    api: Api, world: World
):
    result = await api.as_(world.tenant, world.ana).gql(
        client_operation("WhatIf"), {"amount": "10000"}
    )

    assert "errors" not in result, result
    # 40,000 = 100%: 400 + 1,000 tiers + 1,000 club + 400 spiff
    assert result["data"]["me"]["whatIf"] == {
        "before": money("1200.00", "1.200,00\xa0€"),
        "after": money("2800.00", "2.800,00\xa0€"),
        "delta": money("1600.00", "1.600,00\xa0€"),
    }


async def test_given_a_lost_deal_when_what_if_then_nothing_changes(api: Api, world: World):
    result = await api.as_(world.tenant, world.ana).gql(
        client_operation("WhatIf"), {"amount": "10000", "fields": {"state": "lost"}}
    )

    assert result["data"]["me"]["whatIf"]["delta"]["amount"] == "0.00"


async def test_given_what_if_with_a_reserved_field_then_bad_user_input_names_it(
    api: Api, world: World
):
    result = await api.as_(world.tenant, world.ana).gql(
        client_operation("WhatIf"), {"amount": "10000", "fields": {"rep_id": "ben"}}
    )

    assert h.codes(result) == ["BAD_USER_INPUT"]
    assert result["errors"][0]["extensions"]["field"] == "fields.rep_id"


async def test_given_an_offered_plan_when_my_plans_then_it_lists_version_and_document(
    api: Api, world: World
):
    result = await api.as_(world.tenant, world.ana).gql(client_operation("MyPlans"))

    [plan] = result["data"]["me"]["plans"]
    assert plan["id"] == str(world.ana_assignment.id)
    assert plan["planId"] == str(world.version.plan_id)
    assert plan["name"] == "Account Executive EMEA"
    assert plan["version"] == 1
    assert plan["status"] == "OFFERED"
    assert plan["effectiveFrom"] == world.previous.start.isoformat()
    assert plan["effectiveTo"] is None
    assert plan["acceptedAt"] is None
    assert plan["document"]["id"] == "ae-emea"
    assert plan["document"]["components"][0]["tiers"][1] == {"from": "0.5", "rate": "0.05"}


async def test_given_an_offered_plan_when_accepted_twice_then_accepted_then_conflict(
    api: Api, world: World
):
    client = api.as_(world.tenant, world.ana)
    variables = {"assignmentId": str(world.ana_assignment.id)}

    first = await client.gql(client_operation("AcceptPlan"), variables)
    second = await client.gql(client_operation("AcceptPlan"), variables)
    plans = await client.gql(client_operation("MyPlans"))

    accepted = first["data"]["acceptPlan"]
    assert accepted["__typename"] == "PlanAssignment"
    assert accepted["id"] == str(world.ana_assignment.id)
    assert accepted["status"] == "ACCEPTED"
    assert accepted["acceptedAt"]
    assert second["data"]["acceptPlan"] == {
        "__typename": "UserError",
        "code": "CONFLICT",
        "message": "this plan is accepted already",
        "field": "assignmentId",
    }
    assert plans["data"]["me"]["plans"][0]["status"] == "ACCEPTED"


async def test_given_a_manager_when_team_then_each_report_with_total_and_attainment(
    api: Api, world: World
):
    result = await api.as_(world.tenant, world.manager).gql(client_operation("Team"), {})

    assert result["data"]["me"]["team"] == [
        {
            "rep": {"id": str(world.ana.id), "displayName": "Ana"},
            "total": money("1200.00", "1.200,00\xa0€"),
            "attainment": "0.75",
        },
        {
            "rep": {"id": str(world.ben.id), "displayName": "Ben"},
            "total": money("5200.00", "5.200,00\xa0€"),
            "attainment": "1.25",
        },
    ]


async def test_given_a_manager_when_team_of_last_period_then_that_period(api: Api, world: World):
    result = await api.as_(world.tenant, world.manager).gql(
        client_operation("Team"), {"period": world.previous.id}
    )

    totals = [m["total"]["amount"] for m in result["data"]["me"]["team"]]
    assert totals == ["600.00", "0.00"]


async def test_given_an_admin_when_publishing_a_new_version_then_plan_version_two(
    api: Api, world: World
):
    start = world.period.next().start
    document = h.AE_PLAN.replace("rate: 0.01", "rate: 0.02")

    result = await api.as_(world.tenant, world.admin).gql(
        client_operation("PublishPlan"), {"document": document, "effectiveFrom": start.isoformat()}
    )

    assert result["data"]["publishPlan"] == {
        "__typename": "Plan",
        "id": str(world.version.plan_id),
        "version": 2,
        "effectiveFrom": start.isoformat(),
    }


async def test_given_a_bad_document_when_published_then_user_error_names_the_key_path(
    api: Api, world: World
):
    cut = h.AE_PLAN.index("  - id: quota_club")
    document = (
        h.AE_PLAN[:cut]
        + "  - id: accelerator\n    type: tiered\n    measure: bookings\n    tiers: []\n"
    )

    result = await api.as_(world.tenant, world.admin).gql(
        client_operation("PublishPlan"),
        {"document": document, "effectiveFrom": world.period.next().start.isoformat()},
    )

    assert result["data"]["publishPlan"] == {
        "__typename": "UserError",
        "code": "INVALID_PLAN",
        "message": "expected a non-empty list",
        "field": "components[1].tiers",
    }


async def test_given_a_mid_month_start_when_published_then_user_error_on_effective_from(
    api: Api, world: World
):
    result = await api.as_(world.tenant, world.admin).gql(
        client_operation("PublishPlan"),
        {
            "document": h.AE_PLAN,
            "effectiveFrom": (world.period.next().start + timedelta(days=3)).isoformat(),
        },
    )

    error = result["data"]["publishPlan"]
    assert error["__typename"] == "UserError"
    assert error["field"] == "effectiveFrom"


async def test_given_a_rep_when_publishing_then_forbidden(api: Api, world: World):
    result = await api.as_(world.tenant, world.ana).gql(
        client_operation("PublishPlan"),
        {"document": h.AE_PLAN, "effectiveFrom": world.period.next().start.isoformat()},
    )

    assert result["data"] is None
    assert h.codes(result) == ["FORBIDDEN"]
