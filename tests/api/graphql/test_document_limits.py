"""Documents built to make validation slow are refused after one walk of their text: nested
fragments (each spreading the next ones several times), fragment cycles, deep introspection,
the same field repeated. The shape check's work counter proves linearity on generated
documents; over HTTP, the refusals come back coded while /health keeps answering."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import pytest
from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    get_introspection_query,
    parse,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.graphql.limits import (
    CACHEABLE_QUERY_CHARS,
    DocumentShape,
    check_shape,
    limit_extensions,
)
from api.settings import Limits
from tests.api.graphql import helpers as h
from tests.api.graphql.helpers import Api

MAX_TOKENS = Limits().max_tokens


def nested_fragments(levels: int, fanout: int, names: list[str]) -> str:
    """`levels` fragments, each spreading the next `fanout` times: fanout**levels fields."""
    frags = [
        f"fragment {names[i]} on Query {{ {' '.join(['...' + names[i + 1]] * fanout)} }}"
        for i in range(levels)
    ]
    frags.append(f"fragment {names[levels]} on Query {{ __typename }}")
    return f"query Q {{ ...{names[0]} }} " + " ".join(frags)


def selections(document_text: str) -> int:
    count = 0

    def walk(selection_set: object) -> None:
        nonlocal count
        for s in getattr(selection_set, "selections", ()):
            count += 1
            if isinstance(s, FieldNode | InlineFragmentNode):
                walk(s.selection_set)

    for definition in parse(document_text).definitions:
        walk(getattr(definition, "selection_set", None))
    return count


# varying names (a cache keyed on the text is no defence): a random stem, numbered
names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True).map(
    lambda stem: [f"{stem}_{i}" for i in range(200)]
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(levels=st.integers(1, 120), fanout=st.integers(1, 6), names=names)
def test_given_nested_fragments_when_checked_then_work_is_linear_in_the_document(
    levels: int, fanout: int, names: list[str]
):
    text = nested_fragments(levels, fanout, names)
    document = parse(text, max_tokens=MAX_TOKENS * 4)
    shape = DocumentShape(document)

    try:
        check_shape(document, max_fields=MAX_TOKENS, shape=shape)
        refused = None
    except GraphQLError as error:
        refused = error

    # each fragment is walked once, whatever it is spread by: one visit per selection at most
    assert shape.work <= selections(text)
    if fanout**levels > MAX_TOKENS or levels + 1 > 100:
        assert refused is not None
        assert refused.extensions["code"] in {"TOO_MANY_FIELDS", "TOO_MANY_FRAGMENTS"}
    else:
        assert refused is None


@settings(max_examples=40, deadline=None)
@given(
    spreads=st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), min_size=1, max_size=120)
)
def test_given_random_spread_graphs_when_checked_then_refused_or_passed_linearly(
    spreads: list[tuple[int, int]],
):
    """Any graph of spreads between 31 fragments (cycles included) is measured once each."""
    body: dict[int, list[int]] = {i: [] for i in range(31)}
    for source, target in spreads:
        body[source].append(target)
    text = "query Q { ...F0 } " + " ".join(
        f"fragment F{i} on Query {{ __typename {' '.join(f'...F{t}' for t in targets)} }}"
        for i, targets in body.items()
    )
    document = parse(text)
    shape = DocumentShape(document)
    try:
        check_shape(document, max_fields=MAX_TOKENS, shape=shape)
        code = None
    except GraphQLError as error:
        code = (error.extensions or {})["code"]
    assert code in {None, "TOO_MANY_FIELDS", "FRAGMENT_CYCLE"}
    assert shape.work <= selections(text)


def test_given_more_fragments_than_the_cap_then_refused_naming_it():
    text = "{ __typename } " + " ".join(
        f"fragment F{i} on Query {{ __typename }}" for i in range(101)
    )

    with pytest.raises(GraphQLError) as refused:
        check_shape(parse(text), max_fields=MAX_TOKENS)

    assert refused.value.extensions == {"code": "TOO_MANY_FRAGMENTS", "maxFragments": 100}


def test_given_a_long_query_when_parsed_then_not_kept_in_the_cache():
    parse_factory = limit_extensions(Limits())[0]
    padded = "{ __typename }" + "\n# padding" * (CACHEABLE_QUERY_CHARS // 10 + 1)
    for query in ("{ __typename }", padded, padded):
        extension = parse_factory()
        extension.execution_context = SimpleNamespace(query=query, graphql_document=None)
        next(extension.on_parse())  # type: ignore[attr-defined]
        assert extension.execution_context.graphql_document is not None

    assert extension.parse.cache_info().currsize == 1  # type: ignore[attr-defined]


ATTACKS = {
    "nested fragments, 20 levels": nested_fragments(20, 2, [f"F{i}" for i in range(21)]),
    "nested fragments, 99 levels": nested_fragments(99, 2, [f"F{i}" for i in range(100)]),
    "fragment cycle": "fragment A on Query { ...B } fragment B on Query { ...A } { ...A }",
    "deep introspection": "{ __schema { types { fields { type { fields { type { fields "
    "{ name } } } } } } } }",
    "deep __type": '{ __type(name: "Query") { fields { type { interfaces { possibleTypes '
    "{ name } } } } } }",
    "one field 1,300 times": "{ me { " + " ".join(["id"] * 1300) + " } }",
    "fragments nesting 5 deep each, chained": "{ ...F0 } "
    + " ".join(
        f"fragment F{i} on Query {{ {'... on Query { ' * 5}__typename ...F{i + 1}{' }' * 5} }}"
        for i in range(99)
    )
    + " fragment F99 on Query { __typename }",
}
EXPECTED = {
    "nested fragments, 20 levels": "TOO_MANY_FIELDS",
    "nested fragments, 99 levels": "TOO_MANY_FIELDS",
    "fragment cycle": "FRAGMENT_CYCLE",
    "deep introspection": "INTROSPECTION_TOO_DEEP",
    "deep __type": "INTROSPECTION_TOO_DEEP",
    "one field 1,300 times": "QUERY_TOO_COMPLEX",
    "fragments nesting 5 deep each, chained": "QUERY_TOO_DEEP",
}


async def test_given_hostile_documents_when_posted_then_coded_refusals_and_health_answers(
    api: Api,
):
    async def attack(query: str) -> tuple[int, list[str], float]:
        started = time.perf_counter()
        response = await api.http.post("/graphql", json={"query": query})
        return response.status_code, h.codes(response.json()), time.perf_counter() - started

    async def health() -> int:
        return (await api.http.get("/health")).status_code

    results = await asyncio.gather(
        *(attack(q) for q in ATTACKS.values() for _ in range(3)), health()
    )

    *refusals, health_status = results
    assert health_status == 200
    for (label, _), (status, codes, seconds) in zip(
        [(k, v) for k, v in ATTACKS.items() for _ in range(3)], refusals, strict=True
    ):
        assert status == 200, label
        assert codes == [EXPECTED[label]], label
        assert seconds < 1.0, label  # a guard against super-linear work, not a speed target
    introspection = await api.http.post("/graphql", json={"query": get_introspection_query()})
    assert "errors" not in introspection.json()


def test_given_fragment_spreads_of_an_unknown_fragment_then_left_to_the_validator():
    document = parse("{ ...Nope }")
    check_shape(document, max_fields=MAX_TOKENS)
    assert isinstance(document.definitions[0].selection_set.selections[0], FragmentSpreadNode)  # type: ignore[attr-defined]
