"""Ingestion use cases: accept a batch of CRM events into the inbox, apply one inbox event,
replay dead letters, and the bookkeeping of recompute requests.

Services never commit: the webhook, the worker job or the CLI owns the transaction (the
savepoints here only make one event's apply all-or-nothing inside it). Applying
an event writes the CRM record AND the (rep, period) recompute requests it causes in the
caller's one transaction, so a crash between the two cannot lose a recompute.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from domain.audit.service import Change, record_many
from domain.ingest import adapters
from domain.ingest.errors import InvalidEnvelope, InvalidEvent, TooManyEvents, UnknownRep
from domain.ingest.events import (
    REP_UPSERTED,
    TRANSACTION_DELETED,
    TRANSACTION_UPSERTED,
    Event,
    RepData,
    TransactionData,
    check_event_count,
    event_id_of,
    loads_exact,
    parse_event,
)
from domain.ingest.mapping import field_mapping
from domain.ingest.models import DeadLetterStatus, InboxEvent, InboxStatus
from domain.ingest.repository import (
    IngestRepository,
    NewDeadLetter,
    NewInboxRow,
    TransactionRow,
    base_records,
)
from domain.kit.clock import utc_now
from domain.kit.documents import dumps_exact
from domain.kit.errors import quoted
from domain.kit.periods import FIRST_DAY, LAST_DAY, PeriodKind, period_containing
from domain.org.models import User
from domain.org.repository import lock_manager_changes
from domain.org.viewer import Viewer
from domain.tenants.repository import get_tenant

Affected = set[tuple[UUID, str]]


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int
    id: str | None
    error: str

    def as_dict(self) -> dict[str, Any]:
        # the error quotes what was received, maybe a lone surrogate: the answer must encode
        error = self.error.encode("utf-8", "backslashreplace").decode("utf-8")
        return {"index": self.index, "id": self.id, "error": error}


@dataclass(frozen=True, slots=True)
class LeftOut:
    """A CRM field a Salesforce or HubSpot adapter left out of event ``index``'s
    ``data.fields`` (``adapters.Translated.left_out``): intake would refuse it for its size."""

    index: int
    id: str | None
    record_id: str | None
    name: str  # the CRM field's name
    reason: str  # its size against the limit

    @property
    def shown_name(self) -> str:
        """The name for an answer or a log line: as received, it may be a lone surrogate
        (which cannot be encoded) or 100,000 characters long."""
        name = self.name[:MAX_NAME_SHOWN]
        return name.encode("utf-8", "backslashreplace").decode("utf-8")

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "id": self.id,
            "field": f"data.fields.{self.shown_name}",
            "message": f"left out: {self.reason}",
        }


MAX_NAME_SHOWN = 200  # characters of a left-out field's name in an answer or a log line


@dataclass(slots=True)
class IngestResult:
    inbox_ids: list[int] = field(default_factory=list)  # to enqueue after commit
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)  # of the events not duplicates

    @property
    def accepted(self) -> int:
        return len(self.inbox_ids)

    def as_dict(self) -> dict[str, Any]:
        """The webhook's answer (CRM_EVENTS.md), and ``warnings`` when a CRM adapter left
        fields out (never from the generic webhook: its answer is as the spec says)."""
        answer: dict[str, Any] = {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": [r.as_dict() for r in self.rejected],
        }
        if self.left_out:
            answer["warnings"] = [w.as_dict() for w in self.left_out]
        return answer


@dataclass(slots=True)
class CheckedEvents:
    """What ``check_events`` found, for ``store_checked``: the inbox rows to insert, the
    dead letters to write, the result so far."""

    result: IngestResult
    inbox_rows: list[NewInboxRow]
    dead_letters: list[NewDeadLetter]

    @property
    def one_statement(self) -> bool:
        """Storing them is one INSERT (no dead letter): atomic without a transaction."""
        return not self.dead_letters


async def ingest_events(
    *,
    viewer: Viewer,
    source: str,
    events: list[Any],
    invalid: dict[int, InvalidEvent] | None = None,
) -> IngestResult:
    """Validate each event (``invalid[i]``: an adapter already rejected event ``i``); store
    the valid new ones in the inbox, the invalid ones as dead letters with their reason; count
    the ids seen before as duplicates. The caller commits, then enqueues ``inbox_ids``."""
    checked = await check_events(viewer=viewer, source=source, events=events, invalid=invalid)
    return await store_checked(viewer=viewer, checked=checked)


async def check_events(
    *,
    viewer: Viewer,
    source: str,
    events: list[Any],
    invalid: dict[int, InvalidEvent] | None = None,
    left_out: dict[int, dict[str, str]] | None = None,
) -> CheckedEvents:
    """``ingest_events``' reading half: at most one statement, nothing written. A webhook whose
    events need no dead letter stores them with one INSERT, without a transaction.
    ``left_out[i]``: the fields an adapter left out of event ``i`` (``result.left_out`` for
    each event that is not a duplicate).

    Events naming only people known to exist (``_KNOWN_REPS``) are checked without reading
    anything: a repeated event id is then the INSERT's to find (ON CONFLICT: a duplicate, as
    before). Any other request, and any event found invalid, is checked against the
    database: which people exist (or are about to: a rep event pending) and which event ids
    were seen (a repeated invalid event is a duplicate, not a new dead letter)."""
    repo = IngestRepository(viewer)
    referenced = _referenced_reps(events)
    if not invalid and await _all_known(repo, viewer.tenant_id, referenced):
        known = _KNOWN_REPS[viewer.tenant_id].people
        checked = _check(source, events, None, left_out, known=known.__contains__, seen=set())
        if not checked.dead_letters:
            return checked
    people, pending, seen = await repo.known_reps_and_seen(
        referenced, [e for raw in events if (e := event_id_of(raw))]
    )
    _remember_reps(viewer.tenant_id, people)
    known = people | pending
    return _check(source, events, invalid, left_out, known=known.__contains__, seen=seen)


@dataclass(slots=True)
class _Known:
    people: set[str]
    loaded_at: float  # when every person of the tenant was read (monotonic seconds)


# tenant -> CRM ids of people known to exist. A person is never deleted and keeps their CRM
# id, so one seen once is known for good: a webhook naming only them needs no query. A
# process reads a tenant's people once (again after _RELOAD_SECONDS if someone unknown is
# named: a rep created since), up to _MAX_KNOWN_REPS ids over all tenants (then it starts
# over); a bigger tenant is asked person by person.
_KNOWN_REPS: dict[UUID, _Known] = {}
_MAX_KNOWN_REPS = 200_000
_RELOAD_SECONDS = 60.0


async def _all_known(repo: IngestRepository, tenant_id: UUID, referenced: set[str]) -> bool:
    known = _KNOWN_REPS.get(tenant_id)
    if known is not None and referenced <= known.people:
        return True
    if known is not None and time.monotonic() - known.loaded_at < _RELOAD_SECONDS:
        return False
    people = await repo.people_ids(limit=_MAX_KNOWN_REPS // 2)
    if people is None:
        return False
    if sum(len(k.people) for k in _KNOWN_REPS.values()) + len(people) > _MAX_KNOWN_REPS:
        _KNOWN_REPS.clear()
    _KNOWN_REPS[tenant_id] = _Known(people, time.monotonic())
    return referenced <= people


def _remember_reps(tenant_id: UUID, people: set[str]) -> None:
    known = _KNOWN_REPS.get(tenant_id)
    if known is not None:
        known.people |= people


def _referenced_reps(events: list[Any]) -> set[str]:
    """The CRM ids of the people the events name (rep, manager, split partners)."""
    referenced: set[str] = set()
    for raw in events:
        if isinstance(raw, dict) and isinstance(raw.get("data"), dict):
            data = raw["data"]
            for key in ("rep_id", "manager_id"):
                if isinstance(data.get(key), str):
                    referenced.add(data[key])
            for s in data.get("splits") or [] if isinstance(data.get("splits"), list) else []:
                if isinstance(s, dict) and isinstance(s.get("rep_id"), str):
                    referenced.add(s["rep_id"])
    return referenced


def _check(
    source: str,
    events: list[Any],
    invalid: dict[int, InvalidEvent] | None,
    left_out: dict[int, dict[str, str]] | None,
    *,
    known: Callable[[str], bool],
    seen: set[str],
) -> CheckedEvents:
    result = IngestResult()
    batch: list[NewInboxRow] = []
    letters: list[NewDeadLetter] = []
    in_batch: set[str] = set()
    created: set[str] = set()  # reps a rep event of this batch creates
    stored_bytes = 0
    for index, raw in enumerate(events):
        event_id = event_id_of(raw)
        if event_id is not None and (event_id in seen or event_id in in_batch):
            result.duplicates += 1
            continue
        if left_out and index in left_out:
            result.left_out.extend(_left_out_of(index, event_id, raw, left_out[index]))
        try:
            if invalid and index in invalid:
                raise invalid[index]
            event = parse_event(raw, known_reps=lambda rep: known(rep) or rep in created)
        except InvalidEvent as exc:
            body = dumps_exact(raw)
            stored_bytes = _within_budget(stored_bytes + len(body))
            letters.append(NewDeadLetter(source, event_id, index, str(exc), exc.field, body))
            result.rejected.append(Rejection(index, event_id, str(exc)))
            continue
        if event.type == REP_UPSERTED:
            created.add(event.record_id)  # later events of this batch may credit them
        in_batch.add(event.id)
        body = dumps_exact(raw)
        stored_bytes = _within_budget(stored_bytes + len(body))
        batch.append(
            NewInboxRow(
                event_id=event.id,
                source=source,
                type=event.type,
                record_id=event.record_id,
                version=event.version,
                body=body,
            )
        )
    return CheckedEvents(result, batch, letters)


def _left_out_of(
    index: int, event_id: str | None, raw: Any, fields: dict[str, str]
) -> list[LeftOut]:
    data = raw.get("data") if isinstance(raw, dict) else None
    record_id = data.get("id") if isinstance(data, dict) else None
    record = record_id if isinstance(record_id, str) else None
    return [LeftOut(index, event_id, record, name, why) for name, why in fields.items()]


async def store_checked(*, viewer: Viewer, checked: CheckedEvents) -> IngestResult:
    """``ingest_events``' writing half: the dead letters, then the inbox rows (in a
    transaction unless ``checked.one_statement``; the caller commits)."""
    repo = IngestRepository(viewer)
    await repo.add_dead_letters(checked.dead_letters)
    result, batch = checked.result, checked.inbox_rows
    stored = await repo.add_inbox_events(batch)
    result.duplicates += len(batch) - len(stored)
    result.inbox_ids = [stored[row.event_id] for row in batch if row.event_id in stored]
    if result.left_out and len(stored) < len(batch):  # a duplicate tells nothing new
        duplicates = {row.event_id for row in batch if row.event_id not in stored}
        result.left_out = [w for w in result.left_out if w.id not in duplicates]
    return result


# what the events of one request may store (inbox bodies and dead letters together): a CRM
# adapter lays each change over the whole record, so a request of many small changes to a
# large record stores far more than its body
MAX_STORED_BYTES = 16 * 1024 * 1024


def _within_budget(stored: int) -> int:
    if stored > MAX_STORED_BYTES:
        raise TooManyEvents(
            f"its events come to more than {MAX_STORED_BYTES} bytes stored: send fewer events "
            "per request",
            field="events",
        )
    return stored


# --- applying -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApplyResult:
    status: InboxStatus
    affected: frozenset[tuple[UUID, str]]
    reason: str | None = None
    changed: bool = True  # False: the event was no longer pending (a re-run)


async def apply_inbox_event(*, viewer: Viewer, inbox_id: int) -> ApplyResult:
    """Apply one inbox event (idempotent: an event no longer pending changes nothing) and
    record a recompute request for every (rep, period) it affects. Run it in a transaction."""
    repo = IngestRepository(viewer)
    row = await repo.lock_inbox_event(inbox_id)
    if row is None or row.status is not InboxStatus.PENDING:
        return ApplyResult(row.status if row else InboxStatus.APPLIED, frozenset(), changed=False)
    return await _apply_row(viewer, repo, row)


async def claim_pending(
    *, viewer: Viewer, limit: int, skip: Sequence[int] = ()
) -> list[InboxEvent]:
    """Lock the tenant's oldest pending inbox events no other transaction holds (up to
    ``limit``, in id order, none of ``skip``) for the caller to apply with
    ``apply_claimed``."""
    return await IngestRepository(viewer).claim_pending_inbox(limit, skip)


async def apply_claimed(*, viewer: Viewer, row: InboxEvent) -> ApplyResult:
    """Apply an inbox event the caller's transaction locked (``claim_pending``)."""
    if row.status is not InboxStatus.PENDING:
        return ApplyResult(row.status, frozenset(), changed=False)
    return await _apply_row(viewer, IngestRepository(viewer), row)


