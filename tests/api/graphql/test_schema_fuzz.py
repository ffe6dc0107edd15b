"""Every query and mutation of schema.graphql, generated from the schema (hypothesis-graphql)
with hostile argument values (empty, control and far-off Unicode text, huge and negative
numbers, dates of year 1 and 9999, NaN and infinite decimals), sent by each role of the demo
tenant: each answer holds data or coded errors (every error has extensions.code), never a
5xx, an internal error or a traceback. The operations are drawn once, from a fixed
seed, so a failure reproduces."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    OperationDefinitionNode,
    Undefined,
    print_ast,
    type_from_ast,
)
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes
from hypothesis_graphql import strategies as gql
from tortoise import connections
from tortoise.transactions import in_transaction

from api.demo.seed import DEMO_SLUG, TOKEN_PEOPLE, seed_demo
from domain.org.models import User
from domain.tenants.models import Tenant
from tests.api.graphql.helpers import Api
from tests.api.graphql.test_contract import client_document, operation_document, sdl_schema
from tests.api.graphql.test_hostile_requests import TRACE_WORDS

SCHEMA = (Path(__file__).resolve().parents[3] / "schema.graphql").read_text()
PER_KIND = 60  # operations per role, of queries and of mutations
OPERATION_DRAWS = 25  # variables drawn per operation of the apps
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


def draws(strategy: st.SearchStrategy[Any], count: int) -> list[Any]:
    """``count`` values of ``strategy``, the same on every run."""
    found: list[Any] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: Any) -> None:
        found.append(value)

    collect()
    return found


async def fault(person: Api, body: dict[str, Any]) -> str | None:
    """What is wrong with the answer to ``body``, or None: a 5xx, an internal error or a
    traceback, an error without the extensions.code apps branch on, or over 2 s."""
    started = time.perf_counter()
    response = await person.post(body)
    seconds = time.perf_counter() - started
    text = response.text
    try:
        errors = response.json().get("errors") or []
    except ValueError:
        errors = [{}]  # not JSON: no code either
    if (
        response.status_code >= 500
        or "INTERNAL_SERVER_ERROR" in text
        or any(word in text for word in TRACE_WORDS)
        or any(not (e.get("extensions") or {}).get("code") for e in errors)
        or seconds > 2.0
    ):
        return f"{response.status_code} {seconds:.1f}s: {text[:300]}"
    return None


@pytest.mark.parametrize("kind", ["queries", "mutations"])
async def test_given_generated_operations_of_every_role_then_no_internal_error(api: Api, kind: str):
    async with in_transaction():
        await seed_demo()
    tenant = await Tenant.get(slug=DEMO_SLUG)
    strategy = gql.queries if kind == "queries" else gql.mutations
    operations: list[str] = draws(strategy(SCHEMA, custom_scalars=SCALARS), PER_KIND)
    failures: list[str] = []
    for _, external_id in TOKEN_PEOPLE:
        person = await User.get(tenant_id=tenant.id, external_id=external_id)
        as_person = api.as_(tenant, person)
        for operation in operations:
            found = await fault(as_person, {"query": operation})
            if found is not None:
                failures.append(f"{external_id} {found}\n{operation[:600]}")

    assert len(set(operations)) > PER_KIND // 2  # drawn, not one operation again and again
    assert failures == []


# ------------------------------------------------------------------ the apps' own operations

WORDS = ["2026-10", "2026-11", "2026-12", "2026-Q4", "2026", "deal", "EUR", "month", "bookings"]


def _scalar(name: str, ids: list[str]) -> st.SearchStrategy[Any]:
    return {
        "String": st.one_of(st.sampled_from(WORDS), _text),
        "ID": st.one_of(st.sampled_from(ids), _text, st.integers().map(str)),
        "Int": st.one_of(st.integers(-5, 200), st.integers()),
        "Float": st.floats(),
        "Boolean": st.booleans(),
        "Date": st.one_of(st.dates().map(str), _text),
        "DateTime": st.one_of(st.datetimes().map(lambda d: f"{d.isoformat()}Z"), _text),
        "Decimal": st.one_of(
            st.decimals(places=2, min_value=-10**6, max_value=10**6).map(str),
            st.decimals().map(str), st.just("1e999999999"), _text,
        ),
        "JSON": st.recursive(
            st.none() | st.booleans() | st.integers() | _text,
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
            max_leaves=8,
        ),
    }[name]  # fmt: skip


def _value(kind: GraphQLInputType, ids: list[str]) -> st.SearchStrategy[Any]:
    """Values of ``kind`` as JSON variables: right, wrong and hostile ones."""
    if isinstance(kind, GraphQLNonNull):
        return _inner(kind.of_type, ids)
    return st.none() | _inner(kind, ids)


def _inner(kind: GraphQLInputType, ids: list[str]) -> st.SearchStrategy[Any]:
    if isinstance(kind, GraphQLList):
        return st.lists(_value(kind.of_type, ids), max_size=3)
    if isinstance(kind, GraphQLEnumType):
        return st.sampled_from(sorted(kind.values))
    if isinstance(kind, GraphQLInputObjectType):
        required = {n: _value(f.type, ids) for n, f in kind.fields.items() if is_required(f)}
        optional = {n: _value(f.type, ids) for n, f in kind.fields.items() if not is_required(f)}
        return st.fixed_dictionaries(required, optional=optional)
    assert isinstance(kind, GraphQLScalarType)
    return _scalar(kind.name, ids)


def is_required(field: Any) -> bool:
    return isinstance(field.type, GraphQLNonNull) and field.default_value is Undefined


async def _demo_ids(tenant_id: Any) -> list[str]:
    """A few ids of every kind of row of the demo tenant: what the ID variables draw from."""
    conn = connections.get("default")
    tables = await conn.execute_query_dict(
        """
        SELECT table_name FROM information_schema.columns
        WHERE table_schema = 'public' AND column_name IN ('id', 'tenant_id')
        GROUP BY table_name HAVING count(*) = 2 ORDER BY table_name
        """
    )
    ids: list[str] = []
    for row in tables:
        found = await conn.execute_query_dict(
            f'SELECT id::text FROM "{row["table_name"]}" WHERE tenant_id = $1 ORDER BY id LIMIT 4',
            [tenant_id],
        )
        ids += [r["id"] for r in found]
    return ids


async def test_given_the_apps_operations_with_drawn_variables_then_no_internal_error(api: Api):
    """Each operation of client-operations.graphql (the apps' own), with variables drawn from
    their declared types: the demo's real ids among hostile ones, valid and broken periods,
    every enum value, input objects with and without their optional fields; each sent as a
    role drawn too."""
    async with in_transaction():
        await seed_demo()
    tenant = await Tenant.get(slug=DEMO_SLUG)
    people = [
        api.as_(tenant, await User.get(tenant_id=tenant.id, external_id=external_id))
        for _, external_id in TOKEN_PEOPLE
    ]
    ids = await _demo_ids(tenant.id)
    schema = sdl_schema()
    document = client_document()
    operations = [
        d for d in document.definitions
        if isinstance(d, OperationDefinitionNode) and d.operation.value != "subscription"
    ]  # fmt: skip
    sent: list[tuple[int, str, dict[str, Any]]] = []
    for operation in operations:
        assert operation.name is not None
        text = print_ast(operation_document(operation.name.value))
        variables = st.fixed_dictionaries(
            {
                d.variable.name.value: _value(type_from_ast(schema, d.type), ids)  # type: ignore[arg-type]
                for d in operation.variable_definitions or ()
            }
        )
        drawn_now = draws(st.tuples(st.integers(0, len(people) - 1), variables), OPERATION_DRAWS)
        sent += [(who, text, values) for who, values in drawn_now]

    failures: list[str] = []
    for who, text, values in sent:
        found = await fault(people[who], {"query": text, "variables": values})
        if found is not None:
            failures.append(f"{TOKEN_PEOPLE[who][1]} {found}\n{text[:200]}\n{values!r:.600}")

    assert len(operations) >= 30
    assert len(sent) >= len(operations) * OPERATION_DRAWS // 2
    assert failures == []
