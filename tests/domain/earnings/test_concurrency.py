"""Jobs are delivered at least once and requests race: the same rep recomputed twice at once,
or two versions of one plan published at once, must neither fail on a unique key nor leave
two results or overlapping versions behind."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal

from tortoise.transactions import in_transaction

from domain.audit.models import AuditEntry
from domain.earnings.models import EarningsLine, EarningsResult
from domain.earnings.service import recompute_rep_period
from domain.kit.errors import Conflict
from domain.plans.models import PlanAssignment, PlanVersion, Quota
from domain.plans.service import assign_plan, publish_plan_version, set_quota
from tests.domain.builders import (
    assign,
    make_tenant,
    make_transaction,
    make_user,
    plan_yaml,
    publish_plan,
    system_viewer,
)


async def test_given_same_rep_when_recomputed_twice_at_once_then_one_result_one_set_of_lines(
    db: str,
):
    tenant = await make_tenant()
    ana = await make_user(tenant=tenant, external_id="ana")
    await assign(user=ana, plan=await publish_plan(tenant=tenant))
    for i in range(20):
        await make_transaction(rep=ana, external_id=f"t{i}", amount="100")

    async def job() -> None:
        async with in_transaction():
            await recompute_rep_period(
                viewer=system_viewer(tenant), user_id=ana.id, period="2026-10"
            )

    await asyncio.gather(job(), job(), job())

    [result] = await EarningsResult.all()
    assert result.total == Decimal("100.00")
    assert await EarningsLine.filter(transaction_external_id__isnull=False).count() == 20


async def test_given_new_plan_when_two_versions_published_at_once_then_no_overlap_ever(db: str):
    tenant = await make_tenant()

    async def publish(effective_from: date, rate: str) -> PlanVersion | Conflict:
        try:
            async with in_transaction():
                return await publish_plan_version(
                    viewer=system_viewer(tenant),
                    document=plan_yaml(rate=rate),
                    effective_from=effective_from,
                )
        except Conflict as exc:
            return exc

    outcomes = await asyncio.gather(
        publish(date(2026, 10, 1), "0.05"), publish(date(2026, 11, 1), "0.06")
    )

    versions = await PlanVersion.all().order_by("effective_from")
    published = [o for o in outcomes if isinstance(o, PlanVersion)]
    assert len(published) == len(versions) >= 1
    assert sorted(v.version for v in versions) == list(range(1, len(versions) + 1))
    for earlier, later in zip(versions, versions[1:], strict=False):
        assert earlier.effective_to is not None
        assert earlier.effective_to < later.effective_from


async def test_given_rep_when_same_plan_offered_twice_at_once_then_one_assignment(db: str):
    tenant = await make_tenant()
    ana = await make_user(tenant=tenant, external_id="ana")
    version = await publish_plan(tenant=tenant)

    async def offer() -> PlanAssignment | Conflict:
        try:
            async with in_transaction():
                return await assign_plan(
                    viewer=system_viewer(tenant),
                    plan_id=version.plan_id,
                    user_id=ana.id,
                    effective_from=date(2026, 10, 1),
                )
        except Conflict as exc:
            return exc

    outcomes = await asyncio.gather(offer(), offer(), offer())

    assert sum(isinstance(o, PlanAssignment) for o in outcomes) == 1
    assert await PlanAssignment.filter(user_id=ana.id).count() == 1


async def test_given_rep_when_first_quota_set_twice_at_once_then_one_row_last_value(db: str):
    tenant = await make_tenant()
    ana = await make_user(tenant=tenant, external_id="ana")

    async def set_to(value: str) -> None:
        async with in_transaction():
            await set_quota(
                viewer=system_viewer(tenant),
                user_id=ana.id,
                measure="bookings",
                period="2026-10",
                value=Decimal(value),
            )

    await asyncio.gather(set_to("100"), set_to("200"), set_to("300"))

    [quota] = await Quota.filter(user_id=ana.id)
    assert quota.value in (Decimal("100"), Decimal("200"), Decimal("300"))
    assert await AuditEntry.filter(action="quota.set").count() == 3
