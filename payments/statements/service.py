"""Statements: built per payee, period and currency from the frozen results of a closed
period, the period's rewards (contest prizes) and adjustments, and the corrections of late
changes to earlier closed periods (clawbacks); approved, then paid. Each step is audited. A
change to an approved statement is a new version to approve again (the old one stays as it
was approved); a paid statement is not changed (its payee's next period is). One approved
that owes below zero (`balances_owed`: a partner's in their invoices' terms) is carried,
once, into the payee's next statement built or changed in its currency (a CARRY_FORWARD
line), and is then settled as ``carried``, changed no more either.

Services never commit: the resolver or command owns the transaction.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any, NamedTuple
from uuid import UUID, uuid4

from tortoise import connections

from domain.audit.service import Change, record, record_many
from domain.earnings.models import EarningsLine, EarningsResult, LateEvent, PeriodStatus
from domain.earnings.models import Period as StoredPeriod
from domain.earnings.service import run_plans
from domain.engine.explanations import render_stored
from domain.kit.clock import utc_now
from domain.kit.collector import collector_paused
from domain.kit.errors import DomainError, Forbidden, NotFound, quoted
from domain.kit.money import ZERO, format_amount, is_currency, round_money
from domain.kit.numbers import MAX_INTEGER_DIGITS, check_decimal
from domain.kit.periods import parse_period
from domain.kit.text import control_character
from domain.notifications.texts import language_of, money_text, period_text
from domain.org.models import Role, User
from domain.org.repository import UserRepository
from domain.org.viewer import Viewer
from domain.plans.models import PlanVersion
from domain.rewards.models import Reward
from domain.tenants.repository import get_tenant
from payments import documents
from payments.disputes.models import Dispute, DisputeStatus
from payments.draws import service as draws
from payments.invoices import service as invoices
from payments.statements.errors import AdjustmentError, ApprovalRefused, StatementError
from payments.statements.models import (
    Adjustment,
    LineKind,
    Statement,
    StatementLine,
    StatementStatus,
)
from payments.statements.repository import StatementRepository
from payments.statements.texts import describe

MAX_REASON = 500
TEXT_BREAKS = "\n\r\t"  # the control characters a free text may hold (several lines)
MAX_TOTAL = Decimal(10) ** MAX_INTEGER_DIGITS  # a statement's total: NUMERIC(20, 6)
CAP_PART = ""  # a result's payable beyond its components' (a plan cap): its own part


# --- who may do what ----------------------------------------------------------------------


async def approvable_ids(viewer: Viewer) -> list[UUID] | None:
    """Whose statements the viewer may approve and adjust: None for the whole tenant (admins,
    payout ops), a manager's subtree without themselves; nobody else's."""
    if viewer.sees_whole_tenant:
        return None
    if viewer.role is Role.MANAGER and viewer.user_id is not None:
        subtree = await UserRepository(viewer).subtree_ids(viewer.user_id)
        return [i for i in subtree if i != viewer.user_id]
    return []


def _require_finance(viewer: Viewer, field: str) -> None:
    if not viewer.sees_whole_tenant:
        raise Forbidden("only admins and payout ops may do this", field=field)


def _period_id(period: str) -> str:
    return parse_period(period).id  # PeriodError (field "period") when not a period id


# --- building -----------------------------------------------------------------------------


@dataclass(slots=True)
class _Line:
    kind: LineKind
    amount: Decimal
    source: str
    params: dict[str, Any]
    original_period: str | None = None
    original_line_id: int | None = None
    params_json: str | None = None  # ``params`` as JSON, when made faster than json.dumps

    def params_text(self) -> str:
        return self.params_json or json.dumps(self.params)


@dataclass(slots=True)
class _Draft:
    user_id: UUID
    currency: str
    lines: list[_Line] = field(default_factory=list)
    plan_versions: set[str] = field(default_factory=set)
    inputs: list[Any] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class BuildSummary:
    period: str
    built: int  # by this call
    lines: int
    statements: int  # the period's statements in force after it
    # (CRM id, why): no statement was built, or a balance below zero was left owed
    errors: list[tuple[str, str]]
    owed: list[tuple[str, str]] = field(default_factory=list)  # those of ``errors`` left owed

    def error_lines(self) -> list[str]:
        """``errors`` as the command line prints them."""
        return [
            f"{rep}: {why}" if (rep, why) in self.owed else f"no statement for {rep}: {why}"
            for rep, why in self.errors
        ]


async def build_statements(*, viewer: Viewer, period: str) -> BuildSummary:
    """Draft statements for every payee of a closed period that has none yet: idempotent (a
    second build finds them and builds nothing). A person whose frozen result is in error
    gets none (paying them 0 would be a silent error): the summary names them."""
    _require_finance(viewer, "period")
    period_id = _period_id(period)
    # a close's 20,000 payees: their lines, hashes and audit rows (see collector_paused)
    with collector_paused():
        return await _build(viewer, period_id)


async def _build(viewer: Viewer, period_id: str) -> BuildSummary:
    stored = await _lock_period(viewer, period_id)
    if stored is None or stored.status is not PeriodStatus.CLOSED:
        raise StatementError(
            f"{period_id} is not closed: statements are built from a closed period's results",
            field="period",
        )
    have = {
        UUID(str(u))
        for u in await Statement.filter(tenant_id=viewer.tenant_id, period=period_id)
        .distinct()
        .values_list("user_id", flat=True)
    }
    results = [r for r in await _frozen_results(viewer, period_id) if r.user_id not in have]
    failed = {r.user_id: r.error or "error" for r in results if r.status == "error"}
    drafts: dict[tuple[UUID, str], _Draft] = {}

    def draft(user_id: UUID, currency: str) -> _Draft:
        key = (user_id, currency)
        if key not in drafts:
            drafts[key] = _Draft(user_id, currency)
        return drafts[key]

    plans = await _plan_names({r.plan_version_id for r in results})
    for result in sorted(results, key=lambda r: (str(r.user_id), str(r.plan_version_id))):
        if result.user_id in failed:
            continue
        d = draft(result.user_id, result.currency)
        d.plan_versions.add(str(result.plan_version_id))
        d.inputs.append(["result", str(result.id), result.fingerprint])
        d.lines.extend(_earnings_lines(result, plans.get(result.plan_version_id, "")))
    rewards = await Reward.filter(tenant_id=viewer.tenant_id, period=period_id).order_by(
        "created_at", "id"
    )
    for reward in rewards:
        if reward.user_id in have or reward.user_id in failed:
            continue
        d = draft(reward.user_id, reward.currency)
        d.inputs.append(["reward", str(reward.id), str(reward.amount)])
        d.lines.append(_reward_line(reward))
    adjustments = await Adjustment.filter(tenant_id=viewer.tenant_id, period=period_id).order_by(
        "created_at", "id"
    )
    for adjustment in adjustments:
        if adjustment.user_id in have or adjustment.user_id in failed:
            continue
        d = draft(adjustment.user_id, adjustment.currency)
        d.inputs.append(["adjustment", str(adjustment.id), str(adjustment.amount)])
        d.lines.append(_adjustment_line(adjustment))
    late = sorted(
        {
            (e.user_id, e.period)
            for e in await LateEvent.filter(tenant_id=viewer.tenant_id, flagged_for=period_id)
            if e.user_id not in have and e.user_id not in failed
        },
        key=lambda p: (str(p[0]), p[1]),
    )
    errors = [(user_id, why) for user_id, why in failed.items()]
    for user_id, original in late:
        try:
            corrections = await late_corrections(
                viewer=viewer, user_id=user_id, original_period=original, in_period=period_id
            )
        except DomainError as exc:
            errors.append((user_id, f"{original}: {exc.message}"))
            continue
        for currency, line in corrections:
            d = draft(user_id, currency)
            d.inputs.append(["late", original, line.source, str(line.amount)])
            d.lines.append(line)
    owed = await _carry_forward(viewer, period_id, drafts)
    # a total past what a statement holds (adjustments made before the build fit alone,
    # not with the earnings): that payee is named, the others' are built
    for (user_id, currency), d in list(drafts.items()):
        total = sum((ln.amount for ln in d.lines), ZERO)
        if abs(total) >= MAX_TOTAL:
            errors.append((user_id, _too_large(period_id, currency, total)))
    # a late correction of a person with an error elsewhere is not paid either
    for user_id, _ in errors:
        for key in [k for k in drafts if k[0] == user_id]:
            del drafts[key]
    draw_lines, draw_entries = await draws.draws_for(
        viewer,
        period_id,
        {
            key: sum(
                (ln.amount for ln in d.lines if ln.kind in (LineKind.EARNINGS, LineKind.CLAWBACK)),
                ZERO,
            )
            for key, d in drafts.items()
        },
    )
    for dl in draw_lines:
        d = drafts[(dl.user_id, dl.currency)]
        d.inputs.append(["draw", str(dl.draw_id), dl.kind, str(dl.amount)])
        d.lines.append(_Line(LineKind(dl.kind), dl.amount, f"draw:{dl.draw_id}", dl.params))
    built = await _store_drafts(viewer, period_id, list(drafts.values()))
    await draws.record_entries(
        viewer, period_id, draw_entries, {(s.user_id, s.currency): s.id for s in built}
    )
    await _mark_carried(viewer, period_id, list(drafts.values()), built)
    names = await UserRepository(viewer).by_ids({u for u, _ in [*errors, *owed]})

    def named(found: list[tuple[UUID, str]]) -> list[tuple[str, str]]:
        return sorted((names[u].external_id if u in names else str(u), why) for u, why in found)

    return BuildSummary(
        period=period_id,
        built=len(built),
        lines=sum(len(d.lines) for d in drafts.values()),
        statements=await Statement.filter(
            tenant_id=viewer.tenant_id, period=period_id, current=True
        ).count(),
        errors=named([*errors, *owed]),
        owed=named(owed),
    )


async def _carry_forward(
    viewer: Viewer, period_id: str, drafts: dict[tuple[UUID, str], _Draft]
) -> list[tuple[UUID, str]]:
    """Each draft takes the balances its payee owes of their earlier statements in its
    currency (`balances_owed`: approved, owing below zero, not carried yet): one
    CARRY_FORWARD line each, of the statement's total (what its invoice invoiced) less what
    its earlier versions were paid (a partner's next statement recovers it in the
    invoices' terms: OWED). Those statements
    are locked until the caller commits, so a concurrent build (or revision) of another
    period waits, then finds them carried (or, rolled back, free again): a balance is
    carried once. A balance in a currency the payee has no draft in is left owed: (payee,
    why) for the build's errors. A payee without a draft here keeps theirs for their next
    statement."""
    users = {u for u, _ in drafts}
    if not users:
        return []
    starts = parse_period(period_id).start
    owing = {
        b.statement_id: b
        for b in await balances_owed(viewer=viewer, user_ids=sorted(users))
        if parse_period(b.period).end < starts  # an earlier period
    }
    if not owing:
        return []
    # locked in one order (by id), so two builds never wait for each other in a circle;
    # the filter is checked again on a row a concurrent build has just carried (what it
    # owes does not change while it is approved and in force: only a new version does)
    sources = (
        await Statement.filter(
            tenant_id=viewer.tenant_id, id__in=list(owing), current=True,
            status=StatementStatus.APPROVED.value,
        )
        .order_by("id")
        .select_for_update()
    )  # fmt: skip
    owed = []
    for source in sorted(sources, key=lambda s: (str(s.user_id), s.period, s.currency)):
        # its total, less what its earlier versions were paid (beyond what it owes)
        total = Decimal(source.total) - owing[source.id].paid
        d = drafts.get((source.user_id, source.currency))
        if d is None:
            paid_in = ", ".join(sorted(c for u, c in drafts if u == source.user_id))
            balance = owing[source.id].owed
            owed.append((source.user_id, (
                f"{source.period}'s balance of {format_amount(balance, source.currency)} "
                f"{source.currency} is left owed: no {source.currency} statement in "
                f"{period_id} to carry it into (paid in {paid_in})"
            )))  # fmt: skip
            continue
        d.inputs.append(["carry", str(source.id), str(total)])
        d.lines.append(
            _Line(
                LineKind.CARRY_FORWARD, total, f"carry:{source.id}",
                {"period": source.period, "statement": str(source.id),
                 "version": source.version},
                original_period=source.period,
            )
        )  # fmt: skip
    return owed


@dataclass(frozen=True, slots=True)
class Balance:
    """A balance a payee owes: an approved statement in force that owes below zero (in its
    payee's terms: a partner's invoices', anyone else's total), not carried yet."""

    statement_id: UUID
    user_id: UUID
    external_id: str
    display_name: str
    period: str
    currency: str
    version: int
    total: Decimal  # the statement's total (a partner's: the fee)
    owed: Decimal  # what it owes, below zero
    paid: Decimal  # what items of its earlier versions were paid (more than it owes)
    approved_at: datetime | None
    age_days: int  # since it was approved

    def line(self) -> str:
        """One line of text (the CLI's `statements balances`)."""
        amount = f"{format_amount(self.owed, self.currency)} {self.currency}"
        approved = self.approved_at.date().isoformat() if self.approved_at else "?"
        return (
            f"{self.external_id}: {amount} owed since {self.period} (version {self.version}, "
            f"statement {self.statement_id}, approved {approved}, {self.age_days} days ago)"
        )


async def balances_owed(*, viewer: Viewer, user_ids: Sequence[UUID] | None = None) -> list[Balance]:
    """The balances payees owe (of ``user_ids``; None: the tenant's), by payee, currency
    and period: what a build carries into the payee's next statement in the currency, and
    what stays outstanding until one is built. One query; the candidates are found by a
    partial index (a total below zero, migration 0057) and among the partners' statements
    (a partner's fee above zero may owe below zero after withholdings)."""
    if user_ids is None:  # the tenant's: payout ops' report (a payee's own: their builds)
        _require_finance(viewer, "tenant")
    rows = await connections.get("default").execute_query_dict(
        f"""
        SELECT s.id, s.user_id, u.external_id, u.display_name, s.period, s.currency,
               s.version, s.total, s.approved_at, {invoices.DUE} AS owed,
               {invoices.paid_before("s")} AS paid
        FROM statements s JOIN users u ON u.id = s.user_id
        {invoices.OWED}
        WHERE s.id IN (
            SELECT c.id FROM statements c
            WHERE c.tenant_id = $1 AND c.current AND c.status = $3 AND c.total < 0
              AND ($2::uuid[] IS NULL OR c.user_id = ANY($2::uuid[]))
            UNION ALL
            SELECT c.id FROM statements c  -- its version 1 may have been paid more
            WHERE c.tenant_id = $1 AND c.current AND c.status = $3 AND c.version > 1
              AND ($2::uuid[] IS NULL OR c.user_id = ANY($2::uuid[]))
            UNION ALL
            SELECT c.id FROM partner_profiles p JOIN statements c
              ON c.tenant_id = p.tenant_id AND c.user_id = p.user_id
            WHERE p.tenant_id = $1 AND c.current AND c.status = $3
              AND ($2::uuid[] IS NULL OR p.user_id = ANY($2::uuid[]))
        ) AND {invoices.DUE} < 0
        ORDER BY u.external_id, s.currency, s.period
        """,
        [viewer.tenant_id, None if user_ids is None else list(user_ids),
         StatementStatus.APPROVED.value],
    )  # fmt: skip
    now = utc_now()
    return [
        Balance(
            r["id"], r["user_id"], r["external_id"], r["display_name"], r["period"],
            r["currency"], r["version"], Decimal(r["total"]), Decimal(r["owed"]),
            Decimal(r["paid"]), r["approved_at"],
            (now - r["approved_at"]).days if r["approved_at"] else 0,
        )
        for r in rows
    ]  # fmt: skip


async def _mark_carried(
    viewer: Viewer, period_id: str, drafts: Sequence[_Draft], built: Sequence[_Built | Statement]
) -> None:
    """The statements whose balances the built ones carry (their CARRY_FORWARD lines) are
    settled: ``carried`` into ``period_id``, audited."""
    into = {
        UUID(ln.source.removeprefix("carry:")): (made, ln.amount)
        for d, made in zip(drafts, built, strict=True)
        for ln in d.lines
        if ln.kind is LineKind.CARRY_FORWARD
    }
    if not into:
        return
    await Statement.filter(id__in=list(into)).update(
        status=StatementStatus.CARRIED.value, carried_into_period=period_id
    )
    await record_many(
        viewer=viewer,
        changes=(
            Change(
                "statement.carried", "statement", str(source_id),
                {"status": StatementStatus.APPROVED.value},
                {"status": StatementStatus.CARRIED.value, "into": period_id,
                 "statement": str(made.id), "amount": format(amount, "f")},
            )
            for source_id, (made, amount) in into.items()
        ),
    )  # fmt: skip


async def _lock_period(viewer: Viewer, period_id: str) -> StoredPeriod | None:
    """The period row, locked until the caller commits: builds and adjustments of one period
    take turns (an adjustment lands in the statement, or waits for the build, never both)."""
    return (
        await StoredPeriod.filter(tenant_id=viewer.tenant_id, key=period_id)
        .select_for_update()
        .first()
    )


async def _plan_names(version_ids: Iterable[UUID]) -> dict[UUID, str]:
    ids = list(set(version_ids))
    if not ids:
        return {}
    versions = await PlanVersion.filter(id__in=ids).prefetch_related("plan")
    return {v.id: f"{v.plan.name} v{v.version}" for v in versions}


class _Frozen(NamedTuple):
    """What a statement reads of a frozen result (not its measures or reasons): per
    component its id, name and payable, as the stored JSON has them."""

    id: UUID
    user_id: UUID
    plan_version_id: UUID
    status: str
    error: str | None
    currency: str
    payable: Decimal
    components: list[tuple[str, str | None, str]]
    fingerprint: str


async def _frozen_results(viewer: Viewer, period_id: str) -> list[_Frozen]:
    """The period's frozen results in one statement; PostgreSQL takes the components apart
    (three text arrays decode much faster than the whole JSON would parse)."""
    conn: Any
    async with connections.get("default").acquire_connection() as conn:
        rows = await conn.fetch(
            """
            SELECT r.id, r.user_id, r.plan_version_id, r.status, r.error, r.currency, r.payable,
                   r.fingerprint, c.ids, c.names, c.payables
            FROM earnings_results r CROSS JOIN LATERAL (
              SELECT array_agg(e.value->>'id' ORDER BY e.n) AS ids,
                     array_agg(e.value->>'name' ORDER BY e.n) AS names,
                     array_agg(e.value->>'payable' ORDER BY e.n) AS payables
              FROM jsonb_array_elements(r.components) WITH ORDINALITY AS e(value, n)
            ) c
            WHERE r.tenant_id = $1 AND r.period = $2
            """,
            viewer.tenant_id,
            period_id,
        )
    return [
        _Frozen(r[0], r[1], r[2], r[3], r[4], r[5], r[6], list(zip(r[8], r[9], r[10], strict=True))
                if r[8] else [], r[7])
        for r in rows
    ]  # fmt: skip


def _parts_of_stored(result: EarningsResult | _Frozen) -> dict[str, tuple[Decimal, str]]:
    """A frozen result's payable money by component (and the plan cap's share), each
    rounded to the currency: what its statement pays."""
    components = (
        result.components
        if isinstance(result, _Frozen)
        else [(str(c["id"]), c.get("name"), str(c["payable"])) for c in result.components]
    )
    parts: dict[str, tuple[Decimal, str]] = {}
    for component, name, payable in components:
        parts[component] = (round_money(Decimal(payable), result.currency), str(name or component))
    rest = round_money(Decimal(result.payable), result.currency) - sum(
        (v for v, _ in parts.values()), ZERO
    )
    parts[CAP_PART] = (rest, "")
    return parts


@cache
def _earnings_params_json(component: str, name: str, plan: str) -> str:
    """An earnings line's params as JSON, but for the closing ``, "result": ...}``: the same
    for every payee of a plan's component (a build writes tens of thousands)."""
    return json.dumps({"component": component, "component_name": name, "plan": plan})[:-1]


def _earnings_lines(result: _Frozen, plan: str) -> list[_Line]:
    lines = []
    result_id = str(result.id)
    for component, (amount, name) in _parts_of_stored(result).items():
        if component == CAP_PART:
            if amount:
                lines.append(
                    _Line(LineKind.EARNINGS, amount, f"result:{result_id}:", {
                        "template": "cap", "plan": plan, "result": result_id,
                    })
                )  # fmt: skip
            continue
        params = {"component": component, "component_name": name, "plan": plan,
                  "result": result_id}  # fmt: skip
        lines.append(
            _Line(
                LineKind.EARNINGS, amount, f"result:{result_id}:{component}", params,
                params_json=(
                    f'{_earnings_params_json(component, name, plan)}, "result": "{result_id}"}}'
                ),
            )
        )  # fmt: skip
    return lines


def _reward_line(reward: Reward) -> _Line:
    return _Line(
        LineKind.PRIZE,
        round_money(Decimal(reward.amount), reward.currency),
        f"reward:{reward.id}",
        {"reason": reward.reason, "source": reward.source_kind},
    )


def _adjustment_line(adjustment: Adjustment) -> _Line:
    return _Line(
        LineKind.ADJUSTMENT,
        Decimal(adjustment.amount),
        f"adjustment:{adjustment.id}",
        {"reason": adjustment.reason, "by": adjustment.created_by_label},
    )


async def late_corrections(
    *, viewer: Viewer, user_id: UUID, original_period: str, in_period: str
) -> list[tuple[str, _Line]]:
    """What a person's closed ``original_period`` pays now (its plans run again on today's
    data, nothing stored) against what was paid for it: its frozen result plus the
    corrections already made in the statements in force of other periods. One line per
    plan version and component that differs, in the plan's currency: negative (a clawback)
    names the earnings line of the first deal that changed; positive (a deal paid late)
    the deal. Paying these nets every period to what one recompute of the final data pays."""
    user = await UserRepository(viewer).get(user_id)
    runs = await run_plans(viewer, user, parse_period(original_period))
    frozen = await EarningsResult.filter(
        tenant_id=viewer.tenant_id, user_id=user_id, period=original_period
    )
    now: dict[tuple[str, str], Decimal] = {}
    names: dict[tuple[str, str], str] = {}
    currencies: dict[str, str] = {}
    deals_now: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(dict)
    for run in runs:
        if run.error:
            raise StatementError(run.error, field="period")
        rep = run.rep_result
        version = str(run.version.id)
        currencies[version] = run.plan.currency
        if rep is None:
            continue
        total = ZERO
        for c in rep.components:
            amount = round_money(c.payable, run.plan.currency)
            now[(version, c.id)] = amount
            names[(version, c.id)] = run.plan.component_name(c.id)
            total += amount
        now[(version, CAP_PART)] = round_money(rep.payable, run.plan.currency) - total
        for line in rep.lines:
            deals = deals_now[(version, line.component)]
            deals[line.transaction_id] = deals.get(line.transaction_id, ZERO) + line.amount
    paid: dict[tuple[str, str], Decimal] = {}
    for result in frozen:
        version = str(result.plan_version_id)
        currencies[version] = result.currency
        if result.status.value == "error":
            continue
        for component, (amount, name) in _parts_of_stored(result).items():
            paid[(version, component)] = amount
            names.setdefault((version, component), name)
    for line in await _corrections_made(viewer, user_id, original_period, in_period):
        _, _, version, component = line.source.split(":", 3)
        paid[(version, component)] = paid.get((version, component), ZERO) + Decimal(line.amount)
    touched = await _deals_changed_since_close(viewer, user_id, original_period)
    frozen_lines = await EarningsLine.filter(
        tenant_id=viewer.tenant_id, result_id__in=[r.id for r in frozen]
    ).values("id", "result_id", "component", "transaction_external_id", "amount")
    version_of = {r.id: str(r.plan_version_id) for r in frozen}
    deals_then: dict[tuple[str, str], dict[str, tuple[Decimal, int]]] = defaultdict(dict)
    summary_line: dict[tuple[str, str], int] = {}
    for row in sorted(frozen_lines, key=lambda r: r["id"]):
        key = (version_of[row["result_id"]], row["component"])
        if row["transaction_external_id"] is None:
            summary_line.setdefault(key, row["id"])
            continue
        amount, first_id = deals_then[key].get(row["transaction_external_id"], (ZERO, row["id"]))
        deals_then[key][row["transaction_external_id"]] = (
            amount + Decimal(row["amount"]),
            first_id,
        )
    out = []
    for key in sorted(set(now) | set(paid)):
        delta = now.get(key, ZERO) - paid.get(key, ZERO)
        if not delta:
            continue
        version, component = key
        before, after = deals_then.get(key, {}), deals_now.get(key, {})
        if before or after:  # a line-based component: the deals whose lines differ
            changed = sorted(
                d
                for d in set(before) | set(after)
                if before.get(d, (ZERO, 0))[0] != after.get(d, ZERO)
            )
        else:  # tiers, bonuses, formulas: the deals changed since the close
            changed = touched
        params: dict[str, Any] = {
            "template": "clawback" if delta < 0 else "late",
            "component": component or "cap",
            "component_name": names.get(key) or ("Plan cap" if not component else component),
            "period": original_period,
            "transactions": changed,
        }
        line_id = next((before[d][1] for d in changed if d in before), summary_line.get(key))
        if line_id is not None:
            params["line"] = line_id
        out.append(
            (
                currencies[version],
                _Line(
                    LineKind.CLAWBACK if delta < 0 else LineKind.EARNINGS,
                    delta,
                    f"late:{original_period}:{version}:{component}",
                    params,
                    original_period=original_period,
                    original_line_id=line_id,
                ),
            )
        )
    return out


async def _deals_changed_since_close(
    viewer: Viewer, user_id: UUID, original_period: str
) -> list[str]:
    """The CRM ids of the person's deals of a closed period changed (or deleted) since its
    close: what a late correction of a component without per-deal lines names."""
    parsed = parse_period(original_period)
    rows = await connections.get("default").execute_query_dict(
        """
        SELECT DISTINCT t.external_id FROM transactions t JOIN periods p
          ON p.tenant_id = t.tenant_id AND p.key = $4
        WHERE t.tenant_id = $1 AND t.date BETWEEN $2 AND $3
          AND (t.rep_id = $5 OR t.credited_user_ids ? $6)
          AND p.closed_at IS NOT NULL AND t.updated_at > p.closed_at
        ORDER BY t.external_id
        """,
        [viewer.tenant_id, parsed.start, parsed.end, original_period, user_id, str(user_id)],
    )
    return [str(r["external_id"]) for r in rows]


async def _corrections_made(
    viewer: Viewer, user_id: UUID, original_period: str, in_period: str
) -> list[StatementLine]:
    """Late corrections of ``original_period`` already on the person's statements in force
    of other periods."""
    return await StatementLine.filter(
        tenant_id=viewer.tenant_id,
        original_period=original_period,
        source__startswith=f"late:{original_period}:",
        statement__user_id=user_id,
        statement__current=True,
    ).exclude(statement__period=in_period)


def _hash(inputs: Sequence[Any], lines: Sequence[_Line]) -> str:
    document = {
        "inputs": sorted(json.dumps(i) for i in inputs),
        "lines": [[ln.kind.value, ln.source, format(ln.amount, "f")] for ln in lines],
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


class _Built(NamedTuple):
    """A statement as `_store_drafts` wrote it (what the audit and the ledger need)."""

    id: UUID
    user_id: UUID
    period: str
    currency: str
    version: int
    status: str
    total: Decimal
    inputs_hash: str


_STATEMENT_COLUMNS = (
    "id", "tenant_id", "user_id", "period", "currency", "version", "current", "status", "total",
    "plan_versions", "inputs_hash", "created_at",
)  # fmt: skip
_LINE_COLUMNS = (
    "statement_id", "tenant_id", "position", "kind", "amount", "params", "source",
    "original_period", "original_line_id",
)  # fmt: skip


async def _store_drafts(viewer: Viewer, period_id: str, drafts: list[_Draft]) -> list[_Built]:
    """Version 1 of each draft, its lines and audit entries: COPY, one round trip per table
    whatever their number (a close of 20,000 payees builds 20,000 at once)."""
    now = utc_now()
    built = []
    statement_rows = []
    line_rows = []
    for d, statement_id in zip(drafts, _new_ids(len(drafts)), strict=True):
        statement = _Built(
            statement_id, d.user_id, period_id, d.currency, 1, StatementStatus.DRAFT.value,
            sum((ln.amount for ln in d.lines), ZERO), _hash(d.inputs, d.lines),
        )  # fmt: skip
        built.append(statement)
        statement_rows.append(
            (statement.id, viewer.tenant_id, d.user_id, period_id, d.currency, 1, True,
             statement.status, statement.total, json.dumps(sorted(d.plan_versions)),
             statement.inputs_hash, now)
        )  # fmt: skip
        line_rows.extend(
            (statement.id, viewer.tenant_id, i, ln.kind.value, ln.amount, ln.params_text(),
             ln.source, ln.original_period, ln.original_line_id)
            for i, ln in enumerate(d.lines)
        )  # fmt: skip
    if not built:
        return built
    conn: Any
    async with connections.get("default").acquire_connection() as conn:
        await conn.copy_records_to_table(
            "statements", records=statement_rows, columns=list(_STATEMENT_COLUMNS)
        )
        await conn.copy_records_to_table(
            "statement_lines", records=line_rows, columns=list(_LINE_COLUMNS)
        )
        # Statistics for what was just loaded: the payout batch, the journal and the 1099
        # report look up each statement's versions and invoices per payee. Planned from a
        # young table's statistics (a tenant's first months), those lookups read the whole
        # period per statement: 20,000 statements took a batch 70 s instead of 1 s.
        await conn.execute("ANALYZE statements, statement_lines")
    await record_many(
        viewer=viewer,
        changes=(Change("statement.built", "statement", str(s.id), None, _state(s)) for s in built),
    )
    return built


def _new_ids(count: int) -> list[UUID]:
    """``count`` random (version 4) UUIDs from one read of the system's random source."""
    random = os.urandom(16 * count)
    return [UUID(bytes=random[i : i + 16], version=4) for i in range(0, 16 * count, 16)]


def _line_rows(statement: Statement, lines: Sequence[_Line], *, start: int) -> list[StatementLine]:
    return [
        StatementLine(
            statement_id=statement.id,
            tenant_id=statement.tenant_id,
            position=start + i,
            kind=ln.kind.value,
            amount=ln.amount,
            params=ln.params,
            source=ln.source,
            original_period=ln.original_period,
            original_line_id=ln.original_line_id,
        )
        for i, ln in enumerate(lines)
    ]


def _state(statement: Statement | _Built) -> dict[str, Any]:
    return {
        "user_id": str(statement.user_id),
        "period": statement.period,
        "currency": statement.currency,
        "version": statement.version,
        "status": statement.status,
        "total": format(Decimal(statement.total), "f"),
        "inputs_hash": statement.inputs_hash,
    }


# --- changing a statement -------------------------------------------------------------------


async def add_lines(
    *, viewer: Viewer, user_id: UUID, period: str, currency: str, lines: list[_Line], why: str
) -> Statement | None:
    """Put ``lines`` on the person's statement in force: a draft takes them as they come; an
    approved one becomes a new draft version (the old one kept as approved). None when the
    period has no statements yet (its build will read the lines' sources). A paid statement
    is refused (the caller checked): its payee's next period takes the change. The statement
    changed also takes the balances its payee came to owe since it was built (approved
    after it: `_carry_forward`), as a build would: they are owed no more."""
    current = (
        await Statement.filter(
            tenant_id=viewer.tenant_id, user_id=user_id, period=period, currency=currency,
            current=True,
        )
        .select_for_update()
        .first()
    )  # fmt: skip
    if current is None:
        if not await Statement.filter(tenant_id=viewer.tenant_id, period=period).exists():
            return None
        draft = _Draft(user_id, currency, list(lines))
        await _carry_forward(viewer, period, {(user_id, currency): draft})
        built = await _store_drafts(viewer, period, [draft])
        await _mark_carried(viewer, period, [draft], built)
        return await Statement.get(id=built[0].id)
    if settled := _settled(current):
        raise StatementError(f"the {period} statement {settled}: add it to the next period",
                             field="period")  # fmt: skip
    carrying = _Draft(user_id, currency, list(lines))
    await _carry_forward(viewer, period, {(user_id, currency): carrying})
    lines = carrying.lines
    before = _state(current)
    if current.status == StatementStatus.DRAFT.value:
        count = await StatementLine.filter(statement_id=current.id).count()
        await StatementLine.bulk_create(_line_rows(current, lines, start=count))
        current.total = Decimal(current.total) + sum((ln.amount for ln in lines), ZERO)
        current.inputs_hash = _rehash(current.inputs_hash, lines)
        await current.save(update_fields=["total", "inputs_hash"])
        await record(
            viewer=viewer, action=f"statement.{why}", entity_type="statement",
            entity_id=str(current.id), before=before, after=_state(current),
        )  # fmt: skip
        await _mark_carried(viewer, period, [carrying], [current])
        return current
    # approved: a new version, the approved one kept as it was
    old_lines = await StatementLine.filter(statement_id=current.id).order_by("position")
    current.current = False
    await current.save(update_fields=["current"])
    revised = Statement(
        id=uuid4(),
        tenant_id=current.tenant_id,
        user_id=current.user_id,
        period=current.period,
        currency=current.currency,
        version=current.version + 1,
        current=True,
        status=StatementStatus.DRAFT.value,
        total=Decimal(current.total) + sum((ln.amount for ln in lines), ZERO),
        plan_versions=current.plan_versions,
        inputs_hash=_rehash(current.inputs_hash, lines),
    )
    await revised.save(force_create=True)
    copied = [
        _Line(
            LineKind(ln.kind), Decimal(ln.amount), ln.source, ln.params,
            ln.original_period, ln.original_line_id,
        )
        for ln in old_lines
    ]  # fmt: skip
    await StatementLine.bulk_create(_line_rows(revised, [*copied, *lines], start=0))
    await record(
        viewer=viewer, action="statement.revised", entity_type="statement",
        entity_id=str(revised.id), before=before,
        after=_state(revised) | {"previous": str(current.id), "because": why},
    )  # fmt: skip
    await _mark_carried(viewer, period, [carrying], [revised])
    return revised


def _rehash(previous: str, lines: Sequence[_Line]) -> str:
    return _hash([["previous", previous]], lines)


async def paid_in(viewer: Viewer, user_id: UUID, period: str) -> set[str]:
    """The currencies a person is paid in: their statements' of the period, else those of
    their earnings and rewards, else the tenant's."""
    found = set(
        await Statement.filter(
            tenant_id=viewer.tenant_id, user_id=user_id, period=period
        ).values_list("currency", flat=True)
    )
    if not found:
        found = set(
            await EarningsResult.filter(tenant_id=viewer.tenant_id, user_id=user_id)
            .distinct()
            .values_list("currency", flat=True)
        ) | set(
            await Reward.filter(tenant_id=viewer.tenant_id, user_id=user_id)
            .distinct()
            .values_list("currency", flat=True)
        )
    if not found:
        found = {(await get_tenant(viewer.tenant_id)).currency}
    return {str(c) for c in found}


async def add_adjustment(
    *,
    viewer: Viewer,
    rep_id: UUID | str,
    period: str,
    amount: Decimal,
    currency: str,
    reason: str,
) -> Adjustment:
    """A manual amount on a payee's statement of ``period`` (audited): managers for their
    subtree (not themselves), admins and payout ops for anyone."""
    user = await _payee_to_manage(viewer, rep_id, "repId")
    parsed = parse_period(period)
    stored = await _lock_period(viewer, parsed.id)
    if parsed.kind != "month" and stored is None:
        # statements are a closed period's: monthly, unless a plan pays per quarter or year
        # and that period was closed
        raise AdjustmentError(
            f"{parsed.id} is not a month: an adjustment goes on a month's statement (e.g. 2026-10)",
            field="period",
        )
    period_id = parsed.id
    if not isinstance(currency, str) or not is_currency(currency):
        raise AdjustmentError(f"unknown currency {quoted(currency)}", field="currency")
    check_amount(amount, currency, "amount")
    reason = check_text(reason, "reason")
    currencies = await paid_in(viewer, user.id, period_id)
    if currency not in currencies:
        raise AdjustmentError(
            f"{user.display_name} is paid in {', '.join(sorted(currencies))}, not {currency}",
            field="currency",
        )
    return await adjust(
        viewer=viewer, user=user, period=period_id, amount=amount, currency=currency,
        reason=reason, field="amount",
    )  # fmt: skip


async def adjust(
    *,
    viewer: Viewer,
    user: User,
    period: str,
    amount: Decimal,
    currency: str,
    reason: str,
    field: str,
) -> Adjustment:
    """An adjustment already checked (``add_adjustment``, a dispute resolved with one:
    ``field`` names the amount's input). The statement in force is locked first, so the
    total it would reach is checked against what concurrent adjustments left."""
    current = (
        await Statement.filter(
            tenant_id=viewer.tenant_id, user_id=user.id, period=period, currency=currency,
            current=True,
        )
        .select_for_update()
        .first()
    )  # fmt: skip
    if current is not None and (settled := _settled(current)):
        raise AdjustmentError(f"the {period} statement {settled}: adjust the next period",
                              field="period")  # fmt: skip
    if current is not None and (item := await in_payout(current.id)) is not None:
        raise AdjustmentError(
            f"the {period} statement is being paid (payout batch item {item}): adjust the "
            "next period",
            field="period",
        )
    if current is not None:
        before = Decimal(current.total)
    else:  # not built yet: the adjustments made so far are what the build will add it to
        before = sum(
            (
                Decimal(a)
                for a in await Adjustment.filter(
                    tenant_id=viewer.tenant_id, user_id=user.id, period=period, currency=currency
                ).values_list("amount", flat=True)
            ),
            ZERO,
        )
    check_total(before + amount, period, field)
    adjustment = await Adjustment.create(
        tenant_id=viewer.tenant_id,
        user_id=user.id,
        period=period,
        amount=amount,
        currency=currency,
        reason=reason,
        created_by=viewer.user_id,
        created_by_label=viewer.actor_label,
    )
    await record(
        viewer=viewer,
        action="adjustment.added",
        entity_type="adjustment",
        entity_id=str(adjustment.id),
        after={
            "user_id": str(user.id), "period": period, "amount": format(amount, "f"),
            "currency": currency, "reason": reason,
        },
    )  # fmt: skip
    await add_lines(
        viewer=viewer,
        user_id=user.id,
        period=period,
        currency=currency,
        lines=[_adjustment_line(adjustment)],
        why="adjusted",
    )
    return adjustment


def _settled(statement: Statement) -> str | None:
    """Why a statement takes no change any more (its payee's next period does), or None."""
    if statement.status == StatementStatus.PAID.value:
        return "is paid"
    if statement.status == StatementStatus.CARRIED.value:
        return f"is settled: its balance was carried into {statement.carried_into_period}"
    return None


def settled(statement: Statement) -> bool:
    """Paid, or its balance carried into a later period: a change goes to the next period."""
    return _settled(statement) is not None


async def in_payout(statement_id: UUID) -> str | None:
    """The reference of the payout item paying the statement now (pending, or handed over
    and waiting: submitted), or None. Such a statement takes no change, as a paid one: its
    new version would be approved and batched again, paid in full beside the first."""
    found = await connections.get("default").execute_query_dict(
        "SELECT reference FROM payout_items WHERE statement_id = $1 "
        "AND status IN ('pending', 'submitted') ORDER BY reference LIMIT 1",
        [statement_id],
    )
    return str(found[0]["reference"]) if found else None


async def _payee_to_manage(viewer: Viewer, rep_id: UUID | str, field: str) -> User:
    if not rep_id:
        raise NotFound(f"no person {quoted(rep_id)}", field=field)
    user = await UserRepository(viewer).get(rep_id, field=field)
    allowed = await approvable_ids(viewer)
    if allowed is not None and user.id not in allowed:
        if user.id == viewer.user_id:
            raise ApprovalRefused("you may not approve or adjust your own statements", field=field)
        # no name: who is outside the viewer's team is someone they may not see either
        raise ApprovalRefused(
            "this person is not in your team: you may approve or adjust your team's "
            "statements only",
            field=field,
        )
    return user


def check_total(total: Decimal, period: str, field: str) -> None:
    """AdjustmentError naming ``field`` when a statement's total would not fit its column
    (NUMERIC(20, 6): at most 14 digits before the point), though each amount does."""
    if abs(total) >= MAX_TOTAL:
        raise AdjustmentError(
            f"the {period} statement's total would be {total}: more than a statement holds "
            f"(at most {MAX_INTEGER_DIGITS} digits before the point)",
            field=field,
        )


def _too_large(period: str, currency: str, total: Decimal) -> str:
    return (
        f"the {period} statement's total in {currency} would be {total}: more than a "
        f"statement holds (at most {MAX_INTEGER_DIGITS} digits before the point)"
    )


def check_amount(amount: Decimal, currency: str, field: str) -> None:
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise AdjustmentError("must be a decimal number", field=field)
    check_decimal(amount, field=field)
    if not amount:
        raise AdjustmentError("an adjustment of 0 changes nothing", field=field)
    if round_money(amount, currency) != amount:
        raise AdjustmentError(f"{amount} is finer than {currency} allows", field=field)


def check_text(text: str, field: str, limit: int = MAX_REASON) -> str:
    cleaned = (text or "").strip()
    if not cleaned:
        raise AdjustmentError("must not be empty", field=field)
    if len(cleaned) > limit:
        raise AdjustmentError(f"at most {limit} characters", field=field)
    if "\x00" in cleaned:
        raise AdjustmentError("must not contain a NUL character", field=field)
    if found := control_character(cleaned, but=TEXT_BREAKS):  # printed on statements
        raise AdjustmentError(f"contains a control character ({found}): give plain text",
                              field=field)  # fmt: skip
    return cleaned


# --- approving and paying -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Approval:
    approved: int
    skipped: int  # held by an open dispute (only when no repIds were named)


async def approve_statements(
    *, viewer: Viewer, period: str, rep_ids: Sequence[UUID | str] | None = None
) -> Approval:
    """Approve the draft statements in force of ``period``: those of ``rep_ids``, or every
    one the viewer may approve (managers: their subtree; admins and payout ops: the tenant).
    Named people are all approved or none: someone outside the viewer's team, without a
    statement, already approved or with an open dispute refuses the whole call. Unnamed, a
    statement with an open dispute is skipped (counted)."""
    period_id = _period_id(period)
    allowed = await approvable_ids(viewer)
    if allowed == []:
        raise ApprovalRefused("only managers, admins and payout ops approve", field="period")
    base = Statement.filter(tenant_id=viewer.tenant_id, period=period_id, current=True)
    if not await base.exists():
        raise ApprovalRefused(
            f"no statements for {period_id}: close the period and build them first",
            field="period",
        )
    if rep_ids is not None:
        people = [await _payee_to_manage(viewer, r, "repIds") for r in rep_ids]
        wanted = await base.filter(user_id__in=[p.id for p in people]).select_for_update()
        by_user = defaultdict(list)
        for s in wanted:
            by_user[s.user_id].append(s)
        for person in people:
            if not by_user.get(person.id):
                raise ApprovalRefused(
                    f"{person.display_name} has no statement for {period_id}", field="repIds"
                )
            for s in by_user[person.id]:
                if s.status != StatementStatus.DRAFT.value:
                    raise ApprovalRefused(
                        f"{person.display_name}'s {period_id} statement (version {s.version}) "
                        f"is {s.status} already",
                        field="repIds",
                    )
        disputed = await _disputed(viewer, period_id, [p.id for p in people])
        if disputed:
            names = ", ".join(sorted(p.display_name for p in people if p.id in disputed))
            raise ApprovalRefused(
                f"open disputes hold the statements of {names}: resolve them first",
                field="repIds",
            )
        to_approve, skipped = list(wanted), 0
    else:
        query = base.filter(status=StatementStatus.DRAFT.value)
        if allowed is not None:
            query = query.filter(user_id__in=allowed)
        drafts = await query.order_by("user_id").select_for_update()
        disputed = await _disputed(viewer, period_id, [s.user_id for s in drafts])
        to_approve = [s for s in drafts if s.user_id not in disputed]
        skipped = len(drafts) - len(to_approve)
    now = utc_now()
    ids = [s.id for s in to_approve]
    if ids:
        await Statement.filter(id__in=ids).update(
            status=StatementStatus.APPROVED.value, approved_at=now, approved_by=viewer.user_id
        )
        await record_many(
            viewer=viewer,
            changes=(
                Change(
                    "statement.approved", "statement", str(s.id),
                    {"status": StatementStatus.DRAFT.value},
                    {"status": StatementStatus.APPROVED.value, "version": s.version,
                     "total": format(Decimal(s.total), "f")},
                )
                for s in to_approve
            ),
        )  # fmt: skip
        # partners' self-billing invoices, numbered in this transaction
        await invoices.issue_invoices(
            viewer=viewer, statements=sorted(to_approve, key=lambda s: (str(s.user_id), s.currency))
        )
    return Approval(approved=len(ids), skipped=skipped)


async def _disputed(viewer: Viewer, period_id: str, user_ids: Sequence[UUID]) -> set[UUID]:
    if not user_ids:
        return set()
    rows = await Dispute.filter(
        tenant_id=viewer.tenant_id,
        period=period_id,
        user_id__in=list(user_ids),
        status=DisputeStatus.OPEN.value,
    ).values_list("user_id", flat=True)
    return {UUID(str(r)) for r in rows}


async def mark_paid(*, viewer: Viewer, period: str) -> int:
    """Admins and payout ops: the approved statements in force of ``period`` are paid (what a
    payout run records once the money left). Audited; returns how many. One that owes below
    zero (`balances_owed`: a partner's in their invoices' terms) is left approved: it is a
    balance the payee owes, which no payment settles (`owed_statements`)."""
    _require_finance(viewer, "period")
    period_id = _period_id(period)
    due = await connections.get("default").execute_query_dict(
        f"""
        SELECT s.id FROM statements s {invoices.OWED}
        WHERE s.tenant_id = $1 AND s.period = $2 AND s.current AND s.status = $3
          AND {invoices.DUE} >= 0
        """,
        [viewer.tenant_id, period_id, StatementStatus.APPROVED.value],
    )
    approved = await Statement.filter(
        tenant_id=viewer.tenant_id,
        id__in=[r["id"] for r in due],
        current=True,
        status=StatementStatus.APPROVED.value,
    ).select_for_update()
    if approved:
        await Statement.filter(id__in=[s.id for s in approved]).update(
            status=StatementStatus.PAID.value, paid_at=utc_now()
        )
        await record_many(
            viewer=viewer,
            changes=(
                Change(
                    "statement.paid", "statement", str(s.id),
                    {"status": StatementStatus.APPROVED.value},
                    {"status": StatementStatus.PAID.value, "total": format(Decimal(s.total), "f")},
                )
                for s in approved
            ),
        )  # fmt: skip
    return len(approved)


async def owed_statements(*, viewer: Viewer, period: str) -> int:
    """How many approved statements in force of ``period`` owe below zero (what the payee
    owes, `balances_owed`: `mark_paid` leaves them approved)."""
    _require_finance(viewer, "period")
    period_id = _period_id(period)
    return sum(1 for b in await balances_owed(viewer=viewer) if b.period == period_id)


async def prepare_reopen(*, viewer: Viewer, period: str) -> int:
    """What reopening ``period`` does to its statements, in the reopening transaction: its
    drafts are discarded (audited), with the draw ledger's entries their build recorded, so
    the next close builds them from the new results (it builds none for who has one); how
    many; the balances below zero they carried are owed again, for the next build to carry.
    Refused (StatementError naming ``period``) when a statement of it is approved, paid or
    carried, or later statements correct it (a change to such a period is a late change,
    corrected on the next period's statements), or one is disputed (the dispute would go
    with it). Adjustments, prizes and late
    changes are kept: the next build reads them again."""
    period_id = _period_id(period)
    statements = Statement.filter(tenant_id=viewer.tenant_id, period=period_id)
    committed = await statements.filter(
        status__in=[StatementStatus.APPROVED.value, StatementStatus.PAID.value,
                    StatementStatus.CARRIED.value]
    ).count()  # fmt: skip
    if committed:
        raise StatementError(
            f"{period_id} has {committed} approved, paid or carried statement(s): it is not "
            "reopened (its next close would leave them as they are); a change to it is a late "
            "change, corrected on the next period's statements",
            field="period",
        )
    corrected = (
        await StatementLine.filter(tenant_id=viewer.tenant_id, original_period=period_id)
        .exclude(statement__period=period_id)
        .exists()
    )
    if corrected:
        raise StatementError(
            f"{period_id} is corrected by later statements (late changes paid or clawed back "
            "on them): it is not reopened; a change to it is a late change too",
            field="period",
        )
    drafts = await statements.select_for_update()
    if await Dispute.filter(statement_id__in=[s.id for s in drafts]).exists():
        raise StatementError(
            f"{period_id}'s statements have disputes: it is not reopened (reopening discards "
            "its draft statements, their disputes with them); resolve them on the next "
            "period's statements",
            field="period",
        )
    if not drafts:
        return 0
    ids = [s.id for s in drafts]
    await draws.discard_entries(viewer, period_id, ids)
    await _release_carried(viewer, ids)
    await Statement.filter(id__in=ids).delete()  # their lines with them
    await record_many(
        viewer=viewer,
        changes=(
            Change("statement.discarded", "statement", str(s.id), _state(s),
                   {"because": "period.reopened"})
            for s in drafts
        ),
    )  # fmt: skip
    return len(drafts)


async def _release_carried(viewer: Viewer, statement_ids: Sequence[UUID]) -> None:
    """The balances the drafts ``statement_ids`` carried, those drafts being discarded: their
    statements are owed again (approved), for the next build to carry. Audited."""
    sources = [
        UUID(source.removeprefix("carry:"))
        for source in await StatementLine.filter(
            tenant_id=viewer.tenant_id, statement_id__in=list(statement_ids),
            kind=LineKind.CARRY_FORWARD.value,
        ).values_list("source", flat=True)
    ]  # fmt: skip
    if not sources:
        return
    released = await Statement.filter(
        tenant_id=viewer.tenant_id, id__in=sources, status=StatementStatus.CARRIED.value
    ).select_for_update()
    await Statement.filter(id__in=[s.id for s in released]).update(
        status=StatementStatus.APPROVED.value, carried_into_period=None
    )
    await record_many(
        viewer=viewer,
        changes=(
            Change("statement.carry_released", "statement", str(s.id),
                   {"status": s.status, "into": s.carried_into_period},
                   {"status": StatementStatus.APPROVED.value, "because": "period.reopened"})
            for s in released
        ),
    )  # fmt: skip


async def statement_totals(*, viewer: Viewer, period: str) -> list[dict[str, Any]]:
    """Per currency and status: the statements in force of a period (the CLI's summary)."""
    return list(
        await connections.get("default").execute_query_dict(
            """
            SELECT currency, status, count(*) AS n, sum(total) AS total FROM statements
            WHERE tenant_id = $1 AND period = $2 AND current
            GROUP BY currency, status ORDER BY currency, status
            """,
            [viewer.tenant_id, _period_id(period)],
        )
    )


async def carried_balances(*, viewer: Viewer, period: str) -> list[str]:
    """The balances below zero carried into and out of a period's statements in force, one
    line of text each (the CLI's `statements show`), by payee."""
    _require_finance(viewer, "period")
    period_id = _period_id(period)
    rows = await connections.get("default").execute_query_dict(
        """
        SELECT u.external_id, s.currency, l.amount, l.original_period, l.params->>'version'
               AS version, NULL AS into_period
        FROM statement_lines l JOIN statements s ON s.id = l.statement_id
          JOIN users u ON u.id = s.user_id
        WHERE s.tenant_id = $1 AND s.period = $2 AND s.current AND l.tenant_id = $1
          AND l.kind = $3
        UNION ALL
        SELECT u.external_id, s.currency, s.total, NULL, NULL, s.carried_into_period
        FROM statements s JOIN users u ON u.id = s.user_id
        WHERE s.tenant_id = $1 AND s.period = $2 AND s.current AND s.status = $4
        ORDER BY 1, 4, 6
        """,
        [viewer.tenant_id, period_id, LineKind.CARRY_FORWARD.value,
         StatementStatus.CARRIED.value],
    )  # fmt: skip
    out = []
    for r in rows:
        amount = f"{format_amount(Decimal(r['amount']), r['currency'])} {r['currency']}"
        if r["into_period"] is not None:
            out.append(f"{r['external_id']}: {amount} carried forward into {r['into_period']}")
        else:
            out.append(
                f"{r['external_id']}: balance carried forward from {r['original_period']} "
                f"(version {r['version']}): {amount}"
            )
    return out


# --- documents ------------------------------------------------------------------------------


async def statement_document(
    *, viewer: Viewer, statement_id: UUID | str, locale: str | None = None
) -> dict[str, Any]:
    """The statement as JSON: its lines in words (``locale``; left out: the payee's
    language), the plan versions its earnings came from with their documents' sha256, and
    the hash of its inputs, so anyone can recompute it and compare."""
    repo = StatementRepository(viewer)
    statement = await repo.statement(statement_id)
    payee = await UserRepository(viewer).get(statement.user_id)
    tenant = await get_tenant(viewer.tenant_id)
    where = locale or payee.locale or tenant.locale or "en"
    versions = await PlanVersion.filter(
        tenant_id=viewer.tenant_id, id__in=[UUID(v) for v in statement.plan_versions]
    ).prefetch_related("plan")
    currency = statement.currency
    lines = await repo.all_lines(statement.id)
    why = await _explanations(viewer, lines, currency, where)
    return {
        "id": str(statement.id),
        "tenant": tenant.name,
        "payee": {"id": payee.external_id, "name": payee.display_name},
        "period": statement.period,
        "periodText": period_text(statement.period, where),
        "currency": currency,
        "version": statement.version,
        "current": statement.current,
        "status": statement.status,
        "approvedAt": statement.approved_at.isoformat() if statement.approved_at else None,
        "paidAt": statement.paid_at.isoformat() if statement.paid_at else None,
        "carriedIntoPeriod": statement.carried_into_period,
        "carriedIntoText": (
            period_text(statement.carried_into_period, where)
            if statement.carried_into_period else None
        ),
        "locale": where,
        "labels": documents.labels(documents.LABELS, language_of(where)),
        "plans": [
            {"id": str(v.id), "plan": v.plan.key, "name": v.plan.name, "version": v.version,
             "sha256": v.document_sha256}
            for v in sorted(versions, key=lambda v: (v.plan.key, v.version))
        ],
        "inputsHash": statement.inputs_hash,
        "lines": [
            {"id": ln.id, "kind": ln.kind,
             "amount": format(round_money(Decimal(ln.amount), currency), "f"),
             "formatted": money_text(Decimal(ln.amount), currency, where),
             "description": describe(ln.kind, ln.params, where, currency),
             "explanation": why.get((ln.params.get("result"), ln.params.get("component"))),
             "source": ln.source,
             "originalPeriod": ln.original_period, "originalLineId": ln.original_line_id,
             "carriedFrom": (
                 ln.params["statement"] if ln.kind == LineKind.CARRY_FORWARD.value else None
             )}
            for ln in lines
        ],
        "total": format(round_money(Decimal(statement.total), currency), "f"),
        "totalFormatted": money_text(Decimal(statement.total), currency, where),
    }  # fmt: skip


async def _explanations(
    viewer: Viewer, lines: Sequence[StatementLine], currency: str, locale: str
) -> dict[tuple[str, str], str]:
    """Each earnings line's component explained, as its frozen result explains it: (result
    id, component) -> words in ``locale``."""
    results = {
        ln.params["result"] for ln in lines if ln.kind == "earnings" and "result" in ln.params
    }
    if not results:
        return {}
    found = await EarningsLine.filter(
        tenant_id=viewer.tenant_id,
        result_id__in=[UUID(r) for r in results],
        transaction_external_id__isnull=True,
    ).order_by("position")
    out: dict[tuple[str, str], str] = {}
    for row in found:
        out.setdefault(
            (str(row.result_id), row.component),
            render_stored(
                row.explanation, locale=locale, currency=currency, value=row.value,
                amount=row.amount,
            ),
        )  # fmt: skip
    return out


async def statement_pdf(
    *, viewer: Viewer, statement_id: UUID | str, fonts: Sequence[str] = ()
) -> bytes:
    """The statement as a PDF in the payee's language and money format; ``fonts``: the
    fallback font files (the service's PODIUM_PDF_FONTS) for names in other scripts."""
    document = await statement_document(viewer=viewer, statement_id=statement_id)
    # made in a thread: fpdf2 takes 0.1 to 1 s of CPU (a CJK font), which on the event loop
    # would hold up every other request, webhook and live update of the process meanwhile
    return await asyncio.to_thread(
        documents.statement_pdf, document, language_of(document["locale"]), fonts=fonts
    )


async def statement_pdf_for_link(statement_id: UUID, *, fonts: Sequence[str] = ()) -> bytes | None:
    """What a signed link serves (the link is the authorisation): None for no statement."""
    found = await Statement.get_or_none(id=statement_id)
    if found is None:
        return None
    viewer = Viewer.system(found.tenant_id, "statement-link")
    return await statement_pdf(viewer=viewer, statement_id=found.id, fonts=fonts)
