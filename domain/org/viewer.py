"""Who is asking: every repository and service call carries a Viewer, so tenant scoping and
access rules live below the API and cannot be forgotten by a resolver."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from domain.org.models import Role


@dataclass(frozen=True, slots=True)
class Viewer:
    tenant_id: UUID
    user_id: UUID | None  # None: the system (CLI, workers)
    role: Role
    locale: str = "en"
    request_id: str | None = None

    @classmethod
    def system(cls, tenant_id: UUID, label: str = "system") -> Viewer:
        return cls(tenant_id=tenant_id, user_id=None, role=Role.ADMIN, request_id=label)

    @property
    def actor_label(self) -> str:
        return f"user:{self.user_id}" if self.user_id else f"system:{self.request_id or 'cli'}"

    @property
    def sees_whole_tenant(self) -> bool:
        return self.role in (Role.ADMIN, Role.PAYOUT_OPS)
