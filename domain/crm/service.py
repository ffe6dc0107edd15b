"""CRM use cases: bulk import of reps, transactions and quotas (`podium import`, the demo).

Every file is validated completely before anything is written (the CSV rules of
``domain.datasets``, plus what only the tenant knows: which reps exist, what fits the columns),
so a bad row names its file, row and column and nothing is written. The rows are then
bulk-loaded and upserted (see ``CrmRepository``). Services never commit: the caller wraps an
import in one transaction, which makes it all-or-nothing. One audit entry per import, with
the counts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.audit.service import record
from domain.crm.repository import CrmRepository, Progress
from domain.datasets.csvfiles import (
    read_fx_records,
    read_quota_records,
    read_rep_records,
    read_transaction_records,
)
from domain.earnings.close import record_late_events
from domain.earnings.models import Period as StoredPeriod
from domain.earnings.models import PeriodStatus
from domain.engine.inputs import ONE
from domain.ingest.repository import IngestRepository
from domain.ingest.service import RepChange, affected_periods, rep_changes_affected
from domain.kit.clock import today_in
from domain.kit.documents import dumps_exact, fields_problem
from domain.kit.errors import DataError, Forbidden, InvalidInput, PeriodError, quoted
from domain.kit.numbers import check_decimal
from domain.kit.periods import parse_period
from domain.org.models import Role
from domain.org.repository import lock_manager_changes
from domain.org.viewer import Viewer
from domain.tenants.repository import get_tenant

TEXT_LIMITS = {"id": 200, "rep_id": 200, "type": 100, "state": 100, "measure": 100, "name": 200}


@dataclass(frozen=True, slots=True)
class ImportResult:
    kind: str  # reps | transactions | quotas | fx
    file: str
    rows: int
    inserted: int
    updated: int
    skipped: int = 0  # transactions older than the stored version; rates unchanged
    managers_changed: int = 0
    # the (person, period)s whose stored earnings the import made stale (not audited: the
    # caller offers to recompute them); those of closed periods are not among them
    touched: tuple[tuple[UUID, str], ...] = field(default=(), compare=False)
    # changes to closed periods, recorded in late_events and flagged for the next open one
    late_events: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "touched"}


def _require_admin(viewer: Viewer) -> None:
    if viewer.role is not Role.ADMIN:
        raise Forbidden("only admins may import CRM data")


def _check_text(value: str | None, column: str, file: str, row: int) -> None:
    limit = TEXT_LIMITS.get(column)
    if value is not None and limit is not None and len(value) > limit:
        raise DataError(f"is longer than {limit} characters", file=file, row=row, column=column)


def _check_decimal(value: Decimal, column: str, file: str, row: int) -> None:
    """What the NUMERIC(20, 6) columns store (the CSV reader allows more decimals)."""
    try:
        check_decimal(value, field=column)
    except InvalidInput as exc:
        raise DataError(exc.message, file=file, row=row, column=column) from None


def _plain(value: Any) -> Any:
    """A person's attribute as stored: decimals as exact strings."""
    return format(value, "f") if isinstance(value, Decimal) else value


async def _audit(viewer: Viewer, result: ImportResult) -> None:
    await record(
        viewer=viewer,
        action=f"import.{result.kind}",
        entity_type="import",
        entity_id=result.file,
        before=None,
        after=result.as_dict(),
    )


_ROLES = tuple(role.value for role in Role)


