"""A person's locale as a CRM or a device writes it, read as the Babel locale of its language
and region: a Salesforce LocaleSidKey with its variant (de_DE_EURO), a BCP 47 tag with
Unicode extensions (Android's regional preferences: de-DE-u-fw-mon) or a private use part
read as the language they name, not as English."""

from __future__ import annotations

from decimal import Decimal

import pytest

from api.graphql.money import money
from domain.engine.explanations import babel_locale, render
from domain.kit.locales import parse_locale
from domain.notifications.texts import money_text


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("de-DE", "de_DE"),
        ("de_DE", "de_DE"),
        ("de-CH", "de_CH"),
        ("de_DE_EURO", "de_DE"),  # Salesforce
        ("de-DE-u-fw-mon", "de_DE"),  # Android 14 regional preferences
        ("hi-IN-u-nu-deva", "hi_IN"),
        ("fr-FR-u-mu-celsius", "fr_FR"),
        ("de-AT-x-private", "de_AT"),
        ("ms_MY", "ms_MY"),
        ("zh-Hant-TW", "zh_Hant_TW"),
        ("xx", "en"),
        ("", "en"),
        (None, "en"),
        ("-u-", "en"),
    ],
)
def test_given_a_locale_tag_then_the_babel_locale_of_its_language(tag: str | None, expected: str):
    assert str(parse_locale(tag)) == expected
    assert str(babel_locale(tag)) == expected


def test_given_a_salesforce_or_device_locale_then_explanations_and_money_in_its_language():
    reasons = [["rounded_once", {"amount": "1234.5"}]]

    for tag in ("de_DE_EURO", "de-DE-u-fw-mon"):
        assert render(reasons, locale=tag, currency="EUR") == (
            "die genauen Beträge der Zeilen werden addiert und die Summe einmal gerundet: "
            "1.234,50\xa0€"
        )
        assert money("1234.5", "EUR", tag).formatted == "1.234,50\xa0€"
        assert money_text(Decimal("1234.5"), "EUR", tag) == "1.234,50\xa0€"