async def give_up(*, viewer: Viewer, row: InboxEvent, error: str) -> None:
    """An event whose apply failed unexpectedly ``row.attempts`` times: dead-lettered with
    the error, so it stops holding its place at the head of the inbox."""
    repo = IngestRepository(viewer)
    await repo.add_dead_letter(
        source=row.source,
        event_id=row.event_id,
        position=None,
        reason=f"failed {row.attempts} times: {error}",
        field=None,
        body=row.body,
    )
    row.status = InboxStatus.DEAD
    row.outcome = f"failed {row.attempts} times: {error}"
    row.applied_at = utc_now()
    await row.save(update_fields=["status", "outcome", "attempts", "applied_at"])


async def count_attempt(*, row: InboxEvent) -> None:
    """Record ``row.attempts`` for an event left pending (its apply rolled back)."""
    await row.save(update_fields=["attempts"])


@dataclass(frozen=True, slots=True)
class BulkApplied:
    """What ``apply_in_bulk`` did with the head of a claimed batch."""

    consumed: int  # rows from the head of the batch applied (0: the first needs the slow path)
    applied: int  # of those, how many changed something (not stale)
    affected: frozenset[tuple[UUID, str]]


async def apply_in_bulk(*, viewer: Viewer, rows: Sequence[InboxEvent]) -> BulkApplied:
    """Apply, in a few statements whatever their number, the longest head of ``rows`` (claimed,
    in id order) made of transaction events that need nothing of the one-at-a-time path:
    well-formed, each record once, every rep they name known and none of them with a rep
    event still pending before them. The same writes as ``apply_claimed`` one by one (version
    claims, transactions upserted or marked deleted, inbox outcomes) and the same recompute
    requests, written here. Run it in a transaction (or a savepoint) that a failure rolls
    back: it leaves nothing."""
    head: list[tuple[InboxEvent, Event]] = []
    records: set[str] = set()
    for row in rows:
        if row.status is not InboxStatus.PENDING or row.type not in (
            TRANSACTION_UPSERTED,
            TRANSACTION_DELETED,
        ):
            break
        try:
            event = parse_event(loads_exact(row.body))
        except Exception:  # noqa: BLE001 - the one-at-a-time path says what is wrong
            break
        if event.type != row.type or event.record_id in records:
            break
        records.add(event.record_id)
        head.append((row, event))
    if not head:
        return BulkApplied(0, 0, frozenset())
    repo = IngestRepository(viewer)
    named = {rep for _, e in head for rep in e.referenced_reps}
    ids, waiting = await repo.people_and_waiting(named, head[-1][0].id)
    for n, (_, event) in enumerate(head):
        if any(rep not in ids or rep in waiting for rep in event.referenced_reps):
            head = head[:n]
            break
    if not head:
        return BulkApplied(0, 0, frozenset())

    fresh = await repo.claim_versions(
        "transaction",
        [(e.record_id, e.version, e.type == TRANSACTION_DELETED) for _, e in head],
    )
    live = [(row, e) for row, e in head if fresh[e.record_id]]
    old = await repo.lock_transactions([e.record_id for _, e in live])
    touched: list[tuple[set[UUID], date]] = []
    upserts: list[TransactionRow] = []
    deletions: list[tuple[str, int | None]] = []
    for _, event in live:
        before = old.get(event.record_id)
        if before is not None and not before.deleted:
            touched.append((set(before.credited), before.date))
        if event.type == TRANSACTION_UPSERTED:
            assert event.transaction is not None
            t = event.transaction
            upserts.append(_transaction_row(t, ids, event.version))
            credited = [ids[r] for r in t.credited_reps]
            touched.append((set(credited), t.date))
        elif before is not None:
            deletions.append((event.record_id, event.version))
    await repo.upsert_transactions_of(upserts)
    await repo.mark_transactions_deleted(deletions)
    affected = await affected_periods(repo, touched)
    await repo.finish_inbox_rows(
        [
            (row.id, InboxStatus.APPLIED.value, None)
            if fresh[e.record_id]
            else (row.id, InboxStatus.STALE.value, "older than the stored version")
            for row, e in head
        ],
        utc_now(),
        requests=affected,
    )
    return BulkApplied(len(head), len(live), frozenset(affected))


