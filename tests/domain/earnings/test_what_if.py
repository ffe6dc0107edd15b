"""What-if: the viewer's plans on their own data plus one hypothetical transaction this
period; before, after and delta, and nothing written anywhere."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from domain.earnings.service import current_period, what_if
from domain.kit.errors import InvalidInput
from domain.kit.periods import Period
from domain.org.models import Role
from domain.tenants.models import Tenant
from tests.domain.builders import (
    ALL_TABLES,
    assign,
    count_rows,
    make_fx_rate,
    make_org,
    make_tenant,
    make_transaction,
    make_user,
    plan_yaml,
    publish_plan,
    set_quota,
    system_viewer,
    viewer_of,
)

TIERED = """
id: ae
currency: EUR
period: month
measures:
  - id: bookings
components:
  - id: commission
    type: tiered
    measure: bookings
    tiers: [{from: 0, rate: 0.02}, {from: 0.5, rate: 0.05}, {from: 1.0, rate: 0.08}]
"""


async def _this_period(tenant: Tenant) -> Period:
    return await current_period(system_viewer(tenant))


async def test_given_rep_with_deals_when_what_if_then_before_after_delta_and_nothing_written(
    db: str,
):
    tenant = await make_tenant(time_zone="Europe/Berlin")
    ana = await make_user(tenant=tenant, external_id="ana")
    period = await _this_period(tenant)
    await assign(
        user=ana,
        plan=await publish_plan(tenant=tenant, document=TIERED, effective_from=period.start),
        effective_from=period.start,
    )
    await set_quota(user=ana, period=period.id, value="100000")
    await make_transaction(rep=ana, external_id="t1", amount="40000", on=period.start)
    before = await count_rows(*ALL_TABLES)

    result = await what_if(viewer=viewer_of(ana), amount=Decimal("20000"))

    # 40,000: 2% -> 800. 60,000: 50,000 at 2% + 10,000 at 5% -> 1,500.
    assert (result.currency, result.before, result.after, result.delta) == (
        "EUR",
        Decimal("800.00"),
        Decimal("1500.00"),
        Decimal("700.00"),
    )
    assert await count_rows(*ALL_TABLES) == before


async def test_given_fields_and_another_currency_when_what_if_then_filter_and_fx_applied(
    db: str,
):
    tenant = await make_tenant()
    ana = await make_user(tenant=tenant, external_id="ana")
    period = await _this_period(tenant)
    document = plan_yaml(rate="0.1", measure_filter="category == 'solar'")
    await assign(
        user=ana,
        plan=await publish_plan(tenant=tenant, document=document, effective_from=period.start),
        effective_from=period.start,
    )
    await make_fx_rate(tenant=tenant, currency="GBP", rate="1.25", on=period.start)

    solar = await what_if(
        viewer=viewer_of(ana),
        amount=Decimal("100"),
        fields={"category": "solar", "currency": "GBP"},
    )
    wind = await what_if(viewer=viewer_of(ana), amount=Decimal("100"), fields={"category": "wind"})

    assert (solar.before, solar.after, solar.delta) == (0, Decimal("12.50"), Decimal("12.50"))
    assert wind.delta == 0


async def test_given_rep_missing_a_quota_when_what_if_then_error_never_zero(db: str):
    tenant = await make_tenant()
    ana = await make_user(tenant=tenant, external_id="ana")
    period = await _this_period(tenant)
    await assign(
        user=ana,
        plan=await publish_plan(tenant=tenant, document=TIERED, effective_from=period.start),
        effective_from=period.start,
    )

    with pytest.raises(InvalidInput, match="no quota for measure 'bookings'"):
        await what_if(viewer=viewer_of(ana), amount=Decimal("1000"))


async def test_given_rep_on_no_plan_when_what_if_then_invalid(db: str):
    tenant = await make_tenant()
    ana = await make_user(tenant=tenant, external_id="ana")

    with pytest.raises(InvalidInput) as caught:
        await what_if(viewer=viewer_of(ana), amount=Decimal("1000"))

    assert caught.value.field == "me"


@pytest.mark.parametrize(
    ("amount", "fields", "field"),
    [
        (Decimal("NaN"), None, "amount"),
        (1000.0, None, "amount"),
        (Decimal("1"), {"amount": 5}, "fields.amount"),
        (Decimal("1"), {"rep_id": "ben"}, "fields.rep_id"),
        (Decimal("1"), {"date": "2020-01-01"}, "fields.date"),
    ],
)
async def test_given_bad_input_when_what_if_then_invalid(
    db: str, amount: Decimal, fields: dict | None, field: str
):
    tenant = await make_tenant()
    ana = await make_user(tenant=tenant, external_id="ana")

    with pytest.raises(InvalidInput) as caught:
        await what_if(viewer=viewer_of(ana), amount=amount, fields=fields)

    assert caught.value.field == field


async def test_given_system_viewer_when_what_if_then_invalid(db: str):
    tenant = await make_tenant()

    with pytest.raises(InvalidInput):
        await what_if(viewer=system_viewer(tenant), amount=Decimal("1"))


async def test_given_manager_on_team_plan_when_what_if_then_subtree_counted_nothing_written(
    db: str,
):
    tenant = await make_tenant()
    org = await make_org(tenant=tenant, managers={"lead": None, "ana": "lead", "cara": None})
    period = await _this_period(tenant)
    version = await publish_plan(
        tenant=tenant,
        document=plan_yaml(rate="0.01", scope="team"),
        effective_from=period.start,
    )
    await assign(user=org["lead"], plan=version, effective_from=period.start)
    await make_transaction(rep=org["ana"], external_id="t1", amount="10000", on=period.end)
    await make_transaction(rep=org["cara"], external_id="t2", amount="90000", on=period.end)
    before = await count_rows(*ALL_TABLES)

    result = await what_if(viewer=viewer_of(org["lead"]), amount=Decimal("5000"))

    assert (result.before, result.after) == (Decimal("100.00"), Decimal("150.00"))
    assert await count_rows(*ALL_TABLES) == before


async def test_given_tenant_time_zone_when_current_period_then_today_there(db: str):
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):
        tenant = await make_tenant(
            slug=f"t-{zone.split('/')[1].lower().replace('_', '-')}", time_zone=zone
        )
        admin = await make_user(tenant=tenant, external_id="root", role=Role.ADMIN)
        today = datetime.now(ZoneInfo(zone)).date()

        period = await current_period(viewer_of(admin))

        assert period.contains(today)
        assert period.kind == "month"


async def test_given_monthly_and_quarterly_plans_when_what_if_then_each_in_its_own_period(
    db: str,
):
    tenant = await make_tenant()
    ana = await make_user(tenant=tenant, external_id="ana")
    month = await _this_period(tenant)
    quarter = await current_period(system_viewer(tenant), "quarter")
    monthly = await publish_plan(
        tenant=tenant, document=plan_yaml(key="monthly", rate="0.01"), effective_from=month.start
    )
    quarterly = await publish_plan(
        tenant=tenant,
        document=plan_yaml(key="quarterly", rate="0.1", period="quarter"),
        effective_from=quarter.start,
    )
    await assign(user=ana, plan=monthly, effective_from=quarter.start)
    await assign(user=ana, plan=quarterly, effective_from=quarter.start)
    # dated this quarter, so it counts for the quarterly plan; the monthly one sees it only
    # when it falls in this month too
    await make_transaction(rep=ana, external_id="q1", amount="1000", on=quarter.start)
    in_month = month.contains(quarter.start)

    result = await what_if(viewer=viewer_of(ana), amount=Decimal("100"))

    assert result.before == Decimal("100.00") + (Decimal("10.00") if in_month else 0)
    assert result.delta == Decimal("11.00")
