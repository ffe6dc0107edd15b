"""The client operations (tests/spec/client-operations.graphql) against schema.graphql, and
schema.graphql against the code.

Operations that need a later issue are listed in WAITING. The list may only shrink: a waiting
operation that starts to validate fails here until it is taken off the list.
"""

from __future__ import annotations

from collections.abc import Set
from pathlib import Path

import pytest
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSchema,
    OperationDefinitionNode,
    SelectionSetNode,
    Visitor,
    build_schema,
    parse,
    validate,
    visit,
)
from strawberry.printer import print_schema

from api.graphql.schema import schema as code_schema

ROOT = Path(__file__).resolve().parents[3]
SDL = ROOT / "schema.graphql"
OPERATIONS = ROOT / "tests" / "spec" / "client-operations.graphql"
REGENERATE = ".venv/bin/strawberry export-schema api.graphql.schema:schema --output schema.graphql"

WAITING: dict[str, str] = {}


def sdl_schema() -> GraphQLSchema:
    return build_schema(SDL.read_text(encoding="utf-8"))


def client_document() -> DocumentNode:
    return parse(OPERATIONS.read_text(encoding="utf-8"))


def operation_names() -> list[str]:
    return [
        d.name.value
        for d in client_document().definitions
        if isinstance(d, OperationDefinitionNode) and d.name
    ]


def _fragments_used(node: object, fragments: dict[str, FragmentDefinitionNode]) -> set[str]:
    names: set[str] = set()

    class Collect(Visitor):
        def enter_fragment_spread(self, spread: FragmentSpreadNode, *_: object) -> None:
            names.add(spread.name.value)

    visit(node, Collect())  # type: ignore[arg-type]
    for name in list(names):
        names |= _fragments_used(fragments[name], fragments)
    return names


def operation_document(name: str, drop_fields: Set[str] = frozenset()) -> DocumentNode:
    """One operation with the fragments it uses, optionally without some fields."""
    document = client_document()
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operation = next(
        d
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode) and d.name and d.name.value == name
    )
    if drop_fields:

        class Drop(Visitor):
            def enter_selection_set(self, node: SelectionSetNode, *_: object) -> SelectionSetNode:
                kept = tuple(
                    s
                    for s in node.selections
                    if not (isinstance(s, FieldNode) and s.name.value in drop_fields)
                )
                return SelectionSetNode(selections=kept)

        operation = visit(operation, Drop())
    used = _fragments_used(operation, fragments)
    return DocumentNode(definitions=(operation, *(fragments[n] for n in sorted(used))))


def errors_of(document: DocumentNode) -> list[str]:
    return [e.message for e in validate(sdl_schema(), document)]


def test_given_the_code_when_the_sdl_is_printed_then_it_is_the_committed_schema_graphql():
    committed = SDL.read_text(encoding="utf-8")
    generated = print_schema(code_schema) + "\n"

    assert generated == committed, (
        f"schema.graphql is out of date with the code. Regenerate it with:\n    {REGENERATE}\n"
        "and commit the result."
    )


def test_given_the_client_file_then_every_waiting_operation_is_in_it():
    assert set(WAITING) <= set(operation_names())


@pytest.mark.parametrize("name", operation_names())
def test_given_a_client_operation_when_validated_then_only_waiting_ones_fail(name: str):
    errors = errors_of(operation_document(name))

    if name in WAITING:
        assert errors, (
            f"{name} validates now: take it off WAITING in {Path(__file__).name} "
            f"(it waited for {WAITING[name]})"
        )
    else:
        assert errors == [], f"{name} does not validate against schema.graphql: {errors}"