async def _apply_row(viewer: Viewer, repo: IngestRepository, row: InboxEvent) -> ApplyResult:
    row.attempts += 1
    affected: Affected = set()
    # every request of this transaction goes in ONE statement, whose rows are sorted: two
    # statements (the pending reps', then the event's) took their row locks in an order of
    # their own, and two workers applying concurrent events deadlocked on them
    requests: Affected = set()
    try:
        event = parse_event(loads_exact(row.body))
        requests |= await _apply_pending_reps(viewer, repo, event, row.id)
        # a savepoint: an event refused half-way (its rep vanished) leaves no partial write
        async with in_transaction():
            status = await _apply(viewer, repo, event, affected)
        row.status = status
        row.outcome = None if status is InboxStatus.APPLIED else "older than the stored version"  # type: ignore[assignment]
    except InvalidEvent as exc:
        await repo.add_dead_letter(
            source=row.source,
            event_id=row.event_id,
            position=None,
            reason=str(exc),
            field=exc.field,
            body=row.body,
        )
        affected.clear()
        row.status = InboxStatus.DEAD
        row.outcome = str(exc)
    row.applied_at = utc_now()
    await row.save(update_fields=["status", "outcome", "attempts", "applied_at"])
    requests |= affected
    await repo.request_recomputes(requests)
    return ApplyResult(row.status, frozenset(requests), row.outcome)


