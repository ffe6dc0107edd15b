"""Earnings use cases: recompute a rep's period with the engine and store it; what-if.

Both load the same inputs and call the same engine as `podium simulate`. Services never
commit: the caller (a worker job, the CLI) owns the transaction. `recompute_rep_period` still
replaces a result and its lines atomically on its own, in a savepoint of that transaction, so
a caller that catches its failure and carries on never commits half a result.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from tortoise import connections
from tortoise.transactions import in_transaction

from domain.audit.service import record
from domain.crm.models import FxRate
from domain.earnings.errors import PeriodClosed
from domain.earnings.models import EarningsLine, EarningsResult, PeriodStatus, ResultStatus
from domain.earnings.models import Period as StoredPeriod
from domain.engine.calculate import calculate
from domain.engine.inputs import Assignment, FxTable, Inputs, Rep, Transaction
from domain.engine.plan import Plan as EnginePlan
from domain.engine.results import PlanResult, RepResult
from domain.kit.clock import utc_now
from domain.kit.errors import Forbidden, InvalidInput
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
from domain.plans.models import PlanAssignment, PlanVersion
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


async def _versions_for(
    viewer: Viewer, user: User, period: Period
) -> list[tuple[PlanVersion, PlanAssignment]]:
    plans = PlanRepository(viewer)
    out: list[tuple[PlanVersion, PlanAssignment]] = []
    seen: set[UUID] = set()
    for assignment in await plans.active_assignments(user.id, period.start, period.end):
        version = await plans.version_on(assignment.plan_id, period.start)
        if version is None or version.period_kind != period.kind or version.id in seen:
            continue
        seen.add(version.id)
        out.append((version, assignment))
    return out


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
    transactions = await _transactions(viewer, list(by_id), period, by_id)
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
    viewer: Viewer, user_ids: list[UUID], period: Period, by_id: dict[UUID, User]
) -> list[Transaction]:
    rows = await connections.get("default").execute_query_dict(
        """
        SELECT external_id, rep_id, amount, currency, date, type, state, splits, extra_fields
        FROM transactions
        WHERE tenant_id = $1 AND NOT deleted AND date BETWEEN $2 AND $3
          AND credited_user_ids ?| $4::text[]
        """,
        [viewer.tenant_id, period.start, period.end, [str(u) for u in user_ids]],
    )
    external = {str(k): u.external_id for k, u in by_id.items()}
    missing = {
        rid for r in rows for rid in (*_credited(r), str(r["rep_id"])) if rid not in external
    }
    if missing:  # split partners outside the loaded team: map their ids too
        for u in await User.filter(tenant_id=viewer.tenant_id, id__in=list(missing)):
            external[str(u.id)] = u.external_id
    out: list[Transaction] = []
    for r in rows:
        splits = _decode(r["splits"])
        extra = _decode(r["extra_fields"]) or {}
        out.append(
            Transaction.build(
                id=r["external_id"],
                rep_id=external.get(str(r["rep_id"]), str(r["rep_id"])),
                amount=unpadded(r["amount"]),
                currency=r["currency"],
                date=r["date"],
                type=r["type"],
                state=r["state"],
                splits=[
                    (external.get(s["rep_id"], s["rep_id"]), Decimal(s["share"])) for s in splits
                ]
                if splits
                else None,
                extra={k: _field_value(v) for k, v in extra.items()},
            )
        )
    return out


def _credited(row: dict[str, Any]) -> list[str]:
    splits = _decode(row["splits"])
    if splits:
        return [s["rep_id"] for s in splits]
    return [str(row["rep_id"])]


def _decode(value: Any) -> Any:
    """JSONB as asyncpg returns it (text); numbers with a fraction become exact Decimals."""
    if isinstance(value, str):
        return json.loads(value, parse_float=Decimal)
    return value


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
    runs: list[PlanRun] = []
    for version, _ in await _versions_for(viewer, user, period):
        plan = compile_version(version)
        inputs = await _load_inputs(viewer, user, version, plan, period, extra)
        result = calculate(plan, period, inputs, rep_ids=[user.external_id])
        runs.append(PlanRun(version, plan, period, user, inputs, result))
    return runs


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
    parsed = parse_period(period)
    users = UserRepository(viewer)
    async with in_transaction():
        visible_id = await users.require_visible_id(user_id)
        # one recompute of a rep at a time (jobs are delivered at least once, maybe twice)
        user = await users.get(visible_id, for_update=True)
        await _require_open(viewer, parsed)
        runs = await run_plans(viewer, user, parsed)
        stored: list[EarningsResult] = []
        keep: set[UUID] = set()
        for run in runs:
            if run.rep_result is None and run.error is None:
                continue  # no active day in the period: not calculated (PLAN_SPEC 4)
            stored.append(await _store(viewer, run))
            keep.add(run.version.id)
        stale = EarningsResult.filter(tenant_id=viewer.tenant_id, user_id=user.id, period=parsed.id)
        if keep:
            stale = stale.filter(plan_version_id__not_in=list(keep))
        for old in await stale:
            await record(
                viewer=viewer,
                action="earnings.removed",
                entity_type="earnings_result",
                entity_id=str(old.id),
                before=_result_state(old),
                after=None,
            )
            await old.delete()
    return stored


async def _require_open(viewer: Viewer, period: Period) -> None:
    closed = await StoredPeriod.filter(
        tenant_id=viewer.tenant_id, key=period.id, status=PeriodStatus.CLOSED
    ).exists()
    if closed:
        raise PeriodClosed(f"{period.id} is closed: its results are final", field="period")


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


async def _store(viewer: Viewer, run: PlanRun) -> EarningsResult:
    existing = await EarningsResult.get_or_none(
        tenant_id=viewer.tenant_id,
        user_id=run.user.id,
        plan_version_id=run.version.id,
        period=run.period.id,
    )
    before = _result_state(existing) if existing else None
    rep = run.rep_result
    values: dict[str, Any] = {
        "tenant_id": viewer.tenant_id,
        "user_id": run.user.id,
        "plan_version_id": run.version.id,
        "period": run.period.id,
        "currency": run.plan.currency,
        "computed_at": utc_now(),
    }
    if rep is None:
        values.update(
            status=ResultStatus.ERROR,
            error=run.error,
            total=0,
            payable=0,
            pending=0,
            cap_adjustment=0,
            active_days=0,
            period_days=run.period.days,
            measures=[],
            components=[],
            explanation=[],
        )
    else:
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
                    "type": c.type,
                    "amount": format_plain(c.amount),
                    "payable": format_plain(c.payable),
                    "pending": format_plain(c.pending),
                    "explanation": list(c.explanation),
                }
                for c in rep.components
            ],
            explanation=list(rep.explanation),
        )
    if existing is not None:
        await EarningsLine.filter(result_id=existing.id).delete()
        existing.update_from_dict(values)
        await existing.save()
        result = existing
    else:
        result = await EarningsResult.create(**values)
    if rep is not None:
        dates = {t.id: t.date for t in run.inputs.transactions}
        await EarningsLine.bulk_create(_lines(viewer, result, rep, dates), batch_size=1000)
    after = _result_state(result)
    if before != after:
        await record(
            viewer=viewer,
            action="earnings.recomputed",
            entity_type="earnings_result",
            entity_id=str(result.id),
            before=before,
            after=after,
        )
    return result


def _lines(
    viewer: Viewer, result: EarningsResult, rep: RepResult, dates: dict[str, date]
) -> list[EarningsLine]:
    lines: list[EarningsLine] = []
    position = 0
    for c in rep.components:
        # one line per component: its reasons (tier slices, steps, gate, cap) explain a single
        # figure, so they share one line rather than each claiming the component's amount
        status = "payable" if c.pending == 0 else ("pending" if c.payable == 0 else "partial")
        lines.append(
            EarningsLine(
                result_id=result.id,
                tenant_id=viewer.tenant_id,
                position=position,
                component=c.id,
                transaction_external_id=None,
                credited_rep=None,
                occurred_on=None,
                value=None,
                amount=c.amount,
                status=status,
                explanation="; ".join(c.explanation),
            )
        )
        position += 1
    for line in rep.lines:
        lines.append(
            EarningsLine(
                result_id=result.id,
                tenant_id=viewer.tenant_id,
                position=position,
                component=line.component,
                transaction_external_id=line.transaction_id,
                credited_rep=line.rep_id or None,
                occurred_on=dates.get(line.transaction_id),
                value=line.value,
                amount=line.amount,
                status="payable" if line.payable else "pending",
                explanation=line.explanation,
            )
        )
        position += 1
    return lines


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
