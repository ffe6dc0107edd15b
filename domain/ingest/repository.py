"""All queries of ingestion, scoped to the viewer's tenant. Raw SQL where PostgreSQL does the
work in one statement (upserts with ON CONFLICT, recursive manager chains, JSONB tests)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache
from typing import Any, NamedTuple
from uuid import UUID

from tortoise import connections

from domain.ingest.models import (
    DeadLetter,
    DeadLetterStatus,
    FieldMapping,
    InboxEvent,
    InboxStatus,
)
from domain.kit.clock import utc_now
from domain.kit.errors import PeriodError
from domain.kit.periods import parse_period
from domain.org.viewer import Viewer


@lru_cache(maxsize=4096)
def _opens(period: str) -> datetime | None:
    """Midnight of the period's first day, wall time (where the tenant is: the caller's
    SQL says); None for an id Podium no longer accepts (refused when recomputed)."""
    try:
        return datetime.combine(parse_period(period).start, time.min)
    except PeriodError:
        return None


def _conn() -> Any:
    return connections.get("default")


def _storable(text: str) -> str:
    """``text`` without what PostgreSQL refuses: NUL characters and lone surrogates."""
    return text.replace("\x00", "\\u0000").encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass(frozen=True, slots=True)
class StoredTransaction:
    rep_id: UUID
    date: date
    credited: tuple[UUID, ...]
    deleted: bool


class TransactionRow(NamedTuple):
    """One transaction to upsert, in ``upsert_transactions_of``'s column order."""

    external_id: str
    rep_id: UUID
    type: str | None
    amount: Any
    currency: str
    date: date
    state: str | None
    splits_json: str | None
    credited_json: str
    extra_json: str
    version: int | None


class TakenRequest(NamedTuple):
    """A recompute request taken by ``take_recompute_requests``."""

    id: int
    user_id: UUID
    period: str
    generation: int
    requested_at: datetime
    attempts: int = 0  # failed recomputes before this one


class FailedRequest(NamedTuple):
    """A taken request whose recompute failed: put back with ``error``, ``parked`` or to be
    tried again (`restore_recompute_requests`)."""

    request: TakenRequest
    error: str
    parked: bool


class ParkedRequest(NamedTuple):
    """A parked recompute request, as `parked_requests` lists it."""

    person: str  # CRM id
    period: str
    attempts: int
    error: str
    parked_at: datetime


@dataclass(frozen=True, slots=True)
class NewInboxRow:
    event_id: str
    source: str
    type: str
    record_id: str
    version: int | None
    body: str


@dataclass(frozen=True, slots=True)
class NewDeadLetter:
    source: str
    event_id: str | None
    position: int | None
    reason: str
    field: str | None
    body: str


