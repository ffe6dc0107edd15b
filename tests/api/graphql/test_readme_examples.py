"""Every GraphQL example of README.md (its ```graphql blocks and the subscription it quotes
inline) validates against schema.graphql, as pasted into GraphiQL: a renamed field or argument
fails here, not in a newcomer's first hour. Placeholders such as "<statement id>" are string
literals, so they validate as the ids they stand for."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import build_schema, parse, validate

ROOT = Path(__file__).resolve().parents[3]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SCHEMA = build_schema((ROOT / "schema.graphql").read_text(encoding="utf-8"))

BLOCKS = re.findall(r"^```graphql\n(.*?)^```", README, flags=re.M | re.S)
INLINE = re.findall(r"`((?:subscription|query|mutation) \{[^`]*)`", README)


def test_given_the_readme_then_it_has_graphql_examples():
    assert len(BLOCKS) >= 18
    assert any("earningsUpdated" in text for text in INLINE)


@pytest.mark.parametrize("document", BLOCKS + INLINE, ids=lambda d: " ".join(d.split())[:60])
def test_given_a_readme_graphql_example_when_validated_then_the_schema_takes_it(document: str):
    errors = validate(SCHEMA, parse(document))

    assert not errors, [error.message for error in errors]
