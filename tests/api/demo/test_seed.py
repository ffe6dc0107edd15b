"""The demo tenant of `podium dev`: the promised shape, built through the real use cases,
earnings for the current month, and the same rows every time for the same day."""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal
from typing import Any

from tortoise import connections
from tortoise.transactions import in_transaction

from api.demo.seed import DEMO_SLUG, seed_demo
from domain.audit.models import AuditEntry
from domain.crm.models import Transaction
from domain.earnings.models import EarningsResult, ResultStatus
from domain.org.models import Role, User
from domain.plans.models import Plan, PlanAssignment, PlanVersion, Quota
from domain.tenants.models import Tenant
from tests.conftest import reset_tables

TODAY = date(2026, 11, 23)


async def seeded(today: date = TODAY):
    async with in_transaction():
        return await seed_demo(today=today)


async def snapshot() -> dict[str, Any]:
    """Everything the seed decides, keyed by external ids (uuids differ between runs)."""
    conn = connections.get("default")
    transactions = await conn.execute_query_dict(
        """
        SELECT t.external_id, u.external_id AS rep, t.type, t.amount, t.currency, t.date,
               t.state, t.extra_fields::text AS extra,
               (SELECT string_agg(s.external_id, ',' ORDER BY s.external_id)
                FROM users s WHERE t.credited_user_ids ? s.id::text) AS credited
        FROM transactions t JOIN users u ON u.id = t.rep_id
        ORDER BY t.external_id
        """
    )
    results = await conn.execute_query_dict(
        """
        SELECT u.external_id, r.period, r.status, r.total, r.payable, r.pending
        FROM earnings_results r JOIN users u ON u.id = r.user_id
        ORDER BY u.external_id, r.period
        """
    )
    people = await conn.execute_query_dict(
        """
        SELECT u.external_id, u.display_name, u.role, u.hire_date, m.external_id AS manager,
               u.attributes::text AS attributes
        FROM users u LEFT JOIN users m ON m.id = u.manager_id ORDER BY u.external_id
        """
    )
    quotas = await conn.execute_query_dict(
        """
        SELECT u.external_id, q.measure, q.period, q.value
        FROM quotas q JOIN users u ON u.id = q.user_id ORDER BY 1, 2, 3
        """
    )
    return {"transactions": transactions, "results": results, "people": people, "quotas": quotas}


async def test_given_empty_database_when_seeded_then_the_promised_shape(db):
    summary = await seeded()

    tenant = await Tenant.get(slug=DEMO_SLUG)
    assert summary.tenant.id == tenant.id
    assert (tenant.currency, tenant.time_zone) == ("EUR", "Europe/Berlin")
    people = await User.filter(tenant_id=tenant.id)
    roles = Counter(u.role for u in people)
    assert roles == {Role.REP: 63, Role.MANAGER: 4, Role.ADMIN: 1, Role.PAYOUT_OPS: 1}
    # the US pilot's partners: in the US, outside the European teams
    us = [u for u in people if u.external_id.startswith("agent-us-")]
    assert [u.external_id for u in us] == summary.people.us_partners
    assert {(u.country, u.manager_id) for u in us} == {("US", None)}
    reps = [u for u in people if u.role is Role.REP and u not in us]
    assert {u.attributes["region"] for u in reps} == {"north", "south", "west"}
    assert Counter(u.attributes["channel"] for u in reps) == {"field": 42, "partner": 18}
    by_id = {u.id: u for u in people}
    # every rep reports to their region's manager, who reports to the head of sales
    for rep in reps:
        manager = by_id[rep.manager_id]
        assert manager.external_id == f"mgr-{rep.attributes['region']}"
        assert by_id[manager.manager_id].external_id == "mgr-head"
    assert summary.periods == ["2026-09", "2026-10", "2026-11"]


async def test_given_seed_then_both_plans_published_and_assigned(db):
    await seeded()

    plans = {p.key: p for p in await Plan.all()}
    assert set(plans) == {"agent-commission", "manager-override", "us-partner-commission"}
    versions = {v.plan_id: v for v in await PlanVersion.all()}
    agent, manager = versions[plans["agent-commission"].id], versions[plans["manager-override"].id]
    assert agent.effective_from == date(2026, 9, 1)
    assert agent.document["payable_when"] == "state == 'activated'"
    assert [c["type"] for c in agent.document["components"]] == ["tiered", "rate", "bonus"]
    assert manager.document["measures"][0]["scope"] == "team"
    us = versions[plans["us-partner-commission"].id]
    assert (us.document["currency"], manager.document["currency"]) == ("USD", "EUR")
    assignments = Counter(a.plan_id for a in await PlanAssignment.all())
    assert assignments == {plans["agent-commission"].id: 60, plans["manager-override"].id: 4,
                           plans["us-partner-commission"].id: 3}  # fmt: skip
    published = await AuditEntry.filter(action="plan.published").count()
    assert published == 3  # through publish_plan_version, audited like an admin's publish


