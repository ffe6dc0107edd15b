"""Who may do each step of a target over GraphQL, and who sees what. At every step everyone
without the right tries first (a FORBIDDEN error, or NOT_FOUND for what is not theirs or
another tenant's) and nothing changes; then the one with the right does it. A manager sees
their subtree's allocation with actuals and attainment, a rep only their own target.

    admin                 boss (manager)
                          ├── mia (manager) ── ana, ben (reps)
                          └── cy (rep)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from domain.kit.periods import period_containing
from domain.org.models import Role
from domain.targets.models import Target as StoredTarget
from domain.targets.models import TargetPlan
from tests.api.graphql import helpers as h
from tests.api.graphql.helpers import Api

NEXT = period_containing(datetime.now(UTC).date(), "quarter").next()

CREATE = """mutation ($input: CreateTargetPlanInput!) { createTargetPlan(input: $input) {
  __typename ... on Target { id planId } ... on UserError { code field } } }"""
ALLOCATE = """mutation ($input: AllocateTargetInput!) { allocateTarget(input: $input) {
  __typename ... on UserError { code field } } }"""
STEP = """mutation ($id: ID!) {{ {name}(id: $id) {{
  __typename ... on UserError {{ code field }} }} }}"""
REJECT = """mutation ($id: ID!, $comment: String!) { rejectTarget(id: $id, comment: $comment) {
  __typename ... on UserError { code field } } }"""
PUBLISH = """mutation ($id: ID!) { publishTargets(planId: $id) {
  __typename ... on UserError { code field } } }"""
REVISE = """mutation ($id: ID!) { reviseTargetPlan(planId: $id) {
  __typename ... on UserError { code field } } }"""
ACCEPT = """mutation ($id: ID!) { acceptTarget(id: $id) {
  __typename ... on Target { status } ... on UserError { code field } } }"""
TARGET = """query ($id: ID!) { target(id: $id) {
  person { displayName } value actual attainment children { person { displayName } } } }"""
PLANS = """query ($p: String!) { targetPlans(period: $p) { key version status
  target { person { displayName } value actual attainment
    children { person { displayName } value children { person { displayName } } } } } }"""
ME = """{ me { targets { id value } allocationsToDo { id } allocationsToValidate { id } } }"""


def outcome(result: dict[str, Any]) -> str:
    """'ok', or the error: FORBIDDEN (a GraphQL error) or the UserError's code."""
    if result.get("errors"):
        return ",".join(h.codes(result))
    [value] = result["data"].values()
    if value is None:
        return "null"
    if value.get("__typename") == "UserError":
        return str(value["code"])
    return "ok"


async def _company() -> dict[str, Any]:
    t = await h.tenant("acme")
    admin = await h.person(t, "admin", role=Role.ADMIN)
    boss = await h.person(t, "boss", role=Role.MANAGER)
    mia = await h.person(t, "mia", role=Role.MANAGER, manager=boss)
    people = {
        "admin": admin,
        "boss": boss,
        "mia": mia,
        "ana": await h.person(t, "ana", manager=mia),
        "ben": await h.person(t, "ben", manager=mia),
        "cy": await h.person(t, "cy", manager=boss),
    }
    other = await h.tenant("other")
    people["stranger"] = await h.person(other, "stranger", role=Role.ADMIN)
    return {"t": t, "other": other, **people}


async def test_given_each_step_when_tried_by_everyone_then_only_who_has_the_right_does_it(
    api: Api,
):
    c = await _company()

    def as_(who: str) -> Api:
        return api.as_(c["other"] if who == "stranger" else c["t"], c[who])

    async def step(doc: str, variables: dict[str, Any], allowed: str, refused: dict[str, str]):
        snapshot = sorted(
            (str(t.id), t.status.value, str(t.value)) for t in await StoredTarget.all()
        )
        for who, expected in refused.items():
            assert outcome(await as_(who).gql(doc, variables)) == expected, (who, doc)
        # nothing changed for anyone refused
        assert (
            sorted((str(t.id), t.status.value, str(t.value)) for t in await StoredTarget.all())
            == snapshot
        )
        done = await as_(allowed).gql(doc, variables)
        assert outcome(done) == "ok", done
        return done

    base = {
        "key": "q",
        "period": NEXT.id,
        "measure": "bookings",
        "amount": "90000",
        "currency": "EUR",
        "ownerId": str(c["boss"].id),
    }
    created = await step(
        CREATE,
        {"input": base},
        "admin",
        {"boss": "FORBIDDEN", "ana": "FORBIDDEN", "stranger": "NOT_FOUND"},
    )
    plan_id = created["data"]["createTargetPlan"]["planId"]
    root = created["data"]["createTargetPlan"]["id"]
    equal = {"input": {"targetId": root, "method": "EQUAL"}}
    # the boss splits their own target (an admin could too); below them nobody, nor a stranger
    await step(
        ALLOCATE,
        equal,
        "boss",
        {"mia": "FORBIDDEN", "ana": "FORBIDDEN", "cy": "FORBIDDEN", "stranger": "NOT_FOUND"},
    )
    await step(
        STEP.format(name="proposeTarget"),
        {"id": root},
        "boss",
        {"mia": "FORBIDDEN", "ana": "FORBIDDEN", "stranger": "NOT_FOUND"},
    )
    # validating is for the level above: never one's own allocation
    await step(
        STEP.format(name="validateTarget"),
        {"id": root},
        "admin",
        {"boss": "FORBIDDEN", "mia": "FORBIDDEN", "ana": "FORBIDDEN", "stranger": "NOT_FOUND"},
    )
    mias = str((await StoredTarget.get(user_id=c["mia"].id)).id)
    await step(
        ALLOCATE,
        {"input": {"targetId": mias, "method": "EQUAL"}},
        "mia",
        {"cy": "FORBIDDEN", "ana": "FORBIDDEN", "stranger": "NOT_FOUND"},
    )
    await step(
        STEP.format(name="proposeTarget"),
        {"id": mias},
        "mia",
        {"cy": "FORBIDDEN", "ben": "FORBIDDEN"},
    )
    # sent back by the level above (never by its owner), then proposed again
    await step(
        REJECT,
        {"id": mias, "comment": "more for Ana"},
        "boss",
        {"mia": "FORBIDDEN", "ana": "FORBIDDEN", "cy": "FORBIDDEN", "stranger": "NOT_FOUND"},
    )
    await step(STEP.format(name="proposeTarget"), {"id": mias}, "mia", {"ana": "FORBIDDEN"})
    seen = (await as_("boss").gql(ME))["data"]["me"]["allocationsToValidate"]
    assert seen == [{"id": mias}]
    assert (await as_("mia").gql(ME))["data"]["me"]["allocationsToValidate"] == []
    await step(
        STEP.format(name="validateTarget"),
        {"id": mias},
        "boss",
        {"mia": "FORBIDDEN", "ana": "FORBIDDEN", "cy": "FORBIDDEN", "stranger": "NOT_FOUND"},
    )
    await step(
        PUBLISH,
        {"id": plan_id},
        "admin",
        {"boss": "FORBIDDEN", "mia": "FORBIDDEN", "ana": "FORBIDDEN", "stranger": "NOT_FOUND"},
    )
    anas = str((await StoredTarget.get(user_id=c["ana"].id)).id)
    # only the person accepts their own: for anyone else it does not exist
    await step(
        ACCEPT,
        {"id": anas},
        "ana",
        {
            "ben": "NOT_FOUND",
            "mia": "NOT_FOUND",
            "boss": "NOT_FOUND",
            "admin": "NOT_FOUND",
            "stranger": "NOT_FOUND",
        },
    )
    await step(
        REVISE,
        {"id": plan_id},
        "admin",
        {"boss": "FORBIDDEN", "ana": "FORBIDDEN", "stranger": "NOT_FOUND"},
    )
    assert await TargetPlan.all().count() == 2


