"""Typed failures of payout methods."""

from __future__ import annotations

from domain.kit.errors import DomainError, InvalidInput


class MethodConfigError(InvalidInput):
    """The payer's side of a method is unusable (the debtor IBAN of a SEPA file, the
    originating bank of a NACHA file, the ADP company code); ``field`` names it."""

    code = "invalid_method_config"


class ProviderBug(DomainError):
    """A provider said we broke its contract (Stripe's idempotency error: the same key with
    other parameters). Never retried: a person must look."""

    code = "provider_bug"
