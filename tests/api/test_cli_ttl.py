"""`podium token --ttl`: ASCII digits, bounded (an expiry past the year 9999 cannot be
computed)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from api.cli import parse_ttl
from domain.kit.errors import InvalidInput


@pytest.mark.parametrize(("text", "ttl"), [("90", 90), ("30m", 1800), ("7d", 604800)])
def test_given_a_duration_when_parsed_then_seconds(text: str, ttl: int):
    assert parse_ttl(text) == timedelta(seconds=ttl)


@pytest.mark.parametrize("text", ["٧d", "７d", "0", "999999999d", "3651d", "1" * 40, "-5m"])
def test_given_a_non_ascii_or_unbounded_duration_when_parsed_then_invalid_input(text: str):
    with pytest.raises(InvalidInput) as info:
        parse_ttl(text)

    assert info.value.field == "--ttl"
