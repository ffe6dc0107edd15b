"""A month of more people than PostgreSQL takes parameters in one statement (32,767): the
statement build's reads by person go in chunks (the leaderboard benchmark's 100,000-rep close
failed on them)."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

from payments.draws.service import draws_for
from payments.invoices.service import issue_invoices
from payments.statements.models import Statement
from tests.domain.builders import make_tenant, system_viewer

PEOPLE = 40_000


async def test_given_more_people_than_a_statement_takes_parameters_then_draws_and_invoices_read(
    db,
):
    tenant = await make_tenant(slug="many")
    viewer = system_viewer(tenant)
    earnings = {(uuid4(), "EUR"): Decimal(100) for _ in range(PEOPLE)}

    assert await draws_for(viewer, "2026-10", earnings) == ([], [])

    statements = [
        Statement(
            id=uuid4(),
            tenant_id=tenant.id,
            user_id=user_id,
            period="2026-10",
            currency="EUR",
            version=2,
            total=Decimal(100),
        )  # fmt: skip
        for user_id, _ in earnings
    ]
    assert await issue_invoices(viewer=viewer, statements=statements) == []
