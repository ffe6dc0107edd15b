"""Badges and XP driven by signed CRM events through the real path: the webhook over HTTP on
a real uvicorn, the inbox, a real arq worker with the hooks WorkerSettings registers; a deal
awards a badge and XP, a replayed event grants nothing twice, a deletion revokes the badge and
writes the reversing XP entry."""

from __future__ import annotations

from typing import Any

import httpx
from arq.connections import ArqRedis

from api.app import create_app
from api.settings import Settings
from domain.kit.clock import utc_now
from domain.kit.periods import period_containing
from domain.notifications.models import Notification, NotificationKind
from gamification.badges.models import BadgeAward
from gamification.badges.service import create_badge
from gamification.levels.models import XpEntry
from gamification.levels.rules import Level
from gamification.levels.service import set_level_map, xp_of
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


async def test_given_signed_events_then_badges_and_xp_follow_a_deal_its_replay_and_deletion(
    burst: Burst, pool: ArqRedis, database_url: str, redis_url: str
):
    month = period_containing(utc_now().date(), "month")
    tenant = await make_tenant(slug="acme")
    version = await publish_plan(tenant=tenant, document=AE_PLAN, effective_from=month.start)
    ana = await make_user(tenant=tenant, external_id="ana")
    await assign(user=ana, plan=version, effective_from=month.start)
    await set_quota(user=ana, value="10000", period=month.id)
    badge = await create_badge(
        viewer=system_viewer(tenant),
        name="Quota crusher",
        rule="attainment('bookings') >= 1",
        xp=50,
    )
    await set_level_map(
        viewer=system_viewer(tenant), levels=[Level(1, "Rookie", 0), Level(2, "Closer", 50)]
    )
    app = create_app(Settings(database_url=database_url, redis_url=redis_url))
    day = month.start.isoformat()

    async def post_and_work(*events: dict[str, Any]) -> None:
        body = body_of(*events)
        async with httpx.AsyncClient(base_url=base) as http:
            answer = await http.post(
                "/webhooks/crm/acme", content=body,
                headers=signed_headers(body, tenant.webhook_secret),
            )  # fmt: skip
        assert answer.status_code == 202, answer.text
        ctx: dict[str, Any] = {"push_sender": None}
        await realtime_startup(ctx)
        try:
            await burst(ctx=ctx)
        finally:
            await realtime_shutdown(ctx)

    async def kinds() -> list[str]:
        rows = await Notification.filter(user_id=ana.id).order_by("created_at")
        return [n.kind for n in rows if n.kind in (NotificationKind.BADGE, NotificationKind.LEVEL)]

    async with serving(app) as base:
        app.state.job_queue = JobQueue(pool)
        await post_and_work(deal("e1", "opp-1", rep="ana", amount="12000", on=day))
        awards = await BadgeAward.filter(tenant_id=tenant.id)
        assert [(a.badge_id, a.period, a.revoked_at) for a in awards] == [
            (badge.id, month.id, None)
        ]
        # the deal, the badge, the four attainment thresholds it reached (50 to 120%) and the
        # commission's tiers 2 and 3
        assert await xp_of(tenant_id=tenant.id, user_id=ana.id) == 10 + 50 + 4 * 25 + 2 * 25
        assert await kinds() == ["badge", "level"]

        # the same event again, and the same deal re-sent (a newer version): nothing twice
        await post_and_work(deal("e1", "opp-1", rep="ana", amount="12000", on=day))
        await post_and_work(deal("e2", "opp-1", rep="ana", amount="12500", on=day, version=2))
        assert await BadgeAward.filter(tenant_id=tenant.id).count() == 1
        assert await xp_of(tenant_id=tenant.id, user_id=ana.id) == 210
        assert await kinds() == ["badge", "level"]

        await post_and_work(deletion("e3", "opp-1", version=3))
        award = await BadgeAward.get(tenant_id=tenant.id)
        assert award.revoked_at is not None
        assert await xp_of(tenant_id=tenant.id, user_id=ana.id) == 0
        sources = sorted(
            (e.source, e.points) for e in await XpEntry.filter(tenant_id=tenant.id)
        )  # the ledger only grew: each grant and its reversing entry
        thresholds = [
            *(f"threshold:attainment:{month.id}:bookings:{p}" for p in (50, 80, 100, 120)),
            *(f"threshold:tier:{month.id}:ae:commission:{t}" for t in (2, 3)),
        ]
        assert sources == sorted(
            [
                (f"badge:{badge.id}:{month.id}", 50),
                (f"badge:{badge.id}:{month.id}:reversed", -50),
                ("deal:opp-1", 10),
                ("deal:opp-1:reversed", -10),
                *((source, 25) for source in thresholds),
                *((f"{source}:reversed", -25) for source in thresholds),
            ]
        )
