"""Earnings use cases: recompute people's periods with the engine and store them; what-if.

Every recompute goes through one batch path, `recompute_many`: the real-time worker,
`podium recompute`, the close (domain.earnings.close) and `recompute_rep_period` (one
person, for callers that have one). It loads the same inputs and calls the same engine as
`podium simulate`. Services never commit: the caller (a worker job, the CLI) owns the
transaction; a batch's writes run in a savepoint of it, so a caller that catches its failure
and carries on never commits half a result.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

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
from domain.engine.inputs import ONE, Assignment, FxTable, Inputs, Rep, Transaction
from domain.engine.plan import Plan as EnginePlan
from domain.engine.results import Explainer, PlanResult, RepResult
from domain.kit.clock import utc_now
from domain.kit.errors import DomainError, Forbidden, InvalidInput, NotFound
from domain.kit.money import format_plain, round_money, unpadded
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
from domain.plans.models import AssignmentStatus, PlanAssignment, PlanVersion, Quota
from domain.plans.repository import PlanRepository
from domain.plans.service import compile_version
from domain.tenants.repository import get_tenant

WHAT_IF_ID = "what-if"


@dataclass(frozen=True, slots=True)
class PlanRun:
    """One plan version calculated for one rep and period."""

    version: PlanVersion
    plan: EnginePlan
    period: Period
    user: User
    inputs: Inputs
    result: PlanResult

    @property
    def rep_result(self) -> RepResult | None:
        return self.result.reps[0] if self.result.reps else None

    @property
    def error(self) -> str | None:
        return self.result.errors[0].message if self.result.errors else None


async def current_period(viewer: Viewer, kind: PeriodKind | None = None) -> Period:
    """The period containing today in the tenant's time zone."""
    tenant = await get_tenant(viewer.tenant_id)
    today = datetime.now(ZoneInfo(tenant.time_zone)).date()
    settings: dict[str, Any] = dict(tenant.settings or {})
    chosen = kind or settings.get("period_kind", "month")
    return period_containing(today, chosen)


async def _load_inputs(
    viewer: Viewer,
    user: User,
    version: PlanVersion,
    plan: EnginePlan,
    period: Period,
    extra: list[Transaction] | None = None,
) -> Inputs:
    users = UserRepository(viewer)
    if plan.has_team_scope:
        member_ids = await users.subtree_ids(user.id)
        members = await User.filter(tenant_id=viewer.tenant_id, id__in=member_ids)
    else:
        members = [user]
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
    viewer: Viewer, people: Sequence[User], period: Period
) -> list[Transaction]:
    """The period's live transactions credited to any of ``people`` (a team), each once."""
    found = await _transactions_of_each(viewer, people, period)
    return list({id(t): t for each in found.values() for t in each}.values())


# The period's live transactions credited to any of a batch's people, in two parts: each
# person's own transactions (not split) through the (tenant, rep, date) index, and the split
# ones crediting any of them through the GIN index of split rows' credited ids (migration
# 0011). Reading a chunk's rows this way visits only them; the GIN index over every row's
# credited ids, which the batch used before, rechecked each row against the whole chunk.
# An amount comes as text without its padding: Decimal(text) is what `unpadded` makes of
# the NUMERIC(20, 6) (40000, not 4E+4 as the binary form decodes).
_CREDITED_TRANSACTIONS = """
    SELECT external_id, rep_id, trim_scale(amount)::text, currency, date, type, state,
           extra_fields, NULL::jsonb, NULL::jsonb
    FROM transactions
    WHERE tenant_id = $1 AND rep_id = ANY($4::uuid[]) AND date BETWEEN $2 AND $3
      AND splits IS NULL AND NOT deleted
    UNION ALL
    SELECT external_id, rep_id, trim_scale(amount)::text, currency, date, type, state,
           extra_fields, splits, credited_user_ids
    FROM transactions
    WHERE tenant_id = $1 AND splits IS NOT NULL AND credited_user_ids ?| $5::text[]
      AND date BETWEEN $2 AND $3 AND NOT deleted
"""


