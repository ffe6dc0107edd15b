"""Quotas: set and changed by admins (or a manager for their subtree), exact, audited."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.audit.models import AuditEntry
from domain.kit.errors import Forbidden, InvalidInput, NotFound, PeriodError
from domain.org.models import Role
from domain.plans.models import Quota
from domain.plans.service import set_quota as set_quota_service
from tests.domain.builders import make_org, make_tenant, make_user, set_quota, viewer_of

TEAM = {"boss": None, "ana": "boss", "other_boss": None, "cara": "other_boss"}


async def _entries() -> list[AuditEntry]:
    return await AuditEntry.filter(action="quota.set").order_by("id")


async def test_given_rep_when_quota_set_then_stored_exactly_and_audited(db: str):
    tenant = await make_tenant()
    admin = await make_user(tenant=tenant, external_id="root", role=Role.ADMIN)
    ana = await make_user(tenant=tenant, external_id="ana")

    await set_quota(
        user=ana, measure="bookings", period="2026-10", value="100000.125", by=viewer_of(admin)
    )

    stored = await Quota.get(user_id=ana.id)
    assert (stored.measure, stored.period, stored.value) == (
        "bookings",
        "2026-10",
        Decimal("100000.125"),
    )
    assert isinstance(stored.value, Decimal)
    [entry] = await _entries()
    assert (entry.entity_id, entry.actor_id) == (f"{ana.id}:bookings:2026-10", admin.id)
    assert (entry.before, entry.after) == (None, {"value": "100000.125"})


async def test_given_quota_when_changed_then_one_row_and_audit_shows_before_and_after(db: str):
    tenant = await make_tenant()
    ana = await make_user(tenant=tenant, external_id="ana")
    await set_quota(user=ana, value="100000")

    await set_quota(user=ana, value="120000.50")

    assert [q.value for q in await Quota.filter(user_id=ana.id)] == [Decimal("120000.5")]
    entries = await _entries()
    assert [(e.before, e.after) for e in entries] == [
        (None, {"value": "100000"}),
        ({"value": "100000"}, {"value": "120000.5"}),
    ]


async def test_given_quota_when_set_to_the_same_value_then_nothing_audited(db: str):
    tenant = await make_tenant()
    ana = await make_user(tenant=tenant, external_id="ana")
    await set_quota(user=ana, value="100000")

    await set_quota(user=ana, value="100000.000")

    assert len(await _entries()) == 1


async def test_given_quotas_of_several_periods_and_measures_when_set_then_kept_apart(db: str):
    tenant = await make_tenant()
    ana = await make_user(tenant=tenant, external_id="ana")

    await set_quota(user=ana, measure="bookings", period="2026-10", value="1")
    await set_quota(user=ana, measure="bookings", period="2026-11", value="2")
    await set_quota(user=ana, measure="installs", period="2026-10", value="3")
    await set_quota(user=ana, measure="bookings", period="2026-Q4", value="4")

    rows = await Quota.filter(user_id=ana.id).order_by("value")
    assert [(q.measure, q.period, q.value) for q in rows] == [
        ("bookings", "2026-10", 1),
        ("bookings", "2026-11", 2),
        ("installs", "2026-10", 3),
        ("bookings", "2026-Q4", 4),
    ]


@pytest.mark.parametrize(
    ("value", "field"),
    [
        (Decimal("-1"), "value"),
        (Decimal("NaN"), "value"),
        (Decimal("Infinity"), "value"),
        (Decimal("0.0000001"), "value"),
        (Decimal("1E+15"), "value"),
    ],
)
async def test_given_bad_value_when_quota_set_then_invalid_and_nothing_stored(
    db: str, value: Decimal, field: str
):
    tenant = await make_tenant()
    ana = await make_user(tenant=tenant, external_id="ana")

    with pytest.raises(InvalidInput) as caught:
        await set_quota(user=ana, value=value)

    assert caught.value.field == field
    assert await Quota.all().count() == 0
    assert await _entries() == []


async def test_given_float_when_quota_set_then_refused(db: str):
    tenant = await make_tenant()
    ana = await make_user(tenant=tenant, external_id="ana", role=Role.REP)
    admin = await make_user(tenant=tenant, external_id="root", role=Role.ADMIN)

    with pytest.raises(InvalidInput):
        await set_quota_service(
            viewer=viewer_of(admin),
            user_id=ana.id,
            measure="bookings",
            period="2026-10",
            value=100000.0,  # type: ignore[arg-type]
        )


async def test_given_bad_period_when_quota_set_then_period_error(db: str):
    tenant = await make_tenant()
    ana = await make_user(tenant=tenant, external_id="ana")

    with pytest.raises(PeriodError):
        await set_quota(user=ana, period="2026-13", value="1")


async def test_given_manager_when_setting_quotas_then_subtree_only_and_never_their_own(db: str):
    tenant = await make_tenant()
    org = await make_org(tenant=tenant, managers=TEAM)
    boss = viewer_of(org["boss"])

    await set_quota(user=org["ana"], value="5", by=boss)
    with pytest.raises(Forbidden):
        await set_quota(user=org["cara"], value="5", by=boss)
    with pytest.raises(Forbidden):
        await set_quota(user=org["boss"], value="5", by=boss)

    assert [q.user_id for q in await Quota.all()] == [org["ana"].id]


@pytest.mark.parametrize("role", [Role.REP, Role.PAYOUT_OPS])
async def test_given_rep_or_payout_ops_when_setting_a_quota_then_forbidden(db: str, role: Role):
    tenant = await make_tenant()
    actor = await make_user(tenant=tenant, external_id="actor", role=role)
    ana = await make_user(tenant=tenant, external_id="ana")

    with pytest.raises(Forbidden):
        await set_quota(user=ana, value="5", by=viewer_of(actor))


async def test_given_user_of_another_tenant_when_quota_set_then_not_found(db: str):
    acme, globex = await make_tenant(slug="acme"), await make_tenant(slug="globex")
    admin = await make_user(tenant=acme, external_id="root", role=Role.ADMIN)
    foreign = await make_user(tenant=globex, external_id="ana")

    with pytest.raises(NotFound):
        await set_quota(user=foreign, value="5", by=viewer_of(admin))

    assert await Quota.all().count() == 0
