"""`podium recompute --tenant SLUG --period P [--rep R]`: the domain's recompute for every
affected rep, each in its own transaction, and a summary."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tortoise.transactions import in_transaction

from domain.earnings.models import EarningsResult, ResultStatus
from domain.ingest.models import RecomputeRequest
from domain.ingest.repository import FailedRequest, IngestRepository
from domain.org.models import Role
from tests.api.cli_runner import podium
from tests.domain.builders import (
    TIERED,
    assign,
    make_tenant,
    make_transaction,
    make_user,
    plan_yaml,
    publish_plan,
    set_quota,
    system_viewer,
)


async def world():
    """ana and ben on a tiered plan in 2026-10 (ben has no quota: an error); cy on no plan."""
    tenant = await make_tenant(slug="acme")
    ana = await make_user(tenant=tenant, external_id="ana")
    ben = await make_user(tenant=tenant, external_id="ben")
    await make_user(tenant=tenant, external_id="cy")
    await make_user(tenant=tenant, external_id="root", role=Role.ADMIN)
    version = await publish_plan(tenant=tenant, document=TIERED)
    await assign(user=ana, plan=version)
    await assign(user=ben, plan=version)
    await set_quota(user=ana, value="100000")
    await make_transaction(rep=ana, external_id="t1", amount="85000", on="2026-10-03")
    await make_transaction(rep=ben, external_id="t2", amount="1000", on="2026-10-04")
    return tenant, ana, ben


async def test_given_reps_on_a_plan_when_recomputed_then_results_stored_and_summarised(db):
    tenant, ana, ben = await world()

    ran = await podium(db, "recompute", "--tenant", "acme", "--period", "2026-10")

    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == (
        "2026-10: recomputed 2 people, 1 without errors, 1 with errors\n"
        "  EUR total 2,750.00, payable 2,750.00, pending 0.00\n"
        "  ben: no quota for measure 'bookings' in 2026-10\n"
    )
    stored = await EarningsResult.get(user_id=ana.id, period="2026-10")
    # 2% of 50,000 + 5% of 35,000
    assert stored.total == Decimal("2750.00")
    assert stored.status is ResultStatus.OK
    assert (await EarningsResult.get(user_id=ben.id)).status is ResultStatus.ERROR


async def test_given_one_rep_when_recomputed_then_only_they_are(db):
    tenant, ana, _ = await world()

    ran = await podium(db, "recompute", "--tenant", "acme", "--period", "2026-10", "--rep", "ana")

    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("2026-10: recomputed 1 person, 1 without errors")
    assert await EarningsResult.all().count() == 1


async def test_given_changed_data_when_recomputed_again_then_result_replaced(db):
    tenant, ana, _ = await world()
    await podium(db, "recompute", "--tenant", "acme", "--period", "2026-10", "--rep", "ana")
    await make_transaction(rep=ana, external_id="t3", amount="15000", on="2026-10-20")

    await podium(db, "recompute", "--tenant", "acme", "--period", "2026-10", "--rep", "ana")

    results = await EarningsResult.filter(user_id=ana.id, period="2026-10")
    assert [r.total for r in results] == [Decimal("3500.00")]  # 1,000 + 5% of 50,000


async def test_given_a_period_nobody_is_on_a_plan_when_recomputed_then_nothing_to_do(db):
    await world()

    ran = await podium(db, "recompute", "--tenant", "acme", "--period", "2026-08")

    assert ran.stdout == "2026-08: recomputed 0 people, 0 without errors, 0 with errors\n"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--tenant", "acme", "--period", "2026-13"], "month 13 out of range"),
        (["--tenant", "acme", "--period", "last month"], "is not a period id"),
        # it ends on date.max, stored as infinity: "cannot subtract infinite dates", exit 1
        (["--tenant", "acme", "--period", "9999-12"], "year 9999 is outside the years"),
        (["--tenant", "nope", "--period", "2026-10"], "no tenant 'nope'"),
        (["--tenant", "acme", "--period", "2026-10", "--rep", "zed"], "no person 'zed'"),
    ],
)
async def test_given_bad_input_when_recomputing_then_one_line_and_exit_2(
    db, args: list[str], fragment: str
):
    await world()

    ran = await podium(db, "recompute", *args)

    ran.one_line_error(fragment)
    assert await EarningsResult.all().count() == 0


async def test_given_plan_versions_when_recomputed_then_the_version_in_force_pays(db):
    tenant = await make_tenant(slug="acme")
    ana = await make_user(tenant=tenant, external_id="ana")
    first = await publish_plan(tenant=tenant, document=plan_yaml(rate="0.05"))
    await publish_plan(tenant=tenant, document=plan_yaml(rate="0.10"), effective_from="2026-11-01")
    await assign(user=ana, plan=first)
    await make_transaction(rep=ana, external_id="t1", amount="1000", on="2026-10-03")
    await make_transaction(rep=ana, external_id="t2", amount="1000", on="2026-11-03")

    october = await podium(db, "recompute", "--tenant", "acme", "--period", "2026-10")
    november = await podium(db, "recompute", "--tenant", "acme", "--period", "2026-11")

    assert "EUR total 50.00," in october.stdout
    assert "EUR total 100.00," in november.stdout


async def test_given_a_period_of_another_kind_when_recomputed_then_it_says_so(db):
    await world()

    ran = await podium(db, "recompute", "--tenant", "acme", "--period", "2026-Q4")

    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == (
        "2026-Q4: recomputed 2 people, 2 without errors, 0 with errors\n"
        "  no plan of theirs is paid per quarter\n"
    )
    assert await EarningsResult.all().count() == 0


async def test_given_a_parked_request_when_shown_and_its_rep_recomputed_then_listed_then_ended(db):
    """A recompute request that failed five times waits, parked, for a change to the
    person's data or for an admin: `tenant show` lists it with its error (on one line), and
    a successful `podium recompute` of the pair ends it."""
    tenant, ana, ben = await world()
    repo = IngestRepository(system_viewer(tenant))
    async with in_transaction():
        await repo.request_recomputes([(ana.id, "2026-10"), (ben.id, "2026-09")])
        taken = await repo.take_recompute_requests(10)
        await repo.restore_recompute_requests(
            [FailedRequest(t._replace(attempts=4), "a bug\nin two lines", True) for t in taken]
        )

    shown = await podium(db, "tenant", "show", "--tenant", "acme")
    ran = await podium(db, "recompute", "--tenant", "acme", "--period", "2026-10", "--rep", "ana")
    after = await podium(db, "tenant", "show", "--tenant", "acme")

    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    listed = lines[lines.index("parked recomputes: 2") + 1 :]
    assert sorted(line.split(":")[0] for line in listed[:2]) == ["  ana 2026-10", "  ben 2026-09"]
    assert all(": 5 failed attempt(s), parked 20" in line for line in listed[:2])
    assert all(line.endswith(" UTC: a bug in two lines") for line in listed[:2])
    assert ran.returncode == 0, ran.stderr
    assert "parked recomputes: 1" in after.stdout
    (left,) = await RecomputeRequest.all()
    assert (left.user_id, left.period) == (ben.id, "2026-09")  # another period: not recomputed


async def test_given_a_period_not_started_when_recomputed_then_refused_naming_period(db):
    """A month that has not begun where the tenant is has no deals yet: recomputing it
    stored an error result for everyone on a plan (no quota for it yet). Refused, nothing
    stored; the month under way is recomputed as ever."""
    from domain.kit.clock import today_in
    from domain.kit.periods import period_containing

    tenant, ana, _ = await world()
    this = period_containing(today_in("UTC"), "month")
    future = this.next()
    await set_quota(user=ana, period=future.id, value="100000")

    ran = await podium(db, "recompute", "--tenant", "acme", "--period", future.id)

    ran.one_line_error("--period", future.id, "has not started yet")
    assert await EarningsResult.filter(period=future.id).count() == 0
    now = await podium(db, "recompute", "--tenant", "acme", "--period", this.id, "--rep", "ana")
    assert now.returncode == 0, now.stderr
