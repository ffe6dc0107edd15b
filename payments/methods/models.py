"""What a batch hands a payout method, and what it gets back: plain values, no provider types.

An instruction's ``reference`` is stable and unique per batch item (the SEPA EndToEndId, the
NACHA individual id, the Stripe transfer's ``transfer_group``/metadata, the gift card order's
``external_id``), and its ``idempotency_key`` is derived from the item, never random: running
an item again, after any crash, asks the provider for the same payment, which it answers once."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

from tortoise import fields

from domain.kit.money import minor_units
from domain.orm import Model
from payments.payouts.models import PayoutMethod

if TYPE_CHECKING:
    from domain.tenants.models import Tenant
    from payments.payouts.validation import PayoutAccount

REFERENCE = re.compile(r"[A-Za-z0-9-]{1,35}")  # fits a SEPA EndToEndId and every other method


class PayeeKind(StrEnum):
    PERSON = "person"  # NACHA PPD
    BUSINESS = "business"  # NACHA CCD (a partner agent's company)


@dataclass(frozen=True, slots=True)
class PayoutInstruction:
    reference: str
    payee_id: UUID
    payee_name: str
    account: PayoutAccount
    amount: Decimal  # exact, in ``currency``; at most its minor unit
    currency: str  # ISO 4217
    description: str  # remittance text the payee sees
    idempotency_key: str
    payee_kind: PayeeKind = PayeeKind.PERSON
    payee_code: str = ""  # the payee's external id (the number SAP pays them by)
    # an earlier run may have paid it under a key the provider has forgotten since (Stripe
    # keeps keys about 24 hours): look for its payment before asking for one
    look_first: bool = False


def idempotency_key(*, tenant_id: UUID, reference: str) -> str:
    """The key of an item's payment: the same item always gets the same key (Stripe keeps a
    key at least 24 hours, then forgets it: a batch run again later sets ``look_first``, and
    allows 255 characters)."""
    digest = hashlib.sha256(f"{tenant_id}:{reference}".encode()).hexdigest()
    return f"podium-payout-{digest[:48]}"


@dataclass(frozen=True, slots=True)
class Submitted:
    """Handed over: written to a file, or accepted by a provider that tells later. ``state``:
    the provider's word for where it stands, when it says (a gift card order "waiting for
    approval", or issued with its e-mail bounced)."""

    reference: str
    provider_id: str | None = None
    state: str | None = None


@dataclass(frozen=True, slots=True)
class Paid:
    reference: str
    provider_id: str | None = None


@dataclass(frozen=True, slots=True)
class Failed:
    """Not paid. ``retryable``: the provider could not be reached or answered 5xx/429, so the
    same instruction (same key) may be sent again; otherwise the reason stands."""

    reference: str
    reason: str
    code: str
    retryable: bool = False


Outcome = Submitted | Paid | Failed


REVERSED = "transfer_reversed"  # the code of a Stripe transfer reversed (the money came back)


class Shown(StrEnum):
    """What a provider, asked whether an instruction was paid (its ``look_up``), shows."""

    NO_PAYMENT = "no_payment"  # nothing of it, or only what was undone (reversed, canceled)
    PAYMENT = "payment"  # a payment of it (or more than one, or one unlike what was asked)
    UNKNOWN = "unknown"  # it could not be asked, or its answer says nothing certain


@dataclass(frozen=True, slots=True)
class Lookup:
    """A provider's answer to "was this instruction paid?", in words a person reads in a
    refusal or an audit row (``shown``: "Stripe shows transfer tr_1 of 25.10 EUR ...")."""

    shows: Shown
    shown: str
    provider_id: str | None = None
    # what the provider's answer says of the payment, when it says (a gift card order's
    # state: Paid executed, Submitted waiting for approval, Failed canceled or unreadable)
    found: Outcome | None = None


@dataclass(frozen=True, slots=True)
class PayoutFile:
    """A generated file and what became of each instruction (Submitted: in the file;
    Failed: left out, with the reason)."""

    filename: str
    media_type: str
    content: bytes
    outcomes: tuple[Outcome, ...]


def in_minor_units(amount: Decimal, currency: str) -> int | None:
    """The amount in the currency's minor units (cents), or None when it has more decimals
    than the currency has."""
    scaled = amount.scaleb(minor_units(currency))
    if scaled != scaled.to_integral_value():
        return None
    return int(scaled)


def check_amount(instruction: PayoutInstruction, currencies: set[str]) -> Failed | None:
    """The checks every method makes on an instruction's money."""
    i = instruction
    if i.currency not in currencies:
        return Failed(i.reference, f"{i.currency} cannot be paid this way (only "
                      f"{', '.join(sorted(currencies))})", "currency")  # fmt: skip
    if i.amount <= 0:
        return Failed(i.reference, f"amount must be positive, not {i.amount}", "amount")
    if in_minor_units(i.amount, i.currency) is None:
        return Failed(i.reference, f"{i.amount} has more decimals than {i.currency}", "amount")
    return None