async def _apply_pending_reps(
    viewer: Viewer, repo: IngestRepository, event: Event, before_id: int
) -> Affected:
    """Reps sent before this event but not applied yet (another worker may hold them) are
    applied first, in order: a transaction never waits for the sweeper to learn its rep.
    Returns the (person, period)s they affect, for the caller to request."""
    requests: Affected = set()
    # lock every one of them (in id order) before applying any: applying one locks its rep's
    # version row, and a worker applying the next one as its own event holds that inbox row
    # and waits for the version row: locking inbox rows after a version row deadlocked
    locked = [
        await repo.lock_inbox_event(pending_id)
        for pending_id in await repo.pending_rep_events(event.referenced_reps, before_id)
    ]
    for pending in locked:
        if pending is None or pending.status is not InboxStatus.PENDING:
            continue
        affected: Affected = set()
        try:
            async with in_transaction():  # a savepoint
                pending.status = await _apply(
                    viewer, repo, parse_event(loads_exact(pending.body)), affected
                )
        except InvalidEvent:
            continue  # left pending: its own job dead-letters it with the reason
        pending.attempts += 1
        pending.applied_at = utc_now()
        await pending.save(update_fields=["status", "attempts", "applied_at"])
        requests |= affected
    return requests


async def _apply(
    viewer: Viewer, repo: IngestRepository, event: Event, affected: Affected
) -> InboxStatus:
    if event.type == REP_UPSERTED:
        assert event.rep is not None
        if not await repo.claim_version("rep", event.record_id, event.version, deleted=False):
            return InboxStatus.STALE
        await _apply_rep(viewer, repo, event.rep, affected)
        return InboxStatus.APPLIED
    deleted = event.type == TRANSACTION_DELETED
    if not await repo.claim_version("transaction", event.record_id, event.version, deleted=deleted):
        return InboxStatus.STALE
    old = (await repo.lock_transactions([event.record_id])).get(event.record_id)
    touched: list[tuple[set[UUID], date]] = []
    if old is not None and not old.deleted:
        touched.append((set(old.credited), old.date))
    if event.type == TRANSACTION_UPSERTED:
        assert event.transaction is not None
        credited = await _write_transaction(repo, event.transaction, event.version)
        touched.append((credited, event.transaction.date))
    elif old is not None:
        await repo.mark_transactions_deleted([(event.record_id, event.version)])
    affected |= await affected_periods(repo, touched)
    return InboxStatus.APPLIED


