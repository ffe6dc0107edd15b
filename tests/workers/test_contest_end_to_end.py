"""One contest from launch to award through the real path: LaunchContest over HTTP on a real
uvicorn, signed CRM webhooks, the inbox, a real arq worker with the hooks WorkerSettings
registers, the cron step that moves contests along; a deal deleted while live takes its points
away, a deal deleted after the award claws the money prize back (the tenant's default). An
XP board follows the deals' XP and the place's XP of the award, and their reversals; a
`contest_place <= 3` badge goes to both placed reps at the award, once."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from arq.connections import ArqRedis

from api.app import create_app
from api.settings import Settings
from domain.audit.models import AuditEntry
from domain.kit.clock import utc_now
from domain.kit.periods import period_containing
from domain.notifications.models import Notification, NotificationKind
from domain.org.models import Role
from domain.rewards.models import Reward
from gamification.badges.models import BadgeAward
from gamification.badges.service import create_badge
from gamification.contests.models import Contest
from gamification.leaderboards.service import create_leaderboard, current_period
from gamification.leaderboards.store import BoardStore, board_key
from tests.api.graphql.helpers import token
from tests.domain.builders import (
    assign,
    make_tenant,
    make_user,
    publish_plan,
    set_quota,
    system_viewer,
)
from tests.domain.notifications.plans import AE_PLAN
from tests.workers.ingest_helpers import Burst, body_of, deal, deletion, signed_headers
from tests.workers.ingest_helpers import redis_url as redis_url  # a private Redis
from tests.workers.test_end_to_end import serving
from workers.queue import JobQueue
from workers.realtime import realtime_shutdown, realtime_startup
from workers.settings import STARTUP_EXTENSIONS
from workers.tasks.contests import advance_contests, contests_startup

LAUNCH = """mutation($input: LaunchContestInput!) { launchContest(input: $input) {
  __typename ... on Contest { id status } ... on UserError { code message field } } }"""
STANDINGS = """query($id: ID!) { contest(id: $id) { status tieRuleText
  standings { rank score rep { displayName } }
  winners { rank rep { displayName } reward { amount currency } } } }"""
MINE = (
    """{ contests(status: [LIVE, SCHEDULED, AWARDED]) { name status myStanding { rank score } } }"""
)


async def test_given_signed_events_then_a_contest_runs_from_launch_to_award_with_reversals(
    burst: Burst, pool: ArqRedis, database_url: str, redis_url: str
):
    now = utc_now()
    month = period_containing(now.date(), "month")
    tenant = await make_tenant(slug="acme")
    version = await publish_plan(tenant=tenant, document=AE_PLAN, effective_from=month.start)
    boss = await make_user(tenant=tenant, external_id="boss", role=Role.MANAGER)
    people = {}
    for name in ("ana", "ben"):
        people[name] = await make_user(tenant=tenant, external_id=name, manager=boss)
        await assign(user=people[name], plan=version, effective_from=month.start)
        await set_quota(user=people[name], value="100000", period=month.id)
    outsider = await make_user(tenant=tenant, external_id="zed")
    app = create_app(Settings(database_url=database_url, redis_url=redis_url))
    today = now.date()
    starts = datetime.combine(today, datetime.min.time(), tzinfo=now.tzinfo)
    ends = starts + timedelta(days=1)  # deals dated today count

    async def gql(user: Any, query: str, **variables: Any) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=base) as http:
            answer = await http.post(
                "/graphql", json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {token(tenant, user)}"},
            )  # fmt: skip
        body = answer.json()
        assert "errors" not in body, body
        return body["data"]

    async def post_and_work(*events: dict[str, Any]) -> None:
        body = body_of(*events)
        async with httpx.AsyncClient(base_url=base) as http:
            answer = await http.post(
                "/webhooks/crm/acme", content=body,
                headers=signed_headers(body, tenant.webhook_secret),
            )  # fmt: skip
        assert answer.status_code == 202, answer.text
        ctx: dict[str, Any] = {"push_sender": None}
        for extension in STARTUP_EXTENSIONS:  # the hooks WorkerSettings registers
            await extension(ctx)
        try:
            await burst(ctx=ctx)
        finally:
            await realtime_shutdown(ctx)

    async def step(at: datetime) -> int:
        ctx: dict[str, Any] = {"now": at, "push_sender": None, "redis": pool}
        await contests_startup(ctx)  # the badge and XP services of the award, as the worker
        return await advance_contests(ctx)

    podium = await create_badge(
        viewer=system_viewer(tenant), name="Podium", rule="contest_place <= 3", xp=25
    )
    xp_board = await create_leaderboard(
        viewer=system_viewer(tenant), name="XP", metric="xp", period_kind="month"
    )
    store = BoardStore(pool)

    async def xp_ranks() -> list[tuple[int, str, int]]:
        this_month = await current_period(tenant.id, "month")
        names = {str(p.id): p.external_id for p in people.values()}
        top = await store.top(board_key(xp_board.id, this_month.id), 10)
        return [(r.rank, names[r.key], r.score) for r in top]

    prize = {"rank": 1, "description": "Dinner for two", "amount": "150.00"}
    launch_input = {
        "name": "Today's push", "metric": "deal_amount", "startsAt": starts.isoformat(),
        "endsAt": ends.isoformat(), "prizes": [prize],
    }  # fmt: skip
    async with serving(app) as base:
        app.state.job_queue = JobQueue(pool)
        # a participant outside the manager's subtree: refused, nothing stored
        bad = await gql(boss, LAUNCH, input=launch_input | {"repIds": [str(outsider.id)]})
        assert bad["launchContest"]["field"] == "repIds[0]"
        assert await Contest.all().count() == 0

        launched = (await gql(boss, LAUNCH, input=launch_input))["launchContest"]
        assert launched["status"] == "SCHEDULED", launched
        contest_id = launched["id"]
        assert await step(now) == 1  # live

        day = today.isoformat()
        yesterday = (today - timedelta(days=1)).isoformat()
        await post_and_work(
            deal("e1", "opp-1", rep="ana", amount="1000", on=day),
            deal("e2", "opp-2", rep="ben", amount="800", on=day),
            deal("e3", "opp-3", rep="ben", amount="5000", on=yesterday),  # outside the window
            deal("e4", "opp-4", rep="ben", amount="900", on=day),
        )
        assert await xp_ranks() == [(1, "ben", 30), (2, "ana", 10)]  # 10 XP a deal won
        seen = (await gql(boss, STANDINGS, id=contest_id))["contest"]
        assert [(s["rank"], s["rep"]["displayName"], s["score"]) for s in seen["standings"]] == [
            (1, "Ben", "1700"),  # as written, not at the column's scale
            (2, "Ana", "1000"),
        ]
        # a reversal while live: ben's deal is deleted, his points go
        await post_and_work(deletion("e5", "opp-4", version=2))
        seen = (await gql(people["ben"], STANDINGS, id=contest_id))["contest"]
        assert [(s["rank"], s["rep"]["displayName"]) for s in seen["standings"]] == [
            (1, "Ana"),
            (2, "Ben"),
        ]
        assert await xp_ranks() == [(1, "ben", 20), (2, "ana", 10)]
        mine = (await gql(people["ana"], MINE))["contests"]
        assert mine == [
            {
                "name": "Today's push",
                "status": "LIVE",
                "myStanding": {"rank": 1, "score": "1000"},
            }
        ]
        assert (await gql(outsider, MINE))["contests"] == []

        assert await step(ends) == 1  # ended
        assert await step(ends + timedelta(minutes=29)) == 0  # the grace period
        assert await step(ends + timedelta(minutes=31)) == 1  # awarded
        seen = (await gql(people["ana"], STANDINGS, id=contest_id))["contest"]
        assert seen["status"] == "AWARDED"
        assert "share the rank" in seen["tieRuleText"]
        assert seen["winners"] == [
            {
                "rank": 1,
                "rep": {"displayName": "Ana"},
                "reward": {"amount": "150.00", "currency": "EUR"},
            }
        ]
        # 100 XP for first place; the podium badge (and its 25 XP) for both, once
        assert await xp_ranks() == [(1, "ana", 135), (2, "ben", 45)]
        podium_awards = await BadgeAward.filter(badge_id=podium.id).values_list("user_id", "source")
        assert sorted(podium_awards) == sorted(
            (people[n].id, f"contest:{contest_id}:rule:{podium.id}") for n in ("ana", "ben")
        )
        prize_period = period_containing(ends.date(), "month").id
        rewards = await Reward.filter(user_id=people["ana"].id).order_by("created_at")
        assert [(r.amount, r.period) for r in rewards] == [(Decimal("150.00"), prize_period)]
        assert await AuditEntry.filter(action="contest.awarded").count() == 1

        # after the award: ana's deal is deleted; the result stands, the prize is clawed back
        await post_and_work(deletion("e6", "opp-1", version=2))
        rewards = await Reward.filter(user_id=people["ana"].id).order_by("created_at")
        assert [r.amount for r in rewards] == [Decimal("150.00"), Decimal("-150.00")]
        assert await xp_ranks() == [(1, "ana", 125), (2, "ben", 45)]  # the deal's XP went
        assert await BadgeAward.filter(badge_id=podium.id, revoked_at=None).count() == 2
        seen = (await gql(people["ana"], STANDINGS, id=contest_id))["contest"]
        assert seen["winners"][0]["rep"]["displayName"] == "Ana"  # frozen

    kinds = [
        (n.user_id, n.kind)
        for n in await Notification.filter(tenant_id=tenant.id)
        if n.kind.value.startswith("contest")
    ]
    assert len(kinds) == 5  # each once
    assert set(kinds) == {
        (people["ana"].id, NotificationKind.CONTEST_STARTED),
        (people["ben"].id, NotificationKind.CONTEST_STARTED),
        (people["ana"].id, NotificationKind.CONTEST_ENDED),
        (people["ben"].id, NotificationKind.CONTEST_ENDED),
        (people["ana"].id, NotificationKind.CONTEST_WON),
    }
    assert await Notification.filter(kind=NotificationKind.CONTEST_WON).count() == 1
    assert contests_startup in STARTUP_EXTENSIONS
    assert realtime_startup in STARTUP_EXTENSIONS
