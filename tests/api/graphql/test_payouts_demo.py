"""Done when, on the demo tenant through the client's payout operations (CreatePayoutBatch,
ApprovePayoutBatch, ExecutePayoutBatch, PayoutBatch of tests/spec/client-operations.graphql,
unchanged): a batch of every method is created by payout ops, approved by a second person,
executed by the worker's job and reconciled: Stripe Connect and gift cards against the
sandbox `podium dev` serves (the stand-ins on 127.0.0.1, the tenant pointed at them as
`podium dev` does), SEPA, NACHA (the US pilot, in dollars), the ADP payroll file and the SAP
journal written, read back and confirmed. Every item ends paid, and every statement of the
month with it."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import achkit
from graphql import print_ast
from tortoise.transactions import in_transaction

from api.demo.sandbox import connect_tenant, serving
from api.demo.seed import seed_demo
from api.settings import DEVELOPMENT_PAYOUT_DETAILS_SECRET as SECRET
from domain.kit.clock import utc_now
from domain.org.models import User
from payments.batches.models import PayoutItem
from payments.batches.service import nec_threshold
from payments.invoices.models import Invoice
from payments.methods.models import Provider
from payments.statements.models import Statement
from tests.api.graphql.helpers import Api
from tests.api.graphql.test_contract import operation_document
from tests.payments.test_batch_files import _balanced, _documents, _xmllint_accepts
from tests.payments.test_files import _hand_check
from workers.tasks.payouts import execute_payout_batch

TODAY = date(2026, 11, 23)
CREATE, APPROVE, EXECUTE, READ, APPROVE_STATEMENTS, ACCRUALS = (
    print_ast(operation_document(name))
    for name in ("CreatePayoutBatch", "ApprovePayoutBatch", "ExecutePayoutBatch", "PayoutBatch",
                 "ApproveStatements", "Accruals")
)  # fmt: skip
CONFIRM = """mutation ($id: ID!) { confirmPayoutBatch(id: $id) {
  __typename ... on PayoutBatch { id status } ... on UserError { code message field } } }"""
BATCHES = "{ payoutBatches { id status method itemCount } }"
REPORT = """query ($year: Int!) { paidByPayee(year: $year) {
  rep { id displayName } total { amount currency } form1099Nec } }"""


def _data(answer: dict[str, Any], name: str) -> Any:
    assert "errors" not in answer, answer
    return answer["data"][name]


class Demo:
    def __init__(self, api: Api, tenant: Any, people: dict[str, User], redis: Any) -> None:
        self.tenant, self.people, self.redis = tenant, people, redis
        self.ops = api.as_(tenant, people["payout-ops"])
        self.admin = api.as_(tenant, people["admin"])
        self.manager = api.as_(tenant, people["mgr-north"])
        self.http = api.http

    async def create(self, **fields: Any) -> dict[str, Any]:
        created = _data(await self.ops.gql(CREATE, {"input": fields}), "createPayoutBatch")
        assert created["__typename"] == "PayoutBatch", created
        assert (created["status"], created["method"]) == ("DRAFT", fields["method"])
        return created

    async def run(self, batch_id: str) -> dict[str, Any]:
        """Approved by the admin (its creator, payout ops, may not), executed (queued as the
        worker's job, run here as the worker runs it), read back."""
        own = _data(await self.ops.gql(APPROVE, {"id": batch_id}), "approvePayoutBatch")
        assert (own["__typename"], own["field"]) == ("UserError", "id")
        approved = _data(await self.admin.gql(APPROVE, {"id": batch_id}), "approvePayoutBatch")
        assert approved == {"__typename": "PayoutBatch", "id": batch_id, "status": "APPROVED"}
        executing = _data(await self.ops.gql(EXECUTE, {"id": batch_id}), "executePayoutBatch")
        assert executing["status"] == "EXECUTING"
        assert await self.redis.exists(f"arq:job:payout:{batch_id}") == 1
        pending = await execute_payout_batch(
            {"payout_details_secret": SECRET}, str(self.tenant.id), batch_id
        )
        assert pending == 0
        read = _data(await self.ops.gql(READ, {"id": batch_id}), "payoutBatch")
        assert read["status"] == "DONE"
        return read

    async def file(self, read: dict[str, Any]) -> bytes:
        """The batch's file through its signed link."""
        path = read["fileUrl"].split("://", 1)[1].split("/", 1)[1]
        got = await self.http.get("/" + path)
        assert got.status_code == 200
        return got.content

    async def confirm(self, batch_id: str) -> dict[str, Any]:
        confirmed = _data(await self.ops.gql(CONFIRM, {"id": batch_id}), "confirmPayoutBatch")
        assert confirmed["__typename"] == "PayoutBatch", confirmed
        return _data(await self.ops.gql(READ, {"id": batch_id}), "payoutBatch")


def _statuses(read: dict[str, Any]) -> Counter[str]:
    return Counter(e["node"]["status"] for e in read["items"]["edges"])


def _paid_to(read: dict[str, Any], people: dict[str, User]) -> dict[str, Decimal]:
    """External id → amount of each item."""
    by_id = {str(u.id): key for key, u in people.items()}
    out = {}
    for edge in read["items"]["edges"]:
        node = edge["node"]
        assert node["failureReason"] is None, node
        out[by_id[node["rep"]["id"]]] = Decimal(node["amount"]["amount"])
    return out


async def _statements_paid(batch_id: str) -> int:
    """Every statement of the batch paid, each item its total, a partner's its invoice's
    payable (the demo's German partners: + 19% VAT); how many partners' it paid."""
    items = await PayoutItem.filter(batch_id=batch_id)
    assert items
    statements = await Statement.filter(id__in=[i.statement_id for i in items])
    assert {s.status for s in statements} == {"paid"}
    invoiced = {
        i.statement_id: Decimal(i.payable)
        for i in await Invoice.filter(statement_id__in=[s.id for s in statements], kind="invoice")
    }
    assert {s.id: invoiced.get(s.id, Decimal(s.total)) for s in statements} == {
        i.statement_id: Decimal(i.amount) for i in items
    }
    return len(invoiced)


async def test_given_the_demo_and_its_sandbox_then_a_batch_of_every_method_is_paid(
    api: Api, redis: Any, tmp_path: Path
):
    async with in_transaction():
        summary = await seed_demo(today=TODAY)
    first = summary.periods[0]
    people = {u.external_id: u for u in await User.filter(tenant_id=summary.tenant.id)}
    demo = Demo(api, summary.tenant, people, redis)

    async with serving([Provider.STRIPE, Provider.GIFT_CARDS]) as sandbox:
        async with in_transaction():
            connection = await connect_tenant(
                tenant_id=summary.tenant.id, secret=SECRET, urls=sandbox.urls()
            )
        sandbox.add_accounts(connection.stripe_accounts)
        stripe, cards = sandbox.stripe, sandbox.gift_cards
        assert stripe is not None
        assert cards is not None
        assert len(connection.stripe_accounts) == 15  # the partner agents but the 05s

        # Stripe Connect: the partner agents' batch the seed left for a second pair of eyes
        [seeded] = _data(await demo.admin.gql(BATCHES), "payoutBatches")
        assert (seeded["method"], seeded["status"]) == ("STRIPE", "DRAFT")
        read = await demo.run(seeded["id"])
        assert _statuses(read) == {"PAID": seeded["itemCount"]}
        paid = _paid_to(read, people)
        assert all(k.startswith(("agent-south-", "agent-west-")) for k in paid)
        # one transfer an item, to the payee's connected account, for the item's cents
        assert len(stripe.transfers) == len(paid)
        assert stripe.stats()["duplicates_per_reference"] == 0
        assert sorted(t["amount"] for t in stripe.transfers) == sorted(
            int(a * 100) for a in paid.values()
        )
        assert {t["currency"] for t in stripe.transfers} == {"eur"}
        assert await _statements_paid(seeded["id"]) == 1  # agent-south-01, a partner

        # gift cards by e-mail: the south and west ambassadors (north's wait for its manager)
        batch = await demo.create(period=first, method="GIFT_CARD")
        read = await demo.run(batch["id"])
        assert _statuses(read) == {"PAID": 2}
        assert set(_paid_to(read, people)) == {"agent-south-05", "agent-west-05"}
        assert sorted(o["rewards"][0]["recipient"]["email"] for o in cards.orders) == [
            "agent-south-05@helios.example", "agent-west-05@helios.example",
        ]  # fmt: skip
        await _statements_paid(batch["id"])

        # the north team's month approved by its manager, for SEPA, payroll and SAP batches
        approved = _data(
            await demo.manager.gql(APPROVE_STATEMENTS, {"period": first}), "approveStatements"
        )
        assert approved["approved"] >= 10

        # a batch pays one currency: the SAP journal would take euros and dollars alike
        mixed = _data(await demo.ops.gql(CREATE, {"input": {"period": first,
                                                            "method": "CSV_FILE"}}),
                      "createPayoutBatch")  # fmt: skip
        assert (mixed["__typename"], mixed["field"]) == ("UserError", "currency")
        assert "EUR, USD" in mixed["message"]

        # NACHA: the US pilot's dollars, one balanced ACH file from the company's US bank
        batch = await demo.create(period=first, method="NACHA_FILE")
        assert batch["total"]["currency"] == "USD"
        read = await demo.run(batch["id"])
        assert _statuses(read) == {"SUBMITTED": 3}
        amounts = _paid_to(read, people)
        assert set(amounts) == set(summary.people.us_partners)
        text = (await demo.file(read)).decode("ascii")
        assert achkit.validate(text) == {"ok": True, "errors": []}
        _hand_check(text)  # 94-character records, blocking factor 10, hash and totals
        [ppd] = achkit.parse(text)["batches"]
        assert (ppd["sec"], ppd["service_class"]) == ("PPD", 200)  # credits and their offset
        credits = [e for e in ppd["entries"] if e["txn_code"] in (22, 32)]
        assert sorted(e["amount_cents"] for e in credits) == sorted(
            int(a * 100) for a in amounts.values()
        )
        total = sum(e["amount_cents"] for e in credits)
        assert ppd["control"]["total_credit"] == ppd["control"]["total_debit"] == total
        assert _statuses(await demo.confirm(batch["id"])) == {"PAID": 3}
        await _statements_paid(batch["id"])

        sepa = await demo.create(period=first, method="SEPA_FILE")
        read = await demo.run(sepa["id"])
        north_sepa = _paid_to(read, people)
        assert north_sepa
        assert all(k.startswith("rep-north-") for k in north_sepa)
        assert _statuses(read) == {"SUBMITTED": len(north_sepa)}
        xml = tmp_path / "sepa.xml"
        xml.write_bytes(await demo.file(read))
        _xmllint_accepts(xml)
        assert xml.read_text().count("<CdtTrfTxInf>") == len(north_sepa)
        assert _statuses(await demo.confirm(sepa["id"])) == {"PAID": len(north_sepa)}
        await _statements_paid(sepa["id"])

        payroll = await demo.create(period=first, method="PAYROLL_FILE")
        read = await demo.run(payroll["id"])
        employees = _paid_to(read, people)
        assert employees
        assert all(k.startswith("rep-north-") for k in employees)
        rows = list(csv.reader(io.StringIO((await demo.file(read)).decode())))
        assert rows[0][:3] == ["Co Code", "Batch ID", "File #"]
        assert len(rows) == 1 + len(employees)
        assert sum(Decimal(r[4]) for r in rows[1:]) == sum(employees.values())
        assert _statuses(await demo.confirm(payroll["id"])) == {"PAID": len(employees)}
        await _statements_paid(payroll["id"])

        # the SAP journal: whoever is left, whatever their own method (the north partner
        # agents, paid through Stripe or in gift cards otherwise), SAP's payment run pays
        sap = await demo.create(period=first, method="CSV_FILE", currency="EUR")
        read = await demo.run(sap["id"])
        agents = _paid_to(read, people)
        assert agents
        assert all(k.startswith("agent-north-") for k in agents)
        documents = _documents((await demo.file(read)).decode())
        assert sum(_balanced(d) for d in documents) == sum(agents.values())
        assert _statuses(await demo.confirm(sap["id"])) == {"PAID": len(agents)}
        await _statements_paid(sap["id"])

        # nothing was paid twice at the providers, nothing is left to pay
        assert len(stripe.transfers) == seeded["itemCount"]
        assert len(cards.orders) == 2
        nothing = _data(await demo.ops.gql(CREATE, {"input": {"period": first,
                                                              "method": "SEPA_FILE"}}),
                        "createPayoutBatch")  # fmt: skip
        assert (nothing["__typename"], nothing["field"]) == ("UserError", "period")

    unpaid = await Statement.filter(
        tenant_id=summary.tenant.id, period=first, current=True, total__gt=0
    ).exclude(status="paid")
    assert unpaid == []
    accruals = _data(await demo.ops.gql(ACCRUALS, {"period": first}), "accruals")
    # all paid but rep-west-02's month below zero: a balance owed to the company, which the
    # next month's statement carries
    assert {a["currency"]: a["outstanding"]["amount"] for a in accruals} == {
        "EUR": "-120.00", "USD": "0.00",
    }  # fmt: skip
    # reconciled per payee and year: the US partners paid their dollars, flagged for a
    # 1099-NEC when over the year's threshold
    year = utc_now().year
    report = _data(await demo.ops.gql(REPORT, {"year": year}), "paidByPayee")
    us_ids = {str(people[k].id) for k in summary.people.us_partners}
    dollars = [r for r in report if r["rep"]["id"] in us_ids]
    assert len(dollars) == 3
    for row in dollars:
        assert row["total"]["currency"] == "USD"
        assert row["form1099Nec"] == (Decimal(row["total"]["amount"]) >= nec_threshold(year))
    assert not any(r["form1099Nec"] for r in report if r["rep"]["id"] not in us_ids)
