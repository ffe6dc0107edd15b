"""A live subscription's memory stays flat however many events it pushes.

graphql-core 3.3 executes each event with a shallow copy of the subscription's executor,
which shared its memo of collected subfields; the memo is keyed by the identity of field
lists that every event makes anew, so each push added entries that lived as long as the
subscription (`api.graphql.schema.PerEventExecutor` gives each event its own memo). The same
subscription on graphql-core's own executor is the control: if it stops growing, graphql-core
fixed it and `PerEventExecutor` can go."""

from __future__ import annotations

import gc
from collections.abc import AsyncGenerator

import strawberry
from graphql import Executor, GraphQLSchema

from api.graphql.schema import PerEventExecutor, schema


@strawberry.type
class Entry:
    rank: int
    name: str


@strawberry.type
class Board:
    entries: list[Entry]


@strawberry.type
class Query:
    hello: str = "hi"


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def board(self, pushes: int) -> AsyncGenerator[Board, None]:
        for _ in range(pushes):
            yield Board(entries=[Entry(rank=i, name=f"r{i}") for i in range(3)])


def _memo_entries(graphql_schema: GraphQLSchema) -> int:
    """The entries of the subfield memos of the executors alive for ``graphql_schema``."""
    return sum(
        len(o._relevant_sub_fields)
        for o in gc.get_objects()
        if isinstance(o, Executor) and o.schema is graphql_schema
    )


async def _alive_after(executor: type[PerEventExecutor] | None, pushes: int) -> int:
    """The memo entries alive once ``pushes`` events were pushed, the subscription open."""
    small = strawberry.Schema(
        query=Query, subscription=Subscription, execution_context_class=executor
    )
    stream = await small.subscribe(
        "subscription Board($n: Int!) { board(pushes: $n) { entries { rank name } } }",
        variable_values={"n": pushes},
    )
    assert not hasattr(stream, "errors"), stream
    seen = 0
    try:
        async for result in stream:
            assert result.errors is None, result.errors
            seen += 1
            if seen == pushes:
                return _memo_entries(small._schema)
    finally:
        await stream.aclose()
    raise AssertionError(f"{seen} events of {pushes}")


async def test_each_event_has_its_own_memo() -> None:
    few, many = await _alive_after(PerEventExecutor, 10), await _alive_after(PerEventExecutor, 300)
    assert few == many, (few, many)


async def test_the_shared_memo_grows_with_every_push_on_graphql_cores_executor() -> None:
    few, many = await _alive_after(None, 10), await _alive_after(None, 300)
    assert many - few >= 290 * 2, (few, many)  # two entries a push here


def test_the_api_schema_executes_with_it() -> None:
    assert schema.execution_context_class is PerEventExecutor
