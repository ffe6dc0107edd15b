from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info
from tortoise.transactions import in_transaction

from api.graphql.errors import UserError, user_error
from api.graphql.payouts.types import PayoutDetails, PayoutDetailsInput
from domain.kit.errors import DomainError, Forbidden
from payments.payouts import models
from payments.payouts.service import set_payout_details as set_details

SetPayoutDetailsResult = Annotated[
    PayoutDetails | UserError, strawberry.union("SetPayoutDetailsResult")
]


async def set_payout_details(
    info: Info[Any, None], input: PayoutDetailsInput
) -> SetPayoutDetailsResult:
    """The payee (or payout ops, naming `repId`) sets how they are paid."""
    viewer = info.context.viewer
    address = None
    if input.address is not None:
        a = input.address
        address = {
            "street": a.street,
            "building_number": a.building_number,
            "postal_code": a.postal_code,
            "town": a.town,
            "country": a.country,
        }
    try:
        async with in_transaction():
            details = await set_details(
                viewer=viewer,
                secret=info.context.settings.payout_details_secret,
                rep_id=input.rep_id,
                method=models.PayoutMethod(input.method.value),
                iban=input.iban,
                bic=input.bic,
                routing_number=input.routing_number,
                account_number=input.account_number,
                account_type=models.BankAccountType(input.account_type.value)
                if input.account_type
                else None,
                stripe_account_id=input.stripe_account_id,
                gift_card_email=input.gift_card_email,
                payroll_employee_id=input.payroll_employee_id,
                address=address,
            )
    except Forbidden:
        raise
    except DomainError as exc:
        return user_error(exc)
    return PayoutDetails.of(details)
