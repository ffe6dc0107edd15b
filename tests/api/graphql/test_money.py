"""Money is rounded to the currency's minor unit and formatted in the viewer's locale."""

from __future__ import annotations

import pytest

from api.graphql.money import money
from domain.org.models import Role
from tests.api.graphql import helpers as h
from tests.api.graphql.helpers import Api

NBSP, NNBSP = "\xa0", "\u202f"


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en", "€1,234.50"),
        ("en-US", "€1,234.50"),
        ("de", f"1.234,50{NBSP}€"),
        ("de-DE", f"1.234,50{NBSP}€"),
        ("fr", f"1{NNBSP}234,50{NBSP}€"),
        ("fr-FR", f"1{NNBSP}234,50{NBSP}€"),
        ("ms", "€1,234.50"),
        ("hi-IN", "€1,234.50"),
    ],
)
def test_given_1234_50_eur_when_formatted_per_locale_then_the_locales_conventions(
    locale: str, expected: str
):
    assert money("1234.5", "EUR", locale).formatted == expected


@pytest.mark.parametrize(
    ("locale", "currency", "expected"),
    [
        ("hi-IN", "INR", "₹1,23,456.50"),  # Indian grouping: lakh and crore
        ("en", "INR", "₹123,456.50"),
        ("ms", "MYR", "RM123,456.50"),
        ("de-DE", "USD", f"123.456,50{NBSP}$"),
    ],
)
def test_given_local_currencies_when_formatted_then_local_grouping_and_symbol(
    locale: str, currency: str, expected: str
):
    assert money("123456.5", currency, locale).formatted == expected


def test_given_jpy_then_no_decimals_rounded_half_away_from_zero():
    yen = money("1234.5", "JPY", "en")

    assert (str(yen.amount), yen.formatted) == ("1235", "¥1,235")
    assert str(money("-1234.5", "JPY", "en").amount) == "-1235"


def test_given_kwd_then_three_decimals():
    dinar = money("1234.5", "KWD", "en")

    assert (str(dinar.amount), dinar.formatted) == ("1234.500", "KWD1,234.500")
    assert str(money("0.0005", "KWD", "en").amount) == "0.001"


def test_given_an_unknown_locale_then_english():
    assert money("1234.5", "EUR", "xx-YY").formatted == "€1,234.50"
    assert money("1234.5", "EUR", None).formatted == "€1,234.50"


async def test_given_viewers_in_two_locales_when_the_same_team_is_read_then_each_their_format(
    api: Api,
):
    t = await h.tenant("bharat", currency="INR", locale="hi-IN")
    admin = await h.person(t, "ira", role=Role.ADMIN)  # the tenant's locale: hi-IN
    french = await h.person(t, "zoe", role=Role.ADMIN, locale="fr")
    rep = await h.person(t, "ravi")
    start = h.this_period().start
    plan = h.AE_PLAN.replace("currency: EUR", "currency: INR")
    await h.assign(t, await h.publish(t, plan, effective_from=start), rep, start)
    await h.quota(t, rep, h.this_period().id, "40000000")
    await h.deal(t, rep, "big", "6172825", start, currency="INR")  # 1% spiff: 61,728.25
    await h.recompute(t, rep, h.this_period().id)
    query = "{ me { locale team { rep { displayName } total { amount currency formatted } } } }"

    indian = await api.as_(t, admin).gql(query)
    in_french = await api.as_(t, french).gql(query)

    [ravi] = [m for m in indian["data"]["me"]["team"] if m["rep"]["displayName"] == "Ravi"]
    assert indian["data"]["me"]["locale"] == "hi-IN"
    # 2% of 6,172,825 = 123,456.50 in tier 1, plus the 1% spiff 61,728.25
    assert ravi["total"] == {
        "amount": "185184.75",
        "currency": "INR",
        "formatted": "₹1,85,184.75",
    }
    [ravi_fr] = [m for m in in_french["data"]["me"]["team"] if m["rep"]["displayName"] == "Ravi"]
    assert ravi_fr["total"]["formatted"] == f"185{NNBSP}184,75{NBSP}₹"
