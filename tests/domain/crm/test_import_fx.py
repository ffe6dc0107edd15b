"""`podium import fx` (``import_fx_rates``): a tenant's FX rates from a CSV file, each
converting its currency into a plan's from its date until the pair's next rate. What a
changed rate converts is touched (or, in a closed period, flagged late); a recompute then
converts with it. A bad row is named by file, row and column, and nothing is stored."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from domain.crm.models import FxRate
from domain.crm.service import import_fx_rates
from domain.earnings.models import EarningsResult
from domain.earnings.service import close_period, recompute_many
from domain.kit.errors import DataError
from tests.domain.builders import (
    assign,
    make_tenant,
    make_transaction,
    make_user,
    publish_plan,
    system_viewer,
)

pytestmark = pytest.mark.usefixtures("db")

HEADER = "date,currency,quote_currency,rate\n"


async def world() -> tuple[Any, Any, Any]:
    """ana (EUR plan) sold 1,000 GBP on 10 November; bob sold in euros only."""
    tenant = await make_tenant(slug="acme")
    ana = await make_user(tenant=tenant, external_id="ana")
    bob = await make_user(tenant=tenant, external_id="bob")
    plan = await publish_plan(tenant=tenant)
    for person in (ana, bob):
        await assign(user=person, plan=plan, accepted=True)
    await make_transaction(rep=ana, external_id="g1", amount="1000", on="2026-11-10",
                           currency="GBP")  # fmt: skip
    await make_transaction(rep=bob, external_id="e1", amount="500", on="2026-11-10")
    return tenant, ana, bob


async def imported(tenant: Any, *rows: str) -> Any:
    async with in_transaction():
        return await import_fx_rates(viewer=system_viewer(tenant), lines=[HEADER, *rows])


async def recomputed(tenant: Any, person: Any) -> EarningsResult:
    async with in_transaction():
        await recompute_many(viewer=system_viewer(tenant), pairs=[(person.id, "2026-11")])
    return await EarningsResult.get(user_id=person.id, period="2026-11")


async def test_given_rates_when_imported_then_stored_and_what_they_convert_recomputed_with_them():
    tenant, ana, bob = await world()
    assert (await recomputed(tenant, ana)).status == "error"  # no GBP rate yet

    result = await imported(tenant, "2026-11-01,GBP,EUR,1.1612\n", "2026-11-01,USD,EUR,0.92\n")

    assert (result.rows, result.inserted, result.updated, result.skipped) == (2, 2, 0, 0)
    assert set(result.touched) == {(ana.id, "2026-11")}  # bob converts nothing
    stored = await FxRate.filter(tenant_id=tenant.id).order_by("currency")
    assert [(r.currency, r.quote_currency, str(r.date), Decimal(r.rate)) for r in stored] == [
        ("GBP", "EUR", "2026-11-01", Decimal("1.1612")),
        ("USD", "EUR", "2026-11-01", Decimal("0.92")),
    ]
    ana_result = await recomputed(tenant, ana)
    assert ana_result.status == "ok", ana_result.error
    assert Decimal(ana_result.total) == Decimal("58.06")  # 1,000 GBP x 1.1612 x 5%

    # the same file again changes nothing and touches no one
    again = await imported(tenant, "2026-11-01,GBP,EUR,1.1612\n", "2026-11-01,USD,EUR,0.92\n")
    assert (again.inserted, again.updated, again.skipped, again.touched) == (0, 0, 2, ())
    # a rate from 15 November converts nothing of ana's (10 November): touches no one
    later = await imported(tenant, "2026-11-15,GBP,EUR,1.2\n")
    assert (later.inserted, later.touched) == (1, ())
    # the rate of 1 November corrected: ana's deal is converted by it (until 15 November)
    corrected = await imported(tenant, "2026-11-01,GBP,EUR,1.17\n")
    assert (corrected.updated, set(corrected.touched)) == (1, {(ana.id, "2026-11")})
    assert Decimal((await recomputed(tenant, ana)).total) == Decimal("58.50")


async def test_given_a_closed_period_when_a_rate_it_converted_with_changes_then_flagged_late():
    tenant, ana, _ = await world()
    await imported(tenant, "2026-11-01,GBP,EUR,1.1612\n")
    async with in_transaction():
        await close_period(viewer=system_viewer(tenant), period="2026-11")

    result = await imported(tenant, "2026-11-01,GBP,EUR,1.17\n")

    assert (result.updated, result.touched, result.late_events) == (1, (), 1)


@pytest.mark.parametrize(
    ("rows", "row", "column", "says"),
    [
        (["2026-11-01,GBP,GBP,1\n"], 2, "quote_currency", "converts another currency"),
        (["2026-11-01,GBP,EUR,0\n"], 2, "rate", "positive"),
        (["2026-11-01,GBP,EUR,-1.5\n"], 2, "rate", "positive"),
        (["2026-11-01,GBP,EUR,12345678901\n"], 2, "rate", "10 digits before the point"),
        (["2026-11-01,GBP,EUR,1.12345678901\n"], 2, "rate", ""),
        (["2026-11-01,GBP,EUR,1e3\n"], 2, "rate", ""),
        (["2026-11-01,XBT1,EUR,1\n"], 2, "currency", "ISO 4217"),
        (["2026-11-01,GBP,euro,1\n"], 2, "quote_currency", "ISO 4217"),
        (["2026-13-01,GBP,EUR,1\n"], 2, "date", ""),
        (["2026-11-01,GBP,EUR,1\n", "2026-11-01,GBP,EUR,1.1\n"], 3, "date", "second rate"),
        (["2026-11-01,GBP,EUR,1\n", "2026-11-02,GBP,EUR,\n"], 3, "rate", "required"),
    ],
)
async def test_given_a_bad_row_then_named_and_nothing_stored(
    rows: list[str], row: int, column: str, says: str
):
    tenant = await make_tenant(slug="acme")

    with pytest.raises(DataError) as refused:
        await imported(tenant, *rows)

    assert (refused.value.file, refused.value.row, refused.value.column) == ("fx.csv", row, column)
    assert says in refused.value.message
    assert not await FxRate.exists(tenant_id=tenant.id)


async def test_given_the_simulators_columns_then_each_rate_is_into_the_tenants_currency():
    """The simulator's fx.csv (date,currency,rate: plan-currency units per unit) imports as
    it is: its rates convert into the tenant's currency (EUR here)."""
    tenant, ana, _ = await world()

    async with in_transaction():
        result = await import_fx_rates(
            viewer=system_viewer(tenant),
            lines=["date,currency,rate\n", "2026-11-01,GBP,1.1612\n"],
        )

    assert (result.inserted, set(result.touched)) == (1, {(ana.id, "2026-11")})
    stored = await FxRate.get(tenant_id=tenant.id)
    assert (stored.currency, stored.quote_currency, Decimal(stored.rate)) == (
        "GBP",
        "EUR",
        Decimal("1.1612"),
    )
    assert Decimal((await recomputed(tenant, ana)).total) == Decimal("58.06")


async def test_given_the_simulators_columns_and_the_tenants_own_currency_then_named():
    tenant = await make_tenant(slug="acme")

    with pytest.raises(DataError) as refused:
        async with in_transaction():
            await import_fx_rates(
                viewer=system_viewer(tenant),
                lines=["date,currency,rate\n", "2026-11-01,EUR,1\n"],
            )

    assert (refused.value.row, refused.value.column) == (2, "currency")
    assert "the currency the rates convert into" in refused.value.message
    assert not await FxRate.exists(tenant_id=tenant.id)


async def test_given_an_unknown_column_then_the_expected_ones_are_named():
    tenant = await make_tenant(slug="acme")

    with pytest.raises(DataError) as refused:
        async with in_transaction():
            await import_fx_rates(
                viewer=system_viewer(tenant),
                lines=["date,currency,rate,source\n", "2026-11-01,GBP,1.1,ecb\n"],
            )

    assert refused.value.row == 1
    assert "date,currency,rate [,quote_currency]" in refused.value.message
