"""Expected failures of the notification use cases."""

from __future__ import annotations

from domain.kit.errors import InvalidInput


class InvalidDeviceToken(InvalidInput):
    code = "invalid_device_token"


class InvalidNotificationIds(InvalidInput):
    code = "invalid_notification_ids"


class InvalidThresholds(InvalidInput):
    """tenant.settings["notification_thresholds"] is not a list of positive percentages."""

    code = "invalid_thresholds"
