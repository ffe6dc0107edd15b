"""Typed failures of payout batches."""

from __future__ import annotations

from domain.kit.errors import DomainError, Forbidden, InvalidInput, NotFound


class BatchError(InvalidInput):
    """A batch that cannot be created, approved or executed as asked; ``field`` names the
    input at fault."""

    code = "invalid_payout_batch"


class BatchStateError(DomainError):
    """The batch is not in a state that allows this (approving an approved one, executing
    an unapproved one)."""

    code = "payout_batch_state"


class ProviderShowsPayment(BatchStateError):
    """Settling an item as failed while its provider shows a payment of it (``field``:
    ``outcome``): the next batch would pay the payee twice."""

    code = "provider_shows_payment"


class ProviderNotChecked(BatchStateError):
    """Settling an item as failed while its provider cannot be asked whether it paid it,
    and payout ops did not say they checked it themselves (``field``: ``outcome``); or
    confirming a gift card batch when the provider could be asked about none of its
    submitted items (``field``: ``id``): nothing is written."""

    code = "provider_not_checked"


__all__ = [
    "BatchError",
    "BatchStateError",
    "Forbidden",
    "NotFound",
    "ProviderNotChecked",
    "ProviderShowsPayment",
]