class IngestRepository:
    def __init__(self, viewer: Viewer) -> None:
        self.tenant_id = viewer.tenant_id

    # --- the inbox ---------------------------------------------------------------------------

    async def seen_event_ids(self, event_ids: Iterable[str]) -> set[str]:
        ids = list(event_ids)
        if not ids:
            return set()
        rows = await InboxEvent.filter(tenant_id=self.tenant_id, event_id__in=ids).values_list(
            "event_id", flat=True
        )
        return {str(r) for r in rows}

    async def add_inbox_events(self, rows: Sequence[NewInboxRow]) -> dict[str, int]:
        """Insert the events not seen before; event id -> inbox id of those inserted (a
        concurrent request that stored the same id first wins: ours is a duplicate)."""
        if not rows:
            return {}
        result = await _conn().execute_query_dict(
            """
            INSERT INTO inbox_events (tenant_id, event_id, source, type, record_id, version,
                                      body, status, attempts, received_at)
            SELECT $1, r.event_id, r.source, r.type, r.record_id, r.version, r.body,
                   'pending', 0, now()
            FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[],
                        $7::text[]) WITH ORDINALITY
                 AS r(event_id, source, type, record_id, version, body, n)
            ORDER BY r.n
            ON CONFLICT (tenant_id, event_id) DO NOTHING
            RETURNING id, event_id
            """,
            [
                self.tenant_id,
                [r.event_id for r in rows],
                [r.source for r in rows],
                [r.type for r in rows],
                [r.record_id for r in rows],
                [r.version for r in rows],
                [r.body for r in rows],
            ],
        )
        return {str(r["event_id"]): int(r["id"]) for r in result}

    async def lock_inbox_event(self, inbox_id: int) -> InboxEvent | None:
        return (
            await InboxEvent.filter(tenant_id=self.tenant_id, id=inbox_id)
            .select_for_update()
            .first()
        )

    async def claim_pending_inbox(self, limit: int, skip: Sequence[int] = ()) -> list[InboxEvent]:
        """The oldest pending events (id order) no other transaction holds, locked; never
        those in ``skip``. One statement. (The status is written in the SQL, not passed: the
        partial index of pending events serves only a query that names it.)"""
        rows = await _conn().execute_query_dict(
            """
            SELECT * FROM inbox_events
            WHERE tenant_id = $1 AND status = 'pending' AND NOT (id = ANY($3::bigint[]))
            ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED
            """,
            [self.tenant_id, limit, list(skip)],
        )
        return [InboxEvent._init_from_db(**row) for row in rows]

    async def pending_rep_events(self, crm_ids: Iterable[str], before_id: int) -> list[int]:
        """Pending rep.upserted events received before ``before_id`` for these reps."""
        ids = list(crm_ids)
        if not ids:
            return []
        rows = (
            await InboxEvent.filter(
                tenant_id=self.tenant_id,
                type="rep.upserted",
                status=InboxStatus.PENDING,
                record_id__in=ids,
                id__lt=before_id,
            )
            .order_by("id")
            .values_list("id", flat=True)
        )
        return [int(str(r)) for r in rows]

    async def known_reps_and_seen(
        self, crm_ids: Iterable[str], event_ids: Iterable[str]
    ) -> tuple[set[str], set[str], set[str]]:
        """Of these CRM ids, the people who exist and those a pending rep event creates; of
        these event ids, those seen before: in one round trip (what a webhook asks)."""
        reps = sorted({i for i in crm_ids if i == _storable(i)})
        events = sorted(set(event_ids))
        if not reps and not events:
            return set(), set(), set()
        rows = await _conn().execute_query_dict(
            """
            SELECT 'person' AS kind, external_id AS id FROM users
            WHERE tenant_id = $1 AND external_id = ANY($2::text[])
            UNION ALL
            SELECT DISTINCT 'pending', record_id FROM inbox_events
            WHERE tenant_id = $1 AND type = 'rep.upserted' AND status = 'pending'
              AND record_id = ANY($2::text[])
            UNION ALL
            SELECT 'event', event_id FROM inbox_events
            WHERE tenant_id = $1 AND event_id = ANY($3::text[])
            """,
            [self.tenant_id, reps, events],
        )
        found: dict[str, set[str]] = {"person": set(), "pending": set(), "event": set()}
        for r in rows:
            found[str(r["kind"])].add(str(r["id"]))
        return found["person"], found["pending"], found["event"]

    async def people_ids(self, *, limit: int) -> set[str] | None:
        """The CRM ids of every person of the tenant; None if there are more than ``limit``."""
        rows = await _conn().execute_query_dict(
            "SELECT external_id FROM users WHERE tenant_id = $1 LIMIT $2",
            [self.tenant_id, limit + 1],
        )
        return None if len(rows) > limit else {str(r["external_id"]) for r in rows}

    async def add_dead_letter(
        self,
        *,
        source: str,
        event_id: str | None,
        position: int | None,
        reason: str,
        field: str | None,
        body: str,
    ) -> None:
        await self.add_dead_letters(
            [NewDeadLetter(source, event_id, position, reason, field, body)]
        )

    async def add_dead_letters(self, letters: Sequence[NewDeadLetter]) -> None:
        """New dead letters, in three statements whatever their number; a letter whose event
        already has an open one with the same body updates that one's reason instead (a CRM's
        redelivery of an invalid event is one letter, not one per attempt)."""
        if not letters:
            return
        # the reason and field quote what was received: never let them fail the insert
        unique: dict[tuple[str, str] | int, tuple[NewDeadLetter, str, str | None]] = {}
        for n, letter in enumerate(letters):
            reason = _storable(letter.reason)
            field = None if letter.field is None else _storable(letter.field)[:200]
            key: tuple[str, str] | int = (
                n if letter.event_id is None else (letter.event_id, letter.body)
            )
            unique[key] = (letter, reason, field)
        with_ids = sorted({k[0] for k in unique if isinstance(k, tuple)})
        existing: dict[tuple[str, str], int] = {}
        if with_ids:
            rows = await _conn().execute_query_dict(
                """
                SELECT id, event_id, md5(body) AS digest FROM dead_letters
                WHERE tenant_id = $1 AND status = 'open' AND event_id = ANY($2::text[])
                ORDER BY id
                """,
                [self.tenant_id, with_ids],
            )
            digests = {(str(r["event_id"]), str(r["digest"])): int(r["id"]) for r in rows}
            for k in unique:
                if isinstance(k, tuple):
                    found = digests.get((k[0], hashlib.md5(k[1].encode()).hexdigest()))  # noqa: S324
                    if found is not None:
                        existing[k] = found
        updates = [
            (existing[k], reason, field)
            for k, (_, reason, field) in unique.items()
            if k in existing
        ]
        if updates:
            await _conn().execute_query(
                """
                UPDATE dead_letters d SET reason = u.reason, field = u.field
                FROM unnest($1::bigint[], $2::text[], $3::text[]) AS u(id, reason, field)
                WHERE d.id = u.id
                """,
                [[u[0] for u in updates], [u[1] for u in updates], [u[2] for u in updates]],
            )
        new = [
            (letter, reason, field)
            for k, (letter, reason, field) in unique.items()
            if k not in existing
        ]
        if new:
            await _conn().execute_query(
                """
                INSERT INTO dead_letters (tenant_id, source, event_id, position, reason, field,
                                          body, status, replays, created_at)
                SELECT $1, r.source, r.event_id, r.position, r.reason, r.field, r.body,
                       'open', 0, now()
                FROM unnest($2::text[], $3::text[], $4::int[], $5::text[], $6::text[],
                            $7::text[]) WITH ORDINALITY
                     AS r(source, event_id, position, reason, field, body, n)
                ORDER BY r.n
                """,
                [
                    self.tenant_id,
                    [letter.source for letter, _, _ in new],
                    [letter.event_id for letter, _, _ in new],
                    [letter.position for letter, _, _ in new],
                    [reason for _, reason, _ in new],
                    [field for _, _, field in new],
                    [letter.body for letter, _, _ in new],
                ],
            )

    async def dead_letters(
        self, *, ids: Sequence[int] | None = None, status: DeadLetterStatus | None = None
    ) -> list[DeadLetter]:
        query = DeadLetter.filter(tenant_id=self.tenant_id)
        if ids is not None:
            query = query.filter(id__in=list(ids))
        if status is not None:
            query = query.filter(status=status)
        return await query.order_by("id")

    # --- CRM records -------------------------------------------------------------------------

    async def claim_version(
        self, kind: str, external_id: str, version: int | None, *, deleted: bool
    ) -> bool:
        """Record ``version`` as the newest of the record unless a newer one is stored;
        False when the stored version is newer (the event is stale). The row stays locked
        until the caller's transaction ends, so two events of one record apply in turn."""
        claimed = await self.claim_versions(kind, [(external_id, version, deleted)])
        return claimed[external_id]

    async def claim_versions(
        self, kind: str, claims: Sequence[tuple[str, int | None, bool]]
    ) -> dict[str, bool]:
        """``claim_version`` for many distinct records in one statement (rows locked in
        record order): record id -> False when the stored version is newer (stale)."""
        if not claims:
            return {}
        rows = await _conn().execute_query_dict(
            """
            WITH r(external_id, version, deleted) AS (
                SELECT * FROM unnest($3::text[], $4::bigint[], $5::bool[])
            )
            INSERT INTO crm_record_versions AS c (tenant_id, kind, external_id, version,
                                                  deleted, updated_at)
            SELECT $1, $2, r.external_id, COALESCE(r.version, 0), r.deleted, now()
            FROM r ORDER BY r.external_id
            ON CONFLICT (tenant_id, kind, external_id) DO UPDATE SET
                version = GREATEST(c.version, EXCLUDED.version),
                deleted = CASE WHEN (SELECT r.version IS NULL OR r.version >= c.version
                                     FROM r WHERE r.external_id = EXCLUDED.external_id)
                               THEN EXCLUDED.deleted ELSE c.deleted END,
                updated_at = now()
            RETURNING c.external_id, (xmax = 0) AS inserted, c.version
            """,
            [
                self.tenant_id,
                kind,
                [c[0] for c in claims],
                [c[1] for c in claims],
                [c[2] for c in claims],
            ],
        )
        asked = {c[0]: c[1] for c in claims}
        out: dict[str, bool] = {}
        for row in rows:
            record, version = str(row["external_id"]), asked[str(row["external_id"])]
            out[record] = bool(row["inserted"]) or version is None or int(row["version"]) <= version
        return out

    async def lock_transactions(self, external_ids: Sequence[str]) -> dict[str, StoredTransaction]:
        """``lock_transaction`` for many, locked in id order."""
        if not external_ids:
            return {}
        rows = await _conn().execute_query_dict(
            """
            SELECT external_id, rep_id, date, credited_user_ids, deleted FROM transactions
            WHERE tenant_id = $1 AND external_id = ANY($2::text[])
            ORDER BY external_id FOR UPDATE
            """,
            [self.tenant_id, sorted(set(external_ids))],
        )
        out: dict[str, StoredTransaction] = {}
        for row in rows:
            credited = row["credited_user_ids"]
            if isinstance(credited, str):
                credited = json.loads(credited)
            out[str(row["external_id"])] = StoredTransaction(
                rep_id=UUID(str(row["rep_id"])),
                date=row["date"],
                credited=tuple(UUID(str(c)) for c in credited or [row["rep_id"]]),
                deleted=bool(row["deleted"]),
            )
        return out

    async def upsert_transactions_of(self, rows: Sequence[TransactionRow]) -> None:
        """``upsert_transaction`` for many distinct records in one statement."""
        if not rows:
            return
        await _conn().execute_query(
            """
            INSERT INTO transactions (tenant_id, external_id, rep_id, type, amount, currency,
                                      date, state, splits, credited_user_ids, extra_fields,
                                      version, deleted, created_at, updated_at)
            SELECT $1, r.external_id, r.rep_id, r.type, r.amount, r.currency, r.date, r.state,
                   r.splits::jsonb, r.credited::jsonb, r.extra::jsonb, COALESCE(r.version, 0),
                   false, now(), now()
            FROM unnest($2::text[], $3::uuid[], $4::text[], $5::numeric[], $6::text[],
                        $7::date[], $8::text[], $9::text[], $10::text[], $11::text[],
                        $12::bigint[])
                 AS r(external_id, rep_id, type, amount, currency, date, state, splits,
                      credited, extra, version)
            ORDER BY r.external_id
            ON CONFLICT (tenant_id, external_id) DO UPDATE SET
                rep_id = EXCLUDED.rep_id, type = EXCLUDED.type, amount = EXCLUDED.amount,
                currency = EXCLUDED.currency, date = EXCLUDED.date, state = EXCLUDED.state,
                splits = EXCLUDED.splits, credited_user_ids = EXCLUDED.credited_user_ids,
                extra_fields = EXCLUDED.extra_fields,
                version = GREATEST(transactions.version, EXCLUDED.version),
                deleted = false, updated_at = now()
            """,
            [self.tenant_id, *(list(column) for column in zip(*rows, strict=True))],
        )

    async def mark_transactions_deleted(self, deletions: Sequence[tuple[str, int | None]]) -> None:
        if not deletions:
            return
        await _conn().execute_query(
            """
            UPDATE transactions t SET deleted = true, updated_at = now(),
                   version = GREATEST(t.version, COALESCE(r.version, 0))
            FROM unnest($2::text[], $3::bigint[]) AS r(external_id, version)
            WHERE t.tenant_id = $1 AND t.external_id = r.external_id
              AND t.external_id = ANY($2::text[])
            """,
            [self.tenant_id, [d[0] for d in deletions], [d[1] for d in deletions]],
        )

    async def finish_inbox_rows(
        self,
        outcomes: Sequence[tuple[int, str, str | None]],
        at: datetime,
        *,
        requests: Iterable[tuple[UUID, str]] = (),
    ) -> None:
        """Record the outcome of applied inbox events: (id, status, outcome), one attempt
        more each; and upsert the recompute ``requests`` they cause (``request_recomputes``)
        in the same statement. A parked request of the same pair (`RecomputeRequest`) is
        live again: the change may be what mends it.

        A request for a period that has not started where the tenant is (a deal dated next
        month, a future hire date or quota) is due at the period's first midnight there
        (its ``requested_at``): taken and swept only from then on. Computed now, it stored
        earnings (or an error) for a month nobody has worked yet, which `podium recompute`
        and `podium close` refuse to touch."""
        unique = sorted(set(requests))
        if not outcomes and not unique:
            return
        await _conn().execute_query(
            """
            WITH finished AS (
                UPDATE inbox_events e SET status = r.status, outcome = r.outcome,
                       attempts = e.attempts + 1, applied_at = $3
                FROM unnest($2::bigint[], $4::text[], $5::text[]) AS r(id, status, outcome)
                WHERE e.tenant_id = $1 AND e.id = r.id AND e.id = ANY($2::bigint[])
            )
            INSERT INTO recompute_requests (tenant_id, user_id, period, generation, requested_at,
                                            attempts)
            SELECT $1, r.user_id, r.period, 1,
                   GREATEST(now(), r.opens AT TIME ZONE (SELECT time_zone FROM tenants
                                                         WHERE id = $1)),
                   0
            FROM unnest($6::uuid[], $7::text[], $8::timestamp[]) AS r(user_id, period, opens)
            ON CONFLICT (tenant_id, user_id, period) DO UPDATE SET
                generation = recompute_requests.generation + 1,
                requested_at = EXCLUDED.requested_at,
                attempts = 0, error = NULL, parked_at = NULL
            """,
            [
                self.tenant_id,
                [o[0] for o in outcomes],
                at,
                [o[1] for o in outcomes],
                [o[2] for o in outcomes],
                [u for u, _ in unique],
                [p for _, p in unique],
                [_opens(p) for _, p in unique],
            ],
        )

    async def people_and_waiting(
        self, crm_ids: Iterable[str], before_id: int
    ) -> tuple[dict[str, UUID], set[str]]:
        """Of these CRM ids: the people (CRM id -> Podium id), and those with a rep.upserted
        event pending, received before ``before_id``: in one statement."""
        ids = sorted(set(crm_ids))
        if not ids:
            return {}, set()
        rows = await _conn().execute_query_dict(
            """
            SELECT external_id, id FROM users WHERE tenant_id = $1 AND external_id = ANY($2)
            UNION ALL
            SELECT DISTINCT record_id, NULL::uuid FROM inbox_events
            WHERE tenant_id = $1 AND type = 'rep.upserted' AND status = 'pending'
              AND record_id = ANY($2::text[]) AND id < $3
            """,
            [self.tenant_id, ids, before_id],
        )
        people = {str(r["external_id"]): UUID(str(r["id"])) for r in rows if r["id"] is not None}
        return people, {str(r["external_id"]) for r in rows if r["id"] is None}

    async def managers_and_plan_kinds(
        self, user_ids: Iterable[UUID]
    ) -> tuple[dict[UUID, set[UUID]], dict[UUID, set[tuple[str, bool]]]]:
        """In one statement: everyone above each of these people (their manager chain), and
        for each of them and of those managers the (period kind, has team scope) of the plans
        they are on."""
        ids = list(set(user_ids))
        above: dict[UUID, set[UUID]] = {i: set() for i in ids}
        kinds: dict[UUID, set[tuple[str, bool]]] = {}
        if not ids:
            return above, kinds
        rows = await _conn().execute_query_dict(
            """
            WITH RECURSIVE up(origin, id) AS (
                SELECT id, manager_id FROM users
                WHERE tenant_id = $1 AND id = ANY($2::uuid[]) AND manager_id IS NOT NULL
                UNION
                SELECT up.origin, u.manager_id FROM users u JOIN up ON u.id = up.id
                WHERE u.tenant_id = $1 AND u.manager_id IS NOT NULL
            )
            SELECT origin AS user_id, id AS manager_id, NULL::text AS period_kind,
                   NULL::bool AS team
            FROM up
            UNION ALL
            SELECT DISTINCT a.user_id, NULL::uuid, v.period_kind::text,
                   COALESCE(v.document->'measures' @> '[{"scope": "team"}]'::jsonb, false)
            FROM plan_assignments a JOIN plan_versions v ON v.plan_id = a.plan_id
            WHERE a.tenant_id = $1 AND a.status IN ('offered', 'accepted')
              AND a.user_id = ANY($2::uuid[] || ARRAY(SELECT id FROM up))
            """,
            [self.tenant_id, ids],
        )
        for r in rows:
            user = UUID(str(r["user_id"]))
            if r["manager_id"] is not None:
                above[user].add(UUID(str(r["manager_id"])))
            else:
                kinds.setdefault(user, set()).add((str(r["period_kind"]), bool(r["team"])))
        return above, kinds

    async def user_ids(self, crm_ids: Iterable[str]) -> dict[str, UUID]:
        ids = sorted(set(crm_ids))
        if not ids:
            return {}
        rows = await _conn().execute_query_dict(
            "SELECT external_id, id FROM users WHERE tenant_id = $1 AND external_id = ANY($2)",
            [self.tenant_id, ids],
        )
        return {str(r["external_id"]): UUID(str(r["id"])) for r in rows}

    async def chain_up(self, user_id: UUID) -> list[tuple[UUID, str]]:
        """This person and the managers above them, bottom up, as (id, CRM id): to the top,
        or to where the chain comes back on itself (a cycle stored before cycles were
        refused). One recursive statement."""
        rows = await _conn().execute_query_dict(
            """
            WITH RECURSIVE up(id) AS (
                SELECT $2::uuid
                UNION
                SELECT u.manager_id FROM users u JOIN up ON u.id = up.id
                WHERE u.tenant_id = $1 AND u.manager_id IS NOT NULL
            )
            SELECT u.id, u.external_id, u.manager_id FROM users u JOIN up ON u.id = up.id
            WHERE u.tenant_id = $1
            """,
            [self.tenant_id, user_id],
        )
        people = {UUID(str(r["id"])): r for r in rows}
        chain: dict[UUID, str] = {}
        current: UUID | None = user_id
        while current in people and current not in chain:
            row = people[current]
            chain[current] = str(row["external_id"])
            current = None if row["manager_id"] is None else UUID(str(row["manager_id"]))
        return list(chain.items())

    # --- who a change affects ----------------------------------------------------------------

    async def credited_months_of(self, user_ids: Sequence[UUID]) -> dict[UUID, set[date]]:
        """For each of these people, the first day of every month with a live transaction
        credited to them (a month's first day lies in the same month, quarter and year as all
        its days), in one statement."""
        ids = sorted({str(u) for u in user_ids})
        rows = await _conn().execute_query_dict(
            """
            SELECT DISTINCT c.person, date_trunc('month', t.date)::date AS month
            FROM transactions t
            CROSS JOIN LATERAL jsonb_array_elements_text(
                CASE WHEN COALESCE(jsonb_array_length(t.credited_user_ids), 0) = 0
                     THEN jsonb_build_array(t.rep_id::text) ELSE t.credited_user_ids END
            ) AS c(person)
            WHERE t.tenant_id = $1 AND NOT t.deleted
              AND (t.credited_user_ids ?| $2::text[] OR t.rep_id::text = ANY($2::text[]))
              AND c.person = ANY($2::text[])
            """,
            [self.tenant_id, ids],
        )
        out: dict[UUID, set[date]] = {}
        for r in rows:
            out.setdefault(UUID(str(r["person"])), set()).add(r["month"])
        return out

    # --- recompute requests ------------------------------------------------------------------

    async def request_recomputes(self, pairs: Iterable[tuple[UUID, str]]) -> None:
        """Upsert one request per (person, period); an existing one gets a new generation.
        The rows are sorted: two transactions requesting the same people lock them in the
        same order."""
        await self.finish_inbox_rows([], utc_now(), requests=pairs)

    async def take_recompute_requests(self, limit: int) -> list[TakenRequest]:
        """Delete and return the oldest recompute requests (not parked) no other transaction
        holds, in one statement: the delete commits with the recomputes the caller does in
        the same transaction, or rolls back with them; ``restore_recompute_requests`` puts
        back those it could not do. An apply renewing one of them meanwhile waits for that
        end, then finds it gone (or restored: a new generation) and inserts a new one. A
        request of a period that has not opened yet is not due (``finish_inbox_rows``): left
        for the sweeper to wake once it is (the clock, not the transaction's start: an apply
        committing meanwhile wrote its own start, later than ours)."""
        rows = await _conn().execute_query_dict(
            """
            DELETE FROM recompute_requests WHERE id IN (
                SELECT id FROM recompute_requests WHERE tenant_id = $1 AND parked_at IS NULL
                  AND requested_at <= clock_timestamp()
                ORDER BY requested_at, id LIMIT $2 FOR UPDATE SKIP LOCKED
            )
            RETURNING id, user_id, period, generation, requested_at, attempts
            """,
            [self.tenant_id, limit],
        )
        taken = [
            TakenRequest(
                int(r["id"]),
                UUID(str(r["user_id"])),
                str(r["period"]),
                int(r["generation"]),
                r["requested_at"],
                int(r["attempts"]),
            )
            for r in rows
        ]
        return sorted(taken, key=lambda t: (t.requested_at, t.id))

    async def restore_recompute_requests(self, failed: Sequence[FailedRequest]) -> None:
        """Put back requests taken by ``take_recompute_requests`` in this transaction whose
        recompute failed: one attempt more, with its error, parked or not."""
        if not failed:
            return
        now = utc_now()
        await _conn().execute_query(
            """
            INSERT INTO recompute_requests (id, tenant_id, user_id, period, generation,
                                            requested_at, attempts, error, parked_at)
            SELECT r.id, $1, r.user_id, r.period, r.generation, r.requested_at,
                   LEAST(r.attempts, 32767), r.error, CASE WHEN r.parked THEN $9::timestamptz END
            FROM unnest($2::bigint[], $3::uuid[], $4::text[], $5::bigint[], $6::timestamptz[],
                        $7::int[], $8::text[], $10::bool[])
                 AS r(id, user_id, period, generation, requested_at, attempts, error, parked)
            ORDER BY r.user_id, r.period
            """,
            [
                self.tenant_id,
                [f.request.id for f in failed],
                [f.request.user_id for f in failed],
                [f.request.period for f in failed],
                [f.request.generation for f in failed],
                [f.request.requested_at for f in failed],
                [f.request.attempts + 1 for f in failed],
                [f.error for f in failed],
                now,
                [f.parked for f in failed],
            ],
        )

    async def take_requests_of(self, pairs: Iterable[tuple[UUID, str]]) -> int:
        """Delete the requests (parked or not) of these (person, period)s that a recompute
        about to read their inputs in this transaction answers: how many. Called before the
        read, so every change they stand for has committed and is read. A change committing
        later keeps (or, renewing one deleted here, waits for this transaction and writes
        again) its own request: a recompute to come, never one lost. Locked in (person,
        period) order, as `request_recomputes` writes them."""
        unique = sorted(set(pairs))
        if not unique:
            return 0
        rows = await _conn().execute_query_dict(
            """
            DELETE FROM recompute_requests WHERE id IN (
                SELECT q.id FROM recompute_requests q
                JOIN unnest($2::uuid[], $3::text[]) AS r(user_id, period)
                  ON q.user_id = r.user_id AND q.period = r.period
                WHERE q.tenant_id = $1
                ORDER BY q.user_id, q.period
                FOR UPDATE OF q
            )
            RETURNING id
            """,
            [self.tenant_id, [u for u, _ in unique], [p for _, p in unique]],
        )
        return len(rows)

    async def parked_requests(self, limit: int = 100) -> tuple[int, list[ParkedRequest]]:
        """How many recompute requests are parked, and the latest ``limit`` of them with
        the person's CRM id and the last error."""
        rows = await _conn().execute_query_dict(
            """
            SELECT u.external_id, q.period, q.attempts, q.error, q.parked_at,
                   count(*) OVER () AS parked
            FROM recompute_requests q JOIN users u ON u.id = q.user_id
            WHERE q.tenant_id = $1 AND q.parked_at IS NOT NULL
            ORDER BY q.parked_at DESC, u.external_id, q.period LIMIT $2
            """,
            [self.tenant_id, limit],
        )
        found = [
            ParkedRequest(
                str(r["external_id"]),
                str(r["period"]),
                int(r["attempts"]),
                str(r["error"] or ""),
                r["parked_at"],
            )
            for r in rows
        ]
        return (int(rows[0]["parked"]) if rows else 0), found

    # --- field mappings ----------------------------------------------------------------------

    async def field_mapping(self, source: str) -> dict[str, Any] | None:
        row = await FieldMapping.get_or_none(tenant_id=self.tenant_id, source=source)
        return dict(row.mapping) if row else None

    async def save_field_mapping(self, source: str, mapping: dict[str, Any]) -> None:
        row = await FieldMapping.get_or_none(tenant_id=self.tenant_id, source=source)
        if row is None:
            await FieldMapping.create(tenant_id=self.tenant_id, source=source, mapping=mapping)
        else:
            row.mapping = mapping
            await row.save(update_fields=["mapping", "updated_at"])


