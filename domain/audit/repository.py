"""Reading the audit trail, scoped to the viewer's tenant."""

from __future__ import annotations

from domain.audit.models import AuditEntry
from domain.org.viewer import Viewer


class AuditRepository:
    def __init__(self, viewer: Viewer) -> None:
        self.tenant_id = viewer.tenant_id

    async def for_entity(self, entity_type: str, entity_id: str) -> list[AuditEntry]:
        return await AuditEntry.filter(
            tenant_id=self.tenant_id, entity_type=entity_type, entity_id=entity_id
        ).order_by("id")

    async def recent(self, limit: int = 100) -> list[AuditEntry]:
        return await AuditEntry.filter(tenant_id=self.tenant_id).order_by("-id").limit(limit)
