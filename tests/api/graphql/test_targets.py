"""Targets over GraphQL, with the client's own operations (MyTargets, AllocateTarget,
AcceptTarget) unchanged: a manager allocates, the level above validates, an admin publishes,
reps accept or dispute; bad input is a UserError naming the field; another tenant sees nothing."""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal
from typing import Any

from graphql import print_ast

from domain.org.models import Role
from domain.targets.models import Target as StoredTarget
from domain.targets.service import create_target_plan
from tests.api.graphql import helpers as h
from tests.api.graphql.helpers import Api
from tests.api.graphql.test_contract import operation_document

MY_TARGETS = print_ast(operation_document("MyTargets"))
ACCEPT = print_ast(operation_document("AcceptTarget"))
ALLOCATE = print_ast(operation_document("AllocateTarget"))
PROPOSE = (
    "mutation ($id: ID!) { proposeTarget(id: $id) { __typename ... on UserError { code field } } }"
)
VALIDATE = (
    "mutation ($id: ID!) { validateTarget(id: $id) { __typename ... on UserError { code field } } }"
)
PUBLISH = """mutation ($id: ID!) { publishTargets(planId: $id) {
  __typename
  ... on Target { value status actual attainment children { value person { displayName } } }
  ... on UserError { code message field } } }"""
TARGET = (
    "query ($id: ID!) { target(id: $id) { value actual attainment children { value actual } } }"
)


async def _company(slug: str = "acme") -> dict[str, Any]:
    t = await h.tenant(slug)
    admin = await h.person(t, f"{slug}-admin", role=Role.ADMIN)
    boss = await h.person(t, f"{slug}-boss", role=Role.MANAGER)
    ana = await h.person(t, f"{slug}-ana", manager=boss)
    ben = await h.person(t, f"{slug}-ben", manager=boss)
    plan = await create_target_plan(
        viewer=h.system(t),
        key="q",
        period="2026-Q4",
        measure="bookings",
        amount=Decimal("100000.00"),
        currency="EUR",
        owner_id=boss.id,
    )
    root = await StoredTarget.get(plan_id=plan.id, parent_id=None)
    return {
        "t": t,
        "admin": admin,
        "boss": boss,
        "ana": ana,
        "ben": ben,
        "plan": plan,
        "root": root,
    }


def _allocate(root_id: Any, lines: list[tuple[Any, str]], method: str = "MANUAL") -> dict[str, Any]:
    return {
        "input": {
            "targetId": str(root_id),
            "method": method,
            "allocations": [{"personId": str(p.id), "value": v} for p, v in lines],
        }
    }


async def test_given_a_target_when_allocated_validated_published_and_accepted_then_clients_see_it(
    api: Api,
):
    c = await _company()
    boss, admin = api.as_(c["t"], c["boss"]), api.as_(c["t"], c["admin"])

    allocated = await boss.gql(
        ALLOCATE, _allocate(c["root"].id, [(c["ana"], "60000"), (c["ben"], "40000")])
    )
    proposed = await boss.gql(PROPOSE, {"id": str(c["root"].id)})
    validated = await admin.gql(VALIDATE, {"id": str(c["root"].id)})
    published = await admin.gql(PUBLISH, {"id": str(c["plan"].id)})
    ana = api.as_(c["t"], c["ana"])
    [mine] = (await ana.gql(MY_TARGETS, {"period": "2026-Q4"}))["data"]["me"]["targets"]
    accepted = await ana.gql(ACCEPT, {"id": mine["id"]})
    ben = api.as_(c["t"], c["ben"])
    [bens] = (await ben.gql(MY_TARGETS, {}))["data"]["me"]["targets"]
    disputed = await ben.gql(ACCEPT, {"id": bens["id"], "accept": False, "comment": "too high"})

    target = allocated["data"]["allocateTarget"]
    assert target["__typename"] == "Target"
    assert target["value"] == "100000"
    assert sorted(
        (ch["person"]["displayName"], ch["value"], ch["status"]) for ch in target["children"]
    ) == [("Acme Ana", "60000", "DRAFT"), ("Acme Ben", "40000", "DRAFT")]
    assert proposed["data"]["proposeTarget"]["__typename"] == "Target"
    assert validated["data"]["validateTarget"]["__typename"] == "Target"
    assert published["data"]["publishTargets"]["status"] == "PUBLISHED"
    assert (mine["measure"], mine["period"], mine["value"], mine["unit"], mine["status"]) == (
        "bookings",
        "2026-Q4",
        "60000",
        "EUR",
        "PUBLISHED",
    )
    assert accepted["data"]["acceptTarget"]["status"] == "ACCEPTED"
    assert accepted["data"]["acceptTarget"]["acceptedAt"]
    assert disputed["data"]["acceptTarget"]["status"] == "DISPUTED"


