"""Payout instructions for the method tests."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID, uuid5

from payments.methods.models import PayeeKind, PayoutInstruction, idempotency_key
from payments.payouts.models import BankAccountType, PayoutMethod
from payments.payouts.validation import PayoutAccount, PostalAddress

TENANT = UUID("00000000-0000-0000-0000-0000000000aa")
BERLIN = PostalAddress("Friedrichstraße", "12", "10117", "Berlin", "DE")
SEPA_ACCOUNT = PayoutAccount(
    method=PayoutMethod.SEPA_FILE, iban="DE89370400440532013000", bic="COBADEFFXXX",
    address=BERLIN,
)  # fmt: skip
ACH_ACCOUNT = PayoutAccount(
    method=PayoutMethod.NACHA_FILE, routing_number="021000021", account_number="123456789",
    account_type=BankAccountType.CHECKING,
)  # fmt: skip
PAYROLL_ACCOUNT = PayoutAccount(method=PayoutMethod.PAYROLL_FILE, payroll_employee_id="000042")
STRIPE_ACCOUNT = PayoutAccount(
    method=PayoutMethod.STRIPE, stripe_account_id="acct_1Nv0FGQ9RKHgCVdK"
)
GIFT_ACCOUNT = PayoutAccount(method=PayoutMethod.GIFT_CARD, gift_card_email="ana@example.com")


def instruction(
    n: int,
    account: PayoutAccount = SEPA_ACCOUNT,
    *,
    amount: str = "100.00",
    currency: str = "EUR",
    name: str = "Jürgen Weiß-Öztürk",
    reference: str | None = None,
    kind: PayeeKind = PayeeKind.PERSON,
) -> PayoutInstruction:
    ref = reference or f"item-{n:06d}"
    return PayoutInstruction(
        reference=ref,
        payee_id=uuid5(TENANT, str(n)),
        payee_name=name,
        account=account,
        amount=Decimal(amount),
        currency=currency,
        description=f"Provision November 2026 – Nr. {n} «danke»",
        idempotency_key=idempotency_key(tenant_id=TENANT, reference=ref),
        payee_kind=kind,
    )
