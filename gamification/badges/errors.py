"""Typed failures of badge definitions and awards."""

from __future__ import annotations

from domain.kit.errors import DomainError, InvalidInput


class BadgeRuleError(InvalidInput):
    """A badge rule that does not compile or reads an unknown fact."""

    code = "invalid_badge_rule"


class BadgeNotFound(DomainError):
    code = "badge_not_found"
