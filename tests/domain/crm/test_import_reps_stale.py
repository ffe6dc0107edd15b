"""`podium import reps` names the (person, period)s whose stored earnings it made stale, as a
CRM rep event's apply does: a person moved to another team moves their credits between the
team-scope managers (old and new) in every period they have credits in; a hire or end date
moved changes the months between. Closed periods are flagged as late changes instead."""

from __future__ import annotations

from typing import Any

import pytest
from tortoise.transactions import in_transaction

from domain.crm.service import ImportResult, import_reps
from domain.earnings.models import LateEvent
from domain.earnings.service import close_period
from tests.domain.builders import (
    assign,
    make_org,
    make_tenant,
    make_transaction,
    plan_yaml,
    publish_plan,
    system_viewer,
)

pytestmark = pytest.mark.usefixtures("db")

HEADER = "id,name,manager_id,hire_date,end_date\n"


async def imported(tenant: Any, *rows: str) -> ImportResult:
    async with in_transaction():
        return await import_reps(
            viewer=system_viewer(tenant), lines=[HEADER, *(row + "\n" for row in rows)]
        )


async def two_teams() -> tuple[Any, Any, dict[Any, str]]:
    tenant = await make_tenant(slug="acme")
    org = await make_org(
        tenant=tenant, managers={"vp": None, "mia": "vp", "max": "vp", "ana": "mia", "ben": "max"}
    )
    own = await publish_plan(tenant=tenant, document=plan_yaml(key="own"))
    team = await publish_plan(tenant=tenant, document=plan_yaml(key="team", scope="team"))
    for rep in ("ana", "ben"):
        await assign(user=org[rep], plan=own)
    for manager in ("mia", "max", "vp"):
        await assign(user=org[manager], plan=team)
    await make_transaction(rep=org["ana"], external_id="t1", amount="1000", on="2026-10-15")
    return tenant, org, {u.id: k for k, u in org.people.items()}


async def test_given_a_rep_moved_to_another_team_then_both_teams_managers_touched():
    tenant, _, people = await two_teams()

    result = await imported(tenant, "ana,Ana,max,,", "ben,Ben,max,,")

    touched = {(people[u], p) for u, p in result.touched}
    # ana's October credits leave mia's team for max's (vp sees both, as before); ben is
    # unchanged: nothing of his is stale
    assert {("mia", "2026-10"), ("max", "2026-10"), ("ana", "2026-10")} <= touched
    assert not {pair for pair in touched if pair[0] == "ben"}


async def test_given_a_moved_rep_in_a_closed_period_then_flagged_late_not_stale():
    tenant, _, people = await two_teams()
    async with in_transaction():
        await close_period(viewer=system_viewer(tenant), period="2026-10")

    result = await imported(tenant, "ana,Ana,max,,")

    assert not {pair for pair in result.touched if pair[1] == "2026-10"}
    late = {(people[e.user_id], e.period) for e in await LateEvent.filter(tenant_id=tenant.id)}
    assert {("mia", "2026-10"), ("max", "2026-10"), ("ana", "2026-10")} <= late
    assert result.late_events == len(late)
