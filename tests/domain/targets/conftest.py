"""The targets tests run on 20 November 2026, the fourth quarter under way, whatever the day
they run: revising is refused once a target's period has ended, so 'today' must be pinned."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def pin_today(monkeypatch: pytest.MonkeyPatch, now: datetime) -> None:
    monkeypatch.setattr("domain.targets.service.utc_now", lambda: now)


@pytest.fixture(autouse=True)
def today(monkeypatch: pytest.MonkeyPatch) -> date:
    pin_today(monkeypatch, NOW)
    return NOW.date()
