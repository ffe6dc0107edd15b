"""Texts in the rep's language, amounts and percentages formatted by Babel for their locale."""

from __future__ import annotations

import pytest

from domain.notifications.models import NotificationKind
from domain.notifications.texts import render

NBSP, NNBSP = "\u00a0", "\u202f"
PAYABLE = {"period": "2026-10", "released": "1234.5", "payable": "3600", "currency": "EUR"}
ATTAINMENT = {"period": "2026-10", "measure": "bookings", "threshold": "80", "attainment": "0.85"}
TIER = {"period": "2026-Q4", "plan": "ae", "component": "commission", "tier": "2", "rate": "0.05"}


@pytest.mark.parametrize(
    ("locale", "title", "body"),
    [
        (
            "en",
            "Earnings released",
            "€1,234.50 more is payable for October 2026: €3,600.00 in total.",
        ),
        (
            "de-DE",
            "Provision freigegeben",
            f"Weitere 1.234,50{NBSP}€ sind für Oktober 2026 auszahlbar: insgesamt 3.600,00{NBSP}€.",
        ),
        (
            "fr",
            "Commissions débloquées",
            f"1{NNBSP}234,50{NBSP}€ de plus sont payables pour octobre 2026 : "
            f"3{NNBSP}600,00{NBSP}€ au total.",
        ),
        (
            "ms",
            "Pendapatan dikeluarkan",
            "€1,234.50 lagi boleh dibayar bagi Oktober 2026: €3,600.00 kesemuanya.",
        ),
    ],
)
def test_given_payable_released_when_rendered_then_in_the_reps_language(locale, title, body):
    assert render(NotificationKind.PAYABLE, PAYABLE, locale) == (title, body)


@pytest.mark.parametrize(
    ("locale", "title"),
    [
        ("en", "You reached 80% of your quota"),
        ("de", f"Sie haben 80{NBSP}% Ihrer Quote erreicht"),
        ("fr_FR", f"Vous avez atteint 80{NBSP}% de votre objectif"),
        ("ms-MY", "Anda telah mencapai 80% daripada kuota anda"),
        ("xx-unknown", "You reached 80% of your quota"),
        (None, "You reached 80% of your quota"),
    ],
)
def test_given_a_threshold_when_rendered_then_percent_in_the_locale(locale, title):
    assert render(NotificationKind.ATTAINMENT, ATTAINMENT, locale)[0] == title


def test_given_attainment_just_under_a_bound_then_it_is_not_rounded_up():
    _, body = render(NotificationKind.ATTAINMENT, {**ATTAINMENT, "attainment": "0.7996"}, "en")

    assert body == "Bookings: 79% of quota in October 2026."


@pytest.mark.parametrize(
    ("locale", "body"),
    [
        ("en", "You are now in tier 2 of Commission (5%) in Q4 2026."),
        ("de", f"Sie sind jetzt in Stufe 2 von Commission (5{NBSP}%) im Zeitraum Q4 2026."),
        ("fr", f"Vous êtes maintenant au palier 2 de Commission (5{NBSP}%) pour T4 2026."),
        ("ms", "Anda kini berada di peringkat 2 bagi Commission (5%) bagi S4 2026."),
    ],
)
def test_given_a_tier_when_rendered_then_in_the_locale(locale, body):
    assert render(NotificationKind.TIER, TIER, locale)[1] == body


def test_given_a_currency_without_minor_units_then_formatted_as_such():
    _, body = render(
        NotificationKind.PAYABLE,
        {**PAYABLE, "currency": "JPY", "released": "1500", "payable": "2000"},
        "en",
    )

    assert body == "¥1,500 more is payable for October 2026: ¥2,000 in total."