async def _transactions_of_each(
    viewer: Viewer, people: Sequence[User], period: Period
) -> dict[UUID, list[Transaction]]:
    """The period's live transactions credited to each of ``people`` (one statement), people
    named by their CRM ids. A split transaction is one object in each of its credited
    people's lists."""
    out: dict[UUID, list[Transaction]] = {u.id: [] for u in people}
    if not people:
        return out
    ids = list(out)
    conn: Any
    async with connections.get("default").acquire_connection() as conn:
        rows = await conn.fetch(
            _CREDITED_TRANSACTIONS,
            viewer.tenant_id,
            period.start,
            period.end,
            ids,
            [str(u) for u in ids],
        )
    external = {u.id: u.external_id for u in people}
    split_rows = []
    # the same few values repeat across a period's rows (an extra-fields document, a day, a
    # person's sole credit): each converted once per batch, shared by the rows (read-only)
    extras: dict[str, dict[str, Any]] = {}
    days: dict[date, str] = {}
    sole: dict[UUID, tuple[tuple[str, Decimal], ...]] = {}
    new = Transaction
    for row in rows:
        (tid, rep_uuid, amount_text, currency, day, type_, state, extra_text, splits, _) = row
        if splits is not None:
            split_rows.append(row)
            continue
        credits = sole.get(rep_uuid)
        if credits is None:
            credits = sole[rep_uuid] = ((external[rep_uuid], ONE),)
        rep = credits[0][0]
        extra = extras.get(extra_text)
        if extra is None:
            extra = extras[extra_text] = _extra_fields(extra_text)
        iso = days.get(day)
        if iso is None:
            iso = days[day] = day.isoformat()
        amount = Decimal(amount_text)
        # the fields of Transaction.build, in its order (the extra fields, then the columns)
        fields = {
            **extra,
            "id": tid,
            "rep_id": rep,
            "type": type_,
            "amount": amount,
            "amount_original": amount,
            "currency": currency,
            "date": iso,
            "state": state,
        }
        out[rep_uuid].append(new(tid, rep, amount, currency, day, credits, fields))
    if split_rows:
        await _add_splits(viewer, split_rows, external, extras, out)
    return out


