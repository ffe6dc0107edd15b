"""Earnings use cases: recompute people's periods with the engine and store them; what-if.

Every recompute goes through one batch path, `recompute_many`: the real-time worker,
`podium recompute`, the close (domain.earnings.close) and `recompute_rep_period` (one
person, for callers that have one). It loads the same inputs and calls the same engine as
`podium simulate`. Services never commit: the caller (a worker job, the CLI) owns the
transaction; a batch's writes run in a savepoint of it, so a caller that catches its failure
and carries on never commits half a result.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from itertools import chain
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple, Protocol, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

from asyncpg.pgproto.pgproto import UUID as AsyncpgUUID
from tortoise import connections
from tortoise.transactions import in_transaction

from domain.audit.service import Change, record, record_many
from domain.crm.models import FxRate
from domain.earnings.errors import PeriodClosed
from domain.earnings.models import EarningsResult, PeriodStatus, ResultStatus
from domain.earnings.models import Period as StoredPeriod
from domain.engine import explanations
from domain.engine.calculate import calculate
from domain.engine.explanations import Reason
from domain.engine.inputs import ONE, Assignment, FxTable, Inputs, Rep, Transaction, by_id
from domain.engine.plan import Plan as EnginePlan
from domain.engine.results import PlanResult, RepResult
from domain.kit.clock import utc_now
from domain.kit.collector import collector_paused
from domain.kit.errors import DomainError, Forbidden, InvalidInput, NotFound, PeriodError
from domain.kit.money import format_plain, round_money, unpadded
from domain.kit.numbers import check_decimal
from domain.kit.periods import (
    PERIOD_KINDS,
    Period,
    PeriodKind,
    parse_period,
    period_containing,
)
from domain.org.models import Role, User
from domain.org.repository import UserRepository
from domain.org.viewer import Viewer
from domain.plans.models import AssignmentStatus, PlanVersion
from domain.plans.repository import PlanRepository
from domain.plans.service import compile_version
from domain.tenants.repository import get_tenant

WHAT_IF_ID = "what-if"


class Payee(Protocol):
    """What calculating a person's earnings reads of them: a `User`, or the `_Person` of a
    batch."""

    @property
    def id(self) -> UUID: ...
    @property
    def external_id(self) -> str: ...
    @property
    def display_name(self) -> str: ...
    @property
    def hire_date(self) -> date | None: ...
    @property
    def end_date(self) -> date | None: ...
    @property
    def manager_id(self) -> UUID | None: ...


@dataclass(frozen=True, slots=True)
class _Person:
    """A person as a batch reads them: the columns `Payee` names, in `_LOCK_PEOPLE`'s order.
    A User model of each row (every column, each converted by the ORM) took 53-68 ms of a
    close chunk of 5,000 people, these 5-9."""

    id: UUID
    external_id: str
    display_name: str
    hire_date: date | None
    end_date: date | None
    manager_id: UUID | None


@dataclass(frozen=True, slots=True)
class PlanRun:
    """One plan version calculated for one rep and period."""

    version: PlanVersion
    plan: EnginePlan
    period: Period
    user: Payee
    inputs: Inputs
    result: PlanResult

    @property
    def rep_result(self) -> RepResult | None:
        return self.result.reps[0] if self.result.reps else None

    @property
    def error(self) -> str | None:
        return self.result.errors[0].message if self.result.errors else None

    @property
    def error_reason(self) -> Reason | None:
        """Why it is in error, for a reader (stored as the result's explanation)."""
        return self.result.errors[0].reason if self.result.errors else None


async def current_period(viewer: Viewer, kind: PeriodKind | None = None) -> Period:
    """The period containing today in the tenant's time zone."""
    tenant = await get_tenant(viewer.tenant_id)
    today = datetime.now(ZoneInfo(tenant.time_zone)).date()
    settings: dict[str, Any] = dict(tenant.settings or {})
    chosen = kind or settings.get("period_kind", "month")
    return period_containing(today, chosen)


async def _load_inputs(
    viewer: Viewer,
    user: Payee,
    version: PlanVersion,
    plan: EnginePlan,
    period: Period,
    extra: list[Transaction] | None = None,
) -> Inputs:
    users = UserRepository(viewer)
    members: Sequence[Payee] = [user]
    if plan.has_team_scope:
        member_ids = await users.subtree_ids(user.id)
        members = await User.filter(tenant_id=viewer.tenant_id, id__in=member_ids)
    by_id = {m.id: m for m in members}
    reps = tuple(
        Rep(
            id=m.external_id,
            name=m.display_name,
            manager_id=(
                by_id[m.manager_id].external_id
                if m.id != user.id and m.manager_id in by_id
                else None
            ),
            hire_date=m.hire_date,
            end_date=m.end_date,
        )
        for m in members
    )
    transactions = await _transactions(viewer, members, period)
    if extra:
        transactions.extend(extra)
    quotas = {
        (user.external_id, q.measure): unpadded(q.value)
        for q in await PlanRepository(viewer).quotas([user.id], period.id)
    }
    currencies = sorted({t.currency for t in transactions} - {plan.currency})
    fx = await _fx(viewer, currencies, plan.currency, period.end)
    assignments = tuple(
        Assignment(user.external_id, plan.id, a.effective_from, a.effective_to)
        for a in await PlanRepository(viewer).assignments_of(user.id)
        if a.plan_id == version.plan_id and a.status.value != "declined"
    )
    return Inputs(
        reps=reps, transactions=tuple(transactions), quotas=quotas, fx=fx, assignments=assignments
    )


async def _transactions(
    viewer: Viewer, people: Sequence[Payee], period: Period
) -> list[Transaction]:
    """The period's live transactions credited to any of ``people`` (a team), each once."""
    found, _ = await _transactions_of_each(viewer, people, period)
    return list({id(t): t for each in found.values() for t in each}.values())


# The period's live transactions credited to any of a batch's people, in two parts: each
# person's own transactions (not split) through an index of those by (tenant, rep, date)
# that carries every column the read needs (migration 0052: an index-only scan of the batch's
# people's part of it, where a close chunk read every page of the table), and the split ones
# crediting any of them through the GIN index of split rows' credited ids (migration 0011).
# Reading a chunk's rows this way visits only them; the GIN index over every row's credited
# ids, which the batch used before, rechecked each row against the whole chunk. The own part
# is a join with the batch's ids, numbered: PostgreSQL looks each person up in the index (as
# `rep_id = ANY` did) and names the owner by their number in the batch, not by a uuid's text
# (a third of a row's bytes; 60-90 ms less of PostgreSQL's and Python's CPU a close chunk).
# The own part is read with COPY (text format), its rows made into transactions as the data
# arrives (`_OwnRows`): a line split at its tabs is a few strings where asyncpg made a
# Record and a str or int of each column, and the kind of a transaction (currency, type,
# state, extra fields: COPY's text of them, NULL as \N, a tab or backslash in a value
# escaped) is the line's tail, one string to look up. PostgreSQL's COPY out costs it less
# than the rows of a query too. A close chunk's 92,000 rows: see _OwnRows. The day comes as
# days since the period's first. An amount comes as its text without the padding:
# Decimal(text) is what `unpadded` makes of the NUMERIC(20, 6) (40000, not 4E+4 as the
# binary form decodes).
_OWN_TRANSACTIONS = """
    SELECT t.external_id, p.n, trim_scale(t.amount), t.date - $2, t.currency, t.type,
           t.state, t.extra_fields
    FROM unnest($4::uuid[]) WITH ORDINALITY AS p(id, n)
    CROSS JOIN LATERAL (
        SELECT * FROM transactions t
        WHERE t.tenant_id = $1 AND t.rep_id = p.id AND t.date BETWEEN $2 AND $3
          AND t.splits IS NULL AND NOT t.deleted
    ) AS t
"""
# the split part (few rows), read as rows: the owner as text (uuid's), amount and day as the
# own part's
_SPLIT_TRANSACTIONS = """
    SELECT external_id, rep_id::text, trim_scale(amount)::text, currency, date - $2, type,
           state, extra_fields, splits, credited_user_ids
    FROM transactions
    WHERE tenant_id = $1 AND splits IS NOT NULL AND credited_user_ids ?| $4::text[]
      AND date BETWEEN $2 AND $3 AND NOT deleted
"""


async def _transactions_of_each(
    viewer: Viewer, people: Sequence[Payee], period: Period
) -> tuple[dict[UUID, list[Transaction]], set[str]]:
    """The period's live transactions credited to each of ``people`` (two statements),
    people named by their CRM ids, each person's in the order of their ids; and the
    currencies they are in. A split transaction is one object in each of its credited
    people's lists.

    Each person's in the order of their ids: the engine then finds each rep's lines in
    order already, whether it calculates the person alone or in a batch of people joined
    person after person (`_merged`). The batch's transactions were sorted by id as a whole
    before: a close chunk of 5,000 people took 1.70-1.80 s of client CPU rather than
    1.55-1.60 (medians of three runs, three rounds in turn, on bench/close.py's month)."""
    out: dict[UUID, list[Transaction]] = {u.id: [] for u in people}
    currencies: set[str] = set()
    if not people:
        return out, currencies
    ids = list(out)
    external = {u.id: u.external_id for u in people}
    days = [period.start + timedelta(n) for n in range(period.days)]
    extras: dict[str | None, dict[str, Any]] = {}
    own = _OwnRows(ids, external, days, extras, out, currencies)
    conn: Any
    async with connections.get("default").acquire_connection() as conn:
        await conn.copy_from_query(
            _OWN_TRANSACTIONS, viewer.tenant_id, period.start, period.end, ids, output=own.take
        )
        split_rows = await conn.fetch(
            _SPLIT_TRANSACTIONS, viewer.tenant_id, period.start, period.end, [str(u) for u in ids]
        )
    own.finish()
    if split_rows:
        await _add_splits(viewer, split_rows, external, days, extras, out)
        currencies.update(row[3] for row in split_rows)
    for found in out.values():
        found.sort(key=_ID)
    return out, currencies


class _OwnRows:
    """The sink of the own part's COPY (`_OWN_TRANSACTIONS`, people of ``ids``): each line
    made a transaction crediting its owner alone, added to its owner's list in ``out``, its
    currency to ``currencies``. What repeats is converted once per batch and shared by the
    rows (read-only): a person's credit and list, a day, a kind (`Transaction.kind`), an
    extra-fields document.

    The lines are converted as they arrive, on the event loop: asyncpg stops reading while
    its sink works and hands it what came meanwhile, so a sink that only kept the data was
    handed a row at a time (74,000 calls for 92,000 rows), one that works about 40 calls.
    A close chunk's 92,000 rows (read and made transactions): 210-300 rather than 313-366
    ms of client CPU, 200-270 rather than 220-310 of PostgreSQL's."""

    def __init__(
        self,
        ids: list[UUID],
        external: dict[UUID, str],
        days: list[date],
        extras: dict[str | None, dict[str, Any]],
        out: dict[UUID, list[Transaction]],
        currencies: set[str],
    ) -> None:
        # owner (their number in ``ids``, from 1, as text) -> (their CRM id, their credits,
        # their list's append)
        self.by_person = {
            str(n): (external[u], ((external[u], ONE),), out[u].append)
            for n, u in enumerate(ids, 1)
        }
        self.days = {str(n): day for n, day in enumerate(days)}  # the day's text -> day
        # a kind (the line's tail) -> (the transactions' `Transaction.kind`, shared, and
        # currency)
        self.kinds: dict[str, tuple[dict[str, Any], str]] = {}
        self.extras = extras
        self.currencies = currencies
        self.rest = b""  # a line cut short at the end of the data (COPY sends whole lines)

    async def take(self, data: bytes) -> None:
        if self.rest:
            data = self.rest + data
            self.rest = b""
        if not data.endswith(b"\n"):
            cut = data.rfind(b"\n") + 1
            data, self.rest = data[:cut], data[cut:]
        lines = data.decode().split("\n")
        lines.pop()  # what follows the last newline: nothing
        self._convert(lines)

    def finish(self) -> None:
        if self.rest:
            raise RuntimeError("COPY ended within a line")

    def _convert(self, lines: list[str]) -> None:
        by_person, days, kinds = self.by_person, self.days, self.kinds
        sole = Transaction.sole
        for line in lines:
            tid, person, amount_text, day, kind = line.split("\t", 4)
            if "\\" in tid:
                tid = _unescaped(tid)  # an external id is never NULL
            rep, credits, append = by_person[person]
            found = kinds.get(kind)
            if found is None:
                found = kinds[kind] = self._kind(kind)
            kind_fields, currency = found
            amount = Decimal(amount_text)
            append(sole(tid, rep, amount, currency, days[day], credits, kind_fields))

    def _kind(self, kind: str) -> tuple[dict[str, Any], str]:
        currency, type_, state, extra_text = map(_copy_text, kind.split("\t"))
        assert currency is not None
        extra = self.extras.get(extra_text)
        if extra is None:
            extra = self.extras[extra_text] = _extra_fields(extra_text)
        self.currencies.add(currency)
        return Transaction.kind_of(currency, type_, state, extra), currency


# COPY's text format: NULL is \N; a backslash, and the control characters among these
# letters' (tab, newline, ...), come escaped by a backslash
_COPY_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_COPY_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


def _copy_text(value: str) -> str | None:
    """A value as COPY's text format wrote it, as it is (None for NULL)."""
    return None if value == "\\N" else _unescaped(value)


def _unescaped(value: str) -> str:
    """A value that is not NULL as COPY's text format wrote it, as it is."""
    if "\\" not in value:
        return value
    return _COPY_ESCAPED.sub(lambda m: _COPY_ESCAPES.get(m[1], m[1]), value)


async def _add_splits(
    viewer: Viewer,
    rows: list[Any],
    external: dict[UUID, str],
    days: list[date],
    extras: dict[str | None, dict[str, Any]],
    out: dict[UUID, list[Transaction]],
) -> None:
    """The split transactions (rows of `_SPLIT_TRANSACTIONS`), each in the lists of its
    credited people that ``out`` holds; partners and owners outside the batch are named too
    (one more statement)."""
    decoded = [(row, _decode(row[8]), _decode(row[9]) or []) for row in rows]
    wanted = {UUID(str(s["rep_id"])) for _, splits, _ in decoded for s in splits or ()}
    wanted |= {UUID(row[1]) for row in rows}  # the owner, as text
    missing = [u for u in wanted if u not in external]
    if missing:
        for user_id, external_id in await User.filter(
            tenant_id=viewer.tenant_id, id__in=missing
        ).values_list("id", "external_id"):
            external[user_id] = external_id
    named = {str(k): v for k, v in external.items()}
    for row, splits, credited in decoded:
        tid, rep_text, amount_text, currency, day, type_, state, extra_text, _, _ = row
        rep = external.get(UUID(rep_text), rep_text)
        extra = extras.get(extra_text)
        if extra is None:
            extra = extras[extra_text] = _extra_fields(extra_text)
        transaction = Transaction.build(
            id=tid,
            rep_id=rep,
            amount=Decimal(amount_text),
            currency=currency,
            date=days[day],
            type=type_,
            state=state,
            splits=[
                (named.get(str(s["rep_id"]), str(s["rep_id"])), Decimal(s["share"])) for s in splits
            ]
            or None,
            extra=extra,
        )
        for person in dict.fromkeys(str(c) for c in credited):
            listed = out.get(UUID(person))
            if listed is not None:
                listed.append(transaction)


def _extra_fields(text: str | None) -> dict[str, Any]:
    return {k: _field_value(v) for k, v in (_decode(text) or {}).items()}


def _decode(value: Any) -> Any:
    """JSONB as asyncpg returns it (text); numbers with a fraction become exact Decimals.
    The result may be shared between rows: read it, never change it."""
    if isinstance(value, str):
        return _decode_text(value)
    return value


@functools.lru_cache(maxsize=4096)
def _decode_text(text: str) -> Any:
    # a period's rows repeat the same few documents ("{}", a product field): decoding each
    # text once is a third of the batch path's Python time
    return json.loads(text, parse_float=Decimal)


def _field_value(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Decimal(str(value))
    return value


async def _fx(viewer: Viewer, currencies: list[str], quote_currency: str, until: date) -> FxTable:
    """Rates into the plan's currency only: a GBP->USD rate must never convert GBP into EUR."""
    if not currencies:
        return FxTable()
    rows = await FxRate.filter(
        tenant_id=viewer.tenant_id,
        quote_currency=quote_currency,
        currency__in=currencies,
        date__lte=until,
    )
    return FxTable((r.date, r.currency, unpadded(r.rate)) for r in rows)


async def run_plans(
    viewer: Viewer, user: User, period: Period, extra: list[Transaction] | None = None
) -> list[PlanRun]:
    """Calculate every plan version the user is on for the period (nothing stored)."""
    return (await _plan_runs_many(viewer, [user], period, extra)).get(user.id, [])


class _Assigned(NamedTuple):
    """A plan assignment as a batch reads it."""

    user_id: UUID
    plan_id: UUID
    status: str  # an AssignmentStatus value
    effective_from: date
    effective_to: date | None


_ASSIGNMENTS = """
    SELECT user_id, plan_id, status, effective_from, effective_to FROM plan_assignments
    WHERE tenant_id = $1 AND user_id = ANY($2::uuid[])
    ORDER BY effective_from, id
"""
# a quota's value as `unpadded` reads the NUMERIC(20, 6) (see _OWN_TRANSACTIONS)
_QUOTAS = """
    SELECT user_id, measure, trim_scale(value)::text FROM quotas
    WHERE tenant_id = $1 AND period = $2 AND user_id = ANY($3::uuid[])
"""


async def _plan_runs_many(
    viewer: Viewer,
    users: Sequence[Payee],
    period: Period,
    extra: list[Transaction] | None = None,
) -> dict[UUID, list[PlanRun]]:
    """Every plan version each of ``users`` is on for ``period``, calculated (nothing stored).

    The inputs of many people are read in a handful of statements whatever their number
    (assignments, versions, transactions, quotas, rates), which is what lets a worker keep
    up with a stream of CRM events: the same engine call per person as before, the reading
    shared. A team-scope plan reads its manager's subtree on its own (``_load_inputs``)."""
    if not users:
        return {}
    tenant_id = viewer.tenant_id
    ids = [u.id for u in users]
    conn: Any
    async with connections.get("default").acquire_connection() as conn:
        every_assignment = [
            _Assigned(*row) for row in await conn.fetch(_ASSIGNMENTS, tenant_id, ids)
        ]
    live = (AssignmentStatus.OFFERED, AssignmentStatus.ACCEPTED)
    active: dict[UUID, list[_Assigned]] = {}
    for a in every_assignment:
        if (
            a.status in live
            and a.effective_from <= period.end
            and (a.effective_to is None or a.effective_to >= period.start)
        ):
            active.setdefault(a.user_id, []).append(a)
    readable = await PlanRepository(viewer).readable_plan_ids()
    plan_ids = sorted(
        {
            a.plan_id
            for rows in active.values()
            for a in rows
            if readable is None or a.plan_id in readable
        }
    )
    in_force: dict[UUID, PlanVersion] = {}  # plan -> the version in force on the first day
    if plan_ids:
        candidates = await PlanVersion.filter(
            tenant_id=tenant_id, plan_id__in=plan_ids, effective_from__lte=period.start
        ).order_by("-effective_from")
        for v in candidates:
            if v.plan_id not in in_force and (
                v.effective_to is None or v.effective_to >= period.start
            ):
                in_force[v.plan_id] = v
    chosen: dict[UUID, list[PlanVersion]] = {}
    for user in users:
        seen: set[UUID] = set()
        for a in active.get(user.id, ()):
            version = in_force.get(a.plan_id)
            if version is None or version.period_kind != period.kind or version.id in seen:
                continue
            seen.add(version.id)
            chosen.setdefault(user.id, []).append(version)
    if not chosen:
        return {}

    compiled = {v.id: compile_version(v) for vs in chosen.values() for v in vs}
    by_id = {u.id: u for u in users}
    self_scope = [
        by_id[u] for u, vs in chosen.items() if any(not compiled[v.id].has_team_scope for v in vs)
    ]
    transactions, foreign = await _transactions_of_each(viewer, self_scope, period)
    if extra:
        for found in transactions.values():
            found.extend(extra)
        foreign.update(t.currency for t in extra)
    quotas: dict[UUID, dict[tuple[str, str], Decimal]] = {}
    async with connections.get("default").acquire_connection() as conn:
        for user_id, measure, value in await conn.fetch(
            _QUOTAS, tenant_id, period.id, list(chosen)
        ):
            quotas.setdefault(user_id, {})[(by_id[user_id].external_id, measure)] = Decimal(value)
    plan_currencies = {p.currency for p in compiled.values()}
    fx = {
        currency: await _fx(viewer, sorted(foreign - {currency}), currency, period.end)
        for currency in sorted(plan_currencies)
    }
    assignments_of: dict[UUID, list[_Assigned]] = {}
    for a in every_assignment:
        if a.status != AssignmentStatus.DECLINED:
            assignments_of.setdefault(a.user_id, []).append(a)
    runs: dict[tuple[UUID, UUID], PlanRun] = {}
    # a self-scope version -> its people, calculated together
    batches: dict[UUID, tuple[PlanVersion, list[tuple[Payee, Inputs]]]] = {}
    for user_id, versions in chosen.items():
        user = by_id[user_id]
        for version in versions:
            plan = compiled[version.id]
            if plan.has_team_scope:
                inputs = await _load_inputs(viewer, user, version, plan, period, extra)
                result = await _computed(
                    partial(calculate, plan, period, inputs, rep_ids=[user.external_id])
                )
                runs[(user_id, version.id)] = PlanRun(version, plan, period, user, inputs, result)
                continue
            inputs = Inputs(
                reps=(
                    Rep(
                        id=user.external_id,
                        name=user.display_name,
                        manager_id=None,
                        hire_date=user.hire_date,
                        end_date=user.end_date,
                    ),
                ),
                transactions=tuple(transactions.get(user_id, ())),
                quotas=quotas.get(user_id, {}),
                fx=fx[plan.currency],
                assignments=tuple(
                    Assignment(user.external_id, plan.id, a.effective_from, a.effective_to)
                    for a in assignments_of.get(user_id, ())
                    if a.plan_id == version.plan_id
                ),
            )
            batches.setdefault(version.id, (version, []))[1].append((user, inputs))
    for version_id, (version, people) in batches.items():
        plan = compiled[version_id]
        results = await _computed(_calculate_each, plan, period, people)
        for (user, inputs), result in zip(people, results, strict=True):
            runs[(user.id, version_id)] = PlanRun(version, plan, period, user, inputs, result)
    return {
        user_id: [runs[(user_id, v.id)] for v in versions] for user_id, versions in chosen.items()
    }


_ID = attrgetter("id")
_SOLE = attrgetter("sole_credit")


def _merged(people: list[tuple[Payee, Inputs]]) -> list[Transaction]:
    """The transactions of ``people`` (each once), person after person: each person's in
    the order of their ids (`_transactions_of_each`), a split deal where it first comes."""
    every = list(chain.from_iterable(inputs.transactions for _, inputs in people))
    if not all(map(_SOLE, every)):  # a split deal is one object in each partner's list
        every = list({id(t): t for t in every}.values())
    return every


def _calculate_each(
    plan: EnginePlan,
    period: Period,
    people: list[tuple[Payee, Inputs]],
) -> list[PlanResult]:
    """Each person's result of a self-scope plan, from one engine call for all of them: a
    self-scope result depends only on the person's own inputs (their reps, transactions,
    quotas, assignments; the plan's rates), so one call over their union gives each person
    what a call of their own would, without the engine's fixed cost per call."""
    quotas: dict[tuple[str, str], Decimal] = {}
    for _, inputs in people:
        quotas.update(inputs.quotas)
    # each person's in the order of their ids, as when calculated alone: the engine then
    # finds every rep's lines and conversions in order already
    every = _merged(people)
    merged = Inputs(
        reps=tuple(r for _, inputs in people for r in inputs.reps),
        transactions=tuple(every),
        quotas=quotas,
        fx=people[0][1].fx,
        assignments=tuple(a for _, inputs in people for a in inputs.assignments or ()),
    )
    together = calculate(plan, period, merged, rep_ids=[u.external_id for u, _ in people])
    reps = {r.rep_id: r for r in together.reps}
    errors = {e.rep_id: e for e in together.errors}
    out = []
    for user, _ in people:
        rep = reps.get(user.external_id)
        error = errors.get(user.external_id)
        out.append(
            together._replace(  # keeps the line explainer and the display names
                reps=(rep,) if rep is not None else (),
                errors=(error,) if error is not None else (),
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class Recomputed:
    """What ``recompute_many`` did for one (person, period): the results stored, or why it
    was refused (a closed period, a person no longer there)."""

    user_id: UUID
    period: str
    rows: list[tuple[Any, ...]]  # the results as stored (`_RESULT_COLUMNS`)
    refused: DomainError | None = None
    transactions: int = 0  # the engine read this many (progress, rates)

    @property
    def results(self) -> list[EarningsResult]:
        """The stored results (built when asked: a close never reads them)."""
        return [_result_model(row) for row in self.rows]


async def recompute_rep_period(
    *, viewer: Viewer, user_id: UUID | str, period: str
) -> list[EarningsResult]:
    """Recalculate and store one rep's earnings for one period (every plan they are on).

    The old results and lines are replaced as a whole or not at all: the writes run in a
    savepoint of the caller's transaction (their own transaction when the caller has none),
    after the engine has run, so a failure anywhere leaves the previous result. A rep the
    engine cannot calculate (missing quota or FX rate, ...) is stored with status ``error``
    and the reason, never as a silent 0. A closed period is refused.
    """
    parse_period(period)  # InvalidInput naming the period before anything is read
    visible_id = await UserRepository(viewer).require_visible_id(user_id)
    (done,) = await recompute_many(viewer=viewer, pairs=[(visible_id, period)])
    if done.refused is not None:
        raise done.refused
    return done.results


# A batch's pure work (the engine, the rows to store) runs on a thread of its own, so that the
# event loop goes on with other work meanwhile (a worker's other jobs, its heartbeats). One
# thread: the work holds the GIL anyway.
_COMPUTE = ThreadPoolExecutor(max_workers=1, thread_name_prefix="podium-compute")
T = TypeVar("T")


async def _computed(work: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(_COMPUTE, partial(work, *args))


async def recompute_many(*, viewer: Viewer, pairs: Sequence[tuple[UUID, str]]) -> list[Recomputed]:
    """Recalculate and store the earnings of many (person, period)s: what a worker does with
    the requests a burst of CRM events left, in a few statements per batch rather than a
    score per person. Same engine, same stored figures, same audit entries as one at a time.

    Each pair is refused on its own (closed period, unknown person: ``Recomputed.refused``)
    while the others are stored; the batch as a whole is one savepoint, so a failure leaves
    every previous result. The people are locked (FOR NO KEY UPDATE, in id order) until the
    caller's transaction ends: one recompute of a person at a time. The caller has checked
    that the viewer may see these people.
    """
    unique = list(dict.fromkeys((u if type(u) is UUID else UUID(str(u)), p) for u, p in pairs))
    with collector_paused():
        return await _recompute_batch(viewer, unique)


# A batch's people, locked in id order (see `recompute_many`). The ids are one array
# parameter: the ORM's `id__in` wrote each of a close chunk's 2,000 ids into the statement's
# text (pypika, then PostgreSQL's parser): 54-60 rather than 40-50 ms of client CPU a chunk.
_LOCK_PEOPLE = """
    SELECT id, external_id, display_name, hire_date, end_date, manager_id
    FROM users WHERE tenant_id = $1 AND id = ANY($2::uuid[])
    ORDER BY id
    FOR NO KEY UPDATE
"""


async def _recompute_batch(viewer: Viewer, unique: list[tuple[UUID, str]]) -> list[Recomputed]:
    periods: dict[str, Period] = {}
    out: dict[tuple[UUID, str], Recomputed] = {}
    for user_id, p in unique:
        if p in periods:
            continue
        try:
            periods[p] = parse_period(p)
        except PeriodError as exc:
            # a period Podium no longer accepts (requested when a deal was dated 9999-12-31):
            # refused like a closed one, not a failure of the whole batch, again and again
            out[(user_id, p)] = Recomputed(user_id, p, [], exc)
    async with in_transaction():
        conn: Any
        async with connections.get("default").acquire_connection() as conn:
            rows = await conn.fetch(_LOCK_PEOPLE, viewer.tenant_id, list({u for u, _ in unique}))
        users = {row[0]: _Person(*row) for row in rows}
        closed = {
            str(k)
            for k in await StoredPeriod.filter(
                tenant_id=viewer.tenant_id, key__in=list(periods), status=PeriodStatus.CLOSED
            ).values_list("key", flat=True)
        }
        for period_id, parsed in periods.items():
            people: list[Payee] = []
            for user_id, p in unique:
                if p != period_id:
                    continue
                if user_id not in users:
                    out[(user_id, p)] = Recomputed(
                        user_id, p, [], NotFound(f"no user {user_id}", field="id")
                    )
                elif period_id in closed:
                    refusal = PeriodClosed(
                        f"{period_id} is closed: its results are final", field="period"
                    )
                    out[(user_id, p)] = Recomputed(user_id, p, [], refusal)
                else:
                    people.append(users[user_id])
            runs = await _plan_runs_many(viewer, people, parsed)
            stored = await _store_many(viewer, people, parsed, runs)
            for user in people:
                read = sum(len(run.inputs.transactions) for run in runs.get(user.id, ()))
                out[(user.id, period_id)] = Recomputed(
                    user.id, period_id, stored[user.id], transactions=read
                )
    return [out[pair] for pair in unique]


async def close_period(*, viewer: Viewer, period: str) -> StoredPeriod:
    """Close a period: its results become final and recomputing them is refused. Audited."""
    if viewer.role not in (Role.ADMIN, Role.PAYOUT_OPS):
        raise Forbidden("only admin, payout_ops may close a period", field="period")
    parsed = parse_period(period)
    # Its row locked to close it: a late change flagging it (`close.record_late_events`
    # holds the row FOR SHARE) commits first, and the statements built after see the flag.
    written = await connections.get("default").execute_query_dict(
        """
        INSERT INTO periods (tenant_id, key, kind, starts_on, ends_on, status)
        VALUES ($1, $2, $3, $4, $5, 'open')
        ON CONFLICT (tenant_id, key) DO NOTHING
        RETURNING id
        """,
        [viewer.tenant_id, parsed.id, parsed.kind, parsed.start, parsed.end],
    )
    stored = await (
        StoredPeriod.filter(tenant_id=viewer.tenant_id, key=parsed.id).select_for_update().get()
    )
    if stored.status is PeriodStatus.CLOSED:
        raise PeriodClosed(f"{parsed.id} is closed already", field="period")
    before = None if written else {"status": stored.status.value}
    stored.status = PeriodStatus.CLOSED
    stored.closed_at = utc_now()
    await stored.save(update_fields=["status", "closed_at"])
    await record(
        viewer=viewer,
        action="period.closed",
        entity_type="period",
        entity_id=parsed.id,
        before=before,
        after={"status": PeriodStatus.CLOSED.value},
    )
    return stored


# What a result row holds, in the order of its columns: who and when, then the figures
# (what the fingerprint covers), then the time they last changed and their fingerprint.
_KEY_COLUMNS = ("id", "tenant_id", "user_id", "plan_version_id", "period")
_FIGURE_COLUMNS = (
    "status",
    "error",
    "currency",
    "total",
    "payable",
    "pending",
    "cap_adjustment",
    "active_days",
    "period_days",
    "measures",
    "components",
    "explanation",
)
_RESULT_COLUMNS = (*_KEY_COLUMNS, *_FIGURE_COLUMNS, "computed_at", "fingerprint")
_JSON_COLUMNS = frozenset({"measures", "components", "explanation"})
LINE_COLUMNS = (
    "result_id",
    "tenant_id",
    "position",
    "component",
    "transaction_external_id",
    "credited_rep",
    "occurred_on",
    "value",
    "amount",
    "status",
    "explanation",
)
# JSON text as `explanations.encode` writes reasons: compact, any language's letters as they
# are. Composing a document of texts encoded so is the same as encoding the document.
_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
# Each person's results looked up on their own through the (tenant, period, person) index
# (LATERAL, not pulled up: OFFSET 0). Written as `user_id = ANY($3)`, PostgreSQL's generic
# plan (asyncpg prepares it) walked the period's results and searched the array for each:
# 30 ms a batch of 1,000 as a close fills the period, 4 ms so.
_EXISTING = """
    SELECT r.user_id, r.plan_version_id, r.id, r.fingerprint, r.computed_at, r.status,
           r.error, r.total, r.payable, r.pending
    FROM unnest($3::uuid[]) AS p(id)
    CROSS JOIN LATERAL (
        SELECT * FROM earnings_results
        WHERE tenant_id = $1 AND period = $2 AND user_id = p.id
        OFFSET 0
    ) AS r
"""
_ZERO_FIGURES = (Decimal(0), Decimal(0), Decimal(0), Decimal(0))


def _state(
    status: str, error: str | None, total: Decimal, payable: Decimal, pending: Decimal
) -> dict[str, Any]:
    """A result's figures as the audit log records them."""
    return {
        "status": status,
        "total": format_plain(unpadded(total)),
        "payable": format_plain(unpadded(payable)),
        "pending": format_plain(unpadded(pending)),
        "error": error,
    }


def _figures(
    run: PlanRun, rep: RepResult | None, known: dict[int, tuple[Reason, str]]
) -> tuple[Any, ...]:
    """A result's figures in ``_FIGURE_COLUMNS`` order, JSON columns as text. A component's
    reasons are not among them: they are stored once, on the component's line. ``known``:
    reasons' texts by identity (`explanations.encode_each`)."""
    if rep is None:
        why = run.error_reason
        return (
            ResultStatus.ERROR.value,
            run.error,
            run.plan.currency,
            *_ZERO_FIGURES,
            0,
            run.period.days,
            "[]",
            "[]",
            "[]" if why is None else explanations.encode((why,)),
        )
    # the JSON of _json([{"id", "name", "total", "count", "quota", "attainment"}, ...]) and of
    # _json([{"id", "name", "type", "amount", "payable", "pending"}, ...]), written directly
    # (a close writes 20,000 of each), each item's id and name once per plan
    measure_heads, component_heads = _heads(run.plan)
    measures = ",".join(
        [
            f'{measure_heads[m.id]}"total":"{m.total:f}","count":"{m.credited_count:f}",'
            f'"quota":{_json_number(m.quota)},"attainment":{_json_number(m.attainment)}}}'
            for m in rep.measures
        ]
    )
    components = ",".join(
        [
            f'{component_heads[c.id]}"type":{_string(c.type)},"amount":"{c.amount:f}",'
            f'"payable":"{c.payable:f}","pending":"{c.pending:f}"}}'
            for c in rep.components
        ]
    )
    return (
        ResultStatus.OK.value,
        None,
        rep.currency,
        rep.total,
        rep.payable,
        rep.pending,
        rep.cap_adjustment,
        rep.active_days,
        rep.period_days,
        f"[{measures}]",
        f"[{components}]",
        explanations.encode_each(rep.reasons, known),
    )


def _json_number(value: Decimal | None) -> str:
    return "null" if value is None else f'"{value:f}"'


_string = json.encoder.encode_basestring  # a JSON string of any letters as they are (C)
# a plan (by identity, kept) -> its measures' and its components' `_heads`
_HEADS: dict[int, tuple[EnginePlan, dict[str, str], dict[str, str]]] = {}


def _heads(plan: EnginePlan) -> tuple[dict[str, str], dict[str, str]]:
    """Each measure's and each component's id and display name as the start of its JSON
    object (``{"id":..,"name":..,``), once per plan."""
    known = _HEADS.get(id(plan))
    if known is None or known[0] is not plan:
        if len(_HEADS) >= 64:
            _HEADS.clear()
        known = _HEADS[id(plan)] = (
            plan,
            {
                m.id: f'{{"id":{_string(m.id)},"name":{_string(plan.measure_name(m.id))},'
                for m in plan.measures
            },
            {
                c.id: f'{{"id":{_string(c.id)},"name":{_string(plan.component_name(c.id))},'
                for c in plan.components
            },
        )
    return known[1], known[2]


async def _store_many(
    viewer: Viewer, people: Sequence[Payee], period: Period, runs: dict[UUID, list[PlanRun]]
) -> dict[UUID, list[tuple[Any, ...]]]:
    """Replace the stored results of ``people`` for ``period`` by ``runs`` (upsert per plan
    version, lines rewritten, results of versions no longer run removed), auditing every
    change of a result's figures, in a fixed number of statements (results and lines by
    COPY). Returns each person's result rows as stored (``_RESULT_COLUMNS``).

    Only what changed is written: a result whose figures and lines hash to its stored
    ``fingerprint`` is left as it is (no update, no line rewritten, no audit entry, and its
    ``computed_at`` keeps the time its figures last changed). The stored result still equals
    a fresh recompute: the fingerprint covers every stored column but the ids and that
    time."""
    stored: dict[UUID, list[tuple[Any, ...]]] = {u.id: [] for u in people}
    if not people:
        return stored
    db = connections.get("default")
    conn: Any
    async with db.acquire_connection() as conn:
        rows = await conn.fetch(_EXISTING, viewer.tenant_id, period.id, [u.id for u in people])
    existing = {(r[0], r[1]): r for r in rows}
    inserts, updates, lines, changes, stale = await _computed(
        _rows_to_store, viewer.tenant_id, people, period, runs, existing, stored
    )
    async with in_transaction():  # a savepoint: every result of the batch, or none
        async with db.acquire_connection() as conn:
            if updates:
                await conn.execute(
                    "DELETE FROM earnings_lines WHERE result_id = ANY($1::uuid[])",
                    [r[0] for r in updates],
                )
            if stale:  # their lines go with them (a trigger, migration 0046)
                await conn.execute("DELETE FROM earnings_results WHERE id = ANY($1::uuid[])", stale)
            if updates:
                assignments = ", ".join(
                    f"{name} = ${i}{'::jsonb' if name in _JSON_COLUMNS else ''}"
                    for i, name in enumerate(_RESULT_COLUMNS[1:], start=2)
                )
                await conn.executemany(
                    f"UPDATE earnings_results SET {assignments} WHERE id = $1",  # noqa: S608 - fixed names
                    updates,
                )
            if inserts:
                await conn.copy_records_to_table(
                    "earnings_results", records=inserts, columns=_RESULT_COLUMNS
                )
            if lines:
                await conn.copy_records_to_table(
                    "earnings_lines", records=lines, columns=LINE_COLUMNS
                )
        await record_many(viewer=viewer, changes=changes)
    return stored


Rows = list[tuple[Any, ...]]


def _rows_to_store(
    tenant_id: UUID,
    people: Sequence[Payee],
    period: Period,
    runs: dict[UUID, list[PlanRun]],
    existing: dict[tuple[UUID, UUID], Any],
    stored: dict[UUID, Rows],
) -> tuple[Rows, Rows, Rows, list[Change], list[UUID]]:
    """What `_store_many` writes: the result rows to insert and to update, their lines, the
    audit entries and the ids of the results to remove; each person's result rows as
    stored are added to ``stored``. A result whose fingerprint is its stored one is not
    written (nor its lines, nor an audit entry)."""
    now = utc_now()
    tenant_id = _as_asyncpg_uuid(tenant_id)  # in every line row: see `_new_ids`
    inserts: Rows = []
    updates: Rows = []
    lines: Rows = []
    changes: list[Change] = []
    keep: set[tuple[UUID, UUID]] = set()
    new_ids = _new_ids(sum(len(runs.get(u.id, ())) for u in people))
    # the texts of the transaction lines' reasons, for the whole batch: a component's plain
    # lines share one reasons object in a run (and every line at its rate, the first reason)
    line_texts: dict[int, tuple[Any, str]] = {}
    for user in people:
        for run in runs.get(user.id, ()):
            if run.rep_result is None and run.error is None:
                continue  # no active day in the period: not calculated (PLAN_SPEC 4)
            key = (user.id, run.version.id)
            keep.add(key)
            rep = run.rep_result
            # by identity: a reason's text made once for the person (a component's first
            # reason is its line's and its result's; the components on one measure share
            # their FX conversions)
            known: dict[int, tuple[Reason, str]] = {}
            figures = _figures(run, rep, known)
            old = existing.get(key)
            result_id = old["id"] if old is not None else next(new_ids)
            rows = (
                [] if rep is None else _line_rows(tenant_id, result_id, run, rep, known, line_texts)
            )
            fingerprint = _fingerprint(figures, rows)
            ids = (result_id, tenant_id, user.id, run.version.id, period.id)
            if old is not None and old["fingerprint"] == fingerprint:
                # nothing changed: nothing written
                stored[user.id].append((*ids, *figures, old["computed_at"], fingerprint))
                continue
            row = (*ids, *figures, now, fingerprint)
            (updates if old is not None else inserts).append(row)
            lines.extend(rows)
            stored[user.id].append(row)
            before = None if old is None else _state(*old[5:10])
            after = _state(*figures[:2], *figures[3:6])
            if before != after:
                changes.append(
                    Change("earnings.recomputed", "earnings_result", str(result_id), before, after)
                )
    stale = [r for key, r in existing.items() if key not in keep]
    for old in stale:
        changes.append(
            Change("earnings.removed", "earnings_result", str(old["id"]), _state(*old[5:10]), None)
        )
    return inserts, updates, lines, changes, [r["id"] for r in stale]


def _new_ids(count: int) -> Iterator[UUID]:
    """``count`` random (version 4) UUIDs from one read of the system's randomness: a
    syscall each was a preemption point per result on a busy machine. They are asyncpg's
    UUIDs (the standard one's subclass, equal and hashed alike), which COPY writes as they
    are: the standard one's bytes are a Python property, 0.3 us for each of a close's
    hundreds of thousands of line and result rows."""
    entropy = bytearray(os.urandom(16 * count))
    entropy[6::16] = bytes(b & 0x0F | 0x40 for b in entropy[6::16])  # version 4
    entropy[8::16] = bytes(b & 0x3F | 0x80 for b in entropy[8::16])  # RFC 4122's variant
    for i in range(count):
        yield AsyncpgUUID(bytes(entropy[16 * i : 16 * i + 16]))


def _as_asyncpg_uuid(value: UUID) -> UUID:
    """``value`` as asyncpg's UUID (see `_new_ids`)."""
    return value if type(value) is AsyncpgUUID else AsyncpgUUID(value.bytes)


def _fingerprint(figures: tuple[Any, ...], lines: list[tuple[Any, ...]]) -> str:
    """A hash of what a result stores: its figures and its lines, not their ids or time.
    Every value as its text, a separator no value holds between them (a line's values
    after its two ids: a close hashes 200,000 lines, joined in one go)."""
    values = chain(figures, chain.from_iterable(map(_LINE_CONTENT, lines)))
    return hashlib.sha256("\x1f".join(map(str, values)).encode()).hexdigest()


_LINE_CONTENT = itemgetter(slice(2, None))  # a line row without its result's and tenant's ids


def _result_model(row: tuple[Any, ...]) -> EarningsResult:
    """An EarningsResult of a row as `_store_many` stored it (JSON columns decoded)."""
    values = dict(zip(_RESULT_COLUMNS, row, strict=True))
    for name in _JSON_COLUMNS:
        values[name] = json.loads(values[name])
    values["status"] = ResultStatus(values["status"])
    result = EarningsResult(**values)
    result._saved_in_db = True
    return result


def _line_rows(
    tenant_id: UUID,
    result_id: UUID,
    run: PlanRun,
    rep: RepResult,
    known: dict[int, tuple[Reason, str]],
    line_texts: dict[int, tuple[Any, str]],
) -> list[tuple[Any, ...]]:
    """The rows of a result's lines, in ``LINE_COLUMNS`` order: one per component (its
    reasons (tier slices, steps, gate, cap) explain a single figure, so they share one line
    rather than each claiming the component's amount), then one per transaction line. The
    explanation is the line's reasons (`domain.engine.explanations`), exact and
    language-neutral, put into words in the reader's language when read."""
    rows: list[tuple[Any, ...]] = []
    plan_result = run.result
    for c in rep.components:
        status = "payable" if c.pending == 0 else ("pending" if c.payable == 0 else "partial")
        rows.append(
            (
                result_id,
                tenant_id,
                len(rows),
                c.id,
                None,
                None,
                None,
                None,
                c.amount,
                status,
                explanations.encode_each(plan_result.component_reasons(c), known),
            )
        )
    if not rep.lines:
        return rows
    # A line's transaction (its date, and what explains it) is one of the person's inputs,
    # the first of its id: looked up in a map of theirs, which the engine's explainer is
    # handed. The engine's own map of its run's transactions held a close chunk's 230,000
    # for its 29,000 lines (40 ms a chunk to build, 18 to look up).
    transaction_of = by_id(run.inputs.transactions).get
    explain, encode, rep_id = plan_result.explain_line, explanations.encode_each, rep.rep_id
    position = len(rows)
    for line in rep.lines:
        t = transaction_of(line.transaction_id)
        rows.append(
            (
                result_id,
                tenant_id,
                position,
                line.component,
                line.transaction_id,
                line.rep_id or None,
                None if t is None else t.date,
                line.value,
                line.amount,
                "payable" if line.payable else "pending",
                encode(explain(rep_id, line, t), line_texts),
            )
        )
        position += 1
    return rows


@dataclass(frozen=True, slots=True)
class WhatIfResult:
    currency: str
    before: Decimal
    after: Decimal

    @property
    def delta(self) -> Decimal:
        return self.after - self.before


async def what_if(
    *,
    viewer: Viewer,
    amount: Decimal,
    type: str = "deal",
    fields: dict[str, Any] | None = None,
) -> WhatIfResult:
    """The viewer's earnings this period with and without one more transaction (not stored)."""
    if viewer.user_id is None:
        raise InvalidInput("what-if needs a rep", field="me")
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise InvalidInput("must be a decimal number", field="amount")
    check_decimal(amount, field="amount")  # what a stored transaction's amount may be
    extra_fields = dict(fields or {})
    for reserved in ("id", "rep_id", "amount", "amount_original", "date"):
        if reserved in extra_fields:
            raise InvalidInput(f"{reserved!r} cannot be set in fields", field=f"fields.{reserved}")
    user = await UserRepository(viewer).get(viewer.user_id)
    tenant = await get_tenant(viewer.tenant_id)
    today = datetime.now(ZoneInfo(tenant.time_zone)).date()
    # each plan in its own current period: a quarterly plan's this quarter, a monthly one's
    # this month (run_plans keeps only the versions paid per the period's kind)
    periods = [period_containing(today, kind) for kind in PERIOD_KINDS]
    state = extra_fields.pop("state", "won")
    currency = extra_fields.pop("currency", None)
    before_runs = [run for period in periods for run in await run_plans(viewer, user, period)]
    if not before_runs:
        raise InvalidInput("you are on no plan this period", field="me")
    currency = currency or before_runs[0].plan.currency
    hypothetical = Transaction.build(
        id=WHAT_IF_ID,
        rep_id=user.external_id,
        amount=amount,
        currency=currency,
        date=today,
        type=type,
        state=state,
        extra={k: _field_value(v) for k, v in extra_fields.items()},
    )
    after_runs = [
        run
        for period in periods
        for run in await run_plans(viewer, user, period, extra=[hypothetical])
    ]
    return WhatIfResult(
        currency=_one_currency(before_runs),
        before=_sum_totals(before_runs),
        after=_sum_totals(after_runs),
    )


def _one_currency(runs: list[PlanRun]) -> str:
    currencies = {r.plan.currency for r in runs}
    if len(currencies) > 1:
        raise InvalidInput(
            f"your plans pay in {', '.join(sorted(currencies))}: totals cannot be added",
            field="currency",
        )
    return currencies.pop()


def _sum_totals(runs: list[PlanRun]) -> Decimal:
    total = Decimal(0)
    for run in runs:
        if run.error:
            raise InvalidInput(f"{run.plan.id}: {run.error}", field="me")
        rep = run.rep_result
        if rep is not None:
            total += rep.total
    return round_money(total, runs[0].plan.currency) if runs else total
