"""The detection rules, as pure functions."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.notifications.errors import InvalidThresholds
from domain.notifications.models import NotificationKind
from domain.notifications.service import (
    DEFAULT_THRESHOLDS,
    TierPosition,
    attainment_crossings,
    payable_crossing,
    thresholds_of,
    tier_crossings,
)

D = Decimal


def keys(crossings) -> list[str]:
    return [k for c in crossings for k, _ in c.keys]


def test_given_85_percent_when_nothing_sent_then_50_and_80_cross_each_once():
    crossings = attainment_crossings(
        period="2026-10",
        attainments={"bookings": D("0.85")},
        thresholds=DEFAULT_THRESHOLDS,
        already=set(),
    )

    assert keys(crossings) == ["bookings:50", "bookings:80"]
    assert [c.params["threshold"] for c in crossings] == ["50", "80"]
    assert {c.kind for c in crossings} == {NotificationKind.ATTAINMENT}


def test_given_thresholds_sent_already_when_checked_again_then_only_the_new_one():
    crossings = attainment_crossings(
        period="2026-10",
        attainments={"bookings": D("1.0")},
        thresholds=DEFAULT_THRESHOLDS,
        already={"bookings:50", "bookings:80"},
    )

    assert keys(crossings) == ["bookings:100"]


def test_given_attainment_just_under_a_threshold_then_it_is_not_crossed():
    crossings = attainment_crossings(
        period="2026-10",
        attainments={"bookings": D("0.799999")},
        thresholds=DEFAULT_THRESHOLDS,
        already=set(),
    )

    assert keys(crossings) == ["bookings:50"]


def test_given_tenant_settings_then_thresholds_are_theirs_sorted_and_unique():
    assert thresholds_of({}) == DEFAULT_THRESHOLDS
    assert thresholds_of({"notification_thresholds": [100, "75", 75, 87.5]}) == (
        D(75),
        D("87.5"),
        D(100),
    )


@pytest.mark.parametrize("bad", [[], "80", [0], [-5], ["x"], [True], [None], ["nan"]])
def test_given_bad_threshold_settings_then_refused_with_the_setting_named(bad):
    with pytest.raises(InvalidThresholds) as raised:
        thresholds_of({"notification_thresholds": bad})

    assert raised.value.field == "notification_thresholds"


def test_given_a_jump_from_tier_1_to_3_then_one_notification_recording_both_tiers():
    position = TierPosition(plan="ae", component="commission", tier=3, rate=D("0.08"))

    crossings = tier_crossings(period="2026-10", positions=[position], already=set())

    assert len(crossings) == 1
    assert crossings[0].params["tier"] == "3"
    assert keys(crossings) == ["ae:commission:2", "ae:commission:3"]


def test_given_tier_1_or_a_tier_told_already_then_no_tier_crossing():
    first = TierPosition(plan="ae", component="commission", tier=1, rate=D("0.02"))
    second = TierPosition(plan="ae", component="commission", tier=2, rate=D("0.05"))

    assert tier_crossings(period="2026-10", positions=[first], already=set()) == []
    assert tier_crossings(period="2026-10", positions=[second], already={"ae:commission:2"}) == []


def test_given_payable_up_by_a_cent_or_more_then_released_is_the_difference():
    crossing = payable_crossing(
        period="2026-10", payable=D("3600.004"), currency="EUR", last_notified=D("1000")
    )

    assert crossing is not None
    assert crossing.params["released"] == "2600.00"
    assert crossing.params["payable"] == "3600.00"
    assert crossing.keys == (("EUR:3600.00", D("3600.00")),)


def test_given_payable_same_lower_or_up_less_than_a_cent_then_nothing():
    for payable in ("1000", "999", "1000.004"):
        assert (
            payable_crossing(
                period="2026-10", payable=D(payable), currency="EUR", last_notified=D("1000")
            )
            is None
        )
    assert (
        payable_crossing(period="2026-10", payable=D(0), currency="EUR", last_notified=None) is None
    )
