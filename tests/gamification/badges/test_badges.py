import base64
import io
import json
from datetime import UTC, datetime
from types import SimpleNamespace
from uuid import uuid4

import pytest
from pypdf import PdfReader

from domain.earnings.models import EarningsResult
from domain.kit.clock import utc_now
from domain.notifications.models import Notification, NotificationKind
from gamification.badges.errors import BadgeRuleError
from gamification.badges.models import BadgeAward, BadgeDefinition
from gamification.badges.service import (
    award_badge,
    award_contest_badges,
    certificate_of,
    create_badge,
    credential_of,
    evaluate_after_recompute,
)
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


async def test_given_a_contest_place_rule_then_awarded_at_a_contest_award_once_per_contest(
    db: str,
) -> None:
    tenant = await make_tenant(slug="b-contest")
    ana, ben, cy, dee = [
        await make_user(tenant=tenant, external_id=n) for n in ("ana", "ben", "cy", "dee")
    ]
    podium = await create_badge(
        viewer=system_viewer(tenant), name="Podium", rule="contest_place <= 3", xp=25
    )
    await create_badge(viewer=system_viewer(tenant), name="First deal", rule="deals >= 1")
    contest, other = uuid4(), uuid4()
    places = [(ana.id, 1), (ben.id, 2), (cy.id, 2), (dee.id, 4)]  # a shared rank

    awarded = await award_contest_badges(
        tenant_id=tenant.id, contest_id=contest, period="2026-10", places=places
    )
    again = await award_contest_badges(
        tenant_id=tenant.id, contest_id=contest, period="2026-10", places=places
    )

    assert sorted((a.user_id, a.badge_id) for a in awarded) == sorted(
        (u.id, podium.id) for u in (ana, ben, cy)
    )  # the deals rule is not a contest rule: it waits for a recompute
    assert again == []  # once per contest
    assert {a.source for a in awarded} == {f"contest:{contest}:rule:{podium.id}"}
    assert await xp_of(tenant_id=tenant.id, user_id=ana.id) == 25
    told = await Notification.filter(user_id=ana.id, kind=NotificationKind.BADGE).count()
    assert told == 1
    # a recompute evaluates no contest rule: the award stands, nothing is revoked
    _, revoked = await evaluate_after_recompute(
        tenant_id=tenant.id, pairs=[(ana.id, "2026-10")], results={(ana.id, "2026-10"): []}
    )
    assert revoked == []
    # like every badge, at most once per person and period: another contest that month
    assert not await award_contest_badges(
        tenant_id=tenant.id, contest_id=other, period="2026-10", places=[(ana.id, 1)]
    )
    assert await award_contest_badges(
        tenant_id=tenant.id, contest_id=other, period="2026-11", places=[(ana.id, 1)]
    )


async def test_given_a_rule_failing_whatever_the_figures_then_refused_naming_rule(db: str) -> None:
    tenant = await make_tenant(slug="b-const")
    for rule in ["1/0 > 1", "deals / 0 > 1", "deals >= 1 and None + 1 > 2"]:
        with pytest.raises(BadgeRuleError) as caught:
            await create_badge(viewer=system_viewer(tenant), name="b", rule=rule)
        assert caught.value.field == "rule"
        assert "always fails" in caught.value.message
    # a rule that divides by zero only for some people is a rule
    await create_badge(viewer=system_viewer(tenant), name="ratio", rule="1 / deals >= 1")
    assert await BadgeDefinition.filter(tenant_id=tenant.id).count() == 1


async def test_given_a_long_flat_rule_then_refused_naming_rule_not_a_crash(db: str) -> None:
    tenant = await make_tenant(slug="b-chain")
    rule = "+".join(["1"] * 995) + " >= 1"

    with pytest.raises(BadgeRuleError) as caught:
        await create_badge(viewer=system_viewer(tenant), name="Chain2", rule=rule, xp=1)

    assert caught.value.field == "rule"
    assert "too long or nested too deeply" in caught.value.message
    assert await BadgeDefinition.filter(tenant_id=tenant.id).count() == 0


async def test_given_a_rule_failing_for_one_person_then_skipped_for_them_and_the_rest_awarded(
    db: str, caplog: pytest.LogCaptureFixture
) -> None:
    tenant = await make_tenant(slug="b-fail")
    ana = await make_user(tenant=tenant, external_id="ana")
    ben = await make_user(tenant=tenant, external_id="ben")
    ratio = await create_badge(
        viewer=system_viewer(tenant), name="Ratio", rule="10 / deals >= 5", xp=5
    )
    earner = await create_badge(
        viewer=system_viewer(tenant), name="Earner", rule="earnings >= 1", xp=10
    )
    # stored before rules were checked: fails for everyone, every time
    broken = await BadgeDefinition.create(
        id=uuid4(), tenant_id=tenant.id, name="Broken", rule="1/0 > 1", created_at=utc_now()
    )
    pairs = [(ana.id, "2026-10"), (ben.id, "2026-10")]
    results = {pairs[0]: [_result(0, None)], pairs[1]: [_result(2, None)]}

    with caplog.at_level("WARNING", logger="gamification.badges.service"):
        awarded, revoked = await evaluate_after_recompute(
            tenant_id=tenant.id, pairs=pairs, results=results
        )

    assert sorted((a.user_id, a.badge_id) for a in awarded) == sorted(
        [(ana.id, earner.id), (ben.id, earner.id), (ben.id, ratio.id)]
    )  # ana has no deals: 10 / 0 fails for her alone
    assert revoked == []
    assert await xp_of(tenant_id=tenant.id, user_id=ben.id) == 15
    warnings = [r.getMessage() for r in caplog.records]
    assert len([w for w in warnings if "Broken" in w]) == 1  # once per batch, not per person
    assert any("Ratio" in w and "division by zero" in w for w in warnings)
    assert any(str(broken.id) in w and "division by zero" in w for w in warnings)


