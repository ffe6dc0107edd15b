"""Typed failures of levels and XP."""

from __future__ import annotations

from domain.kit.errors import InvalidInput


class LevelMapError(InvalidInput):
    code = "invalid_level_map"


class XpError(InvalidInput):
    code = "invalid_xp"