async def _write_transaction(
    repo: IngestRepository, t: TransactionData, version: int | None
) -> set[UUID]:
    ids = await repo.user_ids([t.rep_id, *t.credited_reps])
    for name, rep in [("data.rep_id", t.rep_id)] + [
        (f"data.splits[{i}].rep_id", s.rep_id) for i, s in enumerate(t.splits or ())
    ]:
        if rep not in ids:
            raise UnknownRep(f"unknown rep {quoted(rep)}", field=name)
    row = _transaction_row(t, ids, version)
    await repo.upsert_transactions_of([row])
    return {ids[r] for r in t.credited_reps}


def _transaction_row(
    t: TransactionData, ids: dict[str, UUID], version: int | None
) -> TransactionRow:
    """The stored form of a transaction event's data, people by their Podium ids."""
    splits = (
        [{"rep_id": str(ids[s.rep_id]), "share": format(s.share, "f")} for s in t.splits]
        if t.splits
        else None
    )
    return TransactionRow(
        external_id=t.id,
        rep_id=ids[t.rep_id],
        type=t.type,
        amount=t.amount,
        currency=t.currency,
        date=t.date,
        state=t.state,
        splits_json=None if splits is None else json.dumps(splits),
        credited_json=json.dumps([str(ids[r]) for r in t.credited_reps]),
        extra_json=dumps_exact(t.fields),
        version=version,
    )


