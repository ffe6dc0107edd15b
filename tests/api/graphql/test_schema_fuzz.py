"""Every query and mutation of schema.graphql, generated from the schema (hypothesis-graphql)
with hostile argument values (empty, control and far-off Unicode text, huge and negative
numbers, dates of year 1 and 9999, NaN and infinite decimals), sent by each role of the demo
tenant: each answer is a 200 with data or coded errors, never a 5xx, an internal error or a
traceback. The operations are drawn once, from a fixed seed, so a failure reproduces."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes
from hypothesis_graphql import strategies as gql
from tortoise.transactions import in_transaction

from api.demo.seed import DEMO_SLUG, TOKEN_PEOPLE, seed_demo
from domain.org.models import User
from domain.tenants.models import Tenant
from tests.api.graphql.helpers import Api
from tests.api.graphql.test_hostile_requests import TRACE_WORDS

SCHEMA = (Path(__file__).resolve().parents[3] / "schema.graphql").read_text()
PER_KIND = 60  # operations per role, of queries and of mutations
_text = st.text(max_size=40)
SCALARS = {
    "Date": st.one_of(st.dates().map(str), _text).map(nodes.String),
    "DateTime": st.one_of(st.datetimes().map(lambda d: f"{d.isoformat()}Z"), _text).map(
        nodes.String
    ),
    "Decimal": st.one_of(
        st.decimals().map(str), st.integers().map(str), st.just("1e999999999"), _text
    ).map(nodes.String),
    "JSON": st.one_of(_text.map(nodes.String), st.integers().map(nodes.Int)),
}


def drawn(kind: str) -> list[str]:
    """``PER_KIND`` operations of ``kind`` (queries, mutations), the same on every run."""
    found: list[str] = []
    strategy = gql.queries if kind == "queries" else gql.mutations

    @settings(
        max_examples=PER_KIND,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy(SCHEMA, custom_scalars=SCALARS))
    def collect(operation: str) -> None:
        found.append(operation)

    collect()
    return found


@pytest.mark.parametrize("kind", ["queries", "mutations"])
async def test_given_generated_operations_of_every_role_then_no_internal_error(api: Api, kind: str):
    async with in_transaction():
        await seed_demo()
    tenant = await Tenant.get(slug=DEMO_SLUG)
    operations = drawn(kind)
    failures: list[str] = []
    answered = 0
    for _, external_id in TOKEN_PEOPLE:
        person = await User.get(tenant_id=tenant.id, external_id=external_id)
        as_person = api.as_(tenant, person)
        for operation in operations:
            started = time.perf_counter()
            response = await as_person.post({"query": operation})
            seconds = time.perf_counter() - started
            text = response.text
            if (
                response.status_code >= 500
                or "INTERNAL_SERVER_ERROR" in text
                or any(word in text for word in TRACE_WORDS)
                or seconds > 2.0
            ):
                failures.append(f"{external_id} {response.status_code} {seconds:.1f}s: "
                                f"{text[:300]}\n{operation[:600]}")  # fmt: skip
            answered += response.status_code == 200

    assert len(set(operations)) > PER_KIND // 2  # drawn, not one operation again and again
    assert failures == []
    assert answered == len(operations) * len(TOKEN_PEOPLE)
