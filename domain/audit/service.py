"""Writing the audit trail. Called inside the caller's transaction, so an audited change and
its entry commit or roll back together."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tortoise import connections

from domain.audit.models import AuditEntry
from domain.kit.clock import utc_now
from domain.org.viewer import Viewer

_AUDIT_COLUMNS = (
    "tenant_id",
    "actor_id",
    "actor_label",
    "action",
    "entity_type",
    "entity_id",
    "before",
    "after",
    "request_id",
    "at",
)


@dataclass(frozen=True, slots=True)
class Change:
    """One audited change, for ``record_many``."""

    action: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


async def record(
    *,
    viewer: Viewer,
    action: str,
    entity_type: str,
    entity_id: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    return await AuditEntry.create(
        tenant_id=viewer.tenant_id,
        actor_id=viewer.user_id,
        actor_label=viewer.actor_label,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        before=before,
        after=after,
        request_id=viewer.request_id,
    )


async def record_many(*, viewer: Viewer, changes: Iterable[Change]) -> int:
    """Many entries in one statement (bulk imports); returns how many were written."""
    now = utc_now()
    rows = [
        (
            viewer.tenant_id,
            viewer.user_id,
            viewer.actor_label,
            c.action,
            c.entity_type,
            c.entity_id,
            None if c.before is None else json.dumps(c.before),
            None if c.after is None else json.dumps(c.after),
            viewer.request_id,
            now,
        )
        for c in changes
    ]
    if not rows:
        return 0
    conn: Any
    async with connections.get("default").acquire_connection() as conn:
        # COPY: one round trip for any number of entries (the append-only trigger fires on
        # COPY as on INSERT); inside the caller's transaction like every other write
        await conn.copy_records_to_table("audit_log", records=rows, columns=list(_AUDIT_COLUMNS))
    return len(rows)