async def test_given_a_published_tree_then_managers_see_their_subtree_and_reps_their_own(
    api: Api,
):
    c = await _company()
    created = await api.as_(c["t"], c["admin"]).gql(
        CREATE,
        {
            "input": {
                "key": "q",
                "period": NEXT.id,
                "measure": "bookings",
                "amount": "90000",
                "currency": "EUR",
                "ownerId": str(c["boss"].id),
            }
        },
    )
    root = created["data"]["createTargetPlan"]["id"]
    admin, boss, mia = (api.as_(c["t"], c[k]) for k in ("admin", "boss", "mia"))
    await boss.gql(ALLOCATE, {"input": {"targetId": root, "method": "EQUAL"}})
    await boss.gql(STEP.format(name="proposeTarget"), {"id": root})
    await admin.gql(STEP.format(name="validateTarget"), {"id": root})

    def as_(who: str) -> Api:
        return api.as_(c["other"] if who == "stranger" else c["t"], c[who])

    targets = {k: str((await StoredTarget.get(user_id=c[k].id)).id) for k in ("boss", "mia", "cy")}
    # before mia allocates: she sees her target and her plan, her reps nothing yet
    plans_of_mia = (await mia.gql(PLANS, {"p": NEXT.id}))["data"]["targetPlans"]
    assert [p["target"]["person"]["displayName"] for p in plans_of_mia] == ["Mia"]
    assert (await as_("ana").gql(ME))["data"]["me"]["targets"] == []
    await mia.gql(ALLOCATE, {"input": {"targetId": targets["mia"], "method": "EQUAL"}})
    targets |= {k: str((await StoredTarget.get(user_id=c[k].id)).id) for k in ("ana", "ben")}

    def names(result: dict[str, Any]) -> list[str]:
        found = result["data"]["target"]
        return sorted(ch["person"]["displayName"] for ch in found["children"]) if found else []

    # who sees which target: admins all, managers their subtree, reps their own
    visible = {
        "admin": {"boss", "mia", "ana", "ben", "cy"},
        "boss": {"boss", "mia", "ana", "ben", "cy"},
        "mia": {"mia", "ana", "ben"},
        "ana": {"ana"},
        "ben": {"ben"},
        "cy": {"cy"},
        "stranger": set(),
    }
    for who, theirs in visible.items():
        for owner, target_id in targets.items():
            seen = (await as_(who).gql(TARGET, {"id": target_id}))["data"]["target"]
            assert (seen is not None) == (owner in theirs), (who, owner)
    # with the allocation below and its actuals and attainment
    assert names(await mia.gql(TARGET, {"id": targets["mia"]})) == ["Ana", "Ben"]
    tree = (await boss.gql(PLANS, {"p": NEXT.id}))["data"]["targetPlans"][0]["target"]
    assert tree["person"]["displayName"] == "Boss"
    assert (tree["value"], tree["actual"], tree["attainment"]) == ("90000", "0", "0.0000")
    assert sorted(
        (ch["person"]["displayName"], sorted(g["person"]["displayName"] for g in ch["children"]))
        for ch in tree["children"]
    ) == [("Cy", []), ("Mia", ["Ana", "Ben"])]
    # a rep's view of someone else's target is nothing, and the plans are not theirs to list
    for rep in ("ana", "cy"):
        assert h.codes(await as_(rep).gql(PLANS, {"p": NEXT.id})) == ["FORBIDDEN"]
    assert (await as_("stranger").gql(PLANS, {"p": NEXT.id}))["data"]["targetPlans"] == []
