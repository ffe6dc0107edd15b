"""The Money type: amount rounded to the currency's minor unit, formatted for the viewer."""

from __future__ import annotations

from decimal import Decimal

import strawberry
from babel.numbers import format_currency

from domain.kit.locales import parse_locale
from domain.kit.money import round_money

# a person's locale tag as a Babel locale (one parser for explanations, money, notifications)
babel_locale = parse_locale


@strawberry.type(description="An amount of money in an ISO 4217 currency.")
class Money:
    amount: Decimal = strawberry.field(description="Rounded to the currency's minor unit.")
    currency: str = strawberry.field(description="ISO 4217 code.")
    formatted: str = strawberry.field(description="In the viewer's locale, e.g. 1.234,50 €.")


def money(amount: Decimal | str | int, currency: str, locale: str | None) -> Money:
    rounded = round_money(Decimal(amount), currency)
    return Money(
        amount=rounded,
        currency=currency,
        formatted=format_currency(rounded, currency, locale=babel_locale(locale)),
    )
