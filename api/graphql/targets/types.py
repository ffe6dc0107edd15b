"""A target as its person, their managers or an admin sees it."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import strawberry
from strawberry.types import Info

from domain.kit.money import unpadded
from domain.targets.models import Target as StoredTarget
from domain.targets.models import TargetPlan

if TYPE_CHECKING:
    from api.graphql.people.types import Rep


@strawberry.enum(description="Where a target is in its workflow.")
class TargetStatus(Enum):
    DRAFT = "draft"
    PROPOSED = "proposed"
    VALIDATED = "validated"
    PUBLISHED = "published"
    ACCEPTED = "accepted"
    DISPUTED = "disputed"


@strawberry.enum(description="How a manager splits a target among their direct reports.")
class AllocationMethod(Enum):
    EQUAL = "equal"
    ACTUALS = "actuals"
    WEIGHTS = "weights"
    MANUAL = "manual"


@strawberry.type(description="A transaction field and value the target is limited to.")
class BreakdownEntry:
    key: str
    value: str


@strawberry.input(
    description="One direct report's part: `value` (an amount) or `share` (MANUAL: a fraction "
    "of the parent, 0.25 = 25%; WEIGHTS: a weight)."
)
class AllocationInput:
    person_id: strawberry.ID
    value: Decimal | None = None
    share: Decimal | None = None


@strawberry.input
class AllocateTargetInput:
    target_id: strawberry.ID
    method: AllocationMethod
    allocations: list[AllocationInput] | None = None
    weight_attribute: str | None = strawberry.field(
        default=None,
        description="WEIGHTS without allocations: the people's column holding their weight "
        "(default target_weight).",
    )


@strawberry.enum(description="A target plan version's state.")
class TargetPlanStatus(Enum):
    DRAFT = "draft"
    PUBLISHED = "published"
    SUPERSEDED = "superseded"


@strawberry.type(description="One version of a tenant-level target for a period and measure.")
class TargetPlanVersion:
    id: strawberry.ID
    key: str
    version: int
    period: str
    measure: str
    amount: Decimal
    unit: str = strawberry.field(description="The currency code, or COUNT.")
    status: TargetPlanStatus
    breakdown: list[BreakdownEntry]
    quota_key: str = strawberry.field(
        description="The quotas its targets become: the measure's id, or with a breakdown "
        "`measure[field=value]`, which a plan's measure reads with `quota:`."
    )
    published_at: datetime | None
    effective_from: date | None = strawberry.field(
        description="Published versions: the first day their quotas apply."
    )
    stored: strawberry.Private[TargetPlan]

    @classmethod
    def of(cls, plan: TargetPlan) -> TargetPlanVersion:
        return cls(
            id=strawberry.ID(str(plan.id)),
            key=plan.key,
            version=plan.version,
            period=plan.period,
            measure=plan.measure,
            amount=unpadded(plan.amount),
            unit=plan.currency or "COUNT",
            status=TargetPlanStatus(plan.status.value),
            breakdown=_breakdown(plan),
            quota_key=plan.quota_key,
            published_at=plan.published_at,
            effective_from=plan.effective_from,
            stored=plan,
        )

    @strawberry.field(
        description="The viewer's own target in this version (an admin's: the root), with "
        "its allocation below: a manager's view of their subtree, actuals and attainment."
    )
    async def target(self, info: Info[Any, None]) -> Target | None:
        found = await info.context.loaders.own_targets.load(self.stored.id)
        return None if found is None else await Target.load(info, found)


def _breakdown(plan: TargetPlan) -> list[BreakdownEntry]:
    if not plan.breakdown_field:
        return []
    return [BreakdownEntry(key=plan.breakdown_field, value=plan.breakdown_value or "")]


@strawberry.type(description="A person's target for a period and measure.")
class Target:
    id: strawberry.ID
    plan_id: strawberry.ID
    version: int
    measure: str
    period: str
    value: Decimal
    unit: str = strawberry.field(description="The currency code, or COUNT.")
    status: TargetStatus
    accepted_at: datetime | None
    comment: str | None
    breakdown: list[BreakdownEntry]
    actual: Decimal = strawberry.field(description="Stored actuals of the measure so far.")
    attainment: Decimal | None = strawberry.field(description="actual / value; null at 0.")
    stored: strawberry.Private[StoredTarget]
    plan: strawberry.Private[TargetPlan]
    actuals: strawberry.Private[dict[UUID, Decimal]]

    @classmethod
    def of(cls, target: StoredTarget, plan: TargetPlan, actuals: dict[UUID, Decimal]) -> Target:
        value = unpadded(target.value)
        actual = unpadded(actuals.get(target.id, Decimal(0)))
        breakdown = _breakdown(plan)
        return cls(
            id=strawberry.ID(str(target.id)),
            plan_id=strawberry.ID(str(plan.id)),
            version=plan.version,
            measure=plan.measure,
            period=plan.period,
            value=value,
            unit=plan.currency or "COUNT",
            status=TargetStatus(target.status.value),
            accepted_at=target.accepted_at,
            comment=target.comment,
            breakdown=breakdown,
            actual=actual,
            attainment=None if not value else (actual / value).quantize(Decimal("0.0001")),
            stored=target,
            plan=plan,
            actuals=actuals,
        )

    @classmethod
    async def load(cls, info: Info[Any, None], target: StoredTarget) -> Target:
        plan, actuals = await info.context.loaders.target_plans.load(target.plan_id)
        return cls.of(target, plan, actuals)

    @strawberry.field(description="The person this target is for.")
    async def person(
        self, info: Info[Any, None]
    ) -> Annotated[Rep, strawberry.lazy("api.graphql.people.types")]:
        from api.graphql.people.types import Rep

        return Rep.of(await info.context.loaders.people.load(self.stored.user_id))

    @strawberry.field(description="How this target is split among the person's direct reports.")
    async def children(self, info: Info[Any, None]) -> list[Target]:
        found = await info.context.loaders.target_children.load(self.stored.id)
        return [Target.of(c, self.plan, self.actuals) for c in found]
