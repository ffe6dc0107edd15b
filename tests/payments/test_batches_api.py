"""The client's own payout operations (CreatePayoutBatch, ApprovePayoutBatch,
ExecutePayoutBatch, PayoutBatch, from tests/spec/client-operations.graphql unchanged) through
the app: each refusal a UserError naming its field; execution queued as an arq job in Redis
(one job id per batch), run here as the worker runs it, against the Stripe stand-in."""

from __future__ import annotations

from typing import Any

from graphql import print_ast

from api.settings import DEVELOPMENT_PAYOUT_DETAILS_SECRET as SECRET
from payments.methods.sandbox.stripe_connect import StripeStandIn, dumps
from tests.api.graphql.helpers import Api
from tests.api.graphql.test_contract import operation_document
from tests.payments.test_batches import _world, standin  # noqa: F401 - the fixture
from workers.tasks.payouts import execute_payout_batch

CREATE, APPROVE, EXECUTE, READ = (
    print_ast(operation_document(name))
    for name in ("CreatePayoutBatch", "ApprovePayoutBatch", "ExecutePayoutBatch", "PayoutBatch")
)
REPORT = (
    "query ($y: Int!) { paidByPayee(year: $y) { rep { id } total { amount currency } "
    "form1099Nec } }"
)


def _data(result: dict[str, Any], field: str) -> dict[str, Any]:
    assert "errors" not in result, result
    out: dict[str, Any] = result["data"][field]
    return out