async def test_given_bad_input_when_allocating_or_accepting_then_user_error_names_the_field(
    api: Api,
):
    c = await _company()
    other = await _company("other")
    boss = api.as_(c["t"], c["boss"])

    short = await boss.gql(
        ALLOCATE, _allocate(c["root"].id, [(c["ana"], "60000"), (c["ben"], "30000")])
    )
    negative = await boss.gql(
        ALLOCATE, _allocate(c["root"].id, [(c["ana"], "-1"), (c["ben"], "100001")])
    )
    outside = await boss.gql(
        ALLOCATE, _allocate(c["root"].id, [(c["ana"], "60000"), (other["ben"], "40000")])
    )
    not_published = await api.as_(c["t"], c["ana"]).gql(ACCEPT, {"id": str(c["root"].id)})
    foreign = await api.as_(other["t"], other["boss"]).gql(
        ALLOCATE, _allocate(c["root"].id, [(c["ana"], "100000")])
    )
    rep = await api.as_(c["t"], c["ana"]).gql(ALLOCATE, _allocate(c["root"].id, [(c["ana"], "1")]))
    seen = await api.as_(other["t"], other["admin"]).gql(TARGET, {"id": str(c["root"].id)})

    def error(result: dict[str, Any]) -> tuple[str, str]:
        e = result["data"][
            "allocateTarget" if "allocateTarget" in result["data"] else "acceptTarget"
        ]
        return e["code"], e["field"]

    assert error(short) == ("INVALID_ALLOCATION", "allocations")
    assert error(negative) == ("INVALID_ALLOCATION", "allocations.0.value")
    assert error(outside) == ("INVALID_ALLOCATION", "allocations.1.personId")
    assert error(not_published) == ("NOT_FOUND", "id")  # the root is the boss's, not ana's
    assert error(foreign) == ("NOT_FOUND", "id")
    assert h.codes(rep) == ["FORBIDDEN"]
    assert seen["data"]["target"] is None
    assert await StoredTarget.filter(parent_id=c["root"].id).count() == 0


async def test_given_a_manager_when_reading_their_subtree_then_actuals_and_attainment(api: Api):
    c = await _company()
    version = await h.publish(c["t"], effective_from=date(2026, 10, 1))
    for rep in (c["ana"], c["ben"]):
        await h.assign(c["t"], version, rep, date(2026, 10, 1))
    await h.deal(c["t"], c["ana"], "d1", "30000", date(2026, 10, 5))
    await h.quota(c["t"], c["ana"], "2026-10", "20000")  # the AE plan needs one to calculate
    await h.recompute(c["t"], c["ana"], "2026-10")
    await api.as_(c["t"], c["boss"]).gql(
        ALLOCATE, _allocate(c["root"].id, [(c["ana"], "60000"), (c["ben"], "40000")])
    )

    seen = (await api.as_(c["t"], c["boss"]).gql(TARGET, {"id": str(c["root"].id)}))["data"][
        "target"
    ]
    ben_sees = (await api.as_(c["t"], c["ben"]).gql(TARGET, {"id": str(c["root"].id)}))["data"][
        "target"
    ]

    assert (seen["value"], seen["actual"], seen["attainment"]) == ("100000", "30000", "0.3000")
    assert sorted((ch["value"], ch["actual"]) for ch in seen["children"]) == [
        ("40000", "0"),
        ("60000", "30000"),
    ]
    assert ben_sees is None


CREATE = """mutation ($input: CreateTargetPlanInput!) { createTargetPlan(input: $input) {
  __typename ... on Target { id value status } ... on UserError { code message field } } }"""
INBOX = "{ me { notifications(first: 10) { edges { node { kind title } } } } }"