async def _apply_rep(
    viewer: Viewer, repo: IngestRepository, rep: RepData, affected: Affected
) -> None:
    manager_id: UUID | None = None
    if rep.manager_id:
        found = await repo.user_ids([rep.manager_id])
        if rep.manager_id not in found:
            raise UnknownRep(f"unknown rep {quoted(rep.manager_id)}", field="data.manager_id")
        manager_id = found[rep.manager_id]
    user = await User.filter(tenant_id=viewer.tenant_id, external_id=rep.id).first()
    if user is not None and manager_id is not None and manager_id != user.manager_id:
        await _refuse_cycle(repo, rep, user.id, manager_id)
    old_manager: UUID | None = None
    old_employment: tuple[date | None, date | None] | None = None  # None: a new person
    if user is None:
        user = await User.create(
            tenant_id=viewer.tenant_id,
            external_id=rep.id,
            display_name=rep.name,
            email=rep.email,
            manager_id=manager_id,
            hire_date=rep.hire_date,
            end_date=rep.end_date,
            locale=rep.locale,
            country=rep.country,
        )
    else:
        old_manager = user.manager_id
        old_employment = (user.hire_date, user.end_date)
        if "name" in rep.present:
            user.display_name = rep.name
        if "email" in rep.present:
            user.email = rep.email
        if "manager_id" in rep.present:
            user.manager_id = manager_id
        if "hire_date" in rep.present:
            user.hire_date = rep.hire_date
        if "end_date" in rep.present:
            user.end_date = rep.end_date
        if "locale" in rep.present:
            user.locale = rep.locale
        if "country" in rep.present:
            user.country = rep.country
        _check_employment(rep, user.hire_date, user.end_date)
        await user.save()
    tenant = await get_tenant(viewer.tenant_id)
    today = datetime.now(ZoneInfo(tenant.time_zone)).date()
    change = RepChange(
        user.id, old_manager, old_employment, user.manager_id, (user.hire_date, user.end_date)
    )
    affected |= await rep_changes_affected(repo, [change], today)


def _check_employment(rep: RepData, hired: date | None, ended: date | None) -> None:
    """InvalidEvent naming the date the event sent when, with the stored other one, the
    person would end before they start (the event alone was checked when it came in)."""
    if hired is None or ended is None or ended >= hired:
        return
    if "end_date" in rep.present:
        raise InvalidEvent(f"{ended} is before hire_date {hired}", field="data.end_date")
    raise InvalidEvent(f"{hired} is after end_date {ended}", field="data.hire_date")


@dataclass(frozen=True, slots=True)
class RepChange:
    """A person as they were (``old_employment`` None: a new person) and as they are now."""

    user_id: UUID
    old_manager: UUID | None
    old_employment: tuple[date | None, date | None] | None
    manager: UUID | None
    employment: tuple[date | None, date | None]

    @property
    def moved(self) -> bool:
        """An existing person whose team or employment dates changed."""
        return self.old_employment is not None and (
            self.old_manager != self.manager or self.old_employment != self.employment
        )