async def _add_splits(
    viewer: Viewer,
    rows: list[Any],
    external: dict[UUID, str],
    extras: dict[str, dict[str, Any]],
    out: dict[UUID, list[Transaction]],
) -> None:
    """The split transactions among ``rows`` (see `_CREDITED_TRANSACTIONS`), each in the
    lists of its credited people that ``out`` holds; partners and owners outside the batch
    are named too (one more statement)."""
    decoded = [(row, _decode(row[8]), _decode(row[9]) or []) for row in rows]
    wanted = {UUID(str(s["rep_id"])) for _, splits, _ in decoded for s in splits or ()}
    wanted |= {row[1] for row in rows}
    missing = [u for u in wanted if u not in external]
    if missing:
        for user_id, external_id in await User.filter(
            tenant_id=viewer.tenant_id, id__in=missing
        ).values_list("id", "external_id"):
            external[user_id] = external_id
    named = {str(k): v for k, v in external.items()}
    for row, splits, credited in decoded:
        tid, rep_uuid, amount_text, currency, day, type_, state, extra_text, _, _ = row
        rep = external.get(rep_uuid, str(rep_uuid))
        extra = extras.get(extra_text)
        if extra is None:
            extra = extras[extra_text] = _extra_fields(extra_text)
        transaction = Transaction.build(
            id=tid,
            rep_id=rep,
            amount=Decimal(amount_text),
            currency=currency,
            date=day,
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


async def _plan_runs_many(
    viewer: Viewer,
    users: Sequence[User],
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
    every_assignment = await PlanAssignment.filter(tenant_id=tenant_id, user_id__in=ids).order_by(
        "effective_from", "id"
    )
    live = (AssignmentStatus.OFFERED, AssignmentStatus.ACCEPTED)
    active: dict[UUID, list[PlanAssignment]] = {}
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
    transactions = await _transactions_of_each(viewer, self_scope, period)
    if extra:
        for found in transactions.values():
            found.extend(extra)
    quotas: dict[UUID, dict[tuple[str, str], Decimal]] = {}
    for q in await Quota.filter(tenant_id=tenant_id, user_id__in=list(chosen), period=period.id):
        quotas.setdefault(q.user_id, {})[(by_id[q.user_id].external_id, q.measure)] = unpadded(
            q.value
        )
    plan_currencies = {p.currency for p in compiled.values()}
    foreign = {t.currency for found in transactions.values() for t in found}
    fx = {
        currency: await _fx(viewer, sorted(foreign - {currency}), currency, period.end)
        for currency in sorted(plan_currencies)
    }
    assignments_of: dict[UUID, list[PlanAssignment]] = {}
    for a in every_assignment:
        if a.status is not AssignmentStatus.DECLINED:
            assignments_of.setdefault(a.user_id, []).append(a)
    runs: dict[tuple[UUID, UUID], PlanRun] = {}
    # a self-scope version -> its people, calculated together
    batches: dict[UUID, tuple[PlanVersion, list[tuple[User, Inputs]]]] = {}
    for user_id, versions in chosen.items():
        user = by_id[user_id]
        for version in versions:
            plan = compiled[version.id]
            if plan.has_team_scope:
                inputs = await _load_inputs(viewer, user, version, plan, period, extra)
                result = calculate(plan, period, inputs, rep_ids=[user.external_id])
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
        results = _calculate_each(plan, period, people)
        for (user, inputs), result in zip(people, results, strict=True):
            runs[(user.id, version_id)] = PlanRun(version, plan, period, user, inputs, result)
    return {
        user_id: [runs[(user_id, v.id)] for v in versions] for user_id, versions in chosen.items()
    }


def _calculate_each(
    plan: EnginePlan, period: Period, people: list[tuple[User, Inputs]]
) -> list[PlanResult]:
    """Each person's result of a self-scope plan, from one engine call for all of them: a
    self-scope result depends only on the person's own inputs (their reps, transactions,
    quotas, assignments; the plan's rates), so one call over their union gives each person
    what a call of their own would, without the engine's fixed cost per call."""
    seen: dict[int, Transaction] = {}  # a split deal is one object in each partner's list
    quotas: dict[tuple[str, str], Decimal] = {}
    for _, inputs in people:
        for t in inputs.transactions:
            seen.setdefault(id(t), t)
        quotas.update(inputs.quotas)
    merged = Inputs(
        reps=tuple(r for _, inputs in people for r in inputs.reps),
        transactions=tuple(seen.values()),
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
    results: list[EarningsResult]
    refused: DomainError | None = None
    transactions: int = 0  # the engine read this many (progress, rates)


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
    unique = list(dict.fromkeys((UUID(str(u)), p) for u, p in pairs))
    # A batch allocates a few objects per transaction and frees them all at its end: with
    # the cyclic collector on, each of the engine's results, lines and the chunk's
    # transactions was scanned again and again while alive (a fifth of a close's time).
    # Paused until the batch's objects are gone (freed by their reference counts), so the
    # collector resumes with nearly nothing new to scan.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return await _recompute_batch(viewer, unique)
    finally:
        if was_enabled:
            gc.enable()


async def _recompute_batch(viewer: Viewer, unique: list[tuple[UUID, str]]) -> list[Recomputed]:
    periods = {p: parse_period(p) for p in dict.fromkeys(p for _, p in unique)}
    out: dict[tuple[UUID, str], Recomputed] = {}
    async with in_transaction():
        users = {
            u.id: u
            for u in await User.filter(
                tenant_id=viewer.tenant_id, id__in=sorted({u for u, _ in unique})
            )
            .order_by("id")
            .select_for_update(no_key=True)
        }
        closed = {
            str(k)
            for k in await StoredPeriod.filter(
                tenant_id=viewer.tenant_id, key__in=list(periods), status=PeriodStatus.CLOSED
            ).values_list("key", flat=True)
        }
        for period_id, parsed in periods.items():
            people: list[User] = []
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
    stored = await StoredPeriod.filter(tenant_id=viewer.tenant_id, key=parsed.id).first()
    before = None if stored is None else {"status": stored.status.value}
    if stored is None:
        stored = await StoredPeriod.create(
            tenant_id=viewer.tenant_id,
            key=parsed.id,
            kind=parsed.kind,
            starts_on=parsed.start,
            ends_on=parsed.end,
            status=PeriodStatus.CLOSED,
            closed_at=utc_now(),
        )
    elif stored.status is PeriodStatus.CLOSED:
        raise PeriodClosed(f"{parsed.id} is closed already", field="period")
    else:
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


def _result_state(r: EarningsResult) -> dict[str, Any]:
    return {
        "status": r.status.value if isinstance(r.status, ResultStatus) else str(r.status),
        "total": format_plain(unpadded(r.total)),
        "payable": format_plain(unpadded(r.payable)),
        "pending": format_plain(unpadded(r.pending)),
        "error": r.error,
    }


def _result_values(
    viewer: Viewer, run: PlanRun, now: datetime, rep: RepResult | None
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "tenant_id": viewer.tenant_id,
        "user_id": run.user.id,
        "plan_version_id": run.version.id,
        "period": run.period.id,
        "currency": run.plan.currency,
        "computed_at": now,
    }
    if rep is None:
        values.update(
            status=ResultStatus.ERROR,
            error=run.error,
            total=Decimal(0),
            payable=Decimal(0),
            pending=Decimal(0),
            cap_adjustment=Decimal(0),
            active_days=0,
            period_days=run.period.days,
            measures=[],
            components=[],
            explanation=[],
        )
        return values
    values.update(
        status=ResultStatus.OK,
        error=None,
        total=rep.total,
        payable=rep.payable,
        pending=rep.pending,
        cap_adjustment=rep.cap_adjustment,
        active_days=rep.active_days,
        period_days=rep.period_days,
        measures=[
            {
                "id": m.id,
                "name": run.plan.measure_name(m.id),
                "total": format_plain(m.total),
                "count": format_plain(m.credited_count),
                "quota": None if m.quota is None else format_plain(m.quota),
                "attainment": None if m.attainment is None else format_plain(m.attainment),
            }
            for m in rep.measures
        ],
        components=[
            {
                "id": c.id,
                "name": run.plan.component_name(c.id),
                "type": c.type,
                "amount": format_plain(c.amount),
                "payable": format_plain(c.payable),
                "pending": format_plain(c.pending),
                "explanation": explanations.plain(c.reasons),
            }
            for c in rep.components
        ],
        explanation=explanations.plain(rep.reasons),
    )
    return values


_RESULT_COLUMNS = (
    "id",
    "tenant_id",
    "user_id",
    "plan_version_id",
    "period",
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
    "computed_at",
    "fingerprint",
)
_JSON_COLUMNS = frozenset({"measures", "components", "explanation"})
_LINE_COLUMNS = (
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


def _column_value(name: str, values: dict[str, Any]) -> Any:
    value = values[name]
    if name in _JSON_COLUMNS:
        return json.dumps(value)
    if isinstance(value, ResultStatus):
        return value.value
    return value


async def _store_many(
    viewer: Viewer, people: Sequence[User], period: Period, runs: dict[UUID, list[PlanRun]]
) -> dict[UUID, list[EarningsResult]]:
    """Replace the stored results of ``people`` for ``period`` by ``runs`` (upsert per plan
    version, lines rewritten, results of versions no longer run removed), auditing every
    change of a result's figures, in a fixed number of statements (lines by COPY).

    Only what changed is written: a result whose figures and lines hash to its stored
    ``fingerprint`` is left as it is (no update, no line rewritten, no audit entry, and its
    ``computed_at`` keeps the time its figures last changed). The stored result still equals
    a fresh recompute: the fingerprint covers every stored column but the id and that time."""
    stored: dict[UUID, list[EarningsResult]] = {u.id: [] for u in people}
    if not people:
        return stored
    db = connections.get("default")
    existing = {
        (r.user_id, r.plan_version_id): r
        for r in await EarningsResult.filter(
            tenant_id=viewer.tenant_id, user_id__in=[u.id for u in people], period=period.id
        )
    }
    now = utc_now()
    inserts: list[EarningsResult] = []
    updates: list[EarningsResult] = []
    lines: list[tuple[Any, ...]] = []
    changes: list[Change] = []
    keep: set[tuple[UUID, UUID]] = set()
    for user in people:
        for run in runs.get(user.id, ()):
            if run.rep_result is None and run.error is None:
                continue  # no active day in the period: not calculated (PLAN_SPEC 4)
            key = (user.id, run.version.id)
            keep.add(key)
            rep = _reasons_once(run.rep_result)
            values = _result_values(viewer, run, now, rep)
            old = existing.get(key)
            rows: list[tuple[Any, ...]] = []
            if rep is not None:
                dates = {t.id: t.date for t in run.inputs.transactions}
                rows = _line_rows(viewer, old.id if old else uuid4(), run.result, rep, dates)
            values["fingerprint"] = _fingerprint(values, rows)
            if old is not None and old.fingerprint == values["fingerprint"]:
                stored[user.id].append(old)  # nothing changed: nothing written
                continue
            before = _result_state(old) if old is not None else None
            if old is not None:
                old.update_from_dict(values)
                result, target = old, updates
            else:
                result = EarningsResult(id=rows[0][0] if rows else uuid4(), **values)
                result._saved_in_db = True  # written below, in the same statement batch
                target = inserts
            if rows and rows[0][0] != result.id:
                rows = [(result.id, *row[1:]) for row in rows]
            lines.extend(rows)
            target.append(result)
            stored[user.id].append(result)
            after = _result_state(result)
            if before != after:
                changes.append(
                    Change("earnings.recomputed", "earnings_result", str(result.id), before, after)
                )
    stale = [r for key, r in existing.items() if key not in keep]
    for old in stale:
        changes.append(
            Change("earnings.removed", "earnings_result", str(old.id), _result_state(old), None)
        )
    async with in_transaction():  # a savepoint: every result of the batch, or none
        rewritten = [r.id for r in updates] + [r.id for r in stale]
        if rewritten:
            await db.execute_query(
                "DELETE FROM earnings_lines WHERE result_id = ANY($1::uuid[])", [rewritten]
            )
        if stale:
            await db.execute_query(
                "DELETE FROM earnings_results WHERE id = ANY($1::uuid[])", [[r.id for r in stale]]
            )
        if updates:
            assignments = ", ".join(
                f"{name} = ${i}{'::jsonb' if name in _JSON_COLUMNS else ''}"
                for i, name in enumerate(_RESULT_COLUMNS[1:], start=2)
            )
            await db.execute_many(
                f"UPDATE earnings_results SET {assignments} WHERE id = $1",  # noqa: S608 - fixed names
                [_result_row(r) for r in updates],
            )
        if inserts or lines:
            conn: Any
            async with db.acquire_connection() as conn:
                if inserts:
                    await conn.copy_records_to_table(
                        "earnings_results",
                        records=[_result_row(r) for r in inserts],
                        columns=list(_RESULT_COLUMNS),
                    )
                if lines:
                    await conn.copy_records_to_table(
                        "earnings_lines", records=lines, columns=list(_LINE_COLUMNS)
                    )
        await record_many(viewer=viewer, changes=changes)
    return stored


def _reasons_once(rep: RepResult | None) -> RepResult | None:
    """``rep`` with each component's reasons rendered once: the result's explanation and its
    component line both read them."""
    if rep is None:
        return None
    return rep._replace(
        components=tuple(c._replace(explain=_constant(c.reasons)) for c in rep.components)
    )


def _constant(reasons: tuple[Reason, ...]) -> Explainer:
    return lambda: reasons


def _fingerprint(values: dict[str, Any], lines: list[tuple[Any, ...]]) -> str:
    """A hash of what a result stores (its figures and its lines, not its ids or time)."""
    figures = tuple(
        _column_value(name, values)
        for name in _RESULT_COLUMNS
        if name not in ("id", "computed_at", "fingerprint")
    )
    body = repr((figures, [row[1:] for row in lines]))
    return hashlib.sha256(body.encode()).hexdigest()


def _placeholder(index: int, name: str) -> str:
    return f"${index}::jsonb" if name in _JSON_COLUMNS else f"${index}"


def _result_row(result: EarningsResult) -> tuple[Any, ...]:
    values = {name: getattr(result, name) for name in _RESULT_COLUMNS}
    return tuple(_column_value(name, values) for name in _RESULT_COLUMNS)


def _line_rows(
    viewer: Viewer,
    result_id: UUID,
    plan_result: PlanResult,
    rep: RepResult,
    dates: dict[str, date],
) -> list[tuple[Any, ...]]:
    """The rows of a result's lines, in ``_LINE_COLUMNS`` order: one per component (its
    reasons (tier slices, steps, gate, cap) explain a single figure, so they share one line
    rather than each claiming the component's amount), then one per transaction line. The
    explanation is the line's reasons (`domain.engine.explanations`), exact and
    language-neutral, put into words in the reader's language when read."""
    rows: list[tuple[Any, ...]] = []
    for c in rep.components:
        status = "payable" if c.pending == 0 else ("pending" if c.payable == 0 else "partial")
        rows.append(
            (
                result_id,
                viewer.tenant_id,
                len(rows),
                c.id,
                None,
                None,
                None,
                None,
                c.amount,
                status,
                explanations.encode(plan_result.component_reasons(c)),
            )
        )
    for line in rep.lines:
        rows.append(
            (
                result_id,
                viewer.tenant_id,
                len(rows),
                line.component,
                line.transaction_id,
                line.rep_id or None,
                dates.get(line.transaction_id),
                line.value,
                line.amount,
                "payable" if line.payable else "pending",
                explanations.encode(plan_result.explain_line(rep.rep_id, line)),
            )
        )
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
