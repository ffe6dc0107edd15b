from __future__ import annotations

from decimal import Decimal

import pytest

from domain.audit.models import AuditEntry
from domain.kit.errors import DomainError
from domain.rewards.models import Reward
from domain.rewards.repository import for_user_period
from domain.rewards.service import RewardError, grant_reward
from tests.domain.builders import make_tenant, make_user, system_viewer

pytestmark = pytest.mark.usefixtures("db")


async def _grant(viewer, user, **kw):
    args = {
        "viewer": viewer, "user_id": user.id, "period": "2026-10", "amount": Decimal("25.50"),
        "currency": "EUR", "source_kind": "contest_prize", "source_id": "c1", "reason": "first",
    }  # fmt: skip
    return await grant_reward(**(args | kw))


async def test_given_the_same_source_twice_then_one_reward_and_one_audit_entry():
    tenant = await make_tenant()
    ann = await make_user(tenant=tenant, external_id="ann")
    viewer = system_viewer(tenant)
    first, created = await _grant(viewer, ann)
    again, created_again = await _grant(viewer, ann, amount=Decimal("99.00"))
    assert (created, created_again) == (True, False)
    assert again.id == first.id
    assert again.amount == Decimal("25.50")
    assert [
        r.id for r in await for_user_period(tenant_id=tenant.id, user_id=ann.id, period="2026-10")
    ] == [first.id]
    entries = await AuditEntry.filter(action="reward.granted")
    assert len(entries) == 1
    assert entries[0].after["amount"] == "25.50"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"currency": "XXQ"}, "currency"),
        ({"amount": Decimal("1.001")}, "amount"),
        ({"period": "2026-13"}, "period"),
    ],
)
async def test_given_bad_input_then_a_field_error_and_nothing_stored(overrides, field):
    tenant = await make_tenant()
    ann = await make_user(tenant=tenant, external_id="ann")
    with pytest.raises(DomainError) as caught:
        await _grant(system_viewer(tenant), ann, **overrides)
    assert getattr(caught.value, "field", None) == field
    assert await Reward.all().count() == 0
    assert RewardError.code == "invalid_reward"
