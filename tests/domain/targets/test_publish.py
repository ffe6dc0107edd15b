"""Publishing targets as quotas: per-breakdown quotas the engine reads, the effective date,
revisions that mix a month by day (three versions in one month too), people dropped by a
revision, what is refused (outside the period, a closed month, a period already over) with
nothing written, and the recomputes queued for the months under way. 'Today' is 20 November
2026 (tests/domain/targets/conftest.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from domain.audit.models import AuditEntry
from domain.datasets.csvfiles import csv_lines
from domain.earnings.service import close_period, recompute_rep_period
from domain.ingest.models import RecomputeRequest
from domain.kit.errors import Conflict, InvalidInput, PeriodError
from domain.org.models import Role
from domain.plans.models import Quota
from domain.targets import service
from domain.targets.files import import_targets
from domain.targets.models import AllocationMethod, PlanStatus, Target, TargetPlan, TargetStatus
from tests.domain.builders import (
    assign,
    make_org,
    make_tenant,
    make_transaction,
    publish_plan,
    system_viewer,
    viewer_of,
)
from tests.domain.targets.conftest import pin_today

ORG = {"boss": None, "mia": "boss", "ana": "mia", "ben": "mia", "cy": "boss", "admin": None}
HEADER = "plan,period,measure,currency,rep_id,value\n"
# boss 90,000 = mia 45,000 (ana 30,000, ben 15,000) + cy 45,000: 10,000 / 5,000 / 15,000 a month
V1 = HEADER + (
    "q,2026-Q4,bookings,EUR,boss,90000\n"
    "q,2026-Q4,bookings,EUR,mia,45000\n"
    "q,2026-Q4,bookings,EUR,ana,30000\n"
    "q,2026-Q4,bookings,EUR,ben,15000\n"
    "q,2026-Q4,bookings,EUR,cy,45000\n"
)


async def _org():
    tenant = await make_tenant()
    org = await make_org(tenant=tenant, managers=ORG, roles={"admin": Role.ADMIN})
    return tenant, org, viewer_of(org["admin"])


async def _import(admin, text: str, key: str = "q") -> TargetPlan:
    await import_targets(viewer=admin, lines=csv_lines(text))
    return await TargetPlan.filter(key=key).order_by("-version").first()  # type: ignore[return-value]


async def _quotas(user, key: str = "bookings") -> dict[str, Decimal]:
    return {q.period: q.value for q in await Quota.filter(user_id=user.id, measure=key)}


HEAT_PUMP_PLAN = """\
id: installers
currency: EUR
period: month
measures:
  - id: bookings
  - id: heat_pumps
    filter: "category == 'heat_pump'"
    quota: "bookings[category=heat_pump]"
components:
  - id: heat_pump_commission
    type: tiered
    measure: heat_pumps
    tiers: [{from: 0, rate: 0.01}, {from: 1, rate: 0.1}]
  - id: heat_pump_club
    type: bonus
    measure: heat_pumps
    steps: [{at: 1, amount: 500}]