async def rep_changes_affected(
    repo: IngestRepository, changes: Sequence[RepChange], today: date
) -> Affected:
    """Every (person, period) a change of these people (a rep event, `podium import reps`)
    can move: their own periods around their dates and today's, and, for a team or date
    change, every period they have credits in, for them, their old and new managers above."""
    moved = [c.user_id for c in changes if c.moved]
    # a team change moves this person's credits between team-scope managers, in every
    # period they have credits in, not only around their dates: the old manager kept a
    # team total with them in it otherwise (and the new one, one without them)
    credited = await repo.credited_months_of(moved) if moved else {}
    touched: list[tuple[set[UUID], date]] = []
    for change in changes:
        dates: set[date] = {today}
        dates.update(d for d in change.employment if d)
        if change.old_employment is not None:
            dates.update(d for d in change.old_employment if d)
            # every month between an old and a new hire (or end) date changes its active
            # days, deals or not (a quota, a bonus, a result to remove): an open end stands
            # for today
            for old, new in zip(change.old_employment, change.employment, strict=True):
                if old != new:
                    dates.update(_months_between(old or today, new or today))
        dates.update(credited.get(change.user_id, ()))
        people = {change.user_id}
        if change.old_manager and change.old_manager != change.manager:
            # the old team loses this person: its team-scope managers change too
            people.add(change.old_manager)
        touched.extend((people, d) for d in sorted(dates))
    return await affected_periods(repo, touched)


async def _refuse_cycle(
    repo: IngestRepository, rep: RepData, user_id: UUID, manager_id: UUID
) -> None:
    """InvalidEvent naming data.manager_id if the person would be above their new manager
    (a new person is above no one). Holds the tenant's manager changes until the caller's
    transaction ends, so that a concurrent change cannot close the cycle meanwhile."""
    await lock_manager_changes(repo.tenant_id)
    chain = await repo.chain_up(manager_id)
    ids = [person for person, _ in chain]
    if user_id in ids:
        above = [crm_id for _, crm_id in chain[: ids.index(user_id) + 1]]
        raise InvalidEvent(
            f"manager cycle {' -> '.join([rep.id, *above])}", field="data.manager_id"
        )


MAX_MOVED_MONTHS = 120  # a date moved further than ten years: its first ten only


