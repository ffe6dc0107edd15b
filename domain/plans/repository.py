"""All queries about plans, versions, assignments and quotas, scoped to the viewer's tenant."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from uuid import UUID

from domain.kit.errors import NotFound
from domain.org.repository import parse_id
from domain.org.viewer import Viewer
from domain.plans.models import AssignmentStatus, Plan, PlanAssignment, PlanVersion, Quota

_LIVE = (AssignmentStatus.OFFERED, AssignmentStatus.ACCEPTED)


class PlanRepository:
    def __init__(self, viewer: Viewer) -> None:
        self.viewer = viewer
        self.tenant_id = viewer.tenant_id

    async def plans(self) -> list[Plan]:
        return await Plan.filter(tenant_id=self.tenant_id).order_by("key")

    async def plan_by_key(self, key: str, *, for_update: bool = False) -> Plan | None:
        query = Plan.filter(tenant_id=self.tenant_id, key=key)
        if for_update:
            query = query.select_for_update()
        return await query.first()

    async def plan(self, plan_id: UUID | str) -> Plan:
        plan = await Plan.get_or_none(tenant_id=self.tenant_id, id=parse_id(plan_id, "planId"))
        if plan is None:
            raise NotFound(f"no plan {plan_id}", field="planId")
        return plan

    async def version(self, version_id: UUID | str) -> PlanVersion:
        found = await PlanVersion.get_or_none(
            tenant_id=self.tenant_id, id=parse_id(version_id, "planVersionId")
        )
        if found is None:
            raise NotFound(f"no plan version {version_id}", field="planVersionId")
        return found

    async def versions(self, plan_id: UUID) -> list[PlanVersion]:
        return await PlanVersion.filter(tenant_id=self.tenant_id, plan_id=plan_id).order_by(
            "version"
        )

    async def versions_by_id(self, version_ids: Iterable[UUID]) -> dict[UUID, PlanVersion]:
        rows = await PlanVersion.filter(
            tenant_id=self.tenant_id, id__in=list(version_ids)
        ).prefetch_related("plan")
        return {v.id: v for v in rows}

    async def latest_version(
        self, plan_id: UUID, *, for_update: bool = False
    ) -> PlanVersion | None:
        query = PlanVersion.filter(tenant_id=self.tenant_id, plan_id=plan_id).order_by("-version")
        if for_update:
            query = query.select_for_update()
        return await query.first()

    async def version_on(self, plan_id: UUID, day: date) -> PlanVersion | None:
        """The version in force on ``day`` (versions never overlap)."""
        candidates = await PlanVersion.filter(
            tenant_id=self.tenant_id, plan_id=plan_id, effective_from__lte=day
        ).order_by("-effective_from")
        for v in candidates:
            if v.effective_to is None or v.effective_to >= day:
                return v
        return None

    async def assignment(
        self, assignment_id: UUID | str, *, for_update: bool = False
    ) -> PlanAssignment:
        query = PlanAssignment.filter(
            tenant_id=self.tenant_id, id=parse_id(assignment_id, "assignmentId")
        )
        if for_update:
            query = query.select_for_update()
        found = await query.first()
        if found is None:
            raise NotFound(f"no plan assignment {assignment_id}", field="assignmentId")
        return found

    async def assignments_of(self, user_id: UUID) -> list[PlanAssignment]:
        return (
            await PlanAssignment.filter(tenant_id=self.tenant_id, user_id=user_id)
            .prefetch_related("plan")
            .order_by("effective_from", "id")
        )

    async def active_assignments(
        self, user_id: UUID, start: date, end: date
    ) -> list[PlanAssignment]:
        """Offered or accepted assignments that overlap [start, end]."""
        rows = await PlanAssignment.filter(
            tenant_id=self.tenant_id,
            user_id=user_id,
            status__in=list(_LIVE),
            effective_from__lte=end,
        ).order_by("effective_from", "id")
        return [a for a in rows if a.effective_to is None or a.effective_to >= start]

    async def assignees(self, plan_id: UUID) -> list[PlanAssignment]:
        return await PlanAssignment.filter(tenant_id=self.tenant_id, plan_id=plan_id).order_by(
            "effective_from", "id"
        )

    async def quotas(self, user_ids: list[UUID], period: str) -> list[Quota]:
        return await Quota.filter(
            tenant_id=self.tenant_id, user_id__in=user_ids, period=period
        ).order_by("measure")

    async def quota(
        self, user_id: UUID, measure: str, period: str, *, for_update: bool = False
    ) -> Quota | None:
        query = Quota.filter(
            tenant_id=self.tenant_id, user_id=user_id, measure=measure, period=period
        )
        if for_update:
            query = query.select_for_update()
        return await query.first()

    async def quota_value(self, user_id: UUID, measure: str, period: str) -> Decimal | None:
        q = await self.quota(user_id, measure, period)
        return None if q is None else q.value