async def test_given_a_contest_rule_failing_for_one_person_then_the_others_are_awarded(
    db: str,
) -> None:
    tenant = await make_tenant(slug="b-contest-fail")
    ana, ben = [await make_user(tenant=tenant, external_id=n) for n in ("ana", "ben")]
    podium = await create_badge(
        viewer=system_viewer(tenant), name="Podium", rule="contest_place <= 3"
    )
    await create_badge(
        viewer=system_viewer(tenant), name="Odd", rule="contest_place / (contest_place - 1) > 0"
    )

    awarded = await award_contest_badges(
        tenant_id=tenant.id, contest_id=uuid4(), period="2026-10", places=[(ana.id, 1), (ben.id, 2)]
    )

    # the second rule divides by zero for the winner: skipped for her; ben holds both
    assert sorted((a.user_id, a.badge_id) for a in awarded if a.badge_id == podium.id) == sorted(
        [(ana.id, podium.id), (ben.id, podium.id)]
    )
    assert len(awarded) == 3


async def test_given_a_badge_earned_at_2330_in_chicago_on_31_october_then_the_certificate_reads_31_october(  # noqa: E501
    db: str,
) -> None:
    # 23:30 on Saturday 31 October 2026 in Chicago (CDT, UTC-5) is 04:30 UTC on 1 November:
    # the certificate said "awarded on 2026-11-01", a day the rep did not earn it
    tenant = await make_tenant(slug="b9", time_zone="America/Chicago")
    ana = await make_user(tenant=tenant, external_id="ana")
    badge = await create_badge(viewer=system_viewer(tenant), name="Halloween closer", rule="")
    award = await award_badge(
        tenant_id=tenant.id, user_id=ana.id, badge_id=badge.id, period="2026-10", source="s"
    )
    assert award is not None
    earned = datetime(2026, 11, 1, 4, 30, tzinfo=UTC)
    await BadgeAward.filter(id=award.id).update(awarded_at=earned)

    pdf = await certificate_of(award_id=award.id)

    assert pdf is not None
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "awarded on 2026-10-31" in text, text
    assert "2026-11-01" not in text
    # the credential keeps the exact instant, in UTC
    stored = await BadgeAward.get(id=award.id)
    token = await credential_of(award=stored, base_url="https://podium.example", secret=b"k" * 32)
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["vc"]["validFrom"] == "2026-11-01T04:30:00Z"
    assert claims["nbf"] == int(earned.timestamp())


async def test_given_a_revoked_award_when_its_deal_is_won_again_then_awarded_anew(db: str) -> None:
    # a CRM correction: the deal won, then lost, then won again. The badge stayed revoked
    # for good (one award per badge, person and period, and a source reversed is not granted
    # again): the rep had the deal and not the badge, nor its XP
    tenant = await make_tenant(slug="b-again")
    ana = await make_user(tenant=tenant, external_id="ana")
    first = await create_badge(
        viewer=system_viewer(tenant), name="First deal", rule="deals >= 1", xp=10
    )
    pair = (ana.id, "2026-10")

    async def evaluate(count: int) -> tuple[list[BadgeAward], list[BadgeAward]]:
        return await evaluate_after_recompute(
            tenant_id=tenant.id, pairs=[pair], results={pair: [_result(count, "0.5")]}
        )

    (won,), _ = await evaluate(1)
    _, (revoked,) = await evaluate(0)
    (again,), _ = await evaluate(1)

    assert revoked.id == won.id
    # a new award: its own credential and status list bit (a revocation is never undone)
    assert again.id != won.id
    assert again.status_index != won.status_index
    assert again.badge_id == first.id
    assert again.revoked_at is None
    assert await xp_of(tenant_id=tenant.id, user_id=ana.id) == 10
    assert await evaluate(1) == ([], [])  # once while it holds
    # and revoked again with the next reversal, its XP with it
    _, (gone,) = await evaluate(0)
    assert gone.id == again.id
    assert await xp_of(tenant_id=tenant.id, user_id=ana.id) == 0
    awards = await BadgeAward.filter(tenant_id=tenant.id).order_by("status_index")
    assert [(a.id, a.revoked_at is not None) for a in awards] == [(won.id, True), (again.id, True)]
