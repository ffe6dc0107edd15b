"""Creating tenants; rotating their webhook secret."""

from __future__ import annotations

import re
import secrets
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError

from domain.audit.service import record
from domain.kit.clock import utc_now
from domain.kit.errors import Conflict, InvalidInput
from domain.kit.money import is_currency, not_a_currency
from domain.org.viewer import Viewer
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
        raise InvalidInput(not_a_currency(currency), field="currency")
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


async def rotate_webhook_secret(*, viewer: Viewer) -> str:
    """A new webhook secret for the viewer's tenant; the old one is still accepted for the
    grace period (api/webhooks/signatures.py) so that senders can switch over. Audited
    without either secret. Returns the new secret (shown once)."""
    tenant = await Tenant.select_for_update().get(id=viewer.tenant_id)
    new = secrets.token_urlsafe(32)
    tenant.webhook_secret_previous = tenant.webhook_secret
    tenant.webhook_secret = new
    tenant.webhook_secret_rotated_at = utc_now()
    await tenant.save(
        update_fields=["webhook_secret", "webhook_secret_previous", "webhook_secret_rotated_at"]
    )
    await record(
        viewer=viewer,
        action="tenant.webhook_secret_rotated",
        entity_type="tenant",
        entity_id=str(tenant.id),
        after={"rotated_at": tenant.webhook_secret_rotated_at.isoformat()},
    )
    return new
