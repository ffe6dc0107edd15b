"""Texts in the rep's language, amounts and percentages formatted by Babel for their locale."""

from __future__ import annotations

import re

import pytest

from domain.notifications.models import NotificationKind
from domain.notifications.texts import TARGET_TEMPLATES, TEMPLATES, render

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
        (
            "hi-IN",
            "कमाई जारी हुई",
            "अक्टूबर 2026 के लिए €1,234.50 और देय है: कुल €3,600.00।",
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
        ("hi", "आपने अपने कोटा का 80% हासिल कर लिया"),
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
        ("hi", "ति4 2026 में अब आप Commission के स्तर 2 (5%) पर हैं।"),
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


LANGUAGES = {"en", "de", "fr", "ms", "hi"}
TARGET = {"period": "2027-Q1", "measure": "bookings", "name": "Ana Rao", "note": "बहुत अधिक"}


def test_given_every_kind_and_target_event_then_each_has_the_same_languages_hindi_included():
    for kind, texts in TEMPLATES.items():
        assert set(texts) == LANGUAGES, kind
    for event, texts in TARGET_TEMPLATES.items():
        assert set(texts) == LANGUAGES, event


def test_given_the_hindi_texts_then_devanagari_around_the_placeholders():
    # no English word left behind: outside {placeholders}, only Devanagari, digits, punctuation
    for texts in [*TEMPLATES.values(), *TARGET_TEMPLATES.values()]:
        for text in texts["hi"]:
            words = re.sub(r"\{[a-z]+\}", "", text)
            assert not re.search(r"[A-Za-z]", words), text
            assert re.search(r"[\u0900-\u097f]", words), text


@pytest.mark.parametrize(
    ("event", "extra", "title", "body"),
    [
        (
            "allocate",
            {"amount": "4500000", "currency": "EUR"},
            "बाँटने के लिए एक लक्ष्य",
            "ति1 2027 के लिए आपका Bookings लक्ष्य बाँटने के लिए तैयार है: €45,00,000.00।",
        ),
        (
            "propose",
            {},
            "सत्यापन के लिए एक आवंटन",
            "Ana Rao ने ति1 2027 के लिए Bookings लक्ष्य का आवंटन प्रस्तावित किया है।",
        ),
        (
            "publish",
            {"amount": "120"},
            "आपका लक्ष्य प्रकाशित हो गया है",
            "ति1 2027 के लिए आपका Bookings लक्ष्य (120) आपकी स्वीकृति की प्रतीक्षा में है।",
        ),
        (
            "dispute",
            {},
            "एक लक्ष्य पर आपत्ति",
            "Ana Rao ने ति1 2027 के लिए Bookings लक्ष्य पर आपत्ति जताई है: बहुत अधिक",
        ),
    ],
)
def test_given_a_target_step_when_rendered_in_hindi_then_amounts_in_indian_grouping(
    event, extra, title, body
):
    assert render(NotificationKind.TARGET, {**TARGET, "event": event, **extra}, "hi-IN") == (
        title,
        body,
    )