async def test_given_seed_then_transactions_in_three_months_and_earnings_for_everyone(db):
    summary = await seeded()

    transactions = await Transaction.all()
    assert len(transactions) == summary.transactions > 500
    assert {t.date.strftime("%Y-%m") for t in transactions} == {"2026-09", "2026-10", "2026-11"}
    assert max(t.date for t in transactions) <= TODAY
    assert {t.type for t in transactions} == {"solar", "heat_pump", "energy_contract"}
    assert any(t.splits for t in transactions)
    assert await AuditEntry.filter(entity_type="import").count() == 3  # reps, quotas, transactions

    results = await EarningsResult.all().prefetch_related("user")
    assert len(results) == summary.results
    assert all(r.status is ResultStatus.OK for r in results), [r.error for r in results if r.error]
    november = [r for r in results if r.period == "2026-11"]
    assert len(november) == 67  # the Home screen of every rep and manager has this month
    assert sum(Decimal(r.total) for r in november) > 0
    # the US pilot's in dollars (their own deals, in dollars: no conversion), the rest in euros
    assert Counter(r.currency for r in november) == {"EUR": 64, "USD": 3}
    dollars = [t for t in transactions if t.currency == "USD"]
    assert dollars
    us = {u.id for u in await User.filter(external_id__startswith="agent-us-")}
    assert {t.rep_id for t in dollars} == us
    # installations not activated yet: pending money this month, all paid in the oldest one
    assert sum(Decimal(r.pending) for r in november) > 0
    september = [r for r in results if r.period == "2026-09"]
    assert sum(Decimal(r.pending) for r in september) < sum(Decimal(r.pending) for r in november)
    # newcomers hired in the middle of October: no September result, a prorated October quota
    newcomers = [r for r in results if r.user.hire_date == date(2026, 10, 15)]
    assert {r.period for r in newcomers} == {"2026-10", "2026-11"}
    for result in (r for r in newcomers if r.period == "2026-10"):
        quota = await Quota.get(user_id=result.user_id, period="2026-10", measure="bookings")
        prorated = Decimal(result.measures[0]["quota"])
        assert abs(prorated - quota.value * 17 / 31) < Decimal("0.000001")  # 15-31 October
    head = next(r for r in november if r.user.external_id == "mgr-head")
    assert head.measures[0]["id"] == "team_bookings"
    assert Decimal(head.measures[0]["total"]) > 0


async def test_given_the_same_day_when_seeded_twice_then_the_same_data(db):
    await seeded()
    first = await snapshot()
    await reset_tables()

    await seeded()
    second = await snapshot()

    assert first == second
    assert len(first["transactions"]) > 500


async def test_given_another_day_when_seeded_then_months_follow_the_clock(db):
    summary = await seeded(date(2027, 2, 3))

    assert summary.periods == ["2026-12", "2027-01", "2027-02"]
    assert max(t.date for t in await Transaction.all()) <= date(2027, 2, 3)
    assert await EarningsResult.filter(period="2027-02").count() == 67


async def test_given_seed_then_every_payout_method_has_its_payees(db):
    from api.settings import DEVELOPMENT_PAYOUT_DETAILS_SECRET
    from payments.payouts.models import PayoutDetails, PayoutMethod
    from payments.payouts.service import payout_account

    summary = await seeded()

    details = await PayoutDetails.all().prefetch_related("user")
    methods = Counter((d.user.external_id.split("-")[0], d.method) for d in details)
    payroll = methods[("rep", PayoutMethod.PAYROLL_FILE)]
    assert payroll >= 3  # one field rep in seven: employees paid with the payroll
    assert methods == {
        ("rep", PayoutMethod.SEPA_FILE): 42 - payroll,
        ("rep", PayoutMethod.PAYROLL_FILE): payroll,
        ("agent", PayoutMethod.STRIPE): 15,
        ("agent", PayoutMethod.GIFT_CARD): 3,  # each region's agent number 5
        ("agent", PayoutMethod.NACHA_FILE): 3,  # the US partners
    }
    cards = sorted(d.user.external_id for d in details if d.method is PayoutMethod.GIFT_CARD)
    assert cards == ["agent-north-05", "agent-south-05", "agent-west-05"]
    ach = sorted(d.user.external_id for d in details if d.method is PayoutMethod.NACHA_FILE)
    assert ach == summary.people.us_partners
    emil = next(d for d in details if d.user.external_id == "rep-north-01")
    account = await payout_account(
        tenant_id=summary.tenant.id, user_id=emil.user_id, secret=DEVELOPMENT_PAYOUT_DETAILS_SECRET
    )
    assert account.iban is not None
    assert emil.masked_account == f"{account.iban[:4]} •••• {account.iban[-4:]}"
    assert account.address is not None
    assert account.address.town == "Hamburg"


async def test_given_seed_then_no_inbox_opens_on_a_payout_details_message(db):
    # before: every payee's newest message was "payout details changed", the warning sign of a
    # hijacked account, unread and waiting for push
    from domain.notifications.models import Notification, NotificationKind
    from payments.payouts.models import PayoutDetails

    await seeded()

    onboarding = await Notification.filter(kind=NotificationKind.PAYOUT_DETAILS)
    assert len(onboarding) == await PayoutDetails.all().count() == 63  # every payee once
    assert all(n.read_at is not None and n.pushed_at is not None for n in onboarding)
    newest: dict[Any, Notification] = {}
    counts: Counter[Any] = Counter()
    for n in await Notification.all().order_by("created_at"):
        newest[n.user_id] = n
        counts[n.user_id] += 1
    with_news = [u for u in newest if counts[u] > 1]
    assert len(with_news) >= 50  # most payees have news of their months too
    assert not [u for u in with_news if newest[u].kind is NotificationKind.PAYOUT_DETAILS]
