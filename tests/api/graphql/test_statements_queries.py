"""A list of statements reads each of their fields (lines, invoice, credit note, disputes
with comments, versions, draw balance) in a batch: the same number of queries for 1
statement as for 20 (DataLoaders of the request, api/graphql/context.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from asyncpg.connection import Connection

from domain.plans.models import PlanAssignment
from payments.disputes.models import Dispute, DisputeComment
from payments.draws.service import set_draw
from payments.invoices.models import Invoice
from payments.statements.models import Statement, StatementLine
from tests.api.graphql.helpers import Api
from tests.payments.helpers import make_world

STATEMENTS = """
query($first: Int!) { me { statements(first: $first) { edges { node {
  period total { amount }
  lines { edges { node { kind description amount { amount } } } }
  invoice { number cancelledByNumber } creditNote { number cancelsNumber }
  disputes { status comments { body } }
  versions { version status }
  drawBalance { amount }
} } } } }
"""


@contextmanager
def counted_queries() -> Iterator[list[str]]:
    """Every statement sent to PostgreSQL (by asyncpg, whoever calls it) while inside."""
    sent: list[str] = []
    originals = {}
    for name in ("fetch", "fetchrow", "fetchval", "execute", "executemany"):
        original = getattr(Connection, name)
        originals[name] = original

        def counting(self: Connection, query: str, *args: Any, _original: Any = original,
                     **kwargs: Any) -> Any:  # fmt: skip
            sent.append(query)
            return _original(self, query, *args, **kwargs)

        setattr(Connection, name, counting)
    try:
        yield sent
    finally:
        for name, original in originals.items():
            setattr(Connection, name, original)


async def _statements(world: Any, count: int) -> None:
    ann = world["ann"]
    assignment = await PlanAssignment.get(user_id=ann.id)
    terms = {"amount": Decimal("200"), "recoverable": True, "recovery_share": Decimal("0.5")}
    await set_draw(viewer=world.viewer("admin"), assignment_id=assignment.id, **terms)
    for n in range(count):
        period = f"{2025 + n // 12}-{n % 12 + 1:02d}"
        old = await Statement.create(
            tenant_id=world.tenant.id, user_id=ann.id, period=period, currency="EUR",
            version=1, current=False, status="approved", total=Decimal("100"),
        )  # fmt: skip
        new = await Statement.create(
            tenant_id=world.tenant.id, user_id=ann.id, period=period, currency="EUR",
            version=2, current=True, status="approved", total=Decimal("150"),
        )  # fmt: skip
        for i, amount in enumerate(("100", "50")):
            await StatementLine.create(
                statement_id=new.id, tenant_id=world.tenant.id, position=i, kind="earnings",
                amount=Decimal(amount), source=f"result:x:{i}",
                params={"component": "commission", "component_name": "Commission", "plan": "AE"},
            )  # fmt: skip
        dispute = await Dispute.create(
            tenant_id=world.tenant.id, statement_id=old.id, user_id=ann.id, period=period,
            message="Missing a deal", status="accepted",
        )  # fmt: skip
        await DisputeComment.create(dispute_id=dispute.id, author_label="Ann", body="See t9")
        invoice = await Invoice.create(
            tenant_id=world.tenant.id, statement_id=new.id, user_id=ann.id, year=2026,
            sequence=n + 1, number=f"2026-{n + 1:06d}", currency="EUR", net=Decimal("150"),
            payable=Decimal("150"), legal={"legal_name": "Ann GmbH", "tax_id": None},
        )  # fmt: skip
        assert invoice.kind == "invoice"


async def _queries_for(api: Api, count: int) -> tuple[int, dict[str, Any]]:
    world = await make_world(slug=f"t{count}")
    await _statements(world, count)
    ann = api.as_(world.tenant, world["ann"])
    await ann.gql(STATEMENTS, {"first": count})  # warm: the app's first request reads more
    with counted_queries() as sent:
        result = await ann.gql(STATEMENTS, {"first": count})
    assert "errors" not in result, result
    return len(sent), result


@pytest.mark.usefixtures("db")
async def test_given_1_or_20_statements_then_the_same_number_of_queries(api: Api):
    one, _ = await _queries_for(api, 1)
    twenty, result = await _queries_for(api, 20)

    edges = result["data"]["me"]["statements"]["edges"]
    assert len(edges) == 20
    node = edges[0]["node"]
    assert [ln["node"]["amount"]["amount"] for ln in node["lines"]["edges"]] == ["100.00", "50.00"]
    assert node["invoice"]["number"].startswith("2026-")
    assert node["creditNote"] is None
    assert [v["version"] for v in node["versions"]] == [1, 2]
    assert node["disputes"] == [{"status": "ACCEPTED", "comments": [{"body": "See t9"}]}]
    assert node["drawBalance"] == {"amount": "0.00"}
    assert twenty == one, (one, twenty)
