from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info
from tortoise.transactions import in_transaction

from api.graphql.errors import UserError, user_error
from api.graphql.notifications.types import Device, DevicePlatform
from domain.kit.errors import DomainError, Forbidden
from domain.notifications.models import DevicePlatform as StoredPlatform
from domain.notifications.service import register_device as register

RegisterDeviceResult = Annotated[Device | UserError, strawberry.union("RegisterDeviceResult")]


async def register_device(
    info: Info[Any, None], token: str, platform: DevicePlatform
) -> RegisterDeviceResult:
    """Registers (or refreshes) this app install's push token for the viewer."""
    viewer = info.context.viewer
    try:
        async with in_transaction():
            device = await register(
                viewer=viewer, token=token, platform=StoredPlatform(platform.value)
            )
    except Forbidden:
        raise
    except DomainError as exc:
        return user_error(exc)
    return Device.of(device)
