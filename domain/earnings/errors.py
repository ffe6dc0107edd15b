"""Expected failures of the earnings area."""

from __future__ import annotations

from domain.kit.errors import Conflict


class PeriodClosed(Conflict):
    """The period is closed: its results are final and are not recalculated."""

    code = "period_closed"
