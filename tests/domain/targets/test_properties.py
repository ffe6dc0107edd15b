"""The remainder rule through the whole path, against real PostgreSQL: any root (money or a
count), with or without a breakdown, split down a three-level hierarchy by any mix of the four
methods (EQUAL, ACTUALS from stored results or a breakdown's transactions, WEIGHTS, MANUAL
shares or values) and published: every parent is the exact sum of its children, the leaves
add up to the root, and each person's monthly quotas add up to their target."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from tortoise.transactions import in_transaction

from domain.earnings.models import EarningsResult
from domain.org.models import Role
from domain.plans.models import Quota
from domain.targets import service
from domain.targets.errors import AllocationError
from domain.targets.models import AllocationMethod, Target, TargetPlan
from domain.targets.service import Allocation
from tests.domain.builders import (
    make_org,
    make_tenant,
    make_transaction,
    publish_plan,
    viewer_of,
)

ORG = {
    "admin": None,
    "boss": None,
    "mia": "boss",
    "ana": "mia",
    "ben": "mia",
    "dan": "mia",
    "cy": "boss",
    "eve": "cy",
    "fay": "boss",
}
MANAGERS = {"boss": ("mia", "cy", "fay"), "mia": ("ana", "ben", "dan"), "cy": ("eve",)}
LEAVES = ("ana", "ben", "dan", "eve", "fay")
METHODS = ("equal", "actuals", "weights", "shares", "values")
PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _below(manager: str) -> list[str]:
    """The leaves under ``manager``."""
    out = []
    for report in MANAGERS[manager]:
        out.extend(_below(report) if report in MANAGERS else [report])
    return out


class RolledBack(Exception):
    """Ends an example's transaction: every example starts from the same people."""


@pytest.fixture
async def company(db: str) -> dict[str, Any]:
    tenant = await make_tenant()
    org = await make_org(tenant=tenant, managers=ORG, roles={"admin": Role.ADMIN})
    version = await publish_plan(tenant=tenant, effective_from="2026-07-01")
    return {"tenant": tenant, "org": org, "version": version}


async def _actuals(company: dict[str, Any], breakdown: bool, actuals: dict[str, int]) -> None:
    """Last quarter's actuals of the leaves: stored results of the measure, or (a breakdown)
    transactions of the category among others; a leaf with no actuals sold none of it."""
    org, version = company["org"], company["version"]
    for i, (person, cents) in enumerate(actuals.items()):
        amount = Decimal(cents) / 100
        if breakdown:
            for n, category in enumerate(("heat_pump", "solar")):
                if category == "heat_pump" and not cents:
                    continue  # no sale: a count target weighs sales, even one of 0
                await make_transaction(
                    rep=org[person],
                    external_id=f"{person}-{n}",
                    amount=amount if category == "heat_pump" else amount + 7,
                    on=date(2026, 8, 1 + i),
                    extra={"category": category},
                )
        else:
            await EarningsResult.create(
                tenant_id=org[person].tenant_id,
                user_id=org[person].id,
                plan_version_id=version.id,
                period="2026-08",
                currency="EUR",
                measures=[{"id": "bookings", "total": str(amount)}],
                computed_at=date(2026, 9, 1).isoformat() + "T00:00:00+00:00",
            )


