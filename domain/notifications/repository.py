"""Every notification query. The inbox side is the viewer's own (whatever their role: an inbox
is personal); the worker side acts for the system within one tenant."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar
from uuid import UUID, uuid4

from tortoise import connections

from domain.earnings.models import EarningsResult
from domain.kit.clock import utc_now
from domain.kit.errors import InvalidInput
from domain.notifications.models import (
    Device,
    DevicePlatform,
    Notification,
    NotificationKind,
    NotificationSent,
)
from domain.org.models import User
from domain.org.viewer import Viewer
from domain.plans.models import PlanVersion


class InboxRepository:
    """The signed-in person's notifications and devices."""

    def __init__(self, viewer: Viewer) -> None:
        if viewer.user_id is None:
            raise InvalidInput("notifications belong to a person: sign in as one", field="me")
        self.tenant_id = viewer.tenant_id
        self.user_id: UUID = viewer.user_id

    async def page(self, *, first: int, offset: int) -> tuple[list[Notification], bool]:
        """Newest first."""
        rows = (
            await Notification.filter(tenant_id=self.tenant_id, user_id=self.user_id)
            .order_by("-created_at", "-id")
            .offset(offset)
            .limit(first + 1)
        )
        return rows[:first], len(rows) > first

    async def mark_read(self, ids: Sequence[UUID], at: datetime) -> int:
        """Marks the viewer's own unread ones among ``ids``; others' ids match nothing."""
        if not ids:
            return 0
        return await Notification.filter(
            tenant_id=self.tenant_id, user_id=self.user_id, id__in=list(ids), read_at=None
        ).update(read_at=at)

    async def upsert_device(self, *, token: str, platform: DevicePlatform, at: datetime) -> Device:
        """One row per token and tenant: registering it again refreshes it, and moves it to the
        viewer if the app was signed in as someone else of the tenant before (the token is the
        app install's). Another tenant's row with the same token is never touched."""
        rows = await connections.get("default").execute_query_dict(
            """
            INSERT INTO devices (id, tenant_id, user_id, token, platform, created_at, last_seen_at)
            VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $5)
            ON CONFLICT (tenant_id, token) DO UPDATE
               SET user_id = EXCLUDED.user_id,
                   platform = EXCLUDED.platform, last_seen_at = EXCLUDED.last_seen_at
            RETURNING id
            """,
            [self.tenant_id, self.user_id, token, platform.value, at],
        )
        return await Device.get(id=rows[0]["id"])


@dataclass(frozen=True, slots=True)
class NewNotification:
    """A notification to create, with the sent records (key, value) that say it was."""

    user_id: UUID
    period: str
    kind: NotificationKind
    title: str
    body: str
    params: dict[str, str]
    locale: str
    sent: Sequence[tuple[str, Any]]


class _PersonPeriodRow(Protocol):
    user_id: UUID
    period: str


_Row = TypeVar("_Row", bound=_PersonPeriodRow)


def _by_pair(
    pairs: Sequence[tuple[UUID, str]], rows: Sequence[_Row]
) -> dict[tuple[UUID, str], list[_Row]]:
    """``rows`` by (person, period), in their order, for exactly ``pairs`` (the rows of a
    person in another pair's period are dropped)."""
    out: dict[tuple[UUID, str], list[_Row]] = {pair: [] for pair in pairs}
    for row in rows:
        found = out.get((row.user_id, row.period))
        if found is not None:
            found.append(row)
    return out


# what summarize, attainments_of and tier_positions read of a stored result
RESULT_COLUMNS = (
    "id",
    "user_id",
    "period",
    "plan_version_id",
    "status",
    "currency",
    "total",
    "payable",
    "pending",
    "measures",
    "computed_at",
)


