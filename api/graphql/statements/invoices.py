"""Partner invoices: the partner's legal data, the tenant's tax rules, and the self-billing
invoice a partner's approved statement gets."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.types import Info
from tortoise.transactions import in_transaction

from api.graphql.errors import UserError, user_error
from api.graphql.money import Money, money
from api.statements import invoice_pdf_url
from domain.kit.errors import DomainError
from domain.kit.money import unpadded
from payments.invoices import service
from payments.invoices.models import Invoice as StoredInvoice
from payments.invoices.models import PartnerProfile as StoredProfile
from payments.invoices.models import TaxRule as StoredRule


@strawberry.type(description="One tax item of an invoice: VAT added, withholdings negative.")
class InvoiceItem:
    kind: str
    rate: Decimal = strawberry.field(description="Percent.")
    base: Money
    amount: Money


@strawberry.enum
class InvoiceKind(Enum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


@strawberry.type(
    description="A self-billing invoice issued when a partner's statement was approved, or "
    "the credit note cancelling it when a later version of the statement was approved (its "
    "amounts reversed). Both are numbered in one series without gaps."
)
class Invoice:
    id: strawberry.ID
    kind: InvoiceKind
    number: str
    cancels_number: str | None = strawberry.field(
        description="A credit note: the number of the invoice it cancels."
    )
    cancelled_by_number: str | None = strawberry.field(
        description="An invoice: the number of the credit note that cancelled it."
    )
    issued_at: datetime
    net: Money
    items: list[InvoiceItem]
    payable: Money
    legal_name: str
    tax_id: str | None
    stored: strawberry.Private[StoredInvoice]

    @classmethod
    def of(cls, i: StoredInvoice, locale: str, related: Mapping[str, StoredInvoice]) -> Invoice:
        """``related``: the invoice and credit note of ``i``'s statement version, by kind."""
        invoice, credit_note = related.get("invoice"), related.get("credit_note")
        return cls(
            id=strawberry.ID(str(i.id)),
            kind=InvoiceKind(i.kind),
            number=i.number,
            cancels_number=invoice.number if invoice and i is credit_note else None,
            cancelled_by_number=credit_note.number if credit_note and i is invoice else None,
            issued_at=i.issued_at,
            net=money(i.net, i.currency, locale),
            items=[
                InvoiceItem(
                    kind=item["kind"],
                    rate=unpadded(item["rate"]),
                    base=money(item["base"], i.currency, locale),
                    amount=money(item["amount"], i.currency, locale),
                )
                for item in i.items
            ],
            payable=money(i.payable, i.currency, locale),
            legal_name=i.legal["legal_name"],
            tax_id=i.legal.get("tax_id"),
            stored=i,
        )

    @strawberry.field(description="A signed link to the invoice's PDF, valid for an hour.")
    def pdf_url(self, info: Info[Any, None]) -> str:
        context = info.context
        return invoice_pdf_url(context.settings, self.stored.id)


@strawberry.input
class PartnerProfileInput:
    rep_id: strawberry.ID
    legal_name: str
    address: str
    country: str = strawberry.field(description="ISO 3166-1 alpha-2, e.g. IT.")
    tax_id: str | None = strawberry.field(
        default=None, description="VAT number or TIN, checked with python-stdnum."
    )


@strawberry.type(description="A payee that is a business: who invoices are made out to.")
class PartnerProfile:
    legal_name: str
    address: str
    country: str
    tax_id: str | None

    @classmethod
    def of(cls, p: StoredProfile) -> PartnerProfile:
        return cls(legal_name=p.legal_name, address=p.address, country=p.country, tax_id=p.tax_id)


@strawberry.input
class TaxRuleInput:
    country: str
    kind: str = strawberry.field(
        description="vat | reverse_charge | withholding | social_security | backup_withholding"
    )
    rate: Decimal = strawberry.field(description="Percent, 0 to 100.")
    base_share: Decimal = strawberry.field(
        default=Decimal(1), description="The share of the fee it applies to, 0 to 1."
    )


@strawberry.type(description="A tenant's tax rule for partners in a country.")
class TaxRule:
    country: str
    kind: str
    rate: Decimal
    base_share: Decimal

    @classmethod
    def of(cls, r: StoredRule) -> TaxRule:
        return cls(
            country=r.country, kind=r.kind, rate=unpadded(r.rate), base_share=unpadded(r.base_share)
        )


SetPartnerProfileResult = Annotated[
    PartnerProfile | UserError, strawberry.union("SetPartnerProfileResult")
]
SetTaxRuleResult = Annotated[TaxRule | UserError, strawberry.union("SetTaxRuleResult")]


async def set_partner_profile(
    info: Info[Any, None], input: PartnerProfileInput
) -> SetPartnerProfileResult:
    """Admins and payout ops: make a payee a partner, or change their legal data."""
    try:
        async with in_transaction():
            profile = await service.set_partner_profile(
                viewer=info.context.viewer,
                rep_id=str(input.rep_id),
                legal_name=input.legal_name,
                address=input.address,
                country=input.country,
                tax_id=input.tax_id,
            )
    except DomainError as exc:
        return user_error(exc)
    return PartnerProfile.of(profile)


async def set_tax_rule(info: Info[Any, None], input: TaxRuleInput) -> SetTaxRuleResult:
    """Admins and payout ops: a tax rule for partners in a country."""
    try:
        async with in_transaction():
            rule = await service.set_tax_rule(
                viewer=info.context.viewer,
                country=input.country,
                kind=input.kind,
                rate=input.rate,
                base_share=input.base_share,
            )
    except DomainError as exc:
        return user_error(exc)
    return TaxRule.of(rule)
