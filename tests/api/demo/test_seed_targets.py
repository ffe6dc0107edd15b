"""The demo tenant's targets: next quarter's bookings target allocated from the head of sales
through the regional managers to every rep, published as their quotas, accepted by some and
disputed by one."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from domain.audit.models import AuditEntry
from domain.org.models import Role, User
from domain.plans.models import Quota
from domain.targets.models import PlanStatus, Target, TargetPlan, TargetStatus
from tests.api.demo.test_seed import seeded


async def test_given_the_demo_then_a_quarter_target_runs_down_the_hierarchy(db):
    summary = await seeded()

    [plan] = await TargetPlan.all()
    targets = await Target.filter(plan_id=plan.id).prefetch_related("user")
    by_id = {t.id: t for t in targets}
    assert (plan.period, plan.status) == ("2027-Q1", PlanStatus.PUBLISHED)
    assert len(targets) == 1 + 3 + len(summary.people.reps)
    for parent in targets:  # every split adds up to its parent exactly
        children = [t for t in targets if t.parent_id == parent.id]
        if children:
            assert sum(Decimal(c.value) for c in children) == Decimal(parent.value)
    reps = [t for t in targets if t.user.role is Role.REP]
    assert all(by_id[t.parent_id].user.external_id.startswith("mgr-") for t in reps)  # type: ignore[index]
    statuses = Counter(t.status for t in targets)
    assert statuses[TargetStatus.ACCEPTED] == 4
    assert statuses[TargetStatus.DISPUTED] == 1
    [disputed] = [t for t in targets if t.status is TargetStatus.DISPUTED]
    assert disputed.comment
    ana = await User.get(external_id="rep-north-01")
    quarter = {
        q.period: q.value for q in await Quota.filter(user_id=ana.id, period__startswith="2027")
    }
    mine = next(t for t in targets if t.user_id == ana.id)
    assert set(quarter) == {"2027-01", "2027-02", "2027-03"}
    assert sum(quarter.values()) == Decimal(mine.value)
    assert await AuditEntry.filter(action="target.validate").count() == 4
