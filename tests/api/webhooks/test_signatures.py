"""Podium-Signature's time window at its exact bounds, with the clock given (the webhook tests
that go through HTTP keep well clear of the bounds: a request takes time to arrive)."""

from __future__ import annotations

import pytest

from api.webhooks.signatures import TOLERANCE_SECONDS, podium_signature, verify_podium_signature

SECRET = "s3cret"
BODY = b'{"events": []}'
NOW = 1_796_221_000


@pytest.mark.parametrize("offset", [-TOLERANCE_SECONDS, -1, 0, 1, TOLERANCE_SECONDS])
def test_given_a_timestamp_within_the_tolerance_when_verified_then_accepted(offset: int):
    header = podium_signature(SECRET, BODY, NOW + offset)
    assert verify_podium_signature(header, BODY, [SECRET], now=NOW)


@pytest.mark.parametrize("offset", [-TOLERANCE_SECONDS - 1, TOLERANCE_SECONDS + 1, 10**6])
def test_given_a_timestamp_outside_the_tolerance_when_verified_then_rejected(offset: int):
    header = podium_signature(SECRET, BODY, NOW + offset)
    assert not verify_podium_signature(header, BODY, [SECRET], now=NOW)


def test_given_a_fraction_of_a_second_past_the_bound_when_verified_then_rejected():
    header = podium_signature(SECRET, BODY, NOW)
    assert verify_podium_signature(header, BODY, [SECRET], now=NOW + TOLERANCE_SECONDS)
    assert not verify_podium_signature(header, BODY, [SECRET], now=NOW + TOLERANCE_SECONDS + 0.5)
    assert not verify_podium_signature(header, BODY, [SECRET], now=NOW - TOLERANCE_SECONDS - 0.5)