class NotifierRepository:
    """What the notification jobs read and write for one tenant (system access)."""

    def __init__(self, tenant_id: UUID) -> None:
        self.tenant_id = tenant_id

    async def lock_users(self, user_ids: Sequence[UUID]) -> dict[UUID, User]:
        """``lock_user`` for many, locked in id order (two batches never wait in a circle)."""
        rows = (
            await User.filter(tenant_id=self.tenant_id, id__in=sorted(set(user_ids)))
            .order_by("id")
            .select_for_update(no_key=True)
        )
        return {u.id: u for u in rows}

    async def results_of(
        self, pairs: Sequence[tuple[UUID, str]]
    ) -> dict[tuple[UUID, str], list[EarningsResult]]:
        """``results`` of many (person, period)s in one statement, each in the same order:
        the columns summaries and crossings read (not the lines' words: components and
        explanation, most of a row, read and parsed for nothing)."""
        if not pairs:
            return {}
        rows = (
            await EarningsResult.filter(**self._pairs_filter(pairs))
            .order_by("computed_at", "id")
            .only(*RESULT_COLUMNS)
        )
        return _by_pair(pairs, rows)

    async def sent_of(
        self, pairs: Sequence[tuple[UUID, str]]
    ) -> dict[tuple[UUID, str], list[NotificationSent]]:
        if not pairs:
            return {}
        return _by_pair(pairs, await NotificationSent.filter(**self._pairs_filter(pairs)))

    def _pairs_filter(self, pairs: Sequence[tuple[UUID, str]]) -> dict[str, Any]:
        """Rows of these people in these periods (a superset of the pairs: see _by_pair)."""
        return {
            "tenant_id": self.tenant_id,
            "user_id__in": sorted({u for u, _ in pairs}),
            "period__in": sorted({p for _, p in pairs}),
        }

    async def claim_unpushed_of(
        self, user_ids: Sequence[UUID], at: datetime, *, read_for: Sequence[UUID]
    ) -> dict[UUID, list[Notification]]:
        """``claim_unpushed`` for many people in one statement; the claimed notifications
        of the people in ``read_for`` are read and returned."""
        if not user_ids:
            return {}
        rows = await connections.get("default").execute_query_dict(
            """
            UPDATE notifications SET pushed_at = $3
            WHERE tenant_id = $1 AND user_id = ANY($2::uuid[]) AND pushed_at IS NULL
            RETURNING id, user_id
            """,
            [self.tenant_id, sorted(set(user_ids)), at],
        )
        wanted = set(read_for)
        ids = [r["id"] for r in rows if r["user_id"] in wanted]
        out: dict[UUID, list[Notification]] = {}
        if ids:
            for n in await Notification.filter(id__in=ids).order_by("created_at"):
                out.setdefault(n.user_id, []).append(n)
        return out

    async def devices_of(self, user_ids: Sequence[UUID]) -> dict[UUID, list[Device]]:
        out: dict[UUID, list[Device]] = {}
        if user_ids:
            for d in await Device.filter(
                tenant_id=self.tenant_id, user_id__in=sorted(set(user_ids))
            ).order_by("created_at"):
                out.setdefault(d.user_id, []).append(d)
        return out

    async def plan_versions(self, ids: Sequence[UUID]) -> list[PlanVersion]:
        return await PlanVersion.filter(
            tenant_id=self.tenant_id, id__in=list(ids)
        ).prefetch_related("plan")

    async def add_notifications(self, news: Sequence[NewNotification]) -> list[Notification]:
        """Create notifications and their sent records: two statements whatever their number
        (a batch recompute's). Created in order, a microsecond apart, so an inbox sorted by
        creation keeps it."""
        if not news:
            return []
        now = utc_now()
        created = [
            Notification(
                id=uuid4(),
                tenant_id=self.tenant_id,
                user_id=n.user_id,
                period=n.period,
                kind=n.kind,
                title=n.title,
                body=n.body,
                params=n.params,
                locale=n.locale,
                created_at=now + timedelta(microseconds=i),
            )
            for i, n in enumerate(news)
        ]
        db = connections.get("default")
        await db.execute_query(
            """
            INSERT INTO notifications (id, tenant_id, user_id, period, kind, title, body, params,
                                       locale, created_at)
            SELECT r.id, $1, r.user_id, r.period, r.kind, r.title, r.body, r.params::jsonb,
                   r.locale, r.created_at
            FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[],
                        $8::text[], $9::text[], $10::timestamptz[]) WITH ORDINALITY
                 AS r(id, user_id, period, kind, title, body, params, locale, created_at, n)
            ORDER BY r.n
            """,
            [
                self.tenant_id,
                [c.id for c in created],
                [c.user_id for c in created],
                [c.period for c in created],
                [c.kind.value for c in created],
                [c.title for c in created],
                [c.body for c in created],
                [json.dumps(c.params) for c in created],
                [c.locale for c in created],
                [c.created_at for c in created],
            ],
        )
        for c in created:
            c._saved_in_db = True
        sent = [
            (n.user_id, n.period, n.kind.value, key, value, c.id)
            for n, c in zip(news, created, strict=True)
            for key, value in n.sent
        ]
        if sent:
            await db.execute_query(
                """
                INSERT INTO notifications_sent (tenant_id, user_id, period, kind, key, value,
                                                notification_id, sent_at)
                SELECT $1, r.user_id, r.period, r.kind, r.key, r.value, r.notification_id, $8
                FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::numeric[],
                            $7::uuid[]) WITH ORDINALITY
                     AS r(user_id, period, kind, key, value, notification_id, n)
                ORDER BY r.n
                """,
                [self.tenant_id, *(list(column) for column in zip(*sent, strict=True)), now],
            )
        return created

    async def forget_tokens(self, tokens: Sequence[str]) -> int:
        if not tokens:
            return 0
        return await Device.filter(tenant_id=self.tenant_id, token__in=list(tokens)).delete()
