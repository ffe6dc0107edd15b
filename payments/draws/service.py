"""Draws: a guaranteed amount per period on a plan assignment. When a period's earnings are
below it, the statement pays the difference (a DRAW line); a recoverable draw books that as
an advance on its ledger, taken back from later periods whose earnings exceed the draw (a
DRAW_RECOVERY line) up to the draw's recovery share of those earnings, never leaving the
payee below the draw. When the payee leaves, the balance is forgiven or kept owed. The
share and the rule on leaving are the plan's (`PlanDrawTerms`, set by admins for every draw
on the plan), unless a draw has terms of its own.

Services never commit: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from tortoise import connections

from domain.audit.service import record
from domain.kit.chunks import chunked
from domain.kit.clock import utc_now
from domain.kit.errors import DomainError, Forbidden
from domain.kit.money import ZERO, round_money
from domain.kit.numbers import check_decimal
from domain.kit.periods import parse_period
from domain.org.models import User
from domain.org.viewer import Viewer
from domain.plans.models import Plan, PlanAssignment, PlanVersion
from payments.draws.models import Draw, DrawEntry, EntryKind, OnTermination, PlanDrawTerms

# a plan's terms before its admins set any: a recoverable draw takes back all it can, and the
# balance of a payee who leaves is forgiven
DEFAULT_SHARE = Decimal(1)
DEFAULT_ON_TERMINATION = OnTermination.FORGIVE.value


class DrawError(DomainError):
    code = "invalid_draw"


async def set_draw(
    *,
    viewer: Viewer,
    assignment_id: UUID | str,
    amount: Decimal,
    recoverable: bool,
    recovery_share: Decimal | None = None,
    on_termination: str | None = None,
) -> Draw:
    """Admins: the draw of a plan assignment (in the plan's currency), audited. Its terms
    change for the periods built after; what the ledger holds stays. ``recovery_share`` and
    ``on_termination`` left out (None): as the plan says (`set_plan_terms`)."""
    if not viewer.sees_whole_tenant:
        raise Forbidden("only admins and payout ops set draws", field="assignmentId")
    try:
        parsed = UUID(str(assignment_id))
    except ValueError:
        raise DrawError(f"no assignment {assignment_id!r}", field="assignmentId") from None
    assignment = await PlanAssignment.get_or_none(tenant_id=viewer.tenant_id, id=parsed)
    if assignment is None:
        raise DrawError(f"no assignment {assignment_id}", field="assignmentId")
    version = (
        await PlanVersion.filter(tenant_id=viewer.tenant_id, plan_id=assignment.plan_id)
        .order_by("-version")
        .first()
    )
    assert version is not None  # an assignment is of a published plan
    currency = version.currency
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise DrawError("a draw is a positive amount", field="amount")
    check_decimal(amount, field="amount")
    if round_money(amount, currency) != amount:
        raise DrawError(f"{amount} is finer than {currency} allows", field="amount")
    _check_terms(recovery_share, on_termination)
    terms = {
        "currency": currency, "amount": format(amount, "f"), "recoverable": recoverable,
        "recovery_share": None if recovery_share is None else format(recovery_share, "f"),
        "on_termination": on_termination,
    }  # fmt: skip
    draw = await Draw.get_or_none(tenant_id=viewer.tenant_id, assignment_id=assignment.id)
    before = None
    if draw is None:
        draw = await Draw.create(
            tenant_id=viewer.tenant_id, assignment_id=assignment.id, user_id=assignment.user_id,
            currency=currency, amount=amount, recoverable=recoverable,
            recovery_share=recovery_share, on_termination=on_termination,
        )  # fmt: skip
    else:
        before = _terms(draw)
        draw.amount, draw.recoverable = amount, recoverable
        draw.recovery_share, draw.on_termination = recovery_share, on_termination
        await draw.save(update_fields=["amount", "recoverable", "recovery_share", "on_termination"])
    await record(
        viewer=viewer, action="draw.set", entity_type="draw", entity_id=str(draw.id),
        before=before, after=terms | {"user_id": str(assignment.user_id)},
    )  # fmt: skip
    return draw


def _check_terms(recovery_share: Decimal | None, on_termination: str | None) -> None:
    """Draw terms as given (None: not given, the plan's)."""
    if recovery_share is not None:
        if not recovery_share.is_finite() or not ZERO <= recovery_share <= 1:
            raise DrawError("a share between 0 and 1", field="recoveryShare")
        check_decimal(recovery_share, field="recoveryShare")
    if on_termination is not None and on_termination not in {t.value for t in OnTermination}:
        raise DrawError("forgive or keep", field="onTermination")


def _terms(draw: Draw) -> dict[str, object]:
    share = draw.recovery_share
    return {
        "currency": draw.currency, "amount": format(Decimal(draw.amount), "f"),
        "recoverable": draw.recoverable,
        "recovery_share": None if share is None else format(Decimal(share), "f"),
        "on_termination": draw.on_termination,
    }  # fmt: skip


async def set_plan_terms(
    *, viewer: Viewer, plan_id: UUID | str, recovery_share: Decimal, on_termination: str
) -> PlanDrawTerms:
    """Admins: what a plan says of its draws (the share of later earnings a recoverable
    draw takes back; forgive or keep the balance when the payee leaves), for every draw on
    the plan without terms of its own, from the next statements built. Audited."""
    if not viewer.sees_whole_tenant:
        raise Forbidden("only admins and payout ops set draw terms", field="planId")
    try:
        parsed = UUID(str(plan_id))
    except ValueError:
        raise DrawError(f"no plan {plan_id!r}", field="planId") from None
    if not await Plan.filter(tenant_id=viewer.tenant_id, id=parsed).exists():
        raise DrawError(f"no plan {plan_id}", field="planId")
    _check_terms(recovery_share, on_termination)
    found = await (
        PlanDrawTerms.filter(tenant_id=viewer.tenant_id, plan_id=parsed).select_for_update().first()
    )
    before = None if found is None else _plan_terms(found)
    if found is None:
        found = PlanDrawTerms(tenant_id=viewer.tenant_id, plan_id=parsed)
    found.recovery_share, found.on_termination = recovery_share, on_termination
    found.updated_at = utc_now()
    await found.save()
    await record(viewer=viewer, action="plan.draw_terms_set", entity_type="plan",
                 entity_id=str(parsed), before=before, after=_plan_terms(found))  # fmt: skip
    return found


def _plan_terms(terms: PlanDrawTerms) -> dict[str, object]:
    return {"recovery_share": format(Decimal(terms.recovery_share), "f"),
            "on_termination": terms.on_termination}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Terms:
    """A draw's terms in force: its own, else its plan's, else the defaults."""

    recovery_share: Decimal
    on_termination: str
    from_plan: bool  # the share or the rule is the plan's (or the default), not the draw's


async def terms_of(viewer: Viewer, draws: Sequence[Draw]) -> dict[UUID, Terms]:
    """Each draw's terms in force (its assignment fetched), in one query for the plans'."""
    plan_ids = {d.assignment.plan_id for d in draws}
    by_plan = {
        t.plan_id: t
        for t in await PlanDrawTerms.filter(tenant_id=viewer.tenant_id, plan_id__in=plan_ids)
    } if plan_ids else {}  # fmt: skip
    out: dict[UUID, Terms] = {}
    for d in draws:
        plan = by_plan.get(d.assignment.plan_id)
        share = d.recovery_share
        if share is None:
            share = DEFAULT_SHARE if plan is None else Decimal(plan.recovery_share)
        rule = d.on_termination
        if rule is None:
            rule = DEFAULT_ON_TERMINATION if plan is None else plan.on_termination
        own = d.recovery_share is not None and d.on_termination is not None
        out[d.id] = Terms(Decimal(share), rule, from_plan=not own)
    return out


@dataclass(frozen=True, slots=True)
class DrawLine:
    """What a draw puts on one statement, and the ledger entries that go with it."""

    user_id: UUID
    currency: str
    kind: str  # "draw" | "draw_recovery" (a statement LineKind value)
    amount: Decimal  # signed, as the statement line
    draw_id: UUID
    params: dict[str, str]


@dataclass(frozen=True, slots=True)
class PendingEntry:
    user_id: UUID
    currency: str
    draw_id: UUID
    kind: EntryKind
    amount: Decimal


async def draws_for(
    viewer: Viewer, period: str, earnings: dict[tuple[UUID, str], Decimal]
) -> tuple[list[DrawLine], list[PendingEntry]]:
    """The draw lines and ledger entries of a period's statements being built:
    ``earnings`` is each (payee, currency)'s earnings on them (commission and late
    corrections). One draw per payee and currency counts (the newest assignment's)."""
    parsed = parse_period(period)
    users = sorted({u for u, _ in earnings})
    if not users:
        return [], []
    draws = [
        d
        for part in chunked(users)
        for d in await Draw.filter(
            tenant_id=viewer.tenant_id,
            user_id__in=part,
            assignment__effective_from__lte=parsed.end,
        ).prefetch_related("assignment")
    ]
    active: dict[tuple[UUID, str], Draw] = {}
    for d in sorted(draws, key=lambda d: d.assignment.effective_from):
        to = d.assignment.effective_to
        if (to is None or to >= parsed.start) and (d.user_id, d.currency) in earnings:
            active[(d.user_id, d.currency)] = d
    if not active:
        return [], []
    balances = await _balances([d.id for d in active.values()], before=period)
    terms = await terms_of(viewer, list(active.values()))
    people = {
        u.id: u
        for part in chunked(sorted({u for u, _ in active}))
        for u in await User.filter(tenant_id=viewer.tenant_id, id__in=part).only("id", "end_date")
    }
    lines: list[DrawLine] = []
    entries: list[PendingEntry] = []
    for key, draw in active.items():
        user_id, currency = key
        earned = earnings[key]
        guaranteed = Decimal(draw.amount)
        balance = balances.get(draw.id, ZERO)
        if earned < guaranteed:
            top_up = guaranteed - earned
            lines.append(DrawLine(user_id, currency, "draw", top_up, draw.id, {
                "recoverable": "yes" if draw.recoverable else "no",
                "draw": format(guaranteed, "f"),
            }))  # fmt: skip
            entries.append(PendingEntry(user_id, currency, draw.id, EntryKind.ADVANCE, top_up))
            if draw.recoverable:
                balance += top_up
        elif draw.recoverable and balance > 0:
            rate = terms[draw.id].recovery_share
            share = round_money(earned * rate, currency)
            taken = min(balance, share, earned - guaranteed)
            if taken > 0:
                lines.append(DrawLine(user_id, currency, "draw_recovery", -taken, draw.id, {
                    "share": format(rate, "f"),
                }))  # fmt: skip
                entries.append(PendingEntry(user_id, currency, draw.id, EntryKind.RECOVERY, taken))
                balance -= taken
        person = people.get(user_id)
        left = person is not None and person.end_date is not None and person.end_date <= parsed.end
        forgive = terms[draw.id].on_termination == OnTermination.FORGIVE.value
        if left and balance > 0 and forgive:
            entries.append(PendingEntry(user_id, currency, draw.id, EntryKind.FORGIVEN, balance))
    return lines, entries


async def record_entries(
    viewer: Viewer,
    period: str,
    entries: Sequence[PendingEntry],
    statements: dict[tuple[UUID, str], UUID],
) -> None:
    """The ledger entries of built statements (``statements``: (payee, currency) -> id)."""
    if not entries:
        return
    await DrawEntry.bulk_create(
        [
            DrawEntry(
                draw_id=e.draw_id, tenant_id=viewer.tenant_id, period=period, kind=e.kind.value,
                amount=e.amount, statement_id=statements.get((e.user_id, e.currency)),
            )
            for e in entries
        ]
    )  # fmt: skip


async def discard_entries(viewer: Viewer, period: str, statements: Sequence[UUID]) -> None:
    """The ledger entries the build of ``statements`` recorded (their period reopened: its
    next build records them again)."""
    await DrawEntry.filter(
        tenant_id=viewer.tenant_id, period=period, statement_id__in=list(statements)
    ).delete()


# what a draw's entries leave owed: recoverable advances less recoveries (and write-offs)
_BALANCE = (
    "coalesce(sum(CASE WHEN e.kind = 'advance' AND d.recoverable THEN e.amount "
    "WHEN e.kind = 'advance' THEN 0 ELSE -e.amount END), 0)"
)


async def _balances(draw_ids: Sequence[UUID], *, before: str) -> dict[UUID, Decimal]:
    """What each draw leaves owed before the period ``before``."""
    if not draw_ids:
        return {}
    rows = await connections.get("default").execute_query_dict(
        f"""
        SELECT e.draw_id, {_BALANCE} AS balance
        FROM draw_entries e JOIN draws d ON d.id = e.draw_id
        WHERE e.draw_id = ANY($1::uuid[]) AND e.period < $2
        GROUP BY e.draw_id
        """,
        [list(draw_ids), before],
    )
    return {r["draw_id"]: Decimal(r["balance"]) for r in rows}


async def balances_of(
    viewer: Viewer, keys: Sequence[tuple[UUID, str, str]]
) -> dict[tuple[UUID, str, str], Decimal | None]:
    """For each (payee, currency, period): what the payee owes back on their draws in that
    currency after that period; None when they have no draw. One query for any number."""
    out: dict[tuple[UUID, str, str], Decimal | None] = dict.fromkeys(keys)
    if not keys:
        return out
    rows = await connections.get("default").execute_query_dict(
        f"""
        SELECT k.user_id, k.currency, k.period, {_BALANCE} AS balance
        FROM unnest($2::uuid[], $3::text[], $4::text[]) AS k(user_id, currency, period)
          JOIN draws d ON d.tenant_id = $1 AND d.user_id = k.user_id AND d.currency = k.currency
          LEFT JOIN draw_entries e ON e.draw_id = d.id AND e.period <= k.period
        GROUP BY k.user_id, k.currency, k.period
        """,
        [viewer.tenant_id, [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys]],
    )
    for r in rows:
        out[(r["user_id"], r["currency"], r["period"])] = Decimal(r["balance"] or 0)
    return out


async def balance_of(viewer: Viewer, user_id: UUID, currency: str, period: str) -> Decimal | None:
    """``balances_of`` for one payee, currency and period."""
    key = (user_id, currency, period)
    return (await balances_of(viewer, [key]))[key]
