"""Plan types."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any
from uuid import UUID

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from domain.kit.clock import utc_now
from domain.plans.models import PlanAssignment as StoredAssignment
from domain.plans.models import PlanVersion


@strawberry.enum
class AssignmentStatus(Enum):
    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"


@strawberry.type(description="A published plan version.")
class Plan:
    id: strawberry.ID = strawberry.field(description="The plan (stable across versions).")
    version_id: strawberry.ID
    key: str = strawberry.field(description="The document's `id`.")
    name: str
    version: int
    currency: str
    period: str
    effective_from: date
    effective_to: date | None
    published_at: datetime | None
    document: JSON

    @classmethod
    def of(cls, version: PlanVersion) -> Plan:
        document: dict[str, Any] = dict(version.document)
        return cls(
            id=strawberry.ID(str(version.plan_id)),
            version_id=strawberry.ID(str(version.id)),
            key=str(document.get("id", "")),
            name=str(document.get("name", document.get("id", ""))),
            version=version.version,
            currency=version.currency,
            period=version.period_kind,
            effective_from=version.effective_from,
            effective_to=version.effective_to,
            published_at=version.published_at,
            document=document,
        )


@strawberry.type(description="A plan offered to a rep; the rep accepts it.")
class PlanAssignment:
    id: strawberry.ID
    plan_id: strawberry.ID
    name: str
    status: AssignmentStatus
    effective_from: date
    effective_to: date | None
    accepted_at: datetime | None
    plan_uuid: strawberry.Private[UUID]

    @classmethod
    def of(cls, assignment: StoredAssignment) -> PlanAssignment:
        return cls(
            id=strawberry.ID(str(assignment.id)),
            plan_id=strawberry.ID(str(assignment.plan_id)),
            name=assignment.plan.name,
            status=AssignmentStatus(assignment.status.value),
            effective_from=assignment.effective_from,
            effective_to=assignment.effective_to,
            accepted_at=assignment.accepted_at,
            plan_uuid=assignment.plan_id,
        )

    async def _version(self, info: Info[Any, None]) -> PlanVersion | None:
        day = max(utc_now().date(), self.effective_from)
        if self.effective_to is not None:
            day = min(day, self.effective_to)
        version: PlanVersion | None = await info.context.loaders.plan_versions.load(
            (self.plan_uuid, day)
        )
        return version

    @strawberry.field(description="The version in force today (or when the assignment starts).")
    async def version(self, info: Info[Any, None]) -> int | None:
        found = await self._version(info)
        return None if found is None else found.version

    @strawberry.field(description="That version's plan document.")
    async def document(self, info: Info[Any, None]) -> JSON | None:
        found = await self._version(info)
        return None if found is None else found.document