async def test_given_the_client_operations_then_a_batch_is_created_approved_executed_and_read(
    api: Api,
    redis: Any,
    standin: StripeStandIn,  # noqa: F811
):
    w = await _world(standin)
    ops, admin, ann = (api.as_(w.tenant, w[k]) for k in ("ops", "admin", "ann"))

    created = _data(await ops.gql(CREATE, {"input": {"period": "2026-10", "method": "STRIPE"}}),
                    "createPayoutBatch")  # fmt: skip
    assert created["__typename"] == "PayoutBatch"
    assert (created["status"], created["method"], created["itemCount"]) == ("DRAFT", "STRIPE", 3)
    batch_id = created["id"]

    refused = _data(await ops.gql(APPROVE, {"id": batch_id}), "approvePayoutBatch")
    assert (refused["__typename"], refused["field"]) == ("UserError", "id")
    assert "four eyes" in refused["message"]
    early = _data(await ops.gql(EXECUTE, {"id": batch_id}), "executePayoutBatch")
    assert (early["__typename"], early["field"]) == ("UserError", "id")
    bad = _data(await ops.gql(CREATE, {"input": {"period": "2026-10", "method": "NACHA_FILE"}}),
                "createPayoutBatch")  # fmt: skip
    assert (bad["__typename"], bad["field"]) == ("UserError", "method")
    forbidden = await ann.gql(CREATE, {"input": {"period": "2026-10", "method": "STRIPE"}})
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await ann.gql(READ, {"id": batch_id}))["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    approved = _data(await admin.gql(APPROVE, {"id": batch_id}), "approvePayoutBatch")
    assert approved == {"__typename": "PayoutBatch", "id": batch_id, "status": "APPROVED"}
    executing = _data(await ops.gql(EXECUTE, {"id": batch_id}), "executePayoutBatch")
    assert executing["status"] == "EXECUTING"
    again = _data(await admin.gql(EXECUTE, {"id": batch_id}), "executePayoutBatch")
    assert again["status"] == "EXECUTING"
    # one job for both calls, in arq's queue
    assert await redis.exists(f"arq:job:payout:{batch_id}") == 1

    left = await execute_payout_batch({"payout_details_secret": SECRET}, str(w.tenant.id), batch_id)

    assert left == 0
    read = _data(await ops.gql(READ, {"id": batch_id}), "payoutBatch")
    assert (read["status"], read["method"], read["fileUrl"]) == ("DONE", "STRIPE", None)
    nodes = {e["node"]["rep"]["displayName"]: e["node"] for e in read["items"]["edges"]}
    assert {k: v["status"] for k, v in nodes.items()} == {
        w["ann"].display_name: "PAID", w["bob"].display_name: "PAID",
        w["cat"].display_name: "FAILED",
    }  # fmt: skip
    assert nodes[w["cat"].display_name]["failureReason"] == "the payee has no payout details"
    assert nodes[w["ann"].display_name]["amount"]["currency"] == "EUR"
    assert len(standin.transfers) == 2
    assert (await ops.gql(READ, {"id": "00000000-0000-0000-0000-000000000000"}))["data"] == {
        "payoutBatch": None
    }
    report = _data(await ops.gql(REPORT, {"y": 2026}), "paidByPayee")
    assert sorted(r["rep"]["id"] for r in report) == sorted([str(w["ann"].id), str(w["bob"].id)])


async def test_given_a_signed_stripe_reversal_then_the_item_fails_and_its_statement_is_unpaid(
    api: Api,
    standin: StripeStandIn,  # noqa: F811
):
    import time

    import stripe

    from payments.batches.models import ItemStatus, PayoutItem
    from payments.statements.models import Statement
    from tests.payments.test_batches import _approved, _execute

    w = await _world(standin)
    batch = await _approved(w, rep_ids=[w["ann"].id])
    await _execute(w, batch)
    [item] = await PayoutItem.filter(batch_id=batch.id)
    [transfer] = standin.transfers
    payload = dumps(standin.event("transfer.reversed", transfer))
    header = stripe.WebhookSignature.generate_signature_header(
        payload, "whsec_testSecret0000000000001", int(time.time())
    )
    headers = {"Stripe-Signature": header, "Content-Type": "application/json"}

    first = await api.http.post("/webhooks/stripe/acme", content=payload, headers=headers)
    tampered = payload.replace("transfer.reversed", "payout.paid")
    forged = await api.http.post("/webhooks/stripe/acme", content=tampered, headers=headers)
    again = await api.http.post("/webhooks/stripe/acme", content=payload, headers=headers)

    assert (first.status_code, again.status_code, forged.status_code) == (202, 202, 401)
    assert again.json()["duplicate"] is True
    await item.refresh_from_db()
    assert item.status is ItemStatus.FAILED
    assert item.failure_reason == "Stripe: the transfer was reversed"
    statement = await Statement.get(id=item.statement_id)
    assert statement.status == "approved"


async def test_given_an_executed_sepa_batch_then_its_file_behind_a_signed_link_and_confirmed(
    api: Api,
):
    from payments.batches.files import set_file_origin
    from payments.payouts.models import PayoutMethod
    from tests.payments.test_batch_files import DEBTOR, _run
    from tests.payments.test_batch_files import _world as file_world

    w = await file_world(PayoutMethod.SEPA_FILE)
    await set_file_origin(viewer=w.viewer("ops"), method=PayoutMethod.SEPA_FILE, values=DEBTOR)
    batch = await _run(w, PayoutMethod.SEPA_FILE)
    ops = api.as_(w.tenant, w["ops"])

    url = _data(await ops.gql(READ, {"id": str(batch.id)}), "payoutBatch")["fileUrl"]
    path = url.split("://", 1)[1].split("/", 1)[1]
    got = await api.http.get("/" + path)
    tampered = await api.http.get("/" + path.replace("sig=", "sig=0"))

    assert got.status_code == 200
    assert got.content == bytes(batch.file_content or b"")
    assert got.headers["content-type"].startswith("application/xml")
    assert tampered.status_code == 403
    confirm = (
        "mutation ($id: ID!) { confirmPayoutBatch(id: $id) { __typename ... on UserError "
        "{ field } } }"
    )
    assert _data(await ops.gql(confirm, {"id": str(batch.id)}), "confirmPayoutBatch") == {
        "__typename": "PayoutBatch"
    }
    again = _data(await ops.gql(confirm, {"id": str(batch.id)}), "confirmPayoutBatch")
    assert again["__typename"] == "UserError"