async def import_reps(
    *,
    viewer: Viewer,
    lines: Iterable[str],
    file: str = "reps.csv",
    progress: Progress | None = None,
) -> ImportResult:
    """Create or update people from ``reps.csv``. ``manager_id`` is a CRM id of the same file
    or of a person already in the tenant. New people are reps; an `email` column sets their
    email, a `role` column their role (rep, manager, admin, payout_ops; empty: a new person is
    a rep, an existing one keeps theirs); other extra columns become attributes.

    Run it in a transaction: the tenant's manager changes (setManager, CRM rep events) wait
    for it to end, so none of them can close a cycle with the hierarchy checked here."""
    _require_admin(viewer)
    repo = CrmRepository(viewer)
    await lock_manager_changes(viewer.tenant_id)  # before the chains the cycle check reads
    known = await repo.manager_chains()
    records = read_rep_records(lines, file, known_managers=known)
    with_email = any("email" in r.rep.fields for r in records)
    rows = []
    for r in records:
        rep = r.rep
        _check_text(rep.id, "id", file, r.row)
        _check_text(rep.name, "name", file, r.row)
        fields = dict(rep.fields)
        email = fields.pop("email", None)
        if email is not None and (not isinstance(email, str) or "@" not in email):
            raise DataError(
                f"{quoted(email)} is not an email address", file=file, row=r.row, column="email"
            )
        role = fields.pop("role", None)
        if role is not None and role not in _ROLES:
            raise DataError(
                f"{quoted(role)} is not a role ({', '.join(_ROLES)})",
                file=file,
                row=r.row,
                column="role",
            )
        attributes = {k: _plain(v) for k, v in fields.items()}
        rows.append(
            (
                rep.id,
                rep.name or rep.id,
                email,
                rep.hire_date,
                rep.end_date,
                json.dumps(attributes),
                rep.manager_id,
                role,
            )
        )
    crm_ids = [row[0] for row in rows]
    before = await repo.employment(crm_ids)
    counts, moved = await repo.upsert_users(rows, with_email=with_email, progress=progress)
    # what a CRM rep event of each changed person would ask to recompute
    after = await repo.employment(crm_ids)
    changes: list[RepChange] = []
    for crm_id, (user_id, manager, hired, ended) in after.items():
        old = before.get(crm_id)  # None: a new person, on no plan yet
        if old is not None and old != (user_id, manager, hired, ended):
            changes.append(RepChange(user_id, old[1], (old[2], old[3]), manager, (hired, ended)))
    stale: set[tuple[UUID, str]] = set()
    if changes:
        today = today_in((await get_tenant(viewer.tenant_id)).time_zone)
        stale = await rep_changes_affected(IngestRepository(viewer), changes, today)
    touched, late = await _late_or_stale(viewer, stale)
    result = ImportResult(
        kind="reps",
        file=file,
        rows=len(rows),
        inserted=counts.inserted,
        updated=counts.updated,
        managers_changed=moved,
        touched=touched,
        late_events=late,
    )
    await _audit(viewer, result)
    return result


async def import_transactions(
    *,
    viewer: Viewer,
    lines: Iterable[str],
    file: str = "transactions.csv",
    progress: Progress | None = None,
) -> ImportResult:
    """Create or update transactions from ``transactions.csv``. `rep_id` and the reps of
    `splits` are CRM ids of people in the tenant; an optional `version` column is the CRM's
    record version; other extra columns become fields that plan expressions see."""
    _require_admin(viewer)
    repo = CrmRepository(viewer)
    users = await repo.user_ids()
    records = read_transaction_records(lines, set(users), file, version_column=True)
    rows = []
    for r in records:
        t = r.transaction
        fields = t.fields
        for column in ("id", "type", "state"):
            value = fields.get(column)
            _check_text(value if isinstance(value, str) else None, column, file, r.row)
        _check_decimal(t.amount, "amount", file, r.row)
        splits = None
        if t.credits != ((t.rep_id, ONE),):
            splits = [
                {"rep_id": str(users[rep]), "share": format(share, "f")} for rep, share in t.credits
            ]
        credited = [str(users[rep]) for rep, _ in t.credits]
        extra = {k: v for k, v in fields.items() if k not in _TRANSACTION_FIELDS}
        if problem := fields_problem(extra, beside=(t.id, fields.get("type"), fields.get("state"))):
            raise DataError(problem[1], file=file, row=r.row, column=problem[0])
        rows.append(
            (
                t.id,
                users[t.rep_id],
                fields.get("type"),
                t.amount,
                t.currency,
                t.date,
                fields.get("state"),
                None if splits is None else json.dumps(splits),
                json.dumps(credited),
                dumps_exact(extra),
                r.version,
            )
        )
    counts, changed = await repo.upsert_transactions(rows, progress=progress)
    # what an applied CRM event of each row would ask to recompute: the people credited
    # before and after, in every period kind of their plans, and the team-scope managers
    # above them
    touched, late = await _late_or_stale(
        viewer, await affected_periods(IngestRepository(viewer), _distinct(changed))
    )
    result = ImportResult(
        kind="transactions",
        file=file,
        rows=len(rows),
        inserted=counts.inserted,
        updated=counts.updated,
        skipped=len(rows) - counts.inserted - counts.updated,
        touched=touched,
        late_events=late,
    )
    await _audit(viewer, result)
    return result


