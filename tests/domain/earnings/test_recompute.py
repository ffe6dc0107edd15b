"""`recompute_rep_period`: loads a rep's inputs from PostgreSQL, runs the engine, replaces the
stored result and lines atomically, stores per-rep errors, refuses closed periods."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest
from asyncpg.exceptions import RaiseError
from tortoise import connections
from tortoise.transactions import in_transaction

from domain.audit.models import AuditEntry
from domain.earnings.errors import PeriodClosed
from domain.earnings.models import EarningsLine, EarningsResult, Period, PeriodStatus, ResultStatus
from domain.earnings.service import close_period, recompute_rep_period
from domain.engine import explanations
from domain.kit.errors import Forbidden, NotFound
from domain.org.models import Role, User
from domain.org.viewer import Viewer
from domain.plans.models import PlanAssignment, PlanVersion
from domain.tenants.models import Tenant
from tests.domain.builders import (
    assign,
    count_rows,
    load_dataset,
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

EXAMPLE_01 = Path(__file__).resolve().parents[2] / "examples" / "01-ae-marginal-tiers"


async def _recompute(
    user: User, period: str = "2026-10", viewer: Viewer | None = None
) -> list[EarningsResult]:
    return await recompute_rep_period(
        viewer=viewer or system_viewer(user), user_id=user.id, period=period
    )


async def _lines(result: EarningsResult) -> list[tuple[str | None, Decimal | None, Decimal]]:
    rows = await EarningsLine.filter(result_id=result.id, transaction_external_id__isnull=False)
    return sorted((r.transaction_external_id, r.value, r.amount) for r in rows)  # type: ignore[arg-type,return-value]


async def _rate_rep(rate: str = "0.05") -> tuple[Tenant, User, PlanVersion]:
    tenant = await make_tenant()
    ana = await make_user(tenant=tenant, external_id="ana")
    version = await publish_plan(tenant=tenant, document=plan_yaml(rate=rate))
    await assign(user=ana, plan=version)
    return tenant, ana, version


async def test_given_example_01_when_ana_recomputed_then_2750_eur_to_the_cent(db: str):
    tenant = await make_tenant()
    data = await load_dataset(tenant=tenant, directory=EXAMPLE_01, period="2026-10")

    [result] = await _recompute(data["ana"])

    assert (result.status, result.currency, result.total) == (
        ResultStatus.OK,
        "EUR",
        Decimal("2750.00"),
    )
    stored = await EarningsResult.get(id=result.id)
    assert stored.total == Decimal("2750.00")
    assert [(c["id"], c["amount"]) for c in stored.components] == [
        ("commission", "2750.00"),
        ("quota_club", "0.00"),
    ]
    assert stored.measures[0]["attainment"] == "0.85"
    assert (stored.active_days, stored.period_days) == (31, 31)
    assert stored.computed_at.tzinfo is not None
    explained = await EarningsLine.filter(result_id=result.id).order_by("position")
    assert explained
    assert {line.component for line in explained} == {"commission", "quota_club"}


async def test_given_example_01_when_ben_recomputed_then_prorated_quota_and_gbp_converted(
    db: str,
):
    tenant = await make_tenant()
    data = await load_dataset(tenant=tenant, directory=EXAMPLE_01, period="2026-10")

    [result] = await _recompute(data["ben"])

    stored = await EarningsResult.get(id=result.id)
    # hired on the 16th: 16 of 31 days; 20,000 GBP on the 20th at the rate of the 18th (1.17)
    assert (stored.active_days, stored.period_days) == (16, 31)
    assert stored.measures == [
        {
            "id": "bookings",
            "name": "Bookings",
            "total": "23400.00",
            "count": "1",
            "quota": "32000",
            "attainment": "0.73125",
        }
    ]
    assert (stored.total, stored.payable, stored.pending) == (
        Decimal("690.00"),
        Decimal("690.00"),
        Decimal("0"),
    )
    # the conversion is explained, language-neutral and exact, on the commission's line
    assert "explanation" not in next(c for c in stored.components if c["id"] == "commission")
    commission = await EarningsLine.get(
        result_id=result.id, component="commission", transaction_external_id=None
    )
    # stored by position, the converted amount derived when read
    assert ["fx_transaction", ["2026-10-18", "GBP", "1.17", "20000", "t4"]] in json.loads(
        commission.explanation
    )
    words = explanations.render_stored(commission.explanation, locale="en", currency="EUR")
    assert "transaction t4: £20,000.00 converted at the Oct 18, 2026 rate of 1.17: €23,400.00" in (
        words
    )


async def test_given_fx_rates_into_several_currencies_when_recomputed_then_plan_currency_used(
    db: str,
):
    tenant, ana, _ = await _rate_rep("0.1")
    await make_transaction(rep=ana, external_id="t1", amount="1000", currency="GBP")
    await make_fx_rate(tenant=tenant, currency="GBP", rate="1.2", on="2026-10-01")
    await make_fx_rate(
        tenant=tenant, currency="GBP", rate="9.99", on="2026-10-10", quote_currency="USD"
    )

    [result] = await _recompute(ana)

    assert result.total == Decimal("120.00")
    assert await _lines(result) == [("t1", Decimal("1200.0"), Decimal("120.00"))]


async def test_given_no_fx_rate_when_recomputed_then_error_stored_never_a_silent_zero(db: str):
    tenant, ana, _ = await _rate_rep()
    await make_transaction(rep=ana, external_id="t1", amount="1000", currency="GBP")
    await make_fx_rate(tenant=tenant, currency="GBP", rate="1.2", on="2026-10-20")

    [result] = await _recompute(ana)

    stored = await EarningsResult.get(id=result.id)
    assert stored.status is ResultStatus.ERROR
    assert stored.error == "no FX rate for GBP on or before 2026-10-15 (transaction t1)"
    assert await EarningsLine.filter(result_id=result.id).count() == 0


async def test_given_missing_quota_when_recomputed_then_error_status_with_reason(db: str):
    tenant = await make_tenant()
    data = await load_dataset(tenant=tenant, directory=EXAMPLE_01, period="2026-10")
    await make_transaction(rep=data["ana"], external_id="n1", amount="100", on="2026-11-03")

    [result] = await _recompute(data["ana"], "2026-11")

    assert result.status is ResultStatus.ERROR
    assert result.error == "no quota for measure 'bookings' in 2026-11"
    assert result.total == 0


async def test_given_zero_quota_when_recomputed_then_error_status(db: str):
    tenant = await make_tenant()
    data = await load_dataset(tenant=tenant, directory=EXAMPLE_01, period="2026-10")
    await set_quota(user=data["ana"], value="0")

    [result] = await _recompute(data["ana"])

    assert result.status is ResultStatus.ERROR
    assert result.error == "quota for measure 'bookings' in 2026-10 is 0"


async def test_given_stored_result_when_recomputed_after_new_deal_then_replaced_with_its_lines(
    db: str,
):
    tenant, ana, _ = await _rate_rep()
    await make_transaction(rep=ana, external_id="t1", amount="1000")
    [first] = await _recompute(ana)
    await make_transaction(rep=ana, external_id="t2", amount="2000", on="2026-10-20")

    [second] = await _recompute(ana)

    assert second.id == first.id
    assert await EarningsResult.all().count() == 1
    stored = await EarningsResult.get(id=first.id)
    assert stored.total == Decimal("150.00")
    assert await _lines(stored) == [
        ("t1", Decimal("1000"), Decimal("50.00")),
        ("t2", Decimal("2000"), Decimal("100.00")),
    ]
    positions = await EarningsLine.filter(result_id=first.id).values_list("position", flat=True)
    assert sorted(positions) == list(range(len(positions)))
    entries = await AuditEntry.filter(action="earnings.recomputed").order_by("id")
    assert [(e.before, e.after) for e in entries] == [
        (None, {"status": "ok", "total": "50", "payable": "50", "pending": "0", "error": None}),
        (
            {"status": "ok", "total": "50", "payable": "50", "pending": "0", "error": None},
            {"status": "ok", "total": "150", "payable": "150", "pending": "0", "error": None},
        ),
    ]


async def test_given_unchanged_inputs_when_recomputed_twice_then_same_rows_and_one_audit(
    db: str,
):
    tenant, ana, _ = await _rate_rep()
    await make_transaction(rep=ana, external_id="t1", amount="1000")
    await _recompute(ana)
    before = await count_rows("earnings_results", "earnings_lines")

    await _recompute(ana)

    assert await count_rows("earnings_results", "earnings_lines") == before
    assert await AuditEntry.filter(action="earnings.recomputed").count() == 1


async def test_given_ok_result_when_rep_becomes_an_error_then_lines_removed(db: str):
    tenant, ana, _ = await _rate_rep()
    await make_transaction(rep=ana, external_id="t1", amount="1000")
    [ok] = await _recompute(ana)
    await make_transaction(rep=ana, external_id="t2", amount="5", currency="JPY")

    [error] = await _recompute(ana)

    assert error.id == ok.id
    stored = await EarningsResult.get(id=ok.id)
    assert (stored.status, stored.total, stored.components) == (ResultStatus.ERROR, 0, [])
    assert await EarningsLine.filter(result_id=ok.id).count() == 0


@pytest.fixture
async def failing_line_inserts(db: str):
    """A real database failure in the middle of a recompute: inserting lines raises."""
    conn = connections.get("default")
    await conn.execute_script(
        """
        CREATE OR REPLACE FUNCTION podium_test_fail() RETURNS trigger AS $$
        BEGIN RAISE EXCEPTION 'disk full (simulated)'; END; $$ LANGUAGE plpgsql;
        """
    )

    async def arm() -> None:
        await conn.execute_script(
            "CREATE TRIGGER podium_test_fail BEFORE INSERT ON earnings_lines "
            "FOR EACH ROW EXECUTE FUNCTION podium_test_fail()"
        )

    yield arm
    await conn.execute_script(
        "DROP TRIGGER IF EXISTS podium_test_fail ON earnings_lines; "
        "DROP FUNCTION IF EXISTS podium_test_fail();"
    )


async def _assert_old_result_kept(result_id: UUID) -> None:
    stored = await EarningsResult.get(id=result_id)
    assert stored.total == Decimal("50.00")
    assert await _lines(stored) == [("t1", Decimal("1000"), Decimal("50.00"))]
    assert await EarningsResult.all().count() == 1


async def test_given_failure_mid_way_when_recomputed_without_caller_transaction_then_old_result(
    db: str, failing_line_inserts
):
    tenant, ana, _ = await _rate_rep()
    await make_transaction(rep=ana, external_id="t1", amount="1000")
    [old] = await _recompute(ana)
    await make_transaction(rep=ana, external_id="t2", amount="2000")
    audit_before = await AuditEntry.all().count()
    await failing_line_inserts()

    with pytest.raises(RaiseError, match="disk full"):
        await _recompute(ana)

    await _assert_old_result_kept(old.id)
    assert await AuditEntry.all().count() == audit_before


async def test_given_failure_mid_way_when_caller_catches_it_and_commits_then_old_result(
    db: str, failing_line_inserts
):
    tenant, ana, _ = await _rate_rep()
    await make_transaction(rep=ana, external_id="t1", amount="1000")
    [old] = await _recompute(ana)
    await make_transaction(rep=ana, external_id="t2", amount="2000")
    await failing_line_inserts()

    async with in_transaction():
        with pytest.raises(RaiseError):
            await _recompute(ana)
        await make_user(tenant=tenant, external_id="written-after")  # the caller carries on

    await _assert_old_result_kept(old.id)
    assert await User.filter(external_id="written-after").exists()


async def test_given_closed_period_when_recomputed_then_refused_and_result_kept(db: str):
    tenant, ana, _ = await _rate_rep()
    await make_transaction(rep=ana, external_id="t1", amount="1000")
    [old] = await _recompute(ana)
    await close_period(viewer=system_viewer(tenant), period="2026-10")
    await make_transaction(rep=ana, external_id="t2", amount="2000")

    with pytest.raises(PeriodClosed) as caught:
        await _recompute(ana)

    assert (caught.value.code, caught.value.field) == ("period_closed", "period")
    assert (await EarningsResult.get(id=old.id)).total == Decimal("50.00")
    [nov] = await _recompute(ana, "2026-11")  # other periods stay open
    assert (nov.status, nov.total) == (ResultStatus.OK, 0)


async def test_given_open_period_when_closed_then_stored_closed_and_audited(db: str):
    tenant = await make_tenant()
    ops = await make_user(tenant=tenant, external_id="ops", role=Role.PAYOUT_OPS)

    period = await close_period(viewer=viewer_of(ops), period="2026-Q4")

    stored = await Period.get(id=period.id)
    assert (stored.key, stored.kind, stored.status) == ("2026-Q4", "quarter", PeriodStatus.CLOSED)
    assert (stored.starts_on, stored.ends_on) == (date(2026, 10, 1), date(2026, 12, 31))
    assert stored.closed_at is not None
    [entry] = await AuditEntry.filter(action="period.closed")
    assert (entry.entity_id, entry.actor_id, entry.after) == (
        "2026-Q4",
        ops.id,
        {"status": "closed"},
    )
    with pytest.raises(PeriodClosed):
        await close_period(viewer=viewer_of(ops), period="2026-Q4")


@pytest.mark.parametrize("role", [Role.REP, Role.MANAGER])
async def test_given_rep_or_manager_when_closing_a_period_then_forbidden(db: str, role: Role):
    tenant = await make_tenant()
    someone = await make_user(tenant=tenant, external_id="someone", role=role)

    with pytest.raises(Forbidden):
        await close_period(viewer=viewer_of(someone), period="2026-10")

    assert await Period.all().count() == 0


async def test_given_other_tenant_closed_the_period_when_recomputed_then_still_open_here(
    db: str,
):
    tenant, ana, _ = await _rate_rep()
    other = await make_tenant(slug="globex")
    await close_period(viewer=system_viewer(other), period="2026-10")
    await make_transaction(rep=ana, external_id="t1", amount="1000")

    [result] = await _recompute(ana)

    assert result.total == Decimal("50.00")


async def test_given_team_plan_when_manager_recomputed_then_whole_subtree_counted(db: str):
    tenant = await make_tenant(currency="USD")
    org = await make_org(
        tenant=tenant,
        managers={"vp": None, "lead": "vp", "ana": "lead", "ben": "lead", "solo": None},
    )
    version = await publish_plan(
        tenant=tenant, document=plan_yaml(currency="USD", rate="0.01", scope="team")
    )
    await assign(user=org["lead"], plan=version)
    await assign(user=org["vp"], plan=version)
    for i, (who, amount) in enumerate(
        [("vp", "100"), ("lead", "1000"), ("ana", "10000"), ("ben", "100000"), ("solo", "7")]
    ):
        await make_transaction(rep=org[who], external_id=f"t{i}", amount=amount, currency="USD")
    globex = await make_tenant(slug="globex")
    intruder = await make_user(tenant=globex, external_id="ana")
    await make_transaction(rep=intruder, external_id="x1", amount="999999", currency="USD")

    [lead] = await _recompute(org["lead"])
    [vp] = await _recompute(org["vp"])

    assert lead.measures[0]["total"] == "111000"
    assert lead.total == Decimal("1110.00")
    assert vp.measures[0]["total"] == "111100"
    lead_lines = await EarningsLine.filter(result_id=lead.id, transaction_external_id__isnull=False)
    credited = {(line.transaction_external_id, line.credited_rep) for line in lead_lines}
    assert credited == {("t1", None), ("t2", "ana"), ("t3", "ben")}


async def test_given_split_deal_when_both_reps_recomputed_then_each_credited_their_share(
    db: str,
):
    tenant, ana, version = await _rate_rep()
    ben = await make_user(tenant=tenant, external_id="ben")
    await assign(user=ben, plan=version)
    await make_transaction(
        rep=ana, external_id="s1", amount="1000", splits=[(ana, "0.6"), (ben, "0.4")]
    )

    [a] = await _recompute(ana)
    [b] = await _recompute(ben)

    assert (a.total, b.total) == (Decimal("30.00"), Decimal("20.00"))
    assert await _lines(b) == [("s1", Decimal("400.0"), Decimal("20.00"))]


async def test_given_extra_fields_and_decimal_values_when_recomputed_then_filters_see_them(
    db: str,
):
    tenant = await make_tenant()
    ana = await make_user(tenant=tenant, external_id="ana")
    version = await publish_plan(
        tenant=tenant,
        document=plan_yaml(rate="0.1", measure_filter="category == 'solar' and margin > 0.25"),
    )
    await assign(user=ana, plan=version)
    await make_transaction(
        rep=ana,
        external_id="t1",
        amount="100",
        extra={"category": "solar", "margin": Decimal("0.3")},
    )
    await make_transaction(
        rep=ana,
        external_id="t2",
        amount="200",
        extra={"category": "solar", "margin": Decimal("0.25")},
    )
    await make_transaction(rep=ana, external_id="t3", amount="400", extra={"category": "wind"})

    [result] = await _recompute(ana)

    assert result.total == Decimal("10.00")


async def test_given_deleted_and_out_of_period_transactions_when_recomputed_then_ignored(
    db: str,
):
    tenant, ana, _ = await _rate_rep()
    await make_transaction(rep=ana, external_id="t1", amount="1000")
    gone = await make_transaction(rep=ana, external_id="t2", amount="5000")
    gone.deleted = True
    await gone.save(update_fields=["deleted"])
    await make_transaction(rep=ana, external_id="t3", amount="7000", on="2026-11-01")
    await make_transaction(rep=ana, external_id="t4", amount="9000", on="2026-09-30")

    [result] = await _recompute(ana)

    assert result.total == Decimal("50.00")


async def test_given_new_version_from_december_when_each_month_recomputed_then_version_in_force(
    db: str,
):
    tenant, ana, first = await _rate_rep("0.05")
    second = await publish_plan(
        tenant=tenant, document=plan_yaml(rate="0.10"), effective_from="2026-12-01"
    )
    await make_transaction(rep=ana, external_id="n1", amount="1000", on="2026-11-10")
    await make_transaction(rep=ana, external_id="d1", amount="1000", on="2026-12-10")

    [nov] = await _recompute(ana, "2026-11")
    [dec] = await _recompute(ana, "2026-12")

    assert (nov.plan_version_id, nov.total) == (first.id, Decimal("50.00"))
    assert (dec.plan_version_id, dec.total) == (second.id, Decimal("100.00"))


async def test_given_assignment_from_mid_month_when_recomputed_then_quota_prorated(db: str):
    tenant = await make_tenant()
    data = await load_dataset(tenant=tenant, directory=EXAMPLE_01, period="2026-10")
    cara = data["cara"]
    await PlanAssignment.filter(user_id=cara.id).delete()
    await assign(user=cara, plan=data.version, effective_from="2026-10-17")

    [result] = await _recompute(cara)

    assert (result.active_days, result.period_days) == (15, 31)
    assert result.measures[0]["quota"] == format(Decimal(100000) * 15 / 31, "f")


async def test_given_rep_left_before_the_period_when_recomputed_then_nothing_stored(db: str):
    tenant = await make_tenant()
    ana = await make_user(tenant=tenant, external_id="ana", end_date="2026-09-30")
    await assign(user=ana, plan=await publish_plan(tenant=tenant, effective_from="2026-09-01"))

    assert await _recompute(ana) == []
    assert await EarningsResult.all().count() == 0


async def test_given_stored_result_when_rep_no_longer_on_a_plan_then_result_removed_and_audited(
    db: str,
):
    tenant, ana, _ = await _rate_rep()
    await make_transaction(rep=ana, external_id="t1", amount="1000")
    [old] = await _recompute(ana)
    await PlanAssignment.filter(user_id=ana.id).delete()

    assert await _recompute(ana) == []
    assert await EarningsResult.all().count() == 0
    assert await EarningsLine.all().count() == 0
    [entry] = await AuditEntry.filter(action="earnings.removed")
    assert (entry.entity_id, entry.after) == (str(old.id), None)
    assert entry.before["total"] == "50"  # type: ignore[index]


async def test_given_viewer_of_another_tenant_when_recomputing_a_guessed_rep_then_not_found(
    db: str,
):
    tenant, ana, _ = await _rate_rep()
    globex = await make_tenant(slug="globex")

    with pytest.raises(NotFound):
        await recompute_rep_period(viewer=system_viewer(globex), user_id=ana.id, period="2026-10")

    assert await EarningsResult.all().count() == 0


async def test_given_rep_when_recomputing_a_colleague_then_forbidden(db: str):
    tenant, ana, _ = await _rate_rep()
    ben = await make_user(tenant=tenant, external_id="ben")

    with pytest.raises(Forbidden):
        await recompute_rep_period(viewer=viewer_of(ben), user_id=ana.id, period="2026-10")


async def test_given_monthly_plan_when_quarter_recomputed_then_no_result(db: str):
    tenant, ana, _ = await _rate_rep()
    await make_transaction(rep=ana, external_id="t1", amount="1000")

    assert await _recompute(ana, "2026-Q4") == []
