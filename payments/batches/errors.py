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


__all__ = ["BatchError", "BatchStateError", "Forbidden", "NotFound"]
