"""Who sees what. Two tenants, each with an admin, a manager, a rep under the manager and a rep
outside their subtree; every id of the other tenant and of other people is tried.

A rep reads only their own numbers and plans, a manager their subtree, an admin their tenant,
and nobody anything of another tenant: another tenant's ids are not found (null or NOT_FOUND),
another person's ids in the same tenant are FORBIDDEN.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import jwt
import pytest

from api.auth import mint_token
from domain.org.models import Role, User
from domain.plans.models import AssignmentStatus, PlanAssignment
from domain.tenants.models import Tenant
from tests.api.graphql import helpers as h
from tests.api.graphql.helpers import Api

REP_QUERY = """
query ($id: ID!) {
  rep(id: $id) {
    id displayName
    earnings { total { amount } lines(first: 50) { edges { node { id amount { amount } } } } }
    earningsHistory { period total { amount } }
    plans { id status }
  }
}
"""
ACCEPT = """
mutation ($id: ID!) {
  acceptPlan(assignmentId: $id) {
    __typename
    ... on PlanAssignment { id status }
    ... on UserError { code message field }
  }
}
"""
TEAM = "{ me { team { rep { id } total { amount } } } }"


@dataclass
class Company:
    tenant: Tenant
    admin: User
    manager: User
    rep: User  # reports to the manager
    other: User  # reports to nobody
    rep_assignment: PlanAssignment
    other_assignment: PlanAssignment


async def company(slug: str, amount: str) -> Company:
    t = await h.tenant(slug)
    admin = await h.person(t, f"{slug}-admin", role=Role.ADMIN)
    manager = await h.person(t, f"{slug}-manager", role=Role.MANAGER)
    rep = await h.person(t, f"{slug}-rep", manager=manager)
    other = await h.person(t, f"{slug}-other")
    period = h.this_period()
    version = await h.publish(t, effective_from=period.start)
    assignments = []
    for user in (rep, other):
        assignments.append(await h.assign(t, version, user, period.start))
        await h.quota(t, user, period.id, "40000")
        await h.deal(t, user, f"{user.external_id}-deal", amount, period.start)
        await h.recompute(t, user, period.id)
    return Company(t, admin, manager, rep, other, *assignments)


@pytest.fixture
async def acme(api: Api) -> Company:
    return await company("acme", "10000")


@pytest.fixture
async def globex(api: Api) -> Company:
    return await company("globex", "20000")


def ids_of(c: Company) -> list[User]:
    return [c.admin, c.manager, c.rep, c.other]


async def rep_query(api: Api, who: tuple[Tenant, User], target: Any) -> dict[str, Any]:
    return await api.as_(*who).gql(REP_QUERY, {"id": str(target)})


async def test_given_a_rep_when_asking_for_themselves_then_their_numbers(
    api: Api, acme: Company, globex: Company
):
    result = await rep_query(api, (acme.tenant, acme.rep), acme.rep.id)

    rep = result["data"]["rep"]
    assert rep["id"] == str(acme.rep.id)
    assert rep["earnings"]["total"]["amount"] == "300.00"  # 2% of 10,000 + 1% spiff
    assert [p["id"] for p in rep["plans"]] == [str(acme.rep_assignment.id)]


async def test_given_a_rep_when_asking_for_a_colleague_then_forbidden_and_no_data(
    api: Api, acme: Company, globex: Company
):
    for target in (acme.other, acme.manager, acme.admin):
        result = await rep_query(api, (acme.tenant, acme.rep), target.id)

        assert result["data"] == {"rep": None}
        assert h.codes(result) == ["FORBIDDEN"]


async def test_given_anyone_when_asking_for_another_tenants_people_then_null_never_data(
    api: Api, acme: Company, globex: Company
):
    for viewer in ids_of(acme):
        for target in ids_of(globex):
            result = await rep_query(api, (acme.tenant, viewer), target.id)

            assert result == {"data": {"rep": None}}, (viewer.external_id, target.external_id)


async def test_given_made_up_or_malformed_ids_when_asked_then_null(
    api: Api, acme: Company, globex: Company
):
    for target in (uuid.uuid4(), "1", "' OR 1=1 --", globex.rep_assignment.id):
        result = await rep_query(api, (acme.tenant, acme.admin), target)

        assert result == {"data": {"rep": None}}


async def test_given_a_manager_when_asking_for_their_report_then_data_and_outside_forbidden(
    api: Api, acme: Company, globex: Company
):
    mine = await rep_query(api, (acme.tenant, acme.manager), acme.rep.id)
    outside = await rep_query(api, (acme.tenant, acme.manager), acme.other.id)

    assert mine["data"]["rep"]["earnings"]["total"]["amount"] == "300.00"
    assert outside["data"] == {"rep": None}
    assert h.codes(outside) == ["FORBIDDEN"]


async def test_given_an_admin_when_asking_for_anyone_of_the_tenant_then_data(
    api: Api, acme: Company, globex: Company
):
    for target in ids_of(acme):
        result = await rep_query(api, (acme.tenant, acme.admin), target.id)

        assert result["data"]["rep"]["id"] == str(target.id)
    other = await rep_query(api, (acme.tenant, acme.admin), acme.other.id)
    assert other["data"]["rep"]["earnings"]["total"]["amount"] == "300.00"


async def test_given_a_manager_and_an_admin_when_team_then_only_their_people(
    api: Api, acme: Company, globex: Company
):
    manager = await api.as_(acme.tenant, acme.manager).gql(TEAM)
    admin = await api.as_(globex.tenant, globex.admin).gql(TEAM)
    rep = await api.as_(acme.tenant, acme.rep).gql(TEAM)

    assert [m["rep"]["id"] for m in manager["data"]["me"]["team"]] == [str(acme.rep.id)]
    assert {m["rep"]["id"] for m in admin["data"]["me"]["team"]} == {
        str(globex.manager.id),
        str(globex.rep.id),
        str(globex.other.id),
    }
    assert {m["total"]["amount"] for m in admin["data"]["me"]["team"]} == {"0.00", "600.00"}
    assert h.codes(rep) == ["FORBIDDEN"]


async def test_given_a_hierarchy_pointing_across_tenants_when_team_then_it_is_ignored(
    api: Api, acme: Company, globex: Company
):
    # a corrupted row: a globex rep whose manager is acme's manager
    await User.filter(id=globex.other.id).update(manager_id=acme.manager.id)

    team = await api.as_(acme.tenant, acme.manager).gql(TEAM)
    peek = await rep_query(api, (acme.tenant, acme.manager), globex.other.id)

    assert [m["rep"]["id"] for m in team["data"]["me"]["team"]] == [str(acme.rep.id)]
    assert peek == {"data": {"rep": None}}


async def test_given_a_rep_when_accepting_a_colleagues_plan_then_forbidden_and_unchanged(
    api: Api, acme: Company, globex: Company
):
    result = await api.as_(acme.tenant, acme.rep).gql(ACCEPT, {"id": str(acme.other_assignment.id)})

    assert result["data"] is None
    assert h.codes(result) == ["FORBIDDEN"]
    unchanged = await PlanAssignment.get(id=acme.other_assignment.id)
    assert unchanged.status is AssignmentStatus.OFFERED


async def test_given_a_manager_or_admin_when_accepting_for_a_rep_then_forbidden(
    api: Api, acme: Company, globex: Company
):
    for boss in (acme.manager, acme.admin):
        result = await api.as_(acme.tenant, boss).gql(ACCEPT, {"id": str(acme.rep_assignment.id)})

        assert h.codes(result) == ["FORBIDDEN"]
    assert (await PlanAssignment.get(id=acme.rep_assignment.id)).status is AssignmentStatus.OFFERED


async def test_given_anyone_when_accepting_another_tenants_plan_then_not_found_and_unchanged(
    api: Api, acme: Company, globex: Company
):
    for viewer in ids_of(acme):
        result = await api.as_(acme.tenant, viewer).gql(
            ACCEPT, {"id": str(globex.rep_assignment.id)}
        )

        assert result["data"]["acceptPlan"] == {
            "__typename": "UserError",
            "code": "NOT_FOUND",
            "message": f"no plan assignment {globex.rep_assignment.id}",
            "field": "assignmentId",
        }
    assert (
        await PlanAssignment.get(id=globex.rep_assignment.id)
    ).status is AssignmentStatus.OFFERED


async def test_given_a_token_naming_another_tenant_when_used_then_unauthenticated(
    api: Api, acme: Company, globex: Company
):
    def forged(tenant_claim: str, secret: str, sub: User) -> str:
        claims = jwt.decode(mint_token(acme.tenant, sub), options={"verify_signature": False})
        return jwt.encode({**claims, "tenant": tenant_claim}, secret, algorithm="HS256")

    attempts = [
        forged(globex.tenant.slug, acme.tenant.jwt_secret, acme.rep),  # acme's key, globex's name
        forged(globex.tenant.slug, globex.tenant.jwt_secret, acme.rep),  # acme user in globex
        forged(str(globex.tenant.id), globex.tenant.jwt_secret, acme.admin),
        mint_token(globex.tenant, acme.rep),
    ]
    for bearer in attempts:
        result = await api.with_token(bearer).gql("{ me { id } }")

        assert result["data"] is None
        assert h.codes(result) == ["UNAUTHENTICATED"]


async def test_given_each_tenants_rep_when_me_then_only_their_own_lines(
    api: Api, acme: Company, globex: Company
):
    query = """
        { me { id earnings { total { amount }
          lines(first: 100) { edges { node { id transactionId } } } } } }
    """
    mine = await api.as_(acme.tenant, acme.rep).gql(query)
    theirs = await api.as_(globex.tenant, globex.rep).gql(query)

    my_lines = mine["data"]["me"]["earnings"]["lines"]["edges"]
    their_lines = theirs["data"]["me"]["earnings"]["lines"]["edges"]
    assert {e["node"]["transactionId"] for e in my_lines} == {None, "acme-rep-deal"}
    assert {e["node"]["transactionId"] for e in their_lines} == {None, "globex-rep-deal"}
    assert not {e["node"]["id"] for e in my_lines} & {e["node"]["id"] for e in their_lines}
    assert theirs["data"]["me"]["earnings"]["total"]["amount"] == "600.00"
