"""Expected failures of disputes: each names the input at fault."""

from __future__ import annotations

from domain.kit.errors import DomainError


class DisputeError(DomainError):
    code = "invalid_dispute"
