"""Every payout method refuses what it cannot pay with one set of checks in one order
(payments.methods.models.refusal) and every file refuses a second instruction with a
reference it already carries (screened): the SEPA, NACHA and ADP files and the Stripe and
gift card adapters (against their stand-ins on 127.0.0.1) answer the same codes for the
same faults, before any request."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace

import pytest

from payments.methods.giftcards import GiftCardConfig, TremendousGiftCards
from payments.methods.models import Failed, PayoutInstruction, Submitted
from payments.methods.payroll import paydata_file
from payments.methods.sandbox.giftcards import GiftCardStandIn
from payments.methods.sandbox.giftcards import running as giftcards_running
from payments.methods.sandbox.stripe_connect import StripeStandIn
from payments.methods.sandbox.stripe_connect import running as stripe_running
from payments.methods.stripe_connect import StripeConfig, StripeConnect
from tests.payments.factories import (
    ACH_ACCOUNT,
    GIFT_ACCOUNT,
    PAYROLL_ACCOUNT,
    SEPA_ACCOUNT,
    STRIPE_ACCOUNT,
    instruction,
)
from tests.payments.test_files import COMPANY, _ach, _sepa

Pay = Callable[[list[PayoutInstruction]], Awaitable[list[object]]]


@pytest.fixture
async def methods() -> AsyncIterator[dict[str, tuple[object, str, Pay]]]:
    """Each method: its payee's account, its currency, and how it pays a list."""
    stripe = StripeStandIn(accounts={STRIPE_ACCOUNT.stripe_account_id or ""},
                           platform_balance={"eur": 10**9})  # fmt: skip
    async with stripe_running(stripe), giftcards_running(GiftCardStandIn()) as gifts:
        connect = StripeConnect(StripeConfig(api_key=stripe.api_key, api_base=stripe.url))
        cards = TremendousGiftCards(
            GiftCardConfig(api_key=gifts.api_key, api_base=gifts.url, products=("OKMHM2X2OHYV",))
        )

        async def by_provider(adapter, items):
            return [await adapter.pay(i) for i in items]

        async def sepa(items):
            return list(_sepa(items).outcomes)

        async def nacha(items):
            return list(_ach(items).outcomes)

        async def payroll(items):
            return list(paydata_file(instructions=items, company=COMPANY, batch_id="B1").outcomes)

        yield {
            "sepa": (SEPA_ACCOUNT, "EUR", sepa),
            "nacha": (ACH_ACCOUNT, "USD", nacha),
            "payroll": (PAYROLL_ACCOUNT, "EUR", payroll),
            "stripe": (STRIPE_ACCOUNT, "EUR", lambda items: by_provider(connect, items)),
            "giftcards": (GIFT_ACCOUNT, "USD", lambda items: by_provider(cards, items)),
        }
        await connect.close()
        await cards.close()
        assert stripe.requests == []  # refused before any request
        assert gifts.requests == []


@pytest.mark.parametrize("method", ["sepa", "nacha", "payroll", "stripe", "giftcards"])
async def test_given_the_same_faults_when_any_method_pays_then_the_same_codes_in_one_order(
    methods, method: str
):
    account, currency, pay = methods[method]
    other = GIFT_ACCOUNT if account is not GIFT_ACCOUNT else SEPA_ACCOUNT
    items = [
        # a bad reference and the wrong method: the reference is named first everywhere
        instruction(1, other, currency=currency, reference="a b"),
        instruction(2, other, currency=currency),
        instruction(3, replace(account, **{_destination(method): None}), currency=currency),
        instruction(4, account, currency="XAU"),
        instruction(5, account, currency=currency, amount="1.001"),
        instruction(6, account, currency=currency, amount="-1.00"),
    ]

    outcomes = await pay(items)

    assert [(o.reference, o.code) for o in outcomes if isinstance(o, Failed)] == [
        ("a b", "reference"),
        ("item-000002", "method"),
        ("item-000003", "method"),
        ("item-000004", "currency"),
        ("item-000005", "amount"),
        ("item-000006", "amount"),
    ]


def _destination(method: str) -> str:
    return {"sepa": "iban", "nacha": "account_number", "payroll": "payroll_employee_id",
            "stripe": "stripe_account_id", "giftcards": "gift_card_email"}[method]  # fmt: skip


@pytest.mark.parametrize("method", ["sepa", "nacha", "payroll"])
async def test_given_a_reference_twice_when_a_file_is_written_then_the_second_is_refused(
    methods, method: str
):
    account, currency, pay = methods[method]
    items = [
        instruction(1, account, currency="XAU", reference="item-7"),  # refused: not in the file
        instruction(2, account, currency=currency, reference="item-7"),  # so this one is paid
        instruction(3, account, currency=currency, reference="item-7"),  # in the file already
        instruction(4, account, currency=currency),
    ]

    outcomes = await pay(items)

    assert [(type(o).__name__, getattr(o, "code", None)) for o in outcomes] == [
        ("Failed", "currency"),
        ("Submitted", None),
        ("Failed", "duplicate"),
        ("Submitted", None),
    ]
    assert outcomes[2].reason == "a second instruction with this reference"
    assert sum(isinstance(o, Submitted) for o in outcomes) == 2