"""


async def test_given_a_target_by_category_when_published_then_the_engine_pays_on_its_quota(
    db: str,
):
    tenant, org, admin = await _org()
    # the whole of bookings, and heat pumps alone: two plans, two quotas per person and month
    await _import(admin, V1)
    hp = await service.create_target_plan(
        viewer=admin,
        key="hp",
        period="2026-Q4",
        measure="bookings",
        amount=Decimal("9000.00"),
        currency="EUR",
        owner_id=org["boss"].id,
        breakdown_field="category",
        breakdown_value="heat_pump",
    )
    root = await Target.get(plan_id=hp.id, parent_id=None)
    for who in ("boss", "mia"):
        mine = await Target.get(plan_id=hp.id, user_id=org[who].id)
        await service.allocate(viewer=admin, target_id=mine.id, method=AllocationMethod.EQUAL)
        await service.propose(viewer=admin, target_id=mine.id)
        await service.validate(viewer=admin, target_id=mine.id)
    await service.publish(viewer=admin, plan_id=hp.id)
    await service.publish(viewer=admin, plan_id=(await TargetPlan.get(key="q")).id)
    version = await publish_plan(tenant=tenant, document=HEAT_PUMP_PLAN)
    await assign(user=org["ana"], plan=version)
    await make_transaction(
        rep=org["ana"], external_id="t1", amount="1125", extra={"category": "heat_pump"}
    )
    await make_transaction(
        rep=org["ana"], external_id="t2", amount="5000", extra={"category": "solar"}
    )

    [result] = await recompute_rep_period(
        viewer=system_viewer(tenant), user_id=org["ana"].id, period="2026-10"
    )

    # heat pumps: 9,000 -> mia 4,500 -> ana 2,250 a quarter, 750 a month
    assert hp.quota_key == "bookings[category=heat_pump]"
    assert (await _quotas(org["ana"], hp.quota_key))["2026-10"] == Decimal("750")
    assert (await _quotas(org["ana"]))["2026-10"] == Decimal("10000")
    measures = {m["id"]: m for m in result.measures}
    assert Decimal(measures["heat_pumps"]["quota"]) == Decimal("750")
    assert Decimal(measures["heat_pumps"]["attainment"]) == Decimal("1.5")
    assert Decimal(measures["bookings"]["quota"]) == Decimal("10000")
    amounts = {c["id"]: Decimal(c["amount"]) for c in result.components}
    # 1% of the first 750, 10% of the 375 above the heat-pump quota; the club at 100%
    assert amounts == {"heat_pump_commission": Decimal("45.00"), "heat_pump_club": Decimal(500)}
    # a target's actuals are what the engine measured it by: heat pumps only
    actuals = await service.plan_actuals(viewer=admin, plan=hp)
    anas = await Target.get(plan_id=hp.id, user_id=org["ana"].id)
    assert actuals[anas.id] == Decimal("1125")
    assert actuals[root.id] == Decimal("1125")


async def test_given_a_first_version_effective_mid_quarter_when_published_then_from_that_month(
    db: str,
):
    _, org, admin = await _org()
    plan = await _import(admin, V1)

    await service.publish(viewer=admin, plan_id=plan.id, effective=date(2026, 11, 10))

    # no version before it to mix with: the whole month it falls in, and those after
    assert await _quotas(org["cy"]) == {"2026-11": Decimal(15000), "2026-12": Decimal(15000)}
    await plan.refresh_from_db()
    assert plan.effective_from == date(2026, 11, 1)


async def test_given_three_versions_in_one_month_when_published_then_each_has_its_days(db: str):
    _, org, admin = await _org()
    await service.publish(viewer=admin, plan_id=(await _import(admin, V1)).id)
    # cy: 15,000 a month, then 30,000 from the 11th, then 6,000 from the 21st
    v2 = await _import(admin, V1.replace("90000", "135000").replace("cy,45000", "cy,90000"))
    await service.publish(viewer=admin, plan_id=v2.id, effective=date(2026, 11, 11))
    v3 = await _import(admin, V1.replace("90000", "63000").replace("cy,45000", "cy,18000"))

    await service.publish(viewer=admin, plan_id=v3.id, effective=date(2026, 11, 21))

    # November: 10 days of 15,000, 10 of 30,000, 10 of 6,000 (a month each); December: v3
    assert await _quotas(org["cy"]) == {
        "2026-10": Decimal(15000),
        "2026-11": Decimal(5000) + Decimal(10000) + Decimal(2000),
        "2026-12": Decimal(6000),
    }
    assert [p.status for p in await TargetPlan.all().order_by("version")] == [
        PlanStatus.SUPERSEDED,
        PlanStatus.SUPERSEDED,
        PlanStatus.PUBLISHED,
    ]


async def test_given_a_person_dropped_by_a_revision_when_published_then_their_quota_ends(
    db: str,
):
    _, org, admin = await _org()
    await service.publish(viewer=admin, plan_id=(await _import(admin, V1)).id)
    # ben left mia's team: the revision gives ana all of mia's 45,000
    without_ben = V1.replace("ana,30000", "ana,45000").replace(
        "q,2026-Q4,bookings,EUR,ben,15000\n", ""
    )
    v2 = await _import(admin, without_ben)

    await service.publish(viewer=admin, plan_id=v2.id, effective=date(2026, 11, 11))

    # October stays, November is ben's first 10 days, December has no quota of his any more
    assert await _quotas(org["ben"]) == {
        "2026-10": Decimal(5000),
        "2026-11": Decimal("1666.67"),
    }
    assert (await _quotas(org["ana"]))["2026-12"] == Decimal(15000)
    audit = await AuditEntry.filter(action="target.publish").order_by("-id").first()
    assert audit is not None
    assert audit.after["quotas_ended"] == 1
    assert audit.after["effective_from"] == "2026-11-11"


async def test_given_published_quotas_when_months_are_under_way_then_their_recomputes_queued(
    db: str,
):
    _, org, admin = await _org()

    await service.publish(viewer=admin, plan_id=(await _import(admin, V1)).id)

    # 20 November: October and November have started (their results may be stored); December not
    queued = {(r.user_id, r.period) for r in await RecomputeRequest.all()}
    people = {org[k].id for k in ("boss", "mia", "ana", "ben", "cy")}
    assert queued == {(u, p) for u in people for p in ("2026-10", "2026-11")}


async def _refused(admin, plan: TargetPlan, error: type[Exception], field: str, **kwargs):
    quotas = sorted(await Quota.all().values_list("user_id", "measure", "period", "value"))
    with pytest.raises(error) as caught:
        await service.publish(viewer=admin, plan_id=plan.id, **kwargs)
    assert caught.value.field == field  # type: ignore[attr-defined]
    # nothing written: the quotas as they were, the version still a draft of validated targets
    assert sorted(await Quota.all().values_list("user_id", "measure", "period", "value")) == quotas
    await plan.refresh_from_db()
    assert plan.status is PlanStatus.DRAFT
    assert plan.effective_from is None
    assert {t.status for t in await Target.filter(plan_id=plan.id)} == {TargetStatus.VALIDATED}
    return caught.value


@pytest.mark.parametrize("day", [date(2026, 9, 30), date(2027, 1, 1)])
async def test_given_an_effective_date_outside_the_period_when_published_then_refused(
    db: str, day: date
):
    _, _, admin = await _org()
    plan = await _import(admin, V1)

    error = await _refused(admin, plan, InvalidInput, "effectiveFrom", effective=day)

    assert "is not in 2026-Q4 (2026-10-01 to 2026-12-31)" in str(error)


async def test_given_a_closed_month_when_a_revision_takes_effect_in_it_then_refused(db: str):
    _, _, admin = await _org()
    await service.publish(viewer=admin, plan_id=(await _import(admin, V1)).id)
    await close_period(viewer=admin, period="2026-10")
    v2 = await _import(admin, V1.replace("90000", "99000").replace("cy,45000", "cy,54000"))

    error = await _refused(admin, v2, PeriodError, "effectiveFrom", effective=date(2026, 10, 20))
    await service.publish(viewer=admin, plan_id=v2.id, effective=date(2026, 11, 1))  # after: may

    assert "2026-10 is closed" in str(error)


async def test_given_a_revision_before_the_current_version_date_when_published_then_refused(
    db: str,
):
    _, _, admin = await _org()
    v1 = await _import(admin, V1)
    await service.publish(viewer=admin, plan_id=v1.id, effective=date(2026, 11, 5))
    v2 = await _import(admin, V1.replace("90000", "99000").replace("cy,45000", "cy,54000"))

    error = await _refused(admin, v2, InvalidInput, "effectiveFrom", effective=date(2026, 10, 20))

    # a first version applies from the start of the month its date falls in
    assert "version 1 applies from 2026-11-01" in str(error)


async def test_given_the_period_over_when_revising_or_publishing_a_revision_then_refused(
    db: str, monkeypatch: pytest.MonkeyPatch
):
    _, _, admin = await _org()
    v1 = await _import(admin, V1)
    await service.publish(viewer=admin, plan_id=v1.id)
    v2 = await service.revise(viewer=admin, plan_id=v1.id)
    pin_today(monkeypatch, datetime(2027, 1, 4, 9, 0, tzinfo=UTC))

    late = await _refused(admin, v2, PeriodError, "period")
    explicit = await _refused(admin, v2, PeriodError, "period", effective=date(2026, 12, 20))
    with pytest.raises(PeriodError) as revising:
        await service.revise(viewer=admin, plan_id=v1.id)

    assert "2026-Q4 ended on 2026-12-31" in str(late)
    assert str(explicit) == str(late)
    assert revising.value.field == "planId"
    # a first version of a period over (not closed) may still be published: late targets
    late = await _import(admin, V1.replace("q,", "late,"), key="late")
    assert (await service.publish(viewer=admin, plan_id=late.id)).status is PlanStatus.PUBLISHED


async def test_given_a_superseded_version_when_its_target_is_answered_then_refused(db: str):
    _, org, admin = await _org()
    v1 = await _import(admin, V1)
    await service.publish(viewer=admin, plan_id=v1.id)
    old = await Target.get(plan_id=v1.id, user_id=org["ana"].id)
    v2 = await service.revise(viewer=admin, plan_id=v1.id)
    await service.publish(viewer=admin, plan_id=v2.id)
    ana = viewer_of(org["ana"])

    with pytest.raises(Conflict) as caught:
        await service.respond(viewer=ana, target_id=old.id, accept=True)
    current = await Target.get(plan_id=v2.id, user_id=org["ana"].id)
    answered = await service.respond(viewer=ana, target_id=current.id, accept=True)

    assert caught.value.field == "id"
    assert "replaced by a later one" in caught.value.message
    assert answered.status is TargetStatus.ACCEPTED
    assert [t.id for t, _ in await service.my_targets(viewer=ana, period="2026-Q4")] == [current.id]