async def test_given_an_admin_when_creating_a_plan_then_owner_told_and_bad_input_named(api: Api):
    c = await _company()
    admin, boss = api.as_(c["t"], c["admin"]), api.as_(c["t"], c["boss"])
    base = {
        "key": "q1",
        "period": "2027-Q1",
        "measure": "bookings",
        "currency": "EUR",
        "ownerId": str(c["boss"].id),
    }

    created = await admin.gql(CREATE, {"input": {**base, "amount": "1200.50"}})
    negative = await admin.gql(CREATE, {"input": {**base, "key": "q1b", "amount": "-1"}})
    cents = await admin.gql(CREATE, {"input": {**base, "key": "q1c", "amount": "1.005"}})
    by_manager = await boss.gql(CREATE, {"input": {**base, "key": "q1d", "amount": "1"}})
    # its publish once crashed: the day after 9999-12-31 overflows `date`
    end_of_time = await admin.gql(
        CREATE, {"input": {**base, "key": "q1e", "period": "9999-Q4", "amount": "1"}}
    )
    inbox = (await boss.gql(INBOX))["data"]["me"]["notifications"]["edges"]

    assert created["data"]["createTargetPlan"]["value"] == "1200.5"
    assert created["data"]["createTargetPlan"]["status"] == "VALIDATED"
    assert negative["data"]["createTargetPlan"]["field"] == "amount"
    assert cents["data"]["createTargetPlan"]["field"] == "amount"
    assert h.codes(by_manager) == ["FORBIDDEN"]
    assert end_of_time["data"]["createTargetPlan"] == {
        "__typename": "UserError",
        "code": "INVALID_PERIOD",
        "message": "year 9999 is outside the years Podium accepts (1900 to 2199) in period "
        "'9999-Q4'",
        "field": "period",
    }
    # one for the company's plan, one for this one; nothing for the refused ones
    assert [e["node"] for e in inbox] == [{"kind": "TARGET", "title": "A target to allocate"}] * 2


async def test_given_a_closed_month_when_publishing_then_user_error_names_the_period(api: Api):
    from domain.earnings.service import close_period

    c = await _company()
    boss, admin = api.as_(c["t"], c["boss"]), api.as_(c["t"], c["admin"])
    await boss.gql(ALLOCATE, _allocate(c["root"].id, [(c["ana"], "60000"), (c["ben"], "40000")]))
    await boss.gql(PROPOSE, {"id": str(c["root"].id)})
    await admin.gql(VALIDATE, {"id": str(c["root"].id)})
    await close_period(viewer=h.system(c["t"]), period="2026-12")

    published = await admin.gql(PUBLISH, {"id": str(c["plan"].id)})
    by_boss = await boss.gql(PUBLISH, {"id": str(c["plan"].id)})

    error = published["data"]["publishTargets"]
    assert (error["code"], error["field"]) == ("INVALID_PERIOD", "period")
    assert h.codes(by_boss) == ["FORBIDDEN"]


TREE = """query ($id: ID!) { target(id: $id) {
  value actual person { displayName }
  children { value actual attainment person { displayName }
    children { value actual person { displayName } } } } }"""


async def _tree_queries(api: Api, slug: str, managers: int, reps: int, caplog: Any) -> int:
    """The SELECTs an admin's read of a three-level target tree costs (tortoise's query log)."""
    t = await h.tenant(slug)
    admin = await h.person(t, f"{slug}-admin", role=Role.ADMIN)
    boss = await h.person(t, f"{slug}-boss", role=Role.MANAGER)
    plan = await create_target_plan(
        viewer=h.system(t),
        key="q",
        period="2026-Q4",
        measure="bookings",
        amount=Decimal(managers * reps * 100),
        currency="EUR",
        owner_id=boss.id,
    )
    root = await StoredTarget.get(plan_id=plan.id, parent_id=None)
    for m in range(managers):
        mgr = await h.person(t, f"{slug}-m{m}", role=Role.MANAGER, manager=boss)
        middle = await StoredTarget.create(
            tenant_id=t.id, plan_id=plan.id, parent_id=root.id, user_id=mgr.id, value=reps * 100
        )
        for r in range(reps):
            rep = await h.person(t, f"{slug}-m{m}-r{r}", manager=mgr)
            await StoredTarget.create(
                tenant_id=t.id, plan_id=plan.id, parent_id=middle.id, user_id=rep.id, value=100
            )
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
        data = await api.as_(t, admin).gql(TREE, {"id": str(root.id)})
    assert "errors" not in data, data
    tree = data["data"]["target"]
    assert len(tree["children"]) == managers
    assert sum(len(c["children"]) for c in tree["children"]) == managers * reps
    assert tree["children"][0]["children"][0]["person"]["displayName"]
    return sum(
        1
        for r in caplog.records
        if r.name == "tortoise.db_client" and r.getMessage().lstrip().upper().startswith("SELECT")
    )


async def test_given_target_trees_of_two_sizes_when_read_then_the_queries_do_not_grow(
    api: Api, caplog: Any
):
    small = await _tree_queries(api, "small", managers=2, reps=2, caplog=caplog)  # 7 targets
    large = await _tree_queries(api, "large", managers=4, reps=5, caplog=caplog)  # 25 targets

    assert small > 0
    assert large == small


PLANS = "query ($p: String!) { targetPlans(period: $p) { key version status amount unit } }"


