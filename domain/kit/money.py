"""Money: exact decimals in an ISO 4217 currency, rounded half away from zero to the minor unit."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from babel.core import get_global
from babel.numbers import get_currency_precision

from domain.kit.errors import DomainError, quoted

ZERO = Decimal(0)


class CurrencyError(DomainError):
    code = "unknown_currency"


# ISO 4217 codes that are no money anyone is paid in: no currency (XXX), testing (XTS),
# precious metals (XAU, XAG, XPT, XPD), the IMF's SDR (XDR), the SUCRE (XSU), the ADB unit
# of account (XUA) and the European bond-market units (XBA-XBD). CLDR lists them among
# currencies, so without this a plan, a deal, an FX rate or a tenant in XXX was accepted.
NOT_MONEY = frozenset(
    {"XXX", "XTS", "XAU", "XAG", "XPT", "XPD", "XDR", "XSU", "XUA", "XBA", "XBB", "XBC", "XBD"}
)


@cache
def _known_currencies() -> frozenset[str]:
    # CLDR's currency fractions cover every active ISO 4217 code with a non-default minor unit;
    # the territory-currency table holds the rest.
    codes: set[str] = set(get_global("currency_fractions"))
    for entries in get_global("territory_currencies").values():
        codes.update(code for code, *_ in entries)
    codes.discard("DEFAULT")
    return frozenset(codes - NOT_MONEY)


def is_currency(code: str) -> bool:
    """The one check of a currency code wherever one is taken: an ISO 4217 code of money
    (never `NOT_MONEY`), upper case."""
    return (
        isinstance(code, str) and len(code) == 3 and code.isupper() and code in _known_currencies()
    )


def not_a_currency(code: object) -> str:
    """Why ``code`` is refused as a currency (`is_currency` said no), for a field's error."""
    shown = quoted(code)
    if isinstance(code, str) and code in NOT_MONEY:
        return f"{shown} is an ISO 4217 code of no money (a test, metal or unit of account)"
    return f"{shown} is not an ISO 4217 currency code"


@cache
def minor_units(currency: str) -> int:
    """Digits after the decimal point (2 for EUR, 0 for JPY, 3 for KWD)."""
    if not is_currency(currency):
        raise CurrencyError(f"unknown currency {currency!r}", field="currency")
    return int(get_currency_precision(currency))


@cache
def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round half away from zero to the currency's minor unit (ROUND_HALF_UP is away from zero)."""
    return amount.quantize(_quantum(currency), rounding=ROUND_HALF_UP)


def round_half_away(value: Decimal, digits: int = 0) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def unpadded(value: Decimal | str | int) -> Decimal:
    """The same number without trailing zeros: what a NUMERIC(20, 6) column or a padded string
    gives back reads as it was entered (40000.000000 -> 40000, 1234.500000 -> 1234.5), never
    in exponent form. Exact: only the representation changes."""
    number = Decimal(value)
    return number.quantize(Decimal(1)) if number == number.to_integral() else number.normalize()


def format_amount(amount: Decimal, currency: str) -> str:
    """An amount for people reading a terminal: rounded to the currency's minor unit, grouped
    by thousands ('1,234.50', '36.00', never '36'; '1,235' for JPY)."""
    return f"{round_money(amount, currency):,.{minor_units(currency)}f}"


def format_plain(value: Decimal) -> str:
    """Decimal as a plain string, never in exponent form ('2E+2' -> '200')."""
    return format(value, "f")


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise TypeError("Money.amount must be a Decimal")
        minor_units(self.currency)

    def rounded(self) -> Money:
        return Money(round_money(self.amount, self.currency), self.currency)

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise CurrencyError(f"cannot add {other.currency} to {self.currency}")
        return Money(self.amount + other.amount, self.currency)

    def __str__(self) -> str:
        digits = minor_units(self.currency)
        return f"{self.amount:,.{digits}f} {self.currency}"
