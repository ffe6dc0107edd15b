"""Creating tenants."""

from __future__ import annotations

import re
import secrets
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError

from domain.kit.errors import Conflict, InvalidInput
from domain.kit.money import is_currency
from domain.tenants.models import Tenant

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


def parse_locale(value: str, field: str = "locale") -> str:
    try:
        Locale.parse(value.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        raise InvalidInput(f"unknown locale {value!r}", field=field) from None
    return value


async def create_tenant(
    *, slug: str, name: str, currency: str, locale: str = "en", time_zone: str = "UTC"
) -> Tenant:
    if not _SLUG.match(slug):
        raise InvalidInput("use 2-63 lowercase letters, digits and dashes", field="slug")
    if not is_currency(currency):
        raise InvalidInput(f"{currency!r} is not an ISO 4217 currency code", field="currency")
    parse_locale(locale)
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown time zone {time_zone!r}", field="time_zone") from None
    if await Tenant.exists(slug=slug):
        raise Conflict(f"tenant {slug!r} exists already", field="slug")
    return await Tenant.create(
        slug=slug,
        name=name,
        currency=currency,
        locale=locale,
        time_zone=time_zone,
        jwt_secret=secrets.token_urlsafe(48),
        webhook_secret=secrets.token_urlsafe(32),
        settings={"period_kind": "month", "notification_thresholds": [50, 80, 100, 120]},
    )