async def _late_or_stale(
    viewer: Viewer, touched: set[tuple[UUID, str]]
) -> tuple[tuple[tuple[UUID, str], ...], int]:
    """The (person, period)s of open periods, to recompute; those of closed periods keep
    their final results and are recorded as late changes flagged for the next open period
    (as the workers record a CRM event's): returns the first and how many the second. Those
    of periods that have not started where the tenant is (a quota or a deal of next month)
    are left to the workers, as a CRM event's are: a recompute request due when the period
    opens (`IngestRepository.finish_inbox_rows`); `podium recompute` refuses them meanwhile."""
    today = today_in((await get_tenant(viewer.tenant_id)).time_zone)
    future = {pair for pair in touched if _starts_after(pair[1], today)}
    if future:
        await IngestRepository(viewer).request_recomputes(future)
        touched = touched - future
    closed = {
        str(key)
        for key in await StoredPeriod.filter(
            tenant_id=viewer.tenant_id,
            key__in=sorted({period for _, period in touched}),
            status=PeriodStatus.CLOSED,
        ).values_list("key", flat=True)
    }
    late = sorted(pair for pair in touched if pair[1] in closed)
    await record_late_events(viewer=viewer, pairs=late)
    return tuple(sorted(pair for pair in touched if pair[1] not in closed)), len(late)


def _starts_after(period: str, today: date) -> bool:
    try:
        return parse_period(period).start > today
    except PeriodError:
        return False  # refused when recomputed, as the workers refuse it


def _distinct(changed: list[tuple[set[UUID], date]]) -> list[tuple[set[UUID], date]]:
    """One entry per (person, day): an import of many deals of few people on few days."""
    pairs = {(person, day) for people, day in changed for person in people}
    return [({person}, day) for person, day in sorted(pairs)]


_TRANSACTION_FIELDS = frozenset(
    {"id", "rep_id", "type", "amount", "amount_original", "currency", "date", "state", "splits"}
)


async def import_quotas(
    *,
    viewer: Viewer,
    lines: Iterable[str],
    file: str = "quotas.csv",
    progress: Progress | None = None,
) -> ImportResult:
    """Create or update quotas from ``quotas.csv`` (any periods)."""
    _require_admin(viewer)
    repo = CrmRepository(viewer)
    users = await repo.user_ids()
    records = read_quota_records(lines, set(users), file)
    rows = []
    for q in records:
        _check_text(q.measure, "measure", file, q.row)
        _check_decimal(q.value, "value", file, q.row)
        rows.append((users[q.rep_id], q.measure, q.period, q.value))
    counts = await repo.upsert_quotas(rows, progress=progress)
    touched, late = await _late_or_stale(viewer, {(row[0], row[2]) for row in rows})
    result = ImportResult(
        kind="quotas",
        file=file,
        rows=len(rows),
        inserted=counts.inserted,
        updated=counts.updated,
        touched=touched,
        late_events=late,
    )
    await _audit(viewer, result)
    return result


async def import_fx_rates(
    *,
    viewer: Viewer,
    lines: Iterable[str],
    file: str = "fx.csv",
    progress: Progress | None = None,
) -> ImportResult:
    """Create or update FX rates from ``fx.csv`` (date,currency,quote_currency,rate; without
    the quote_currency column, the simulator's date,currency,rate into the tenant's currency).
    A rate converts its currency into a plan's currency from its date until the pair's next rate:
    the people with transactions it converts (and their team-scope managers) are touched;
    changes to closed periods are late changes, flagged for the next open period."""
    _require_admin(viewer)
    tenant = await get_tenant(viewer.tenant_id)
    records = read_fx_records(lines, file, default_quote=tenant.currency)
    rows = [(r.date, r.currency, r.quote_currency, r.rate) for r in records]
    repo = CrmRepository(viewer)
    counts, changed = await repo.upsert_fx_rates(rows, progress=progress)
    converted = await repo.people_converted(changed)
    touched, late = await _late_or_stale(
        viewer, await affected_periods(IngestRepository(viewer), converted)
    )
    result = ImportResult(
        kind="fx",
        file=file,
        rows=len(rows),
        inserted=counts.inserted,
        updated=counts.updated,
        skipped=len(rows) - counts.inserted - counts.updated,
        touched=touched,
        late_events=late,
    )
    await _audit(viewer, result)
    return result


def count_rows(lines: Iterable[str]) -> int:
    """Data rows of a CSV text, for a progress bar's total (a quoted cell may span lines, so
    this is an upper bound)."""
    return max(0, sum(1 for line in lines if line.strip()) - 1)