# --- across tenants: the sweeper ------------------------------------------------------------


async def unapplied_inbox_events(older_than: datetime, limit: int = 1000) -> list[tuple[UUID, int]]:
    rows = (
        await InboxEvent.filter(status=InboxStatus.PENDING, received_at__lt=older_than)
        .order_by("id")
        .limit(limit)
        .values_list("tenant_id", "id")
    )
    return [(UUID(str(t)), int(i)) for t, i in rows]


async def overdue_recompute_requests(
    older_than: datetime, limit: int = 1000
) -> list[tuple[UUID, UUID, str, int]]:
    rows = await _conn().execute_query_dict(
        "SELECT tenant_id, user_id, period, generation FROM recompute_requests "
        "WHERE requested_at < $1 AND parked_at IS NULL ORDER BY requested_at LIMIT $2",
        [older_than, limit],
    )
    return [
        (UUID(str(r["tenant_id"])), UUID(str(r["user_id"])), str(r["period"]), int(r["generation"]))
        for r in rows
    ]


async def pending_inbox_ids(
    tenant_id: UUID | None, *, after_id: int = 0, limit: int = 1000
) -> list[tuple[UUID, int]]:
    """Inbox events not applied yet (every age), in id order from ``after_id``: what
    ``podium rebuild-cache`` queues again after Redis lost its queue."""
    query = InboxEvent.filter(status=InboxStatus.PENDING, id__gt=after_id)
    if tenant_id is not None:
        query = query.filter(tenant_id=tenant_id)
    rows = await query.order_by("id").limit(limit).values_list("tenant_id", "id")
    return [(UUID(str(t)), int(i)) for t, i in rows]


