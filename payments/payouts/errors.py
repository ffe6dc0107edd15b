"""Typed failures of payout details."""

from __future__ import annotations

from domain.kit.errors import DomainError, Forbidden, InvalidInput, NotFound


class PayoutDetailsError(InvalidInput):
    """A payout detail that cannot be used (a bad IBAN, routing number, address...);
    ``field`` names the input at fault."""

    code = "invalid_payout_details"


class NoPayoutDetails(DomainError):
    """A payee without payout details (a batch item fails with this reason)."""

    code = "no_payout_details"


class DetailsChanged(DomainError):
    """A payee whose payout details changed after the batch paying them was approved: the
    approver did not see the account the money would go to (four eyes), so the item fails
    and the statement waits for a new batch, approved again."""

    code = "details_changed"


__all__ = ["DetailsChanged", "Forbidden", "NoPayoutDetails", "NotFound", "PayoutDetailsError"]
