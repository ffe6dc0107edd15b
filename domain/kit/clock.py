"""The one source of 'now': timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def utc_now() -> datetime:
    return datetime.now(UTC)


def today_in(time_zone: str) -> date:
    """Today's date where the tenant is (its ``time_zone``)."""
    return utc_now().astimezone(ZoneInfo(time_zone)).date()
