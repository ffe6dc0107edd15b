"""`closePeriod`: an admin starts (or resumes) a period's close; the workers' close job
recomputes everyone in chunks and closes the period. Reps are refused; a closed period is a
PERIOD_CLOSED user error; a period that does not parse names the field."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from domain.earnings.models import EarningsResult, PeriodStatus
from domain.earnings.models import Period as StoredPeriod
from domain.org.models import Role
from tests.api.graphql import helpers as h
from tests.api.graphql.helpers import Api
from workers.tasks.earnings import close_chunks

CLOSE = """
mutation Close($period: String!) {
  closePeriod(period: $period) {
    __typename
    ... on PeriodClose { period people peopleDone closed }
    ... on UserError { code message field }
  }
}
"""


async def world() -> tuple[Any, Any, Any]:
    t = await h.tenant("acme")
    admin = await h.person(t, "ada-admin", role=Role.ADMIN)
    ana = await h.person(t, "ana")
    period = h.this_period().previous()  # ended: a period under way is not closed
    version = await h.publish(t, effective_from=period.start)
    await h.assign(t, version, ana, period.start)
    await h.quota(t, ana, period.id, "40000")
    await h.deal(t, ana, "d1", "10000", period.start)
    return t, admin, ana


async def test_given_an_admin_when_closing_then_the_workers_close_the_period(
    api: Api, redis: Redis
):
    t, admin, _ = await world()
    period = h.this_period().previous().id

    started = await api.as_(t, admin).gql(CLOSE, {"period": period})

    assert started["data"]["closePeriod"] == {
        "__typename": "PeriodClose",
        "period": period,
        "people": 1,
        "peopleDone": 0,
        "closed": False,
    }
    queued = await redis.zrange("arq:queue", 0, -1)
    assert any(job.startswith(b"close:") for job in queued), queued
    assert await close_chunks({}, str(t.id), int(queued[0].split(b":")[1])) == 1
    stored = await StoredPeriod.get(tenant_id=t.id, key=period)
    assert stored.status is PeriodStatus.CLOSED
    assert await EarningsResult.filter(tenant_id=t.id, period=period).count() == 1
    again = await api.as_(t, admin).gql(CLOSE, {"period": period})
    assert again["data"]["closePeriod"]["code"] == "PERIOD_CLOSED"


async def test_given_a_rep_when_closing_then_forbidden(api: Api):
    t, _, ana = await world()

    result = await api.as_(t, ana).gql(CLOSE, {"period": h.this_period().previous().id})

    assert h.codes(result) == ["FORBIDDEN"]
    assert await StoredPeriod.all().count() == 0
    assert await EarningsResult.all().count() == 0


async def test_given_a_period_that_does_not_parse_then_a_user_error_names_it(api: Api):
    t, admin, _ = await world()

    result = await api.as_(t, admin).gql(CLOSE, {"period": "2026-13"})

    error = result["data"]["closePeriod"]
    assert (error["__typename"], error["field"]) == ("UserError", "period")


async def test_given_a_period_no_plan_is_paid_per_or_not_ended_then_a_user_error(api: Api):
    t, admin, _ = await world()  # a monthly plan, since last month
    this = h.this_period()
    next_month = f"{this.end.year + this.end.month // 12:04d}-{this.end.month % 12 + 1:02d}"
    quarter = f"{this.start.year:04d}-Q{(this.start.month - 1) // 3 + 1}"

    for period, words in (
        (quarter, "plans here are paid per month"),
        (f"{this.start.year:04d}", "plans here are paid per month"),
        (this.id, "has not ended yet"),  # its last days' deals would be late changes
        (next_month, "has not started yet"),
        ("2199-12", "has not started yet"),
    ):
        result = await api.as_(t, admin).gql(CLOSE, {"period": period})
        error = result["data"]["closePeriod"]
        assert (error["__typename"], error["field"]) == ("UserError", "period"), period
        assert words in error["message"], error
    assert await StoredPeriod.all().count() == 0
    assert await EarningsResult.all().count() == 0
