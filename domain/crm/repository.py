"""Queries about CRM records, scoped to the viewer's tenant, and the bulk upserts of
`podium import`.

A bulk upsert streams validated rows with COPY into a temporary staging table (asyncpg
``copy_records_to_table``: 10-20x faster than INSERTs), then moves them into the real table
with one ``INSERT ... SELECT ... ON CONFLICT DO UPDATE``. It must run inside the caller's
transaction: the staging table is dropped on commit, and a failure leaves nothing behind.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID, uuid4

from tortoise import connections

from domain.org.viewer import Viewer

COPY_CHUNK = 5000

Progress = Callable[[int], None]
"""Called with the number of rows just loaded."""


@dataclass(frozen=True, slots=True)
class Upserted:
    inserted: int
    updated: int


class CrmRepository:
    def __init__(self, viewer: Viewer) -> None:
        self.tenant_id = viewer.tenant_id

    async def user_ids(self) -> dict[str, UUID]:
        """Every person of the tenant: external id -> user id."""
        rows = await connections.get("default").execute_query_dict(
            "SELECT external_id, id FROM users WHERE tenant_id = $1", [self.tenant_id]
        )
        return {str(r["external_id"]): UUID(str(r["id"])) for r in rows}

    async def manager_chains(self) -> dict[str, str | None]:
        """Every person of the tenant: external id -> their manager's external id."""
        rows = await connections.get("default").execute_query_dict(
            """
            SELECT u.external_id, m.external_id AS manager
            FROM users u LEFT JOIN users m ON m.id = u.manager_id
            WHERE u.tenant_id = $1
            """,
            [self.tenant_id],
        )
        return {str(r["external_id"]): r["manager"] for r in rows}

    async def employment(
        self, external_ids: Sequence[str]
    ) -> dict[str, tuple[UUID, UUID | None, date | None, date | None]]:
        """These people (those who exist): external id -> (id, manager id, hire date, end
        date)."""
        rows = await connections.get("default").execute_query_dict(
            """
            SELECT external_id, id, manager_id, hire_date, end_date FROM users
            WHERE tenant_id = $1 AND external_id = ANY($2::text[])
            """,
            [self.tenant_id, list(external_ids)],
        )
        return {
            str(r["external_id"]): (
                UUID(str(r["id"])),
                None if r["manager_id"] is None else UUID(str(r["manager_id"])),
                r["hire_date"],
                r["end_date"],
            )
            for r in rows
        }

    async def upsert_users(
        self,
        rows: Sequence[tuple[Any, ...]],
        *,
        with_email: bool,
        progress: Progress | None = None,
    ) -> tuple[Upserted, int]:
        """Rows of (external_id, display_name, email, hire_date, end_date, attributes JSON,
        manager external id, role or None). A new person without a role is a rep; an
        existing one keeps their role unless the row names one. Returns the counts and how
        many managers changed."""
        columns = {
            "external_id": "text",
            "display_name": "text",
            "email": "text",
            "hire_date": "date",
            "end_date": "date",
            "attributes": "jsonb",
            "manager_external_id": "text",
            "role": "text",
        }
        email = ", email = EXCLUDED.email" if with_email else ""
        async with _staging(columns, rows, progress) as (conn, stage):
            flags = await conn.fetch(
                f"""
                INSERT INTO users (id, tenant_id, external_id, display_name, email, role,
                                   hire_date, end_date, attributes, created_at, updated_at)
                SELECT gen_random_uuid(), $1, s.external_id, s.display_name, s.email,
                       COALESCE(s.role, 'rep'),
                       s.hire_date, s.end_date, s.attributes, now(), now()
                FROM {stage} s
                ON CONFLICT (tenant_id, external_id) DO UPDATE SET
                    display_name = EXCLUDED.display_name,
                    hire_date = EXCLUDED.hire_date,
                    end_date = EXCLUDED.end_date,
                    attributes = users.attributes || EXCLUDED.attributes,
                    updated_at = now(){email}
                RETURNING (xmax = 0) AS inserted
                """,
                self.tenant_id,
            )
            # a role named in the file applies to existing people too (an empty cell keeps it)
            await conn.execute(
                f"""
                UPDATE users u SET role = s.role, updated_at = now()
                FROM {stage} s
                WHERE u.tenant_id = $1 AND u.external_id = s.external_id
                  AND s.role IS NOT NULL AND u.role <> s.role
                """,
                self.tenant_id,
            )
            # managers last: a manager may be a new person of the same file
            moved = await conn.fetchval(
                f"""
                WITH changed AS (
                    UPDATE users u SET manager_id = m.id, updated_at = now()
                    FROM {stage} s
                    LEFT JOIN users m ON m.tenant_id = $1 AND m.external_id = s.manager_external_id
                    WHERE u.tenant_id = $1 AND u.external_id = s.external_id
                      AND u.manager_id IS DISTINCT FROM m.id
                    RETURNING u.id
                )
                SELECT count(*) FROM changed
                """,
                self.tenant_id,
            )
        return _counts(flags), int(moved)

    async def upsert_transactions(
        self, rows: Sequence[tuple[Any, ...]], *, progress: Progress | None = None
    ) -> tuple[Upserted, list[tuple[set[UUID], date]]]:
        """Rows of (external_id, rep_id, type, amount, currency, date, state, splits JSON,
        credited_user_ids JSON, extra_fields JSON, version). A row whose version is older than
        the stored record's is skipped: an older version never overwrites a newer one. The
        record's version is claimed where the CRM webhook claims it (``crm_record_versions``,
        locked first, as the webhook's apply does): a later, older event is stale, and a
        record an event deleted is not brought back by an older row.

        Returns the counts and, for every row written, the people it credits on its date and
        the people the stored record credited on its date before (unless deleted): what the
        import changed, for the (person, period)s whose earnings it made stale."""
        columns = {
            "external_id": "text",
            "rep_id": "uuid",
            "type": "text",
            "amount": "numeric",
            "currency": "text",
            "date": "date",
            "state": "text",
            "splits": "jsonb",
            "credited_user_ids": "jsonb",
            "extra_fields": "jsonb",
            "version": "bigint",
        }
        async with _staging(columns, rows, progress) as (conn, stage):
            flags = await conn.fetch(
                f"""
                WITH claimed AS (
                    INSERT INTO crm_record_versions AS c (tenant_id, kind, external_id, version,
                                                          deleted, updated_at)
                    SELECT $1, 'transaction', s.external_id, s.version, false, now()
                    FROM {stage} s ORDER BY s.external_id
                    ON CONFLICT (tenant_id, kind, external_id) DO UPDATE SET
                        version = GREATEST(c.version, EXCLUDED.version),
                        deleted = CASE WHEN EXCLUDED.version >= c.version THEN false
                                       ELSE c.deleted END,
                        updated_at = now()
                    RETURNING c.external_id, c.version
                ),
                old AS (
                    SELECT t.external_id, t.credited_user_ids, t.date, t.deleted
                    FROM transactions t JOIN {stage} s ON s.external_id = t.external_id
                    WHERE t.tenant_id = $1
                ),
                written AS (
                INSERT INTO transactions (tenant_id, external_id, rep_id, type, amount, currency,
                                          date, state, splits, credited_user_ids, extra_fields,
                                          version, deleted, created_at, updated_at)
                SELECT $1, s.external_id, s.rep_id, s.type, s.amount, s.currency, s.date,
                       s.state, s.splits, s.credited_user_ids, s.extra_fields, s.version, false,
                       now(), now()
                FROM {stage} s
                -- the claim stands (the row's version is the newest): else the row is stale
                JOIN claimed k ON k.external_id = s.external_id AND k.version = s.version
                ON CONFLICT (tenant_id, external_id) DO UPDATE SET
                    rep_id = EXCLUDED.rep_id,
                    type = EXCLUDED.type,
                    amount = EXCLUDED.amount,
                    currency = EXCLUDED.currency,
                    date = EXCLUDED.date,
                    state = EXCLUDED.state,
                    splits = EXCLUDED.splits,
                    credited_user_ids = EXCLUDED.credited_user_ids,
                    extra_fields = EXCLUDED.extra_fields,
                    version = EXCLUDED.version,
                    deleted = false,
                    updated_at = now()
                WHERE transactions.version <= EXCLUDED.version
                RETURNING external_id, (xmax = 0) AS inserted, credited_user_ids, date
                )
                SELECT w.inserted, w.credited_user_ids, w.date,
                       CASE WHEN NOT o.deleted THEN o.credited_user_ids END AS old_credited,
                       o.date AS old_date
                FROM written w LEFT JOIN old o ON o.external_id = w.external_id
                """,
                self.tenant_id,
            )
        changed: list[tuple[set[UUID], date]] = []
        for f in flags:
            changed.append((_people(f["credited_user_ids"]), f["date"]))
            if f["old_credited"] is not None:
                changed.append((_people(f["old_credited"]), f["old_date"]))
        return _counts(flags), changed

    async def upsert_quotas(
        self, rows: Sequence[tuple[Any, ...]], *, progress: Progress | None = None
    ) -> Upserted:
        """Rows of (user_id, measure, period, value)."""
        columns = {"user_id": "uuid", "measure": "text", "period": "text", "value": "numeric"}
        async with _staging(columns, rows, progress) as (conn, stage):
            flags = await conn.fetch(
                f"""
                INSERT INTO quotas (tenant_id, user_id, measure, period, value, updated_at)
                SELECT $1, s.user_id, s.measure, s.period, s.value, now()
                FROM {stage} s
                ON CONFLICT (tenant_id, user_id, measure, period) DO UPDATE SET
                    value = EXCLUDED.value,
                    updated_at = now()
                RETURNING (xmax = 0) AS inserted
                """,
                self.tenant_id,
            )
        return _counts(flags)

    async def upsert_fx_rates(
        self, rows: Sequence[tuple[Any, ...]], *, progress: Progress | None = None
    ) -> tuple[Upserted, list[tuple[str, str, date]]]:
        """Rows of (date, currency, quote_currency, rate). Returns the counts of the rows
        that changed a rate (new, or another rate than the stored one) and, for each, its
        (currency, quote currency, date)."""
        columns = {"date": "date", "currency": "text", "quote_currency": "text", "rate": "numeric"}
        async with _staging(columns, rows, progress) as (conn, stage):
            flags = await conn.fetch(
                f"""
                INSERT INTO fx_rates (tenant_id, date, currency, quote_currency, rate)
                SELECT $1, s.date, s.currency, s.quote_currency, s.rate FROM {stage} s
                ON CONFLICT (tenant_id, quote_currency, currency, date) DO UPDATE SET
                    rate = EXCLUDED.rate
                WHERE fx_rates.rate <> EXCLUDED.rate
                RETURNING (xmax = 0) AS inserted, currency, quote_currency, date
                """,
                self.tenant_id,
            )
        return _counts(flags), [(f["currency"], f["quote_currency"], f["date"]) for f in flags]

    async def people_converted(
        self, changed: Sequence[tuple[str, str, date]]
    ) -> list[tuple[set[UUID], date]]:
        """The people whose live transactions a changed rate converts, with the first day of
        each month they have such transactions in: those of its currency dated from its date
        until the pair's next rate (any plan currency: a person paid in another converts
        nothing with it, and their recompute changes nothing)."""
        if not changed:
            return []
        rows = await connections.get("default").execute_query_dict(
            """
            WITH changed(currency, quote_currency, day) AS (
                SELECT * FROM unnest($2::text[], $3::text[], $4::date[])
            ),
            windows AS (
                SELECT c.currency, c.day, (
                    SELECT min(r.date) FROM fx_rates r
                    WHERE r.tenant_id = $1 AND r.currency = c.currency
                      AND r.quote_currency = c.quote_currency AND r.date > c.day
                ) AS until
                FROM changed c
            )
            SELECT DISTINCT p.person, date_trunc('month', t.date)::date AS month
            FROM windows w
            JOIN transactions t ON t.tenant_id = $1 AND t.currency = w.currency
                 AND t.date >= w.day AND (w.until IS NULL OR t.date < w.until) AND NOT t.deleted
            CROSS JOIN LATERAL jsonb_array_elements_text(
                CASE WHEN COALESCE(jsonb_array_length(t.credited_user_ids), 0) = 0
                     THEN jsonb_build_array(t.rep_id::text) ELSE t.credited_user_ids END
            ) AS p(person)
            """,
            [
                self.tenant_id,
                [c[0] for c in changed],
                [c[1] for c in changed],
                [c[2] for c in changed],
            ],
        )
        return [({UUID(str(r["person"]))}, r["month"]) for r in rows]


