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


__all__ = ["Forbidden", "NoPayoutDetails", "NotFound", "PayoutDetailsError"]
