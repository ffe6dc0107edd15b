"""Done when, on the demo tenant through the API: the north team's first-month statements
wait for their manager; Emil disputes a line, the manager approves the others (Emil's is
held), resolves the dispute with an adjustment, approves Emil, adjusts him again (version 2)
and approves again; the admin closes the next month through closePeriod and the workers'
close job, and rep-south-01's statement of it claws back the deal cancelled after payment."""

from __future__ import annotations

from datetime import date

from graphql import print_ast
from tortoise.transactions import in_transaction

from api.demo.seed import seed_demo
from domain.org.models import User
from tests.api.graphql.helpers import Api
from tests.api.graphql.test_contract import operation_document
from workers.tasks.earnings import close_chunks

TODAY = date(2026, 11, 23)
MY_STATEMENTS = print_ast(operation_document("MyStatements"))
STATEMENT = print_ast(operation_document("Statement"))
RAISE = print_ast(operation_document("RaiseDispute"))
APPROVE = print_ast(operation_document("ApproveStatements"))
RESOLVE = print_ast(operation_document("ResolveDispute"))
ADJUST = print_ast(operation_document("AddAdjustment"))
CLOSE = """mutation($period: String!) { closePeriod(period: $period) {
  __typename ... on PeriodClose { people } ... on UserError { field } } }"""


async def test_given_the_demo_then_close_approve_dispute_adjust_reapprove_and_claw_back(
    api: Api, redis
):
    async with in_transaction():
        summary = await seed_demo(today=TODAY)
    t = summary.tenant
    first, second = summary.periods[0], summary.periods[1]
    people = {u.external_id: u for u in await User.filter(tenant_id=t.id)}
    emil, henrik = api.as_(t, people["rep-north-01"]), api.as_(t, people["mgr-north"])

    mine = (await emil.gql(MY_STATEMENTS))["data"]["me"]["statements"]["edges"]
    statement = next(e["node"] for e in mine if e["node"]["period"] == first)
    assert statement["status"] == "DRAFT"
    read = (await emil.gql(STATEMENT, {"id": statement["id"]}))["data"]["statement"]
    line = read["lines"]["edges"][0]["node"]
    raised = await emil.gql(
        RAISE, {"statementId": statement["id"], "lineId": line["id"], "message": "Missing sale"}
    )
    dispute = raised["data"]["raiseDispute"]
    assert dispute["status"] == "OPEN"

    approved = (await henrik.gql(APPROVE, {"period": first}))["data"]["approveStatements"]
    assert approved["skipped"] == 1
    assert approved["approved"] >= 1

    answer = {"id": dispute["id"], "accept": True, "comment": "Added by hand", "adjustment": "45"}
    resolved = await henrik.gql(RESOLVE, {"input": answer})
    assert resolved["data"]["resolveDispute"]["status"] == "ACCEPTED"
    emil_id = str(people["rep-north-01"].id)
    again = await henrik.gql(APPROVE, {"period": first, "repIds": [emil_id]})
    assert again["data"]["approveStatements"] == {
        "__typename": "ApprovalResult", "approved": 1, "skipped": 0,
    }  # fmt: skip
    adjusted = await henrik.gql(ADJUST, {"input": {
        "repId": emil_id, "period": first, "amount": "-20.00", "currency": "EUR",
        "reason": "Parking fine"}})  # fmt: skip
    assert adjusted["data"]["addAdjustment"]["__typename"] == "Adjustment"
    now = (await emil.gql(MY_STATEMENTS))["data"]["me"]["statements"]["edges"]
    revised = next(e["node"] for e in now if e["node"]["period"] == first)
    assert revised["status"] == "DRAFT"
    third = await henrik.gql(APPROVE, {"period": first, "repIds": [emil_id]})
    assert third["data"]["approveStatements"]["approved"] == 1
    versions = (await emil.gql(STATEMENT, {"id": revised["id"]}))["data"]["statement"]
    assert versions["version"] == 2
    assert versions["status"] == "APPROVED"
    old = (await emil.gql(STATEMENT, {"id": statement["id"]}))["data"]["statement"]
    assert (old["version"], old["status"]) == (1, "APPROVED")

    admin = api.as_(t, people["admin"])
    started = await admin.gql(CLOSE, {"period": second})
    assert started["data"]["closePeriod"]["__typename"] == "PeriodClose"
    queued = [j for j in await redis.zrange("arq:queue", 0, -1) if j.startswith(b"close:")]
    await close_chunks({}, str(t.id), int(queued[0].split(b":")[1]))

    south = api.as_(t, people["rep-south-01"])
    edges = (await south.gql(MY_STATEMENTS))["data"]["me"]["statements"]["edges"]
    november = next(e["node"] for e in edges if e["node"]["period"] == second)
    lines = (await south.gql(STATEMENT, {"id": november["id"]}))["data"]["statement"]["lines"]
    clawbacks = [e["node"] for e in lines["edges"] if e["node"]["kind"] == "CLAWBACK"]
    assert clawbacks
    assert all(c["amount"]["amount"].startswith("-") for c in clawbacks)
    assert all("Clawback" in c["description"] for c in clawbacks)
