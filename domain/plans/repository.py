"""All queries about plans, versions, assignments and quotas, scoped to the viewer's tenant.

Access rules live here too: a rep reads only the plans they are on and their own assignments;
a manager the assignments of their subtree (and every plan of the tenant, to assign them); an
admin or payout ops the whole tenant. Another tenant's ids are simply not found.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from uuid import UUID

from domain.kit.errors import Forbidden, NotFound
from domain.org.models import Role
from domain.org.repository import UserRepository, parse_id
from domain.org.viewer import Viewer
from domain.plans.models import Plan, PlanAssignment, PlanVersion, Quota


class PlanRepository:
    def __init__(self, viewer: Viewer) -> None:
        self.viewer = viewer
        self.tenant_id = viewer.tenant_id
        self.users = UserRepository(viewer)
        self._own_plan_ids: set[UUID] | None = None

    async def _readable_plan_ids(self) -> set[UUID] | None:
        """None: every plan of the tenant; for a rep, the plans they are (or were) on."""
        if self.viewer.role is not Role.REP:
            return None
        if self._own_plan_ids is None:
            rows = await PlanAssignment.filter(
                tenant_id=self.tenant_id, user_id=self.viewer.user_id
            ).values_list("plan_id", flat=True)
            self._own_plan_ids = {UUID(str(r)) for r in rows}
        return self._own_plan_ids

    async def readable_plan_ids(self) -> set[UUID] | None:
        """The plans the viewer may read: None for every plan of the tenant."""
        return await self._readable_plan_ids()

    async def _may_read_plan(self, plan_id: UUID) -> bool:
        readable = await self._readable_plan_ids()
        return readable is None or plan_id in readable

    async def plans(self) -> list[Plan]:
        query = Plan.filter(tenant_id=self.tenant_id)
        readable = await self._readable_plan_ids()
        if readable is not None:
            query = query.filter(id__in=list(readable))
        return await query.order_by("key")

    async def plan_by_key(self, key: str, *, for_update: bool = False) -> Plan | None:
        query = Plan.filter(tenant_id=self.tenant_id, key=key)
        if for_update:
            query = query.select_for_update()
        plan = await query.first()
        return plan if plan is not None and await self._may_read_plan(plan.id) else None

    async def plan(self, plan_id: UUID | str) -> Plan:
        """A plan of the tenant the viewer may read (a rep: one they are on); else NotFound,
        so a rep cannot probe which plans exist."""
        plan = await Plan.get_or_none(tenant_id=self.tenant_id, id=parse_id(plan_id, "planId"))
        if plan is None or not await self._may_read_plan(plan.id):
            raise NotFound(f"no plan {plan_id}", field="planId")
        return plan

    async def version(self, version_id: UUID | str) -> PlanVersion:
        found = await PlanVersion.get_or_none(
            tenant_id=self.tenant_id, id=parse_id(version_id, "planVersionId")
        )
        if found is None or not await self._may_read_plan(found.plan_id):
            raise NotFound(f"no plan version {version_id}", field="planVersionId")
        return found

    async def versions(self, plan_id: UUID) -> list[PlanVersion]:
        if not await self._may_read_plan(plan_id):
            return []
        return await PlanVersion.filter(tenant_id=self.tenant_id, plan_id=plan_id).order_by(
            "version"
        )

    async def versions_by_id(self, version_ids: Iterable[UUID]) -> dict[UUID, PlanVersion]:
        rows = await PlanVersion.filter(
            tenant_id=self.tenant_id, id__in=list(version_ids)
        ).prefetch_related("plan")
        readable = await self._readable_plan_ids()
        return {v.id: v for v in rows if readable is None or v.plan_id in readable}

    async def latest_version(
        self, plan_id: UUID, *, for_update: bool = False
    ) -> PlanVersion | None:
        if not await self._may_read_plan(plan_id):
            return None
        query = PlanVersion.filter(tenant_id=self.tenant_id, plan_id=plan_id).order_by("-version")
        if for_update:
            query = query.select_for_update()
        return await query.first()

    async def version_on(self, plan_id: UUID, day: date) -> PlanVersion | None:
        """The version in force on ``day`` (versions never overlap)."""
        if not await self._may_read_plan(plan_id):
            return None
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
        """An assignment of someone the viewer may see (with its plan fetched)."""
        query = PlanAssignment.filter(
            tenant_id=self.tenant_id, id=parse_id(assignment_id, "assignmentId")
        )
        if for_update:
            query = query.select_for_update()
        found = await query.first()
        if found is None:
            raise NotFound(f"no plan assignment {assignment_id}", field="assignmentId")
        if await self.users.visible_among([found.user_id]) != [found.user_id]:
            raise Forbidden("this plan is offered to someone else", field="assignmentId")
        await found.fetch_related("plan")
        return found

    async def assignments_of(self, user_id: UUID) -> list[PlanAssignment]:
        """A person's assignments (NotFound across tenants, Forbidden outside the viewer's
        reach), with their plans fetched."""
        visible_id = await self.users.require_visible_id(user_id)
        return (
            await PlanAssignment.filter(tenant_id=self.tenant_id, user_id=visible_id)
            .prefetch_related("plan")
            .order_by("effective_from", "id")
        )

    async def assignees(self, plan_id: UUID) -> list[PlanAssignment]:
        """The plan's assignments of the people the viewer may see."""
        query = PlanAssignment.filter(tenant_id=self.tenant_id, plan_id=plan_id)
        visible = await self.users.visible_ids()
        if visible is not None:
            query = query.filter(user_id__in=visible)
        return await query.order_by("effective_from", "id")

    async def quotas(self, user_ids: list[UUID], period: str) -> list[Quota]:
        return await Quota.filter(
            tenant_id=self.tenant_id,
            user_id__in=await self.users.visible_among(user_ids),
            period=period,
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
