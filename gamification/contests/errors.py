from __future__ import annotations

from domain.kit.errors import DomainError


class ContestError(DomainError):
    """Bad contest input; ``field`` names the input field at fault."""

    code = "invalid_contest"