def _people(credited: Any) -> set[UUID]:
    """A ``credited_user_ids`` JSON array (text, as asyncpg reads jsonb) as person ids."""
    return {UUID(str(u)) for u in (json.loads(credited) if isinstance(credited, str) else credited)}


def _counts(flags: Sequence[Any]) -> Upserted:
    inserted = sum(1 for f in flags if f["inserted"])
    return Upserted(inserted=inserted, updated=len(flags) - inserted)


class _staging:
    """``async with _staging(columns, rows, progress) as (conn, table)``: the caller's
    transaction connection, and a temporary table (dropped on commit) holding ``rows``."""

    def __init__(
        self,
        columns: dict[str, str],
        rows: Sequence[tuple[Any, ...]],
        progress: Progress | None,
    ) -> None:
        self.columns = columns
        self.rows = rows
        self.progress = progress
        self.table = f"podium_stage_{uuid4().hex[:16]}"
        self._wrapper: Any = None

    async def __aenter__(self) -> tuple[Any, str]:
        self._wrapper = connections.get("default").acquire_connection()
        conn = await self._wrapper.__aenter__()
        try:
            if not conn.is_in_transaction():
                raise RuntimeError("bulk imports run inside the caller's transaction")
            definition = ", ".join(f"{name} {kind}" for name, kind in self.columns.items())
            await conn.execute(f"CREATE TEMPORARY TABLE {self.table} ({definition}) ON COMMIT DROP")
            for start in range(0, len(self.rows), COPY_CHUNK):
                chunk = self.rows[start : start + COPY_CHUNK]
                await conn.copy_records_to_table(
                    self.table, records=chunk, columns=list(self.columns)
                )
                if self.progress is not None:
                    self.progress(len(chunk))
        except BaseException as exc:
            await self._wrapper.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        return conn, self.table

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._wrapper.__aexit__(*exc_info)
