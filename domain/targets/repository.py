"""Every query of the targets area, scoped to the viewer's tenant."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from tortoise import connections

from domain.earnings.models import EarningsResult, PeriodStatus
from domain.earnings.models import Period as StoredPeriod
from domain.org.models import User
from domain.org.repository import parse_id
from domain.org.viewer import Viewer
from domain.plans.models import PlanVersion, Quota
from domain.targets.errors import AllocationError, NotFound
from domain.targets.models import PlanStatus, Target, TargetPlan, TargetStatus

_COLUMN_FIELDS = frozenset({"type", "state", "currency"})


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

    async def lock_key(self, key: str) -> None:
        """Until the transaction ends, whoever writes a version of this plan key waits for
        the others (two double-submitted creations, revisions or imports of one key)."""
        await connections.get("default").execute_query(
            "SELECT pg_advisory_xact_lock(hashtext('target_plan:' || $1::text || ':' || $2))",
            [str(self.tenant_id), key],
        )

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

    async def proposed_parents(self, owners: set[UUID] | None) -> list[Target]:
        """Targets of draft plans whose children are proposed (of ``owners``; None: any)."""
        query = Target.filter(
            tenant_id=self.tenant_id,
            plan__status=PlanStatus.DRAFT,
            children__status=TargetStatus.PROPOSED,
        )
        if owners is not None:
            query = query.filter(user_id__in=list(owners))
        return await query.distinct().order_by("id")

    async def ready_to_publish(self, plan_id: UUID) -> bool:
        """Every target of the plan validated, and everyone with direct reports has split
        theirs."""
        targets = await self.targets_of_plan(plan_id)
        if any(t.status is not TargetStatus.VALIDATED for t in targets):
            return False
        parents = {t.parent_id for t in targets}
        leaves = [t.user_id for t in targets if t.id not in parents]
        return not await User.filter(tenant_id=self.tenant_id, manager_id__in=leaves).exists()

    async def roots(self, plan_ids: Iterable[UUID]) -> dict[UUID, Target]:
        found = await Target.filter(
            tenant_id=self.tenant_id, plan_id__in=list(plan_ids), parent_id=None
        )
        return {t.plan_id: t for t in found}

    async def of_user_in(self, user_id: UUID, plan_ids: Iterable[UUID]) -> dict[UUID, Target]:
        found = await Target.filter(
            tenant_id=self.tenant_id, plan_id__in=list(plan_ids), user_id=user_id
        )
        return {t.plan_id: t for t in found}

    async def closed_periods(self, keys: Iterable[str]) -> set[str]:
        rows = await StoredPeriod.filter(
            tenant_id=self.tenant_id, key__in=list(keys), status=PeriodStatus.CLOSED
        ).values_list("key", flat=True)
        return {str(k) for k in rows}

    async def measure_totals(
        self, user_ids: Iterable[UUID], periods: Iterable[str], quota_key: str
    ) -> dict[UUID, Decimal]:
        """Each person's stored total over ``periods`` of the plan measures that read the
        quotas of ``quota_key`` (a measure reads its own id's, or its ``quota:``): what the
        engine measures a target's attainment by."""
        totals: dict[UUID, Decimal] = {}
        results = await EarningsResult.filter(
            tenant_id=self.tenant_id, user_id__in=list(user_ids), period__in=list(periods)
        )
        reading = await self._measures_reading({r.plan_version_id for r in results}, quota_key)
        for r in results:
            wanted = reading.get(r.plan_version_id, set())
            for m in r.measures:
                if m.get("id") in wanted and m.get("total") is not None:
                    totals[r.user_id] = totals.get(r.user_id, Decimal(0)) + Decimal(m["total"])
        return totals

    async def _measures_reading(self, version_ids: set[UUID], key: str) -> dict[UUID, set[str]]:
        """The ids of the measures of each plan version that read the quotas of ``key``."""
        if not version_ids:
            return {}
        rows = await PlanVersion.filter(
            tenant_id=self.tenant_id, id__in=list(version_ids)
        ).values_list("id", "document")
        out: dict[UUID, set[str]] = {}
        for version_id, document in rows:
            measures = document.get("measures", []) if isinstance(document, dict) else []
            out[UUID(str(version_id))] = {
                str(m["id"])
                for m in measures
                if isinstance(m, dict) and "id" in m and m.get("quota", m["id"]) == key
            }
        return out

    async def field_totals(
        self,
        user_ids: Iterable[UUID],
        start: date,
        end: date,
        field: str,
        value: str,
        currency: str | None,
    ) -> dict[UUID, Decimal]:
        """Each person's credited share (their split's) of the transactions from ``start`` to
        ``end`` whose field ``field`` is ``value`` (a breakdown's actuals): their amounts in
        ``currency``, converted at the latest FX rate on or before their date, or with no
        currency (a count) the transactions themselves. A missing rate is an AllocationError,
        never a silent 0."""
        wanted = {str(u) for u in user_ids}
        # type, state and currency are columns; every other field is one of the CRM's extras
        params: list[Any] = [self.tenant_id, start, end, sorted(wanted), value, currency or ""]
        if field in _COLUMN_FIELDS:
            column = f"t.{field}"
        else:
            column = "t.extra_fields ->> $7"
            params.append(field)
        rows = await connections.get("default").execute_query_dict(
            f"""
            SELECT t.rep_id, t.amount, t.currency, t.date, t.splits,
                   (SELECT f.rate FROM fx_rates f
                    WHERE f.tenant_id = t.tenant_id AND f.currency = t.currency
                      AND f.quote_currency = $6 AND f.date <= t.date
                    ORDER BY f.date DESC LIMIT 1) AS rate
            FROM transactions t
            WHERE t.tenant_id = $1 AND t.date BETWEEN $2 AND $3 AND NOT t.deleted
              AND t.credited_user_ids ?| $4::text[] AND {column} = $5
            """,
            params,
        )
        totals: dict[UUID, Decimal] = {}
        for row in rows:
            if currency is None:
                worth = Decimal(1)
            elif row["currency"] == currency:
                worth = Decimal(row["amount"])
            elif row["rate"] is not None:
                worth = Decimal(row["amount"]) * Decimal(row["rate"])
            else:
                raise AllocationError(
                    f"no FX rate from {row['currency']} to {currency} on or before "
                    f"{row['date'].isoformat()} for last period's actuals: add one, or choose "
                    "another method",
                    field="method",
                )
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
                    totals[key] = totals.get(key, Decimal(0)) + worth * share
        return totals

    async def published_versions(self, key: str) -> list[TargetPlan]:
        """Every version of ``key`` ever published (the current one last), oldest first."""
        return await TargetPlan.filter(
            tenant_id=self.tenant_id,
            key=key,
            status__in=[PlanStatus.PUBLISHED, PlanStatus.SUPERSEDED],
        ).order_by("version")

    async def targets_of_plans(self, plan_ids: Iterable[UUID]) -> dict[UUID, list[Target]]:
        out: dict[UUID, list[Target]] = {}
        ids = list(plan_ids)
        for t in await Target.filter(tenant_id=self.tenant_id, plan_id__in=ids).order_by("id"):
            out.setdefault(t.plan_id, []).append(t)
        return {i: out.get(i, []) for i in ids}

    async def quotas_of(self, key: str, periods: Iterable[str]) -> dict[tuple[UUID, str], Decimal]:
        """Everyone's stored quota of ``key`` in ``periods``, by (person, period)."""
        rows = await Quota.filter(
            tenant_id=self.tenant_id, measure=key, period__in=list(periods)
        ).values_list("user_id", "period", "value")
        return {(UUID(str(u)), str(p)): Decimal(v) for u, p, v in rows}

    async def write_quotas(self, key: str, rows: Sequence[tuple[UUID, str, Decimal]]) -> None:
        """Upsert (person, period, value) quotas of ``key`` in one statement."""
        if not rows:
            return
        await connections.get("default").execute_query(
            """
            INSERT INTO quotas (tenant_id, user_id, measure, period, value, updated_at)
            SELECT $1, r.user_id, $2, r.period, r.value, now()
            FROM unnest($3::uuid[], $4::text[], $5::numeric[]) AS r(user_id, period, value)
            ON CONFLICT (tenant_id, user_id, measure, period) DO UPDATE SET
                value = EXCLUDED.value,
                updated_at = now()
            """,
            [
                self.tenant_id,
                key,
                [u for u, _, _ in rows],
                [p for _, p, _ in rows],
                [v for _, _, v in rows],
            ],
        )

    async def delete_quotas(self, key: str, pairs: Sequence[tuple[UUID, str]]) -> None:
        """End the quotas of ``key`` of (person, period) pairs."""
        if not pairs:
            return
        await connections.get("default").execute_query(
            """
            DELETE FROM quotas q USING unnest($3::uuid[], $4::text[]) AS r(user_id, period)
            WHERE q.tenant_id = $1 AND q.measure = $2
              AND q.user_id = r.user_id AND q.period = r.period
            """,
            [self.tenant_id, key, [u for u, _ in pairs], [p for _, p in pairs]],
        )
