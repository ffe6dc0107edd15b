from types import SimpleNamespace

import pytest

from domain.earnings.models import EarningsResult
from domain.kit.clock import utc_now
from gamification.badges.errors import BadgeRuleError
from gamification.badges.models import BadgeAward, BadgeDefinition
from gamification.badges.service import award_badge, create_badge, evaluate_after_recompute
from gamification.levels.service import xp_of
from tests.domain.builders import make_tenant, make_user, publish_plan, system_viewer


def _result(count: int, attainment: str | None) -> SimpleNamespace:
    measure = {"id": "bookings", "total": "100", "count": count, "attainment": attainment}
    return SimpleNamespace(total="10", measures=[measure])


async def test_a_rule_that_does_not_compile_names_the_field_and_stores_nothing(db: str) -> None:
    tenant = await make_tenant(slug="b1")
    for rule in ["deals >=", "nonsense > 1", "__import__('os')"]:
        with pytest.raises(BadgeRuleError) as caught:
            await create_badge(viewer=system_viewer(tenant), name="x", rule=rule)
        assert caught.value.field == "rule"
    assert await BadgeDefinition.filter(tenant_id=tenant.id).count() == 0


async def test_rules_award_once_per_period_and_revoke_on_reversal(db: str) -> None:
    tenant = await make_tenant(slug="b2")
    ana = await make_user(tenant=tenant, external_id="ana")
    first = await create_badge(
        viewer=system_viewer(tenant), name="First deal", rule="deals >= 1", xp=10
    )
    quota = await create_badge(
        viewer=system_viewer(tenant),
        name="Three in a row",
        rule="periods_in_a_row('bookings') >= 3",
    )
    pair = (ana.id, "2026-10")
    awarded, _ = await evaluate_after_recompute(
        tenant_id=tenant.id, pairs=[pair], results={pair: [_result(1, "0.5")]}
    )
    assert [a.badge_id for a in awarded] == [first.id]
    again, _ = await evaluate_after_recompute(
        tenant_id=tenant.id, pairs=[pair], results={pair: [_result(2, "0.5")]}
    )
    assert again == []
    assert await xp_of(tenant_id=tenant.id, user_id=ana.id) == 10
    # the two periods before are stored (and one three periods back, below 100%)
    version = await publish_plan(tenant=tenant)
    for period, attainment in [("2026-09", "1.2"), ("2026-08", "1"), ("2026-07", "0.9")]:
        await EarningsResult.create(
            tenant_id=tenant.id,
            user_id=ana.id,
            plan_version_id=version.id,
            period=period,
            currency="EUR",
            measures=_result(1, attainment).measures,
            computed_at=utc_now(),
        )
    # below 100% this period the run is 0 whatever came before
    awarded, _ = await evaluate_after_recompute(
        tenant_id=tenant.id, pairs=[pair], results={pair: [_result(1, "0.99")]}
    )
    assert awarded == []
    awarded, _ = await evaluate_after_recompute(
        tenant_id=tenant.id, pairs=[pair], results={pair: [_result(1, "1.0")]}
    )
    assert [a.badge_id for a in awarded] == [quota.id]
    # the deal is reversed: no deal left in the period
    _, revoked = await evaluate_after_recompute(
        tenant_id=tenant.id, pairs=[pair], results={pair: [_result(0, None)]}
    )
    assert {a.badge_id for a in revoked} == {first.id, quota.id}
    assert await xp_of(tenant_id=tenant.id, user_id=ana.id) == 0
    assert await BadgeAward.filter(tenant_id=tenant.id, revoked_at__isnull=False).count() == 2


async def test_award_badge_is_idempotent_on_source(db: str) -> None:
    tenant = await make_tenant(slug="b3")
    ana = await make_user(tenant=tenant, external_id="ana")
    badge = await create_badge(viewer=system_viewer(tenant), name="Contest winner", rule="")
    args = {"tenant_id": tenant.id, "user_id": ana.id, "badge_id": badge.id, "period": "2026-10"}
    award = await award_badge(source="contest:c1:1", **args)
    assert award is not None
    assert award.status_index == 0
    assert await award_badge(source="contest:c1:1", **args) is None