async def _split(
    data: st.DataObject,
    method: str,
    admin: Any,
    target: Target,
    reports: list[Any],
    quantum: Decimal,
) -> None:
    if method in ("equal", "actuals"):
        await service.allocate(viewer=admin, target_id=target.id, method=AllocationMethod(method))
        return
    if method == "weights":
        weights = data.draw(
            st.lists(st.integers(0, 10**6), min_size=len(reports), max_size=len(reports)).filter(
                any
            )
        )
        lines = [
            Allocation(str(u.id), share=Decimal(w)) for u, w in zip(reports, weights, strict=True)
        ]
        await service.allocate(
            viewer=admin, target_id=target.id, method=AllocationMethod.WEIGHTS, allocations=lines
        )
        return
    if method == "shares":  # percentages adding up to 100 exactly
        cuts = sorted(data.draw(st.lists(st.integers(0, 100), min_size=len(reports) - 1)))[
            : len(reports) - 1
        ]
        parts = [b - a for a, b in zip([0, *cuts], [*cuts, 100], strict=True)]
        parts += [0] * (len(reports) - len(parts))
        lines = [
            Allocation(str(u.id), share=Decimal(p) / 100)
            for u, p in zip(reports, parts, strict=True)
        ]
        await service.allocate(
            viewer=admin, target_id=target.id, method=AllocationMethod.MANUAL, allocations=lines
        )
        return
    units = int(Decimal(target.value) / quantum)  # values: any cut of the parent in quanta
    cuts = sorted(
        data.draw(
            st.lists(st.integers(0, units), min_size=len(reports) - 1, max_size=len(reports) - 1)
        )
    )
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, units], strict=True)]
    lines = [Allocation(str(u.id), value=p * quantum) for u, p in zip(reports, parts, strict=True)]
    await service.allocate(
        viewer=admin, target_id=target.id, method=AllocationMethod.MANUAL, allocations=lines
    )


@PROPERTY
@given(
    root_units=st.integers(0, 10**12),
    counted=st.booleans(),
    breakdown=st.booleans(),
    actuals=st.fixed_dictionaries({p: st.integers(0, 10**9) for p in LEAVES}),
    data=st.data(),
)
async def test_given_any_tree_methods_and_root_when_allocated_and_published_then_exact_sums(
    company: dict[str, Any],
    root_units: int,
    counted: bool,
    breakdown: bool,
    actuals: dict[str, int],
    data: st.DataObject,
):
    org = company["org"]
    admin = viewer_of(org["admin"])
    quantum = Decimal(1) if counted else Decimal("0.01")
    try:
        async with in_transaction():
            await _actuals(company, breakdown, actuals)
            plan = await service.create_target_plan(
                viewer=admin,
                key="p",
                period="2026-Q4",
                measure="bookings",
                amount=root_units * quantum,
                currency=None if counted else "EUR",
                owner_id=org["boss"].id,
                breakdown_field="category" if breakdown else None,
                breakdown_value="heat_pump" if breakdown else None,
            )
            for manager, reports in MANAGERS.items():  # top-down: a parent's value first
                target = await Target.get(plan_id=plan.id, user_id=org[manager].id)
                method = data.draw(st.sampled_from(METHODS), label=f"method of {manager}")
                people = [org[r] for r in reports]
                if method == "actuals" and not any(actuals[p] for p in _below(manager)):
                    with pytest.raises(AllocationError) as nobody_sold:
                        await _split(data, method, admin, target, people, quantum)
                    assert nobody_sold.value.field == "method"
                    raise RolledBack
                await _split(data, method, admin, target, people, quantum)
                event(f"split by {method}")
                await service.propose(viewer=admin, target_id=target.id)
                await service.validate(viewer=admin, target_id=target.id)
            await service.publish(viewer=admin, plan_id=plan.id)
            event("published, " + ("by category" if breakdown else "whole measure"))

            targets = await Target.filter(plan_id=plan.id)
            values = {t.id: Decimal(t.value) for t in targets}
            root = next(t for t in targets if t.parent_id is None)
            for parent in targets:
                children = [values[t.id] for t in targets if t.parent_id == parent.id]
                if children:
                    assert sum(children) == values[parent.id]
                assert values[parent.id] >= 0
                assert values[parent.id] % quantum == 0
            leaves = [t for t in targets if not any(c.parent_id == t.id for c in targets)]
            assert {t.user_id for t in leaves} == {org[p].id for p in LEAVES}
            assert sum(values[t.id] for t in leaves) == values[root.id] == root_units * quantum
            key = (await TargetPlan.get(id=plan.id)).quota_key
            assert key == ("bookings[category=heat_pump]" if breakdown else "bookings")
            for t in targets:
                months = await Quota.filter(user_id=t.user_id, measure=key).values_list(
                    "value", flat=True
                )
                assert len(months) == 3
                assert sum(Decimal(m) for m in months) == values[t.id]
            raise RolledBack
    except RolledBack:
        return
