"""The demo tenant's targets: next quarter's bookings target allocated from the head of sales
through the regional managers to every rep, published as their quotas, accepted by some and
disputed by one; a heat-pump target (bookings broken down by type) beside it; and the earnings
engine measuring next quarter against both."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from domain.audit.models import AuditEntry
from domain.earnings.service import recompute_rep_period
from domain.org.models import Role, User
from domain.org.viewer import Viewer
from domain.plans.models import Quota
from domain.targets.models import PlanStatus, Target, TargetPlan, TargetStatus
from tests.api.demo.test_seed import seeded
from tests.domain.builders import make_transaction

NEXT = "2027-Q1"  # the demo is seeded on 23 November 2026


def _tree_adds_up(targets: list[Target]) -> None:
    for parent in targets:  # every split adds up to its parent exactly
        children = [t for t in targets if t.parent_id == parent.id]
        if children:
            assert sum(Decimal(c.value) for c in children) == Decimal(parent.value)


async def test_given_the_demo_then_a_quarter_target_runs_down_the_hierarchy(db):
    summary = await seeded()

    plan = await TargetPlan.get(key=f"bookings-{NEXT}")
    targets = await Target.filter(plan_id=plan.id).prefetch_related("user")
    by_id = {t.id: t for t in targets}
    assert (plan.period, plan.status, plan.quota_key) == (NEXT, PlanStatus.PUBLISHED, "bookings")
    assert len(targets) == 1 + 3 + len(summary.people.reps)
    _tree_adds_up(targets)
    reps = [t for t in targets if t.user.role is Role.REP]
    assert all(by_id[t.parent_id].user.external_id.startswith("mgr-") for t in reps)  # type: ignore[index]
    statuses = Counter(t.status for t in targets)
    assert statuses[TargetStatus.ACCEPTED] == 4
    assert statuses[TargetStatus.DISPUTED] == 1
    [disputed] = [t for t in targets if t.status is TargetStatus.DISPUTED]
    assert disputed.comment
    ana = await User.get(external_id="rep-north-01")
    quarter = {
        q.period: q.value
        for q in await Quota.filter(user_id=ana.id, measure="bookings", period__startswith="2027")
    }
    mine = next(t for t in targets if t.user_id == ana.id)
    assert set(quarter) == {"2027-01", "2027-02", "2027-03"}
    assert sum(quarter.values()) == Decimal(mine.value)
    assert await AuditEntry.filter(action="target.validate").count() == 4 + 4


async def test_given_the_demo_then_a_heat_pump_target_by_type_beside_it(db):
    summary = await seeded()

    plan = await TargetPlan.get(key=f"heat-pumps-{NEXT}")
    targets = await Target.filter(plan_id=plan.id)

    assert plan.status is PlanStatus.PUBLISHED
    assert (plan.breakdown_field, plan.breakdown_value) == ("type", "heat_pump")
    assert plan.quota_key == "bookings[type=heat_pump]"
    assert len(targets) == 1 + 3 + len(summary.people.reps)
    _tree_adds_up(targets)
    # split by each level's heat-pump sales this quarter: not everyone gets the same
    reps = [t for t in targets if not any(c.parent_id == t.id for c in targets)]
    assert len({Decimal(t.value) for t in reps}) > 10
    quotas = await Quota.filter(measure=plan.quota_key)
    assert len(quotas) == 3 * len(targets)


async def test_given_the_demo_when_next_quarter_sells_then_the_engine_reads_the_published_quotas(
    db,
):
    summary = await seeded()
    system = Viewer.system(summary.tenant.id, "test")
    ana = await User.get(external_id="rep-north-01")
    manager = await User.get(external_id="mgr-north")
    await make_transaction(
        rep=ana,
        external_id="jan-1",
        amount="12000",
        on="2027-01-12",
        type="heat_pump",
        state="activated",
    )

    [mine] = await recompute_rep_period(viewer=system, user_id=ana.id, period="2027-01")
    [theirs] = await recompute_rep_period(viewer=system, user_id=manager.id, period="2027-01")

    quota = {q.measure: q.value for q in await Quota.filter(user_id=ana.id, period="2027-01")}
    measures = {m["id"]: m for m in mine.measures}
    assert Decimal(measures["bookings"]["quota"]) == quota["bookings"]
    assert Decimal(measures["heat_pumps"]["quota"]) == quota["bookings[type=heat_pump]"]
    assert (
        Decimal(measures["heat_pumps"]["attainment"])
        == Decimal(12000) / quota["bookings[type=heat_pump]"]
    )
    # the manager plan's team_bookings reads the manager's bookings quota: their team's target
    team_target = await Quota.get(user_id=manager.id, measure="bookings", period="2027-01")
    assert mine.status.value == theirs.status.value == "ok", (mine.error, theirs.error)
    assert Decimal(theirs.measures[0]["quota"]) == team_target.value
