from __future__ import annotations

from domain.kit.errors import Conflict


class DuplicateBoard(Conflict):
    """A tenant's board names are unique."""