async def test_given_plans_when_listed_then_admins_see_all_managers_their_subtrees_reps_none(
    api: Api,
):
    c = await _company()
    zed = await h.person(c["t"], "acme-zed", role=Role.MANAGER)
    await create_target_plan(
        viewer=h.system(c["t"]),
        key="other",
        period="2026-Q4",
        measure="units",
        amount=Decimal(40),
        currency=None,
        owner_id=zed.id,
    )
    stranger = await _company("beta")

    as_admin = await api.as_(c["t"], c["admin"]).gql(PLANS, {"p": "2026-Q4"})
    as_boss = await api.as_(c["t"], c["boss"]).gql(PLANS, {"p": "2026-Q4"})
    as_ana = await api.as_(c["t"], c["ana"]).gql(PLANS, {"p": "2026-Q4"})
    bad = await api.as_(c["t"], c["admin"]).gql(PLANS, {"p": "2026-Q9"})
    later = await api.as_(c["t"], c["admin"]).gql(PLANS, {"p": "2027-Q1"})

    assert as_admin["data"]["targetPlans"] == [
        {"key": "other", "version": 1, "status": "DRAFT", "amount": "40", "unit": "COUNT"},
        {"key": "q", "version": 1, "status": "DRAFT", "amount": "100000", "unit": "EUR"},
    ]
    assert [p["key"] for p in as_boss["data"]["targetPlans"]] == ["q"]
    assert h.codes(as_ana) == ["FORBIDDEN"]
    assert h.codes(bad) == ["BAD_USER_INPUT"]
    assert later["data"]["targetPlans"] == []
    theirs = await api.as_(stranger["t"], stranger["admin"]).gql(PLANS, {"p": "2026-Q4"})
    assert [p["key"] for p in theirs["data"]["targetPlans"]] == ["q"]


PUBLISH_FROM = """mutation ($id: ID!, $from: Date) {
  publishTargets(planId: $id, effectiveFrom: $from) {
    __typename ... on Target { status } ... on UserError { code message field } } }"""
VERSIONS = """query ($p: String!) { targetPlans(period: $p) {
  key status quotaKey effectiveFrom breakdown { key value } } }"""


async def test_given_a_breakdown_target_when_published_from_a_date_then_its_quotas_and_recomputes(
    api: Api, redis: Any
):
    from datetime import UTC, datetime

    from domain.ingest.models import RecomputeRequest
    from domain.kit.periods import period_containing
    from domain.plans.models import Quota

    today = datetime.now(UTC).date()
    quarter = period_containing(today, "quarter")
    c = await _company()
    admin = api.as_(c["t"], c["admin"])
    plan = await create_target_plan(
        viewer=h.system(c["t"]),
        key="hp",
        period=quarter.id,
        measure="bookings",
        amount=Decimal("6000.00"),
        currency="EUR",
        owner_id=c["boss"].id,
        breakdown_field="category",
        breakdown_value="heat_pump",
    )
    root = await StoredTarget.get(plan_id=plan.id, parent_id=None)
    boss = api.as_(c["t"], c["boss"])
    await boss.gql(ALLOCATE, _allocate(root.id, [(c["ana"], "4000"), (c["ben"], "2000")]))
    await boss.gql(PROPOSE, {"id": str(root.id)})
    await admin.gql(VALIDATE, {"id": str(root.id)})

    outside = await admin.gql(
        PUBLISH_FROM, {"id": str(plan.id), "from": quarter.next().start.isoformat()}
    )
    published = await admin.gql(PUBLISH_FROM, {"id": str(plan.id), "from": today.isoformat()})
    [version] = [
        v
        for v in (await admin.gql(VERSIONS, {"p": quarter.id}))["data"]["targetPlans"]
        if v["key"] == "hp"
    ]

    error = outside["data"]["publishTargets"]
    assert (error["code"], error["field"]) == ("INVALID_INPUT", "effectiveFrom")
    assert published["data"]["publishTargets"]["status"] == "PUBLISHED"
    month = period_containing(today, "month")
    assert version == {
        "key": "hp",
        "status": "PUBLISHED",
        "quotaKey": "bookings[category=heat_pump]",
        "effectiveFrom": month.start.isoformat(),  # a first version: from its month's start
        "breakdown": [{"key": "category", "value": "heat_pump"}],
    }
    quotas = await Quota.filter(user_id=c["ana"].id).values_list("measure", "period")
    assert {m for m, _ in quotas} == {"bookings[category=heat_pump]"}
    assert month.id in {p for _, p in quotas}
    # this month has started: its people's earnings are recomputed by the workers
    assert (c["ana"].id, month.id) in {(r.user_id, r.period) for r in await RecomputeRequest.all()}
    queued = await redis.zrange("arq:queue", 0, -1)
    assert f"recompute:{c['t'].id}".encode() in queued, queued
