"""Checking payout details on entry: every bad value is a PayoutDetailsError naming its field.

IBAN and BIC by `schwifty` (structure, country, checksum); US routing numbers (ABA) by their
check digit; postal addresses structured (street, building, post code, town, country), as SEPA
requires from November 2026 for pain.001.001.09 files."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass
from typing import Any

from babel import Locale
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

from payments.payouts.errors import PayoutDetailsError
from payments.payouts.models import BankAccountType, PayoutMethod

# ISO 3166 alpha-2 codes Babel knows that are not countries an address can be in
_NOT_COUNTRIES = {"EU", "EZ", "UN", "ZZ", "QO", "XA", "XB"}
COUNTRIES = frozenset(
    code
    for code in Locale("en").territories
    if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES
)
_STRIPE_ACCOUNT = re.compile(r"acct_[A-Za-z0-9]{8,60}")
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
_DIGITS = re.compile(r"[0-9]+")
# ABA prefixes in use: Federal Reserve districts 01-12, thrifts 21-32, electronic 61-72, 80
_ROUTING_PREFIXES = {*range(0, 13), *range(21, 33), *range(61, 73), 80}

# pain.001.001.09 PostalAddress24 lengths
ADDRESS_LIMITS = {"street": 70, "building_number": 16, "postal_code": 16, "town": 35}


@dataclass(frozen=True, slots=True)
class PostalAddress:
    street: str
    building_number: str | None
    postal_code: str
    town: str
    country: str  # ISO 3166 alpha-2


@dataclass(frozen=True, slots=True)
class PayoutAccount:
    """The clear details of a payee's payout: only what its method needs is set."""

    method: PayoutMethod
    iban: str | None = None  # compact, upper case
    bic: str | None = None
    routing_number: str | None = None
    account_number: str | None = None
    account_type: BankAccountType | None = None
    stripe_account_id: str | None = None
    gift_card_email: str | None = None
    payroll_employee_id: str | None = None  # ADP "File #"
    address: PostalAddress | None = None

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if v is not None}
        out["method"] = self.method.value
        if self.account_type is not None:
            out["account_type"] = self.account_type.value
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PayoutAccount:
        address = data.get("address")
        return cls(
            **{
                **data,
                "method": PayoutMethod(data["method"]),
                "account_type": BankAccountType(data["account_type"])
                if data.get("account_type")
                else None,
                "address": PostalAddress(**address) if address else None,
            }
        )

    @property
    def masked(self) -> str:
        """What people may see: enough to recognise the account, never to use it."""
        if self.iban:
            return f"{self.iban[:4]} •••• {self.iban[-4:]}"
        if self.account_number:
            return f"{self.routing_number} •••• {self.account_number[-4:]}"
        if self.stripe_account_id:
            return f"acct_•••• {self.stripe_account_id[-4:]}"
        if self.gift_card_email:
            local, _, domain = self.gift_card_email.partition("@")
            return f"{local[0]}•••@{domain}"
        if self.payroll_employee_id:
            return f"File # •••• {self.payroll_employee_id[-2:]}"
        return ""