# what a payee's account must hold to be paid by each method
_DESTINATION = {
    PayoutMethod.SEPA_FILE: ("iban",),
    PayoutMethod.NACHA_FILE: ("routing_number", "account_number"),
    PayoutMethod.PAYROLL_FILE: ("payroll_employee_id",),
    PayoutMethod.STRIPE: ("stripe_account_id",),
    PayoutMethod.GIFT_CARD: ("gift_card_email",),
    PayoutMethod.CSV_FILE: (),  # SAP pays from its own master data
}


def refusal(
    instruction: PayoutInstruction,
    *,
    method: PayoutMethod,
    not_this_method: str,
    currencies: set[str],
    max_minor_units: int | None = None,
    too_much: str = "",
    written_name: Callable[[str], str] | None = None,
) -> Failed | None:
    """Why a method cannot take an instruction (None: it can), checked by every method in
    the same order: the reference, the payee's method and the account fields it needs
    (``not_this_method`` says so), the currency and amount (above ``max_minor_units``:
    ``too_much``), and for a file of a narrow character set the payee's name as
    ``written_name`` writes it (nothing left: no Latin letters)."""
    i = instruction
    if not REFERENCE.fullmatch(i.reference):
        return Failed(i.reference, "the reference must be 1 to 35 letters, digits or -",
                      "reference")  # fmt: skip
    if i.account.method is not method or not all(
        getattr(i.account, name) for name in _DESTINATION[method]
    ):
        return Failed(i.reference, not_this_method, "method")
    refused = check_amount(i, currencies)
    if refused is not None:
        return refused
    cents = in_minor_units(i.amount, i.currency) or 0
    if max_minor_units is not None and cents > max_minor_units:
        return Failed(i.reference, too_much, "amount")
    if written_name is not None and not written_name(i.payee_name):
        return Failed(i.reference, "the payee's name has no Latin letters", "name")
    return None


def screened(
    instructions: Iterable[PayoutInstruction],
    refuse: Callable[[PayoutInstruction], Failed | None],
) -> Iterator[PayoutInstruction | Failed]:
    """A file's instructions in order: each one the file carries, or its Failed (what
    ``refuse`` says, or a second instruction with a reference already in the file: a
    file's ids are unique, and the second would pay the same item twice)."""
    seen: set[str] = set()
    for i in instructions:
        if i.reference in seen:
            yield Failed(i.reference, "a second instruction with this reference", "duplicate")
        elif (refused := refuse(i)) is not None:
            yield refused
        else:
            seen.add(i.reference)
            yield i


_LETTERS = str.maketrans({"ß": "ss", "Æ": "AE", "æ": "ae", "Ø": "O", "ø": "o", "Œ": "OE",
                          "œ": "oe", "Đ": "D", "đ": "d", "Ł": "L", "ł": "l", "Þ": "TH",
                          "þ": "th", "&": "+"})  # fmt: skip
_SPACES = re.compile(r" {2,}")


def plain_text(text: str, refused: re.Pattern[str], limit: int) -> str:
    """``text`` transliterated to Latin letters (accents dropped, ß as ss), what ``refused``
    matches turned to spaces, at most ``limit`` characters: for files whose banks take a
    narrow character set."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_LETTERS))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SPACES.sub(" ", refused.sub(" ", plain)).strip()[:limit].strip()


class Provider(StrEnum):
    STRIPE = "stripe"
    GIFT_CARDS = "gift_cards"


class ProviderConfig(Model):
    """A tenant's credentials at a provider (API key, webhook secrets), sealed like payout
    details (PODIUM_PAYOUT_DETAILS_SECRET, bound to the tenant and provider)."""

    id = fields.UUIDField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="payout_providers", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    provider = fields.CharEnumField(Provider, max_length=20)
    masked_key = fields.CharField(max_length=80)
    sealed = fields.TextField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "payout_provider_configs"
        unique_together = (("tenant", "provider"),)


class ProviderEvent(Model):
    """A provider's webhook event, stored raw once verified (a redelivery finds it and adds
    nothing); ``processed_at`` is set by whoever applies it to the batch items."""

    id = fields.BigIntField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "podium.Tenant", related_name="payout_provider_events", on_delete=fields.CASCADE
    )
    tenant_id: UUID
    provider = fields.CharEnumField(Provider, max_length=20)
    event_id = fields.CharField(max_length=255)
    kind = fields.CharField(max_length=100)
    payload: dict[str, Any] = fields.JSONField()
    received_at = fields.DatetimeField()
    processed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "payout_provider_events"
        unique_together = (("tenant", "provider", "event_id"),)
