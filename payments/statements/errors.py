"""Expected failures of statements and adjustments: each names the input at fault."""

from __future__ import annotations

from domain.kit.errors import DomainError


class StatementError(DomainError):
    code = "invalid_statement"


class ApprovalRefused(StatementError):
    """Not the viewer's to approve, already approved, or held by an open dispute."""

    code = "approval_refused"


class AdjustmentError(StatementError):
    code = "invalid_adjustment"