def _text(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise PayoutDetailsError("must be text", field=field)
    text = value.strip()
    if any(unicodedata.category(c)[0] == "C" for c in text):
        raise PayoutDetailsError("control characters are not allowed", field=field)
    return text or None


def _required(value: str | None, field: str, what: str) -> str:
    if value is None:
        raise PayoutDetailsError(f"{what} is required for this payout method", field=field)
    return value


def parse_iban(value: str, field: str = "iban") -> IBAN:
    if len(value) > 50:
        raise PayoutDetailsError("is not an IBAN (too long)", field=field)
    try:
        iban = IBAN(value)
    except SchwiftyException as exc:
        raise PayoutDetailsError(f"is not a valid IBAN: {exc}", field=field) from None
    if not iban.in_sepa_zone:
        raise PayoutDetailsError(
            f"{iban.country_code} is outside the SEPA zone: pay it another way", field=field
        )
    return iban


def parse_bic(value: str, field: str = "bic") -> BIC:
    if len(value) > 20:
        raise PayoutDetailsError("is not a BIC (too long)", field=field)
    try:
        return BIC(value)
    except SchwiftyException as exc:
        raise PayoutDetailsError(f"is not a valid BIC: {exc}", field=field) from None


def routing_check_digit_ok(number: str) -> bool:
    """The ABA check: 3, 7, 1 weights over the nine digits sum to a multiple of 10."""
    d = [int(c) for c in number]
    return (3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + d[2] + d[5] + d[8]) % 10 == 0


def parse_routing_number(value: str, field: str = "routingNumber") -> str:
    number = value.replace(" ", "").replace("-", "")
    if len(number) != 9 or not _DIGITS.fullmatch(number):
        raise PayoutDetailsError("a US routing number has exactly 9 digits", field=field)
    if int(number[:2]) not in _ROUTING_PREFIXES:
        raise PayoutDetailsError(f"no routing number starts with {number[:2]}", field=field)
    if not routing_check_digit_ok(number):
        raise PayoutDetailsError("the check digit does not match", field=field)
    return number


def parse_account_number(value: str, field: str = "accountNumber") -> str:
    number = value.replace(" ", "").replace("-", "")
    if not _DIGITS.fullmatch(number) or not 4 <= len(number) <= 17:
        raise PayoutDetailsError("a US account number has 4 to 17 digits", field=field)
    return number


def parse_address(
    *,
    street: str | None,
    building_number: str | None,
    postal_code: str | None,
    town: str | None,
    country: str | None,
    field: str = "address",
) -> PostalAddress:
    values = {
        "street": _text(street, f"{field}.street"),
        "building_number": _text(building_number, f"{field}.buildingNumber"),
        "postal_code": _text(postal_code, f"{field}.postalCode"),
        "town": _text(town, f"{field}.town"),
    }
    names = {"building_number": "buildingNumber", "postal_code": "postalCode"}
    for key, limit in ADDRESS_LIMITS.items():
        name = f"{field}.{names.get(key, key)}"
        text = values[key]
        if text is None and key != "building_number":
            raise PayoutDetailsError("is required (SEPA takes structured addresses)", field=name)
        if text is not None and len(text) > limit:
            raise PayoutDetailsError(f"at most {limit} characters", field=name)
    code = (_text(country, f"{field}.country") or "").upper()
    if code not in COUNTRIES:
        raise PayoutDetailsError(
            "an ISO 3166 two-letter country code (DE, FR, US...)", field=f"{field}.country"
        )
    return PostalAddress(
        street=values["street"] or "",
        building_number=values["building_number"],
        postal_code=values["postal_code"] or "",
        town=values["town"] or "",
        country=code,
    )


def validate_account(
    *,
    method: PayoutMethod,
    iban: str | None = None,
    bic: str | None = None,
    routing_number: str | None = None,
    account_number: str | None = None,
    account_type: BankAccountType | None = None,
    stripe_account_id: str | None = None,
    gift_card_email: str | None = None,
    payroll_employee_id: str | None = None,
    address: PostalAddress | None = None,
) -> PayoutAccount:
    """The account of a method from its inputs; fields another method needs are refused
    (naming them) rather than kept unseen."""
    method = PayoutMethod(method)
    given = {
        "iban": _text(iban, "iban"),
        "bic": _text(bic, "bic"),
        "routingNumber": _text(routing_number, "routingNumber"),
        "accountNumber": _text(account_number, "accountNumber"),
        "stripeAccountId": _text(stripe_account_id, "stripeAccountId"),
        "giftCardEmail": _text(gift_card_email, "giftCardEmail"),
        "payrollEmployeeId": _text(payroll_employee_id, "payrollEmployeeId"),
    }
    uses = {
        PayoutMethod.SEPA_FILE: {"iban", "bic"},
        PayoutMethod.NACHA_FILE: {"routingNumber", "accountNumber"},
        PayoutMethod.STRIPE: {"stripeAccountId"},
        PayoutMethod.GIFT_CARD: {"giftCardEmail"},
        PayoutMethod.PAYROLL_FILE: {"payrollEmployeeId"},
    }
    if method not in uses:
        raise PayoutDetailsError(
            "the SAP journal is a batch's method, not a payee's: choose how this person is paid",
            field="method",
        )
    for name, value in given.items():
        if value is not None and name not in uses[method]:
            raise PayoutDetailsError(f"does not belong to the {method.name} method", field=name)
    if account_type is not None and method is not PayoutMethod.NACHA_FILE:
        raise PayoutDetailsError("only US bank accounts have a type", field="accountType")
    if method is PayoutMethod.SEPA_FILE:
        parsed = parse_iban(_required(given["iban"], "iban", "an IBAN"))
        code = None
        if given["bic"] is not None:
            bic_value = parse_bic(given["bic"])
            code = bic_value.compact
        if address is None:
            raise PayoutDetailsError(
                "a structured postal address is required for SEPA transfers", field="address"
            )
        return PayoutAccount(method=method, iban=parsed.compact, bic=code, address=address)
    if method is PayoutMethod.NACHA_FILE:
        return PayoutAccount(
            method=method,
            routing_number=parse_routing_number(
                _required(given["routingNumber"], "routingNumber", "a routing number")
            ),
            account_number=parse_account_number(
                _required(given["accountNumber"], "accountNumber", "an account number")
            ),
            account_type=account_type or BankAccountType.CHECKING,
            address=address,
        )
    if method is PayoutMethod.STRIPE:
        account = _required(given["stripeAccountId"], "stripeAccountId", "a connected account")
        if not _STRIPE_ACCOUNT.fullmatch(account):
            raise PayoutDetailsError(
                "a Stripe connected account id looks like acct_1Nv0FGQ9RKHgCVdK",
                field="stripeAccountId",
            )
        return PayoutAccount(method=method, stripe_account_id=account, address=address)
    if method is PayoutMethod.GIFT_CARD:
        email = _required(given["giftCardEmail"], "giftCardEmail", "an e-mail address")
        if len(email) > 254 or not _EMAIL.fullmatch(email):
            raise PayoutDetailsError("is not an e-mail address", field="giftCardEmail")
        return PayoutAccount(method=method, gift_card_email=email, address=address)
    employee = _required(given["payrollEmployeeId"], "payrollEmployeeId", "an ADP file number")
    if not _DIGITS.fullmatch(employee) or len(employee) > 6:
        raise PayoutDetailsError("an ADP file number has 1 to 6 digits", field="payrollEmployeeId")
    return PayoutAccount(method=method, payroll_employee_id=employee.zfill(6), address=address)
