"""Every notification query. The inbox side is the viewer's own (whatever their role: an inbox
is personal); the worker side acts for the system within one tenant."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
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


def _db() -> Any:
    return connections.get("default")


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


@dataclass(frozen=True, slots=True)
class Told:
    """What a rep was told for a period already, as the rules need it: the keys of each
    kind, and the last payable amount notified per currency (PAYABLE records only grow, one
    per rise of the payable amount: only their maximum is read, never each one)."""

    keys: dict[str, set[str]]
    last_payable: dict[str, Decimal]


@dataclass(frozen=True, slots=True)
class Claimed:
    """A notification claimed for push (``pushed_at`` set): what a push message carries."""

    id: UUID
    user_id: UUID
    kind: str
    period: str
    title: str
    body: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Created:
    """A notification as `NotifierRepository.add_notifications` stored it: its columns, not an
    ORM object (a batch recompute makes dozens a second, and tortoise's model built each was
    a twentieth of the worker's CPU at 100 events/s, py-spy)."""

    id: UUID
    user_id: UUID
    period: str
    kind: NotificationKind
    title: str
    body: str
    params: dict[str, Any]
    locale: str
    created_at: datetime


class NotifierRepository:
    """What the notification jobs read and write for one tenant (system access). Arrays as
    parameters (``= ANY($n)``), not one placeholder per id: one statement text whatever the
    batch's size, prepared once per connection."""

    def __init__(self, tenant_id: UUID) -> None:
        self.tenant_id = tenant_id

    async def lock_users(self, user_ids: Sequence[UUID]) -> dict[UUID, str | None]:
        """Lock these people (FOR NO KEY UPDATE, in id order: two batches never wait in a
        circle) for the caller's transaction; their locales."""
        rows = await _db().execute_query_dict(
            """
            SELECT id, locale FROM users WHERE tenant_id = $1 AND id = ANY($2::uuid[])
            ORDER BY id FOR NO KEY UPDATE
            """,
            [self.tenant_id, sorted(set(user_ids))],
        )
        return {r["id"]: r["locale"] for r in rows}

    async def results_of(
        self, pairs: Sequence[tuple[UUID, str]]
    ) -> dict[tuple[UUID, str], list[EarningsResult]]:
        """The stored results of many (person, period)s in one statement, each pair's in
        (computed_at, id) order: the columns summaries and crossings read (not the lines'
        words: components and explanation, most of a row, read and parsed for nothing).

        Each pair looked up on its own through (tenant, period, person) (the OFFSET keeps the
        lookup from being flattened into a join): a plan that does not depend on what the
        planner believes of a period, which for a new month is nothing (it then walked every
        result of the period for each batch)."""
        if not pairs:
            return {}
        rows = await _db().execute_query_dict(
            f"""
            SELECT r.* FROM unnest($2::uuid[], $3::text[]) AS p(user_id, period)
            CROSS JOIN LATERAL (
                SELECT {", ".join(RESULT_COLUMNS)} FROM earnings_results
                WHERE tenant_id = $1 AND period = p.period AND user_id = p.user_id
                OFFSET 0
            ) r
            ORDER BY r.computed_at, r.id
            """,  # noqa: S608 - fixed column names
            [self.tenant_id, [u for u, _ in pairs], [p for _, p in pairs]],
        )
        return _by_pair(pairs, [EarningsResult._init_from_db(**row) for row in rows])

    async def told(self, pairs: Sequence[tuple[UUID, str]]) -> dict[tuple[UUID, str], Told]:
        """What each (person, period) was notified already (``Told``), in one statement."""
        out = {pair: Told({}, {}) for pair in pairs}
        if not pairs:
            return out
        rows = await _db().execute_query_dict(
            """
            SELECT p.user_id, p.period, s.kind, s.key, s.value
            FROM unnest($2::uuid[], $3::text[]) AS p(user_id, period)
            CROSS JOIN LATERAL (
                SELECT kind, key, NULL::numeric AS value FROM notifications_sent
                WHERE tenant_id = $1 AND user_id = p.user_id AND period = p.period
                  AND kind <> 'payable'
                UNION ALL
                SELECT kind, split_part(key, ':', 1), max(value) FROM notifications_sent
                WHERE tenant_id = $1 AND user_id = p.user_id AND period = p.period
                  AND kind = 'payable' AND value IS NOT NULL
                GROUP BY kind, split_part(key, ':', 1)
            ) s
            """,
            [self.tenant_id, [u for u, _ in pairs], [p for _, p in pairs]],
        )
        for r in rows:
            found = out.get((r["user_id"], r["period"]))
            if found is None:
                continue  # a person's record of another pair's period
            if r["kind"] == NotificationKind.PAYABLE:
                found.last_payable[r["key"]] = Decimal(r["value"])
            else:
                found.keys.setdefault(r["kind"], set()).add(r["key"])
        return out

    async def was_sent(self, user_id: UUID, period: str, kind: NotificationKind, key: str) -> bool:
        """Whether (person, period, kind, key) was notified already."""
        return await NotificationSent.exists(
            tenant_id=self.tenant_id, user_id=user_id, period=period, kind=kind, key=key
        )

    async def devices_of(self, user_ids: Sequence[UUID]) -> dict[UUID, list[str]]:
        """The push tokens of each of these people, oldest device first."""
        out: dict[UUID, list[str]] = {}
        if user_ids:
            rows = await _db().execute_query_dict(
                """
                SELECT user_id, token FROM devices
                WHERE tenant_id = $1 AND user_id = ANY($2::uuid[]) ORDER BY created_at, id
                """,
                [self.tenant_id, sorted(set(user_ids))],
            )
            for r in rows:
                out.setdefault(r["user_id"], []).append(r["token"])
        return out

    async def plan_versions(self, ids: Sequence[UUID]) -> list[PlanVersion]:
        return await PlanVersion.filter(tenant_id=self.tenant_id, id__in=list(ids))

    async def add_notifications(
        self,
        news: Sequence[NewNotification],
        *,
        claim_for: Sequence[UUID] = (),
        at: datetime | None = None,
    ) -> tuple[list[Created], list[Claimed]]:
        """Create notifications and their sent records, in one statement whatever their
        number (a batch recompute's). Created in order, a microsecond apart, so an inbox
        sorted by creation keeps it.

        With ``claim_for``, the same statement claims for push every notification of these
        people not pushed yet (the new ones are created claimed): returned with the created,
        what a push needs of the others."""
        now = at or utc_now()
        if not news and not claim_for:
            return [], []
        claiming = bool(claim_for)
        created = [
            Created(
                id=uuid4(),
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
        sent = [
            (n.user_id, n.period, n.kind.value, key, value, c.id)
            for n, c in zip(news, created, strict=True)
            for key, value in n.sent
        ]
        sent_columns: list[list[Any]] = [list(column) for column in zip(*sent, strict=True)]
        rows = await _db().execute_query_dict(
            """
            WITH created AS (
                INSERT INTO notifications (id, tenant_id, user_id, period, kind, title, body,
                                           params, locale, created_at, pushed_at)
                SELECT r.id, $1, r.user_id, r.period, r.kind, r.title, r.body, r.params::jsonb,
                       r.locale, r.created_at, $11
                FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[],
                            $7::text[], $8::text[], $9::text[], $10::timestamptz[])
                     WITH ORDINALITY
                     AS r(id, user_id, period, kind, title, body, params, locale, created_at, n)
                ORDER BY r.n
            ), recorded AS (
                INSERT INTO notifications_sent (tenant_id, user_id, period, kind, key, value,
                                                notification_id, sent_at)
                SELECT $1, r.user_id, r.period, r.kind, r.key, r.value, r.notification_id, $12
                FROM unnest($13::uuid[], $14::text[], $15::text[], $16::text[], $17::numeric[],
                            $18::uuid[]) WITH ORDINALITY
                     AS r(user_id, period, kind, key, value, notification_id, n)
                ORDER BY r.n
            )
            UPDATE notifications SET pushed_at = $12
            WHERE tenant_id = $1 AND user_id = ANY($19::uuid[]) AND pushed_at IS NULL
            RETURNING id, user_id, kind, period, title, body, created_at
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
                now if claiming else None,
                now,
                *(sent_columns or [[] for _ in range(6)]),
                sorted(set(claim_for)),
            ],
        )
        claimed = [
            Claimed(
                id=r["id"],
                user_id=r["user_id"],
                kind=str(r["kind"]),
                period=str(r["period"]),
                title=str(r["title"]),
                body=str(r["body"]),
                created_at=r["created_at"],
            )
            for r in rows
        ]
        return created, claimed

    async def forget_tokens(self, tokens: Sequence[str]) -> int:
        if not tokens:
            return 0
        return await Device.filter(tenant_id=self.tenant_id, token__in=list(tokens)).delete()