def _months_between(a: date, b: date) -> list[date]:
    """The first day of every month from the earlier of ``a``/``b`` to the later."""
    start, end = min(a, b), max(a, b)
    out: list[date] = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month) and len(out) < MAX_MOVED_MONTHS:
        out.append(date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


async def affected_periods(
    repo: IngestRepository, touched: list[tuple[set[UUID], date]]
) -> Affected:
    """Every (person, period) whose earnings a change of these people on these dates can
    move: the people themselves in each period kind of their plans, and everyone above them
    (transitively) in the period kinds of their team-scope plans. A day outside the years
    Podium accepts (stored before they were bounded: a deal once dated 9999-12-31) is in no
    period: nothing to recompute for it."""
    out: Affected = set()
    everyone: set[UUID] = set()
    for people, _ in touched:
        everyone |= people
    above_of, kinds = await repo.managers_and_plan_kinds(everyone)
    for people, day in touched:
        if not FIRST_DAY <= day <= LAST_DAY:
            continue
        for person in people:
            for kind, _team in kinds.get(person, ()):
                out.add((person, period_containing(day, _kind(kind)).id))
            for manager in above_of.get(person, ()):
                for kind, team in kinds.get(manager, ()):
                    if team:
                        out.add((manager, period_containing(day, _kind(kind)).id))
    return out


def _kind(value: str) -> PeriodKind:
    if value == "quarter":
        return "quarter"
    if value == "year":
        return "year"
    return "month"


# --- dead letters ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplayResult:
    dead_letter_id: int
    outcome: str  # accepted | duplicate | rejected | discarded
    inbox_id: int | None = None
    error: str | None = None


async def replay_dead_letters(
    *, viewer: Viewer, ids: list[int] | None = None
) -> list[ReplayResult]:
    """Run open dead letters (or the given ones) through the same path as the webhook. One
    accepted (or found to be a duplicate) is marked replayed; one still invalid stays open
    and gets a new dead letter with today's reason. The caller commits, then enqueues the
    ``inbox_id`` of each accepted one."""
    repo = IngestRepository(viewer)
    letters = await repo.dead_letters(
        ids=ids, status=None if ids is not None else DeadLetterStatus.OPEN
    )
    out: list[ReplayResult] = []
    for letter in letters:
        if letter.status is DeadLetterStatus.REPLAYED:
            out.append(ReplayResult(letter.id, "duplicate"))
            continue
        if letter.status is DeadLetterStatus.DISCARDED:
            out.append(ReplayResult(letter.id, "discarded"))
            continue
        try:
            raw = loads_exact(letter.body)
        except ValueError as exc:
            out.append(ReplayResult(letter.id, "rejected", error=str(exc)))
            continue
        # a dead letter from the worker kept the inbox row: replay it under a fresh id
        event_id = event_id_of(raw)
        if event_id is not None and await repo.seen_event_ids([event_id]):
            raw = {**raw, "id": f"{event_id}#replay-{letter.id}-{letter.replays + 1}"}
        result = await ingest_events(viewer=viewer, source=letter.source, events=[raw])
        letter.replays += 1
        if result.rejected:
            await letter.save(update_fields=["replays"])
            out.append(ReplayResult(letter.id, "rejected", error=result.rejected[0].error))
            continue
        letter.status = DeadLetterStatus.REPLAYED
        letter.replayed_at = utc_now()
        await letter.save(update_fields=["replays", "status", "replayed_at"])
        if result.inbox_ids:
            out.append(ReplayResult(letter.id, "accepted", inbox_id=result.inbox_ids[0]))
        else:
            out.append(ReplayResult(letter.id, "duplicate"))
    return out


async def discard_dead_letters(*, viewer: Viewer, ids: list[int], reason: str) -> list[int]:
    """Give up on open dead letters that can never succeed: they stay (the event as received
    and why it failed) but leave the open list and are never replayed. Audited, with the
    reason. Returns the ids discarded (ones already replayed or discarded are left as they
    are). The caller commits."""
    letters = await IngestRepository(viewer).dead_letters(ids=ids, status=DeadLetterStatus.OPEN)
    for letter in letters:
        letter.status = DeadLetterStatus.DISCARDED
        await letter.save(update_fields=["status"])
    await record_many(
        viewer=viewer,
        changes=[
            Change(
                action="dead_letter.discarded",
                entity_type="dead_letter",
                entity_id=str(letter.id),
                before={"status": "open", "reason": letter.reason},
                after={"status": "discarded", "why": reason},
            )
            for letter in letters
        ],
    )
    return [letter.id for letter in letters]


async def existing_dead_letter_ids(*, viewer: Viewer, ids: list[int]) -> set[int]:
    return {letter.id for letter in await IngestRepository(viewer).dead_letters(ids=ids)}


async def list_dead_letters(*, viewer: Viewer, open_only: bool = True) -> list[Any]:
    return await IngestRepository(viewer).dead_letters(
        status=DeadLetterStatus.OPEN if open_only else None
    )


# --- recompute requests ---------------------------------------------------------------------


async def inbox_event(inbox_id: int) -> InboxEvent | None:
    return await InboxEvent.get_or_none(id=inbox_id)


# --- CRM adapters -----------------------------------------------------------------------------


async def translate(*, viewer: Viewer, source: str, payload: Any) -> adapters.Translated:
    """Generic events from a Salesforce CDC body (parsed JSON), an Outbound Message
    (``adapters.OutboundMessage``) or a HubSpot body (a JSON list), with the tenant's mapping
    and the current state of the records they change."""
    tenant = await get_tenant(viewer.tenant_id)
    if source == "salesforce_cdc":
        messages = adapters.cdc_messages(payload)
        adapters.check_cdc_size(messages)
        mapping = await field_mapping(viewer=viewer, source="salesforce")
        bases = await base_records(viewer.tenant_id, adapters.cdc_record_ids(messages))
        return adapters.translate_cdc(
            messages, mapping=mapping, currency=tenant.currency, bases=bases
        )
    if source == "salesforce_outbound":
        mapping = await field_mapping(viewer=viewer, source="salesforce")
        bases = await base_records(viewer.tenant_id, adapters.outbound_record_ids(payload))
        return adapters.translate_outbound(
            payload, mapping=mapping, currency=tenant.currency, bases=bases
        )
    if source == "hubspot":
        if not isinstance(payload, list):
            raise InvalidEnvelope("must be a JSON list of HubSpot events", field="body")
        check_event_count(len(payload))
        mapping = await field_mapping(viewer=viewer, source="hubspot")
        bases = await base_records(viewer.tenant_id, adapters.hubspot_record_ids(payload))
        return adapters.translate_hubspot(
            payload, mapping=mapping, currency=tenant.currency, bases=bases
        )
    raise ValueError(f"unknown source {source!r}")
