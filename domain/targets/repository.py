"""Every query of the targets area, scoped to the viewer's tenant."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from uuid import UUID

from tortoise import connections

from domain.earnings.models import EarningsResult, PeriodStatus
from domain.earnings.models import Period as StoredPeriod
from domain.org.repository import parse_id
from domain.org.viewer import Viewer
from domain.plans.models import Quota
from domain.targets.errors import NotFound
from domain.targets.models import Target, TargetPlan


class TargetRepository:
    def __init__(self, viewer: Viewer) -> None:
        self.tenant_id = viewer.tenant_id

    async def plan(self, plan_id: UUID | str, *, for_update: bool = False) -> TargetPlan:
        query = TargetPlan.filter(tenant_id=self.tenant_id, id=parse_id(plan_id, "planId"))
        found = await (query.select_for_update() if for_update else query).first()
        if found is None:
            raise NotFound("no such target plan", field="planId")
        return found

    async def plans(self, plan_ids: Iterable[UUID]) -> dict[UUID, TargetPlan]:
        found = await TargetPlan.filter(tenant_id=self.tenant_id, id__in=list(plan_ids))
        return {p.id: p for p in found}

    async def latest_version(self, key: str) -> int:
        found = (
            await TargetPlan.filter(tenant_id=self.tenant_id, key=key).order_by("-version").first()
        )
        return 0 if found is None else found.version

    async def target(self, target_id: UUID | str, *, for_update: bool = False) -> Target:
        query = Target.filter(tenant_id=self.tenant_id, id=parse_id(target_id, "id"))
        found = await (query.select_for_update() if for_update else query).first()
        if found is None:
            raise NotFound("no such target", field="id")
        return found

    async def targets_of_plan(self, plan_id: UUID) -> list[Target]:
        return await Target.filter(tenant_id=self.tenant_id, plan_id=plan_id).order_by("id")

    async def children(self, target_id: UUID) -> list[Target]:
        return await Target.filter(tenant_id=self.tenant_id, parent_id=target_id).order_by("id")

    async def children_of_many(self, target_ids: Iterable[UUID]) -> dict[UUID, list[Target]]:
        out: dict[UUID, list[Target]] = {}
        found = await Target.filter(
            tenant_id=self.tenant_id, parent_id__in=list(target_ids)
        ).order_by("id")
        for t in found:
            out.setdefault(t.parent_id, []).append(t)  # type: ignore[arg-type]
        return out

    async def delete_children(self, target_id: UUID) -> int:
        # cascades to grandchildren through the parent foreign key
        return await Target.filter(tenant_id=self.tenant_id, parent_id=target_id).delete()

    async def drafts_of(self, user_id: UUID) -> list[Target]:
        return await Target.filter(
            tenant_id=self.tenant_id, user_id=user_id, plan__status="draft"
        ).order_by("id")

    async def of_user(self, user_id: UUID, period: str | None) -> list[tuple[Target, TargetPlan]]:
        """The person's targets of published (current) plans."""
        query = Target.filter(
            tenant_id=self.tenant_id, user_id=user_id, plan__status="published"
        ).prefetch_related("plan")
        if period is not None:
            query = query.filter(plan__period=period)
        rows = await query.order_by("plan__period", "plan__measure")
        return [(t, t.plan) for t in rows]

    async def closed_periods(self, keys: Iterable[str]) -> set[str]:
        rows = await StoredPeriod.filter(
            tenant_id=self.tenant_id, key__in=list(keys), status=PeriodStatus.CLOSED
        ).values_list("key", flat=True)
        return {str(k) for k in rows}

    async def measure_totals(
        self, user_ids: Iterable[UUID], periods: Iterable[str], measure: str
    ) -> dict[UUID, Decimal]:
        """Each person's stored total of ``measure`` over ``periods`` (their earnings results)."""
        totals: dict[UUID, Decimal] = {}
        results = await EarningsResult.filter(
            tenant_id=self.tenant_id, user_id__in=list(user_ids), period__in=list(periods)
        )
        for r in results:
            for m in r.measures:
                if m.get("id") == measure and m.get("total") is not None:
                    totals[r.user_id] = totals.get(r.user_id, Decimal(0)) + Decimal(m["total"])
        return totals

    async def field_totals(
        self, user_ids: Iterable[UUID], start: date, end: date, field: str, value: str
    ) -> dict[UUID, Decimal]:
        """Each person's credited amount (their split share) of the transactions from
        ``start`` to ``end`` whose field ``field`` is ``value`` (a breakdown's actuals)."""
        wanted = {str(u) for u in user_ids}
        rows = await connections.get("default").execute_query_dict(
            """
            SELECT rep_id, amount, splits FROM transactions
            WHERE tenant_id = $1 AND date BETWEEN $2 AND $3 AND NOT deleted
              AND credited_user_ids ?| $4::text[] AND extra_fields ->> $5 = $6
            """,
            [self.tenant_id, start, end, sorted(wanted), field, value],
        )
        totals: dict[UUID, Decimal] = {}
        for row in rows:
            splits = row["splits"]
            if isinstance(splits, str):
                splits = json.loads(splits)
            credits = (
                [(s["rep_id"], Decimal(s["share"])) for s in splits]
                if splits
                else [(str(row["rep_id"]), Decimal(1))]
            )
            for rep, share in credits:
                if rep in wanted:
                    key = UUID(rep)
                    totals[key] = totals.get(key, Decimal(0)) + Decimal(row["amount"]) * share
        return totals

    async def write_quotas(self, rows: Iterable[tuple[UUID, str, str, Decimal]]) -> int:
        count = 0
        for user_id, measure, period, value in rows:
            await Quota.update_or_create(
                tenant_id=self.tenant_id,
                user_id=user_id,
                measure=measure,
                period=period,
                defaults={"value": value},
            )
            count += 1
        return count
