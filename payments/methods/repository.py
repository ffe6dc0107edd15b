"""All queries about payout providers: their sealed configs and their webhook events."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from tortoise import connections

from domain.kit.clock import utc_now
from domain.kit.documents import dumps_exact
from payments.methods.models import Provider, ProviderConfig, ProviderEvent


class ProviderRepository:
    def __init__(self, tenant_id: UUID) -> None:
        self.tenant_id = tenant_id

    async def config(
        self, provider: Provider, *, for_update: bool = False
    ) -> ProviderConfig | None:
        query = ProviderConfig.filter(tenant_id=self.tenant_id, provider=provider)
        if for_update:
            query = query.select_for_update()
        return await query.first()

    async def save(self, config: ProviderConfig) -> None:
        await config.save()

    async def delete(self, config: ProviderConfig) -> None:
        await config.delete()

    async def add_event(
        self, provider: Provider, event_id: str, kind: str, payload: dict[str, Any]
    ) -> bool:
        """Stores an event once; False when it was stored before (a redelivery)."""
        conn: Any = connections.get("default")
        rows = await conn.execute_query_dict(
            """
            INSERT INTO payout_provider_events
                (tenant_id, provider, event_id, kind, payload, received_at)
            VALUES ($1, $2, $3, $4, $5::jsonb, $6)
            ON CONFLICT (tenant_id, provider, event_id) DO NOTHING
            RETURNING id
            """,
            [self.tenant_id, provider.value, event_id, kind, _json(payload), utc_now()],
        )
        return bool(rows)

    async def events(self, provider: Provider) -> list[ProviderEvent]:
        return await ProviderEvent.filter(tenant_id=self.tenant_id, provider=provider).order_by(
            "id"
        )


def _json(payload: dict[str, Any]) -> str:
    return dumps_exact(payload)  # its numbers as the provider wrote them (`loads_json`)