async def pending_recompute_requests(
    tenant_id: UUID | None, *, after_id: int = 0, limit: int = 1000
) -> list[tuple[int, UUID, UUID, str, int]]:
    """Every recompute request not parked (id, tenant, person, period, generation), every
    age."""
    rows = await _conn().execute_query_dict(
        "SELECT id, tenant_id, user_id, period, generation FROM recompute_requests "
        "WHERE id > $1 AND ($2::uuid IS NULL OR tenant_id = $2) AND parked_at IS NULL "
        "ORDER BY id LIMIT $3",
        [after_id, tenant_id, limit],
    )
    return [
        (
            int(r["id"]),
            UUID(str(r["tenant_id"])),
            UUID(str(r["user_id"])),
            str(r["period"]),
            int(r["generation"]),
        )
        for r in rows
    ]


def now() -> datetime:
    return utc_now()


async def base_records(
    tenant_id: UUID, record_ids: Iterable[str]
) -> dict[str, dict[str, Any] | None]:
    """The newest known state of CRM transactions, as generic event data: the newest accepted
    inbox event of each record (applied or not yet), else the stored transaction. None: deleted
    or never seen."""
    from domain.ingest.events import loads_exact

    # an id PostgreSQL cannot compare (a NUL, a lone surrogate) matches no record
    ids = sorted({i for i in record_ids if len(i) <= 200 and i == _storable(i)})
    out: dict[str, dict[str, Any] | None] = {}
    if not ids:
        return out
    rows = await _conn().execute_query_dict(
        """
        SELECT DISTINCT ON (record_id) record_id, type, body FROM inbox_events
        WHERE tenant_id = $1 AND record_id = ANY($2) AND type LIKE 'transaction.%'
          AND status IN ('pending', 'applied')
        ORDER BY record_id, version DESC NULLS LAST, id DESC
        """,
        [tenant_id, ids],
    )
    for r in rows:
        if r["type"] == "transaction.deleted":
            out[str(r["record_id"])] = None
        else:
            body = loads_exact(r["body"]).get("data") or {}
            out[str(r["record_id"])] = dict(body)
    missing = [i for i in ids if i not in out]
    if not missing:
        return out
    stored = await _conn().execute_query_dict(
        """
        SELECT t.external_id, u.external_id AS rep, t.type, t.amount::text AS amount, t.currency,
               t.date, t.state, t.splits::text AS splits, t.extra_fields::text AS extra, t.deleted
        FROM transactions t JOIN users u ON u.id = t.rep_id
        WHERE t.tenant_id = $1 AND t.external_id = ANY($2)
        """,
        [tenant_id, missing],
    )
    split_users: dict[str, str] = {}
    user_rows = (
        await _conn().execute_query_dict(
            "SELECT id::text AS id, external_id FROM users WHERE tenant_id = $1", [tenant_id]
        )
        if any(r["splits"] not in (None, "null") for r in stored)
        else []
    )
    split_users = {str(u["id"]): str(u["external_id"]) for u in user_rows}
    for r in stored:
        if r["deleted"]:
            out[str(r["external_id"])] = None
            continue
        splits = loads_exact(r["splits"]) if r["splits"] else None
        data: dict[str, Any] = {
            "id": str(r["external_id"]),
            "rep_id": str(r["rep"]),
            "type": r["type"],
            "amount": r["amount"],
            "currency": r["currency"],
            "date": r["date"].isoformat(),
            "state": r["state"],
            "fields": loads_exact(r["extra"]) if r["extra"] else {},
        }
        if splits:
            data["splits"] = [
                {"rep_id": split_users.get(s["rep_id"], s["rep_id"]), "share": s["share"]}
                for s in splits
            ]
        out[str(r["external_id"])] = data
    return out


async def oldest_pending_received_at() -> datetime | None:
    """When the oldest inbox event still waiting to be applied arrived (every tenant): what
    `/ready` reports as the queue's age. One index scan on (status, received_at)."""
    found = (
        await InboxEvent.filter(status=InboxStatus.PENDING)
        .order_by("received_at")
        .first()
        .only("received_at")
    )
    return None if found is None else found.received_at
