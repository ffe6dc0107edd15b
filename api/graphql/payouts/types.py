"""Payout details as people see them: the method and a masked account, never the account."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from payments.payouts.models import PayoutDetails as StoredPayoutDetails


@strawberry.enum(description="How money reaches a payee, or the file a batch writes.")
class PayoutMethod(Enum):
    STRIPE = "stripe"
    SEPA_FILE = "sepa_file"
    NACHA_FILE = "nacha_file"
    CSV_FILE = "csv_file"
    GIFT_CARD = "gift_card"
    PAYROLL_FILE = "payroll_file"


@strawberry.enum(description="A US bank account's type (ACH transaction code 22 or 32).")
class BankAccountType(Enum):
    CHECKING = "checking"
    SAVINGS = "savings"


@strawberry.input(
    description="A structured postal address (SEPA refuses unstructured ones from "
    "November 2026): street, building number, post code, town, ISO 3166 country code."
)
class AddressInput:
    street: str
    building_number: str | None = None
    postal_code: str
    town: str
    country: str


@strawberry.input(
    description="How a payee is paid. repId left out: the viewer. Give only what the method "
    "needs: SEPA_FILE an IBAN (a BIC optional) and an address; NACHA_FILE a routing and an "
    "account number; STRIPE a connected account id; GIFT_CARD an e-mail address; "
    "PAYROLL_FILE the payee's ADP file number."
)
class PayoutDetailsInput:
    rep_id: strawberry.ID | None = None
    method: PayoutMethod
    iban: str | None = None
    bic: str | None = None
    routing_number: str | None = None
    account_number: str | None = None
    account_type: BankAccountType | None = None
    stripe_account_id: str | None = None
    gift_card_email: str | None = None
    payroll_employee_id: str | None = None
    address: AddressInput | None = None


@strawberry.type(description="How a payee is paid, the account masked (`DE89 •••• 3000`).")
class PayoutDetails:
    method: PayoutMethod
    masked_account: str
    updated_at: datetime

    @classmethod
    def of(cls, d: StoredPayoutDetails) -> PayoutDetails:
        return cls(
            method=PayoutMethod(d.method.value),
            masked_account=d.masked_account,
            updated_at=d.updated_at,
        )
