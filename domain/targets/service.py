"""Target use cases: create a plan, allocate down the hierarchy, propose, validate or send
back, publish (from an effective date, as the quotas the engine reads), accept or dispute,
revise. Keyword-only, audited, never committing: the caller owns the transaction, so a failed
step leaves nothing half-written.

Who may do what (every step checks it):
- admins: everything in their tenant but answering someone's target;
- a manager: allocate and propose a target of anyone in their subtree (themselves included),
  validate or send back the allocation of anyone strictly below them; see their subtree's;
- a rep: see, accept or dispute their own published targets (of the current version);
- another tenant's ids are not found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from domain.audit.service import record
from domain.ingest.repository import IngestRepository
from domain.kit.clock import utc_now
from domain.kit.errors import quoted
from domain.kit.money import format_plain, minor_units, unpadded
from domain.kit.numbers import check_decimal
from domain.kit.periods import PERIOD_KINDS, Period, parse_period, period_containing
from domain.kit.text import blank, control_character
from domain.notifications.models import NotificationKind
from domain.notifications.repository import NewNotification, NotifierRepository
from domain.notifications.texts import render
from domain.org.models import Role, User
from domain.org.repository import UserRepository, parse_id
from domain.org.viewer import Viewer
from domain.targets.allocation import split_amount
from domain.targets.errors import (
    AllocationError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PeriodError,
)
from domain.targets.models import (
    AllocationMethod,
    PlanStatus,
    Target,
    TargetPlan,
    TargetStatus,
    quota_key,
)
from domain.targets.repository import TargetRepository
from domain.tenants.repository import get_tenant

SHARE_DECIMALS = 12  # a share of 1/3 as 0.333333333333
WEIGHT_ATTRIBUTE = "target_weight"  # the default weighting column (a person's attribute)


@dataclass(frozen=True, slots=True)
class Allocation:
    """One child of an allocation: ``value`` (an amount) or ``share`` (a fraction of the
    parent, 0.25 = 25%) for MANUAL, ``share`` as a weight for WEIGHTS."""

    person_id: str
    value: Decimal | None = None
    share: Decimal | None = None


def quantum_of(currency: str | None) -> Decimal:
    return Decimal(1) if currency is None else Decimal(1).scaleb(-minor_units(currency))


def _snapshot(target: Target) -> dict[str, Any]:
    return {
        "user_id": str(target.user_id),
        "value": format_plain(unpadded(target.value)),
        "status": target.status.value,
    }


async def _subtree(viewer: Viewer, user_id: UUID) -> set[UUID]:
    return set(await UserRepository(viewer).subtree_ids(user_id))


async def _require_manages(viewer: Viewer, user_id: UUID, *, strictly: bool = False) -> None:
    """Admins manage their tenant; a manager their subtree (``strictly``: below them)."""
    if viewer.role is Role.ADMIN:
        return
    if viewer.role is Role.MANAGER and viewer.user_id is not None:
        below = await _subtree(viewer, viewer.user_id)
        if user_id in below and not (strictly and user_id == viewer.user_id):
            return
    raise Forbidden("this target is outside your part of the organisation", field="id")


def _check_value(value: Decimal, quantum: Decimal, field: str) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise AllocationError("a target is a decimal number", field=field)
    if value < 0:
        raise AllocationError(f"a target cannot be negative, got {value}", field=field)
    check_decimal(value, field=field)
    if value % quantum:
        raise AllocationError(f"{value} is not a whole number of {quantum}", field=field)


QUOTA_KEY_LIMIT = 100  # quotas.measure is VARCHAR(100)


def _plain(text: str, field: str) -> None:
    """A key, measure or breakdown is one line of every listing (`podium targets list`)."""
    if found := control_character(text):
        raise InvalidInput(
            f"contains a control character ({found}): give one line of plain text", field=field
        )


def check_target_key(key: str) -> None:
    """A plan's key: 1-100 characters that show something, one line of plain text."""
    if not key or blank(key) or len(key) > 100:
        raise InvalidInput("a key of 1-100 characters", field="key")
    _plain(key, "key")


def check_target_measure(
    measure: str, breakdown_field: str | None, breakdown_value: str | None
) -> None:
    """A measure id, and a breakdown (a transaction field and one of its values) or none,
    whose quota key (``quota_key``) fits the quotas; the error names measure,
    breakdownField or breakdownValue."""
    _plain(measure, "measure")
    for text, field in ((breakdown_field, "breakdownField"), (breakdown_value, "breakdownValue")):
        if text is not None:
            _plain(text, field)
    if not measure or len(measure) > QUOTA_KEY_LIMIT or "[" in measure:
        raise InvalidInput(
            f"a measure id of 1-{QUOTA_KEY_LIMIT} characters, without [", field="measure"
        )
    if (breakdown_field is None) != (breakdown_value is None):
        raise InvalidInput("a breakdown needs both a field and a value", field="breakdownField")
    if breakdown_field is None or breakdown_value is None:
        return
    if not breakdown_field or any(c in breakdown_field for c in "[]="):
        raise InvalidInput("a transaction field's name, without [, ] or =", field="breakdownField")
    if not breakdown_value.strip():
        raise InvalidInput("a value of the breakdown field", field="breakdownValue")
    key = quota_key(measure, breakdown_field, breakdown_value)
    if len(key) > QUOTA_KEY_LIMIT:
        raise InvalidInput(
            f"the quota key {quoted(key)} is longer than {QUOTA_KEY_LIMIT} characters",
            field="breakdownValue",
        )


def engine_periods(target_period: Period, kind: str) -> list[Period]:
    """The engine's periods (the tenant's period kind) that make up a target's period."""
    if PERIOD_KINDS.index(target_period.kind) < PERIOD_KINDS.index(kind):  # type: ignore[arg-type,unused-ignore]
        raise PeriodError(
            f"the engine calculates by {kind}: a target is for a {kind} or longer",
            field="period",
        )
    out = [period_containing(target_period.start, kind)]  # type: ignore[arg-type]
    while out[-1].end < target_period.end:
        out.append(out[-1].next())
    return out


async def _notify(
    viewer: Viewer, period: str, recipients: Sequence[tuple[User, dict[str, str]]]
) -> None:
    """One TARGET notification per (person, params), rendered in the person's language;
    params carry the event and what its text needs (see notifications.texts)."""
    news = []
    for u, params in recipients:
        locale = u.locale or viewer.locale
        title, body = render(NotificationKind.TARGET, {"period": period, **params}, locale)
        news.append(
            NewNotification(
                user_id=u.id,
                period=period,
                kind=NotificationKind.TARGET,
                title=title,
                body=body,
                params={"period": period, **params},
                locale=locale,
                sent=(),
            )
        )
    await NotifierRepository(viewer.tenant_id).add_notifications(news)


def _amount_params(value: Decimal, currency: str | None) -> dict[str, str]:
    out = {"amount": format_plain(unpadded(value))}
    return out | {"currency": currency} if currency else out


async def _approvers_of(viewer: Viewer, user: User) -> list[User]:
    """Whoever validates ``user``'s allocation: their manager, or the tenant's admins."""
    users = UserRepository(viewer)
    if user.manager_id is not None:
        return [await users.get(user.manager_id)]
    return [u for u in await users.all() if u.role is Role.ADMIN]


async def create_target_plan(
    *,
    viewer: Viewer,
    key: str,
    period: str,
    measure: str,
    amount: Decimal,
    currency: str | None,
    owner_id: UUID | str,
    breakdown_field: str | None = None,
    breakdown_value: str | None = None,
) -> TargetPlan:
    """Admins: a tenant-level target, given whole to ``owner`` (the top of the hierarchy,
    who allocates it). Its root is validated: the admin set it."""
    if viewer.role is not Role.ADMIN:
        raise Forbidden("only admins create target plans", field="key")
    key = key.strip()
    check_target_key(key)
    measure = measure.strip()
    if breakdown_field is not None:
        breakdown_field = breakdown_field.strip()
    check_target_measure(measure, breakdown_field, breakdown_value)
    parsed = parse_period(period)
    tenant = await get_tenant(viewer.tenant_id)
    engine_periods(parsed, tenant.settings.get("period_kind", "month"))
    quantum = quantum_of(currency)
    _check_value(amount, quantum, "amount")
    repo = TargetRepository(viewer)
    await repo.lock_key(key)
    if await repo.latest_version(key):
        raise Conflict(f"target plan {key!r} exists: revise it instead", field="key")
    owner = await UserRepository(viewer).get(owner_id, field="ownerId")
    plan = await TargetPlan.create(
        tenant_id=viewer.tenant_id,
        key=key,
        version=1,
        period=parsed.id,
        measure=measure,
        breakdown_field=breakdown_field,
        breakdown_value=breakdown_value,
        amount=amount,
        currency=currency,
    )
    root = await Target.create(
        tenant_id=viewer.tenant_id,
        plan_id=plan.id,
        user_id=owner.id,
        value=amount,
        status=TargetStatus.VALIDATED,
    )
    await record(
        viewer=viewer,
        action="target.create",
        entity_type="target_plan",
        entity_id=str(plan.id),
        after={
            "key": key,
            "period": parsed.id,
            "measure": measure,
            "root": _snapshot(root),
            "currency": currency,
        },
    )
    await _notify(
        viewer,
        parsed.id,
        [
            (
                owner,
                {"event": "allocate", "measure": measure, "target_id": str(root.id)}
                | _amount_params(amount, currency),
            )
        ],
    )
    return plan


async def _weights(
    viewer: Viewer,
    plan: TargetPlan,
    method: AllocationMethod,
    reports: list[User],
    allocations: Sequence[Allocation],
    weight_attribute: str | None,
) -> dict[UUID, Decimal]:
    ids = [u.id for u in reports]
    if method is AllocationMethod.EQUAL:
        return dict.fromkeys(ids, Decimal(1))
    if method is AllocationMethod.ACTUALS:
        previous = parse_period(plan.period).previous()
        tenant = await get_tenant(viewer.tenant_id)
        periods = [
            p.id for p in engine_periods(previous, tenant.settings.get("period_kind", "month"))
        ]
        users = UserRepository(viewer)
        repo = TargetRepository(viewer)
        weights: dict[UUID, Decimal] = {}
        for u in reports:  # a manager's actuals: their whole subtree's
            subtree = await users.subtree_ids(u.id)
            if plan.breakdown_field is not None and plan.breakdown_value is not None:
                # the measure's stored totals know no breakdown: the transactions do
                totals = await repo.field_totals(
                    subtree,
                    previous.start,
                    previous.end,
                    plan.breakdown_field,
                    plan.breakdown_value,
                    plan.currency,
                )
            else:
                totals = await repo.measure_totals(subtree, periods, plan.quota_key)
            weights[u.id] = max(Decimal(0), sum(totals.values(), Decimal(0)))
        if not any(weights.values()):
            raise AllocationError(
                f"nobody has {plan.measure} actuals in {previous.id}: choose another method",
                field="method",
            )
        return weights
    if method is AllocationMethod.WEIGHTS and not allocations:
        column = weight_attribute or WEIGHT_ATTRIBUTE
        weights = {}
        for u in reports:
            raw = u.attributes.get(column)
            try:
                weights[u.id] = Decimal(str(raw))
            except ArithmeticError:
                raise AllocationError(
                    f"{u.display_name} has no number in column {column!r}", field="weightAttribute"
                ) from None
            if not weights[u.id].is_finite() or weights[u.id] < 0:
                raise AllocationError(
                    f"{u.display_name} has no weight at least 0 in {column!r}",
                    field="weightAttribute",
                )
        return weights
    raise AssertionError(method)


async def allocate(
    *,
    viewer: Viewer,
    target_id: UUID | str,
    method: AllocationMethod,
    allocations: Sequence[Allocation] = (),
    weight_attribute: str | None = None,
) -> Target:
    """Split a target among its person's direct reports (replacing an earlier draft split).
    EQUAL, ACTUALS (the reports' subtrees' stored totals of the measure in the previous
    period) and WEIGHTS (``share`` per person, or a weighting column of the people) place the
    remainder by the rule of ``domain.targets.allocation``; MANUAL takes a ``value`` or a
    ``share`` per person, and values must add up to the parent exactly."""
    repo = TargetRepository(viewer)
    target = await repo.target(target_id, for_update=True)
    await _require_manages(viewer, target.user_id)
    plan = await repo.plan(target.plan_id, for_update=True)
    if plan.status is not PlanStatus.DRAFT:
        raise Conflict("the plan is published: revise it to change the allocation", field="id")
    if target.status not in (TargetStatus.DRAFT, TargetStatus.VALIDATED, TargetStatus.PROPOSED):
        raise Conflict(f"the target is {target.status.value}", field="id")
    reports = await UserRepository(viewer).direct_reports(target.user_id)
    by_id = {u.id: u for u in reports}
    if not reports:
        raise AllocationError("this person has no direct reports to allocate to", field="id")
    quantum = quantum_of(plan.currency)
    names = {u.id: u.external_id for u in reports}  # the remainder's tie-break
    seen: set[UUID] = set()
    for i, a in enumerate(allocations):
        field = f"allocations.{i}.personId"
        try:
            person = parse_id(a.person_id, field)
        except NotFound:
            raise AllocationError("no such person", field=field) from None
        if person not in by_id:
            raise AllocationError(
                "this person is not a direct report of the target's owner", field=field
            )
        if person in seen:
            raise AllocationError("this person is allocated twice", field=field)
        seen.add(person)
        for name, number in (("value", a.value), ("share", a.share)):
            if number is None:
                continue
            # bounded like every number that enters (a share of 1e999999 is nine bytes)
            check_decimal(number, field=f"allocations.{i}.{name}", decimals=SHARE_DECIMALS)
            if number < 0:
                raise AllocationError(
                    f"cannot be negative, got {number}", field=f"allocations.{i}.{name}"
                )
    amount = Decimal(target.value)
    values: dict[UUID, Decimal]
    if method is AllocationMethod.MANUAL or (method is AllocationMethod.WEIGHTS and allocations):
        if seen != set(by_id):
            missing = ", ".join(sorted(by_id[u].display_name for u in set(by_id) - seen))
            raise AllocationError(
                f"every direct report needs a line; missing: {missing}", field="allocations"
            )
        people = [parse_id(a.person_id, "personId") for a in allocations]
        if method is AllocationMethod.WEIGHTS or all(a.value is None for a in allocations):
            if any(a.share is None or a.value is not None for a in allocations):
                raise AllocationError("give every line a share (and no value)", field="allocations")
            shares = {
                p: a.share for p, a in zip(people, allocations, strict=True) if a.share is not None
            }
            if method is AllocationMethod.MANUAL and sum(shares.values()) != 1:
                raise AllocationError(
                    f"the shares add up to {sum(shares.values())}, not 1 (100%)",
                    field="allocations",
                )
            values = split_amount(amount, shares, quantum, names=names)
        else:
            if any(a.value is None or a.share is not None for a in allocations):
                raise AllocationError("give every line a value (and no share)", field="allocations")
            values = {}
            for i, (p, a) in enumerate(zip(people, allocations, strict=True)):
                assert a.value is not None
                _check_value(a.value, quantum, f"allocations.{i}.value")
                values[p] = a.value
            total = sum(values.values(), Decimal(0))
            if total != amount:
                raise AllocationError(
                    f"the children add up to {format_plain(unpadded(total))}, "
                    f"not the parent's {format_plain(unpadded(amount))}",
                    field="allocations",
                )
    else:
        if allocations and method is not AllocationMethod.WEIGHTS:
            raise AllocationError(f"{method.value} takes no allocation lines", field="allocations")
        weights = await _weights(viewer, plan, method, reports, allocations, weight_attribute)
        values = split_amount(amount, weights, quantum, names=names)
    before = [_snapshot(c) for c in await repo.children(target.id)]
    await repo.delete_children(target.id)
    children = [
        await Target.create(
            tenant_id=viewer.tenant_id,
            plan_id=plan.id,
            parent_id=target.id,
            user_id=u.id,
            value=values[u.id],
            status=TargetStatus.DRAFT,
        )
        for u in reports
    ]
    target.method = method
    await target.save(update_fields=["method", "updated_at"])
    await record(
        viewer=viewer,
        action="target.allocate",
        entity_type="target",
        entity_id=str(target.id),
        before={"children": before},
        after={"method": method.value, "children": [_snapshot(c) for c in children]},
    )
    return target


async def _move_children(
    viewer: Viewer,
    target: Target,
    source: TargetStatus,
    to: TargetStatus,
    action: str,
    note: str | None = None,
) -> list[Target]:
    repo = TargetRepository(viewer)
    children = await repo.children(target.id)
    if not children:
        raise Conflict("this target is not allocated yet", field="id")
    wrong = [c for c in children if c.status is not source]
    if wrong:
        raise Conflict(f"the allocation is {wrong[0].status.value}, not {source.value}", field="id")
    for c in children:
        c.status = to
        await c.save(update_fields=["status", "updated_at"])
    await record(
        viewer=viewer,
        action=action,
        entity_type="target",
        entity_id=str(target.id),
        before={"status": source.value},
        after={"status": to.value, "children": len(children)} | ({"comment": note} if note else {}),
    )
    return children


async def propose(*, viewer: Viewer, target_id: UUID | str) -> Target:
    """Send an allocation to the level above (the owner's manager, or the admins)."""
    repo = TargetRepository(viewer)
    target = await repo.target(target_id, for_update=True)
    await _require_manages(viewer, target.user_id)
    await _move_children(
        viewer, target, TargetStatus.DRAFT, TargetStatus.PROPOSED, "target.propose"
    )
    plan = await repo.plan(target.plan_id)
    owner = await UserRepository(viewer).get(target.user_id)
    params = {
        "event": "propose",
        "measure": plan.measure,
        "name": owner.display_name,
        "target_id": str(target.id),
    }
    await _notify(viewer, plan.period, [(a, params) for a in await _approvers_of(viewer, owner)])
    return target


async def validate(*, viewer: Viewer, target_id: UUID | str) -> Target:
    """The level above agrees with an allocation (a manager strictly above its owner, or an
    admin); the owner's reports can then allocate theirs."""
    repo = TargetRepository(viewer)
    target = await repo.target(target_id, for_update=True)
    await _require_manages(viewer, target.user_id, strictly=True)
    children = await _move_children(
        viewer, target, TargetStatus.PROPOSED, TargetStatus.VALIDATED, "target.validate"
    )
    plan = await repo.plan(target.plan_id)
    users = UserRepository(viewer)
    people = await users.by_ids(c.user_id for c in children)
    recipients = [
        (
            people[c.user_id],
            {"event": "allocate", "measure": plan.measure, "target_id": str(c.id)}
            | _amount_params(c.value, plan.currency),
        )
        for c in children
        if await users.direct_reports(c.user_id)
    ]
    if await repo.ready_to_publish(plan.id):  # the last allocation: an admin publishes next
        params = {"event": "ready", "measure": plan.measure, "plan_id": str(plan.id)}
        recipients += [(u, params) for u in await users.all() if u.role is Role.ADMIN]
    await _notify(viewer, plan.period, recipients)
    return target


async def reject(*, viewer: Viewer, target_id: UUID | str, comment: str) -> Target:
    """The level above (whoever may validate it) sends a proposed allocation back to its
    owner with a comment: the split is a draft again, to change and propose anew."""
    note = (comment or "").strip()
    if not note:
        raise InvalidInput("say why the allocation is sent back", field="comment")
    if len(note) > 2000:
        raise InvalidInput("at most 2000 characters", field="comment")
    repo = TargetRepository(viewer)
    target = await repo.target(target_id, for_update=True)
    await _require_manages(viewer, target.user_id, strictly=True)
    await _move_children(
        viewer, target, TargetStatus.PROPOSED, TargetStatus.DRAFT, "target.reject", note
    )
    plan = await repo.plan(target.plan_id)
    owner = await UserRepository(viewer).get(target.user_id)
    params = {
        "event": "reject",
        "measure": plan.measure,
        "note": note,
        "target_id": str(target.id),
    }
    await _notify(viewer, plan.period, [(owner, params)])
    return target


def period_quota(
    period: Period, in_force: Sequence[tuple[date, Decimal | None]], quantum: Decimal
) -> Decimal | None:
    """A period's quota from the versions of a target plan that apply to it: ``in_force`` is
    (effective date, the person's share of this period, None if the version gives them no
    target) per version, oldest first; each applies from its date to the next one's. The
    period's days fall into stretches, one per version (and before the first, none); every
    share is split over the stretches by days with the remainder rule (ties to the earlier
    days) and each version keeps its own stretch's part, so the quota is exact to the quantum
    and one version alone gives its share whole. None: no version gives the person a target
    on any day of the period."""
    bounds = [(max(start, period.start), share) for start, share in in_force]
    stretches: list[tuple[int, Decimal | None]] = []  # (days, share)
    first = bounds[0][0] if bounds else period.end + timedelta(days=1)
    if first > period.start:
        stretches.append((min((first - period.start).days, period.days), None))
    for i, (start, share) in enumerate(bounds):
        end = bounds[i + 1][0] if i + 1 < len(bounds) else period.end + timedelta(days=1)
        end = min(end, period.end + timedelta(days=1))
        if end > start:
            stretches.append(((end - start).days, share))
    if all(share is None for _, share in stretches):
        return None
    if len(stretches) == 1:  # one version all month (the usual case): its share whole
        return stretches[0][1]
    days = {i: Decimal(n) for i, (n, _) in enumerate(stretches)}
    order = {i: f"{i:04d}" for i in days}
    total = Decimal(0)
    for i, (_, share) in enumerate(stretches):
        if share is not None:
            total += split_amount(share, days, quantum, names=order)[i]
    return total


def tenant_today(time_zone: str) -> date:
    return utc_now().astimezone(ZoneInfo(time_zone)).date()


def _check_running(whole: Period, today: date, field: str) -> None:
    """A revision changes a target while its period runs, never after."""
    if today > whole.end:
        raise PeriodError(
            f"{whole.id} ended on {whole.end.isoformat()}: its targets can no longer be revised",
            field=field,
        )


async def publish(
    *, viewer: Viewer, plan_id: UUID | str, effective: date | None = None
) -> TargetPlan:
    """Admins: every target becomes its person's quota of the plan's quota key (its measure,
    or ``measure[field=value]`` with a breakdown), split over the engine's periods equally by
    the remainder rule, from ``effective`` on (see ``period_quota``).

    A first version applies from the start of the engine period ``effective`` falls in
    (default: its period's first day); a revision from ``effective`` (default: today in the
    tenant's time zone, never before its period or the version it replaces), the engine
    period it falls in mixed by day with the versions before, and the people it drops lose
    their quota from then on. Refused: ``effective`` outside the target's period or before
    the current version's date, a closed engine period from ``effective`` on, a revision once
    the period has ended. The engine periods already started whose quotas changed are queued
    for a recompute (in this transaction)."""
    if viewer.role is not Role.ADMIN:
        raise Forbidden("only admins publish targets", field="planId")
    repo = TargetRepository(viewer)
    plan = await repo.plan(plan_id, for_update=True)
    if plan.status is not PlanStatus.DRAFT:
        raise Conflict(f"this plan version is {plan.status.value}", field="planId")
    targets = await repo.targets_of_plan(plan.id)
    pending = [t for t in targets if t.status is not TargetStatus.VALIDATED]
    if pending:
        raise Conflict(f"{len(pending)} target(s) are not validated yet", field="planId")
    tenant = await get_tenant(viewer.tenant_id)
    kind = tenant.settings.get("period_kind", "month")
    whole = parse_period(plan.period)
    periods = engine_periods(whole, kind)
    today = tenant_today(tenant.time_zone)
    history = await repo.published_versions(plan.key)
    current = history[-1] if history else None
    field = "period" if effective is None else "effectiveFrom"
    if current is not None:
        _check_running(whole, today, "period")
    if effective is not None and not whole.start <= effective <= whole.end:
        raise InvalidInput(
            f"{effective.isoformat()} is not in {whole.id} "
            f"({whole.start.isoformat()} to {whole.end.isoformat()})",
            field="effectiveFrom",
        )
    if current is None:
        effective = period_containing(effective or whole.start, kind).start
    else:
        since = current.effective_from or whole.start
        if effective is None:
            effective = max(today, whole.start, since)
        elif effective < since:
            raise InvalidInput(
                f"version {current.version} applies from {since.isoformat()}: "
                "a revision applies on or after it",
                field="effectiveFrom",
            )
    affected = [p for p in periods if p.end >= effective]
    closed = await repo.closed_periods(p.id for p in affected)
    if closed:
        raise PeriodError(
            f"{', '.join(sorted(closed))} is closed: its quotas are final", field=field
        )
    plan.effective_from = effective
    quantum = quantum_of(plan.currency)
    versions = [*history, plan]
    by_version = await repo.targets_of_plans(v.id for v in history)
    by_version[plan.id] = targets
    equal = {p.id: Decimal(1) for p in periods}
    shares = {
        v.id: {t.user_id: split_amount(Decimal(t.value), equal, quantum) for t in by_version[v.id]}
        for v in versions
    }
    people = {u for v in versions for u in shares[v.id]}
    key = plan.quota_key
    stored = await repo.quotas_of(key, [p.id for p in affected])
    writes: list[tuple[UUID, str, Decimal]] = []
    ends: list[tuple[UUID, str]] = []
    for u in sorted(people):
        for p in affected:
            quota = period_quota(
                p,
                [
                    (v.effective_from or whole.start, shares[v.id].get(u, {}).get(p.id))
                    for v in versions
                ],
                quantum,
            )
            if quota is None:
                if (u, p.id) in stored:
                    ends.append((u, p.id))
            elif stored.get((u, p.id)) != quota:
                writes.append((u, p.id, quota))
    await repo.write_quotas(key, writes)
    await repo.delete_quotas(key, ends)
    started = {p.id for p in affected if p.start <= today}
    await IngestRepository(viewer).request_recomputes(
        (u, period) for u, period in [*((u, p) for u, p, _ in writes), *ends] if period in started
    )
    await Target.filter(tenant_id=viewer.tenant_id, plan_id=plan.id).update(
        status=TargetStatus.PUBLISHED, updated_at=utc_now()
    )
    superseded = await TargetPlan.filter(
        tenant_id=viewer.tenant_id, key=plan.key, status=PlanStatus.PUBLISHED
    ).update(status=PlanStatus.SUPERSEDED)
    plan.status = PlanStatus.PUBLISHED
    plan.published_at = utc_now()
    await plan.save(update_fields=["status", "published_at", "effective_from"])
    await record(
        viewer=viewer,
        action="target.publish",
        entity_type="target_plan",
        entity_id=str(plan.id),
        before={"status": "draft"},
        after={
            "status": "published",
            "version": plan.version,
            "effective_from": effective.isoformat(),
            "quota": key,
            "quotas_written": len(writes),
            "quotas_ended": len(ends),
            "periods": [p.id for p in affected],
            "superseded": superseded,
        },
    )
    people_by_id = await UserRepository(viewer).by_ids(t.user_id for t in targets)
    await _notify(
        viewer,
        plan.period,
        [
            (
                people_by_id[t.user_id],
                {"event": "publish", "measure": plan.measure, "plan_id": str(plan.id)}
                | _amount_params(t.value, plan.currency),
            )
            for t in targets
        ],
    )
    return plan


async def respond(
    *, viewer: Viewer, target_id: UUID | str, accept: bool, comment: str | None = None
) -> Target:
    """The person accepts their published target, or disputes it with a comment."""
    repo = TargetRepository(viewer)
    target = await repo.target(target_id, for_update=True)
    if target.user_id != viewer.user_id:
        raise NotFound("no such target of yours", field="id")
    if target.status not in (TargetStatus.PUBLISHED, TargetStatus.DISPUTED):
        raise Conflict(f"this target is {target.status.value}, not published to you", field="id")
    plan = await repo.plan(target.plan_id)
    if plan.status is PlanStatus.SUPERSEDED:
        raise Conflict(
            f"version {plan.version} of this target was replaced by a later one: "
            "answer the current version",
            field="id",
        )
    note = (comment or "").strip() or None
    if not accept and note is None:
        raise InvalidInput("say why you dispute this target", field="comment")
    if note is not None and len(note) > 2000:
        raise InvalidInput("at most 2000 characters", field="comment")
    before = _snapshot(target)
    target.status = TargetStatus.ACCEPTED if accept else TargetStatus.DISPUTED
    target.accepted_at = utc_now() if accept else None
    target.comment = note  # type: ignore[assignment]  # a nullable TextField
    await target.save(update_fields=["status", "accepted_at", "comment", "updated_at"])
    await record(
        viewer=viewer,
        action="target.accept" if accept else "target.dispute",
        entity_type="target",
        entity_id=str(target.id),
        before=before,
        after={**_snapshot(target), "comment": note},
    )
    if not accept:
        me = await UserRepository(viewer).get(target.user_id)
        params = {
            "event": "dispute",
            "measure": plan.measure,
            "name": me.display_name,
            "note": note or "",
            "target_id": str(target.id),
        }
        await _notify(viewer, plan.period, [(a, params) for a in await _approvers_of(viewer, me)])
    return target


async def revise(
    *, viewer: Viewer, plan_id: UUID | str, amount: Decimal | None = None
) -> TargetPlan:
    """Admins: a new draft version of a published plan. The same allocation (or, with a new
    ``amount``, only the root: allocate again); publishing it replaces the open periods'
    quotas."""
    if viewer.role is not Role.ADMIN:
        raise Forbidden("only admins revise target plans", field="planId")
    repo = TargetRepository(viewer)
    old = await repo.plan(plan_id, for_update=True)
    if old.status is not PlanStatus.PUBLISHED:
        raise Conflict("only the published version can be revised", field="planId")
    tenant = await get_tenant(viewer.tenant_id)
    _check_running(parse_period(old.period), tenant_today(tenant.time_zone), "planId")
    quantum = quantum_of(old.currency)
    if amount is not None:
        _check_value(amount, quantum, "amount")
    await repo.lock_key(old.key)
    if await repo.latest_version(old.key) != old.version:
        raise Conflict(
            f"target plan {old.key!r} has a newer version than v{old.version} already",
            field="planId",
        )
    plan = await TargetPlan.create(
        tenant_id=viewer.tenant_id,
        key=old.key,
        version=old.version + 1,
        period=old.period,
        measure=old.measure,
        breakdown_field=old.breakdown_field,
        breakdown_value=old.breakdown_value,
        amount=old.amount if amount is None else amount,
        currency=old.currency,
    )
    old_targets = await repo.targets_of_plan(old.id)
    copies: dict[UUID, UUID] = {}
    pending = [t for t in old_targets if t.parent_id is None]
    while pending:  # parents before children
        t = pending.pop(0)
        root = t.parent_id is None
        if amount is not None and not root:
            continue
        copy = await Target.create(
            tenant_id=viewer.tenant_id,
            plan_id=plan.id,
            parent_id=None if root else copies[t.parent_id],  # type: ignore[index]
            user_id=t.user_id,
            value=plan.amount if root else t.value,
            status=TargetStatus.VALIDATED,
            method=t.method if amount is None else None,
        )
        copies[t.id] = copy.id
        pending.extend(c for c in old_targets if c.parent_id == t.id)
    await record(
        viewer=viewer,
        action="target.revise",
        entity_type="target_plan",
        entity_id=str(plan.id),
        before={"version": old.version, "amount": format_plain(unpadded(old.amount))},
        after={"version": plan.version, "amount": format_plain(unpadded(plan.amount))},
    )
    return plan


async def my_targets(
    *, viewer: Viewer, period: str | None = None
) -> list[tuple[Target, TargetPlan]]:
    if viewer.user_id is None:
        return []
    parsed = None if period is None else parse_period(period).id
    return await TargetRepository(viewer).of_user(viewer.user_id, parsed)


async def visible_target(*, viewer: Viewer, target_id: UUID | str) -> Target:
    """A target the viewer may see: their own, their subtree's (managers), any (admins)."""
    target = await TargetRepository(viewer).target(target_id)
    if target.user_id == viewer.user_id:
        return target
    try:
        await _require_manages(viewer, target.user_id)
    except Forbidden:
        raise NotFound("no such target", field="id") from None
    return target


async def plan_actuals(*, viewer: Viewer, plan: TargetPlan) -> dict[UUID, Decimal]:
    """Actuals so far of every target of ``plan``, by target id: a leaf's is its person's
    stored total, over the plan's periods, of the plan measures that read its quotas (the
    measure, or with a breakdown the measure whose ``quota:`` is the breakdown's key); a
    parent's is the sum of its children's (so a manager's actuals are their allocation's,
    never counted twice)."""
    tenant = await get_tenant(viewer.tenant_id)
    periods = engine_periods(parse_period(plan.period), tenant.settings.get("period_kind", "month"))
    repo = TargetRepository(viewer)
    targets = await repo.targets_of_plan(plan.id)
    parents = {t.parent_id for t in targets if t.parent_id is not None}
    leaves = [t for t in targets if t.id not in parents]
    totals = await repo.measure_totals(
        (t.user_id for t in leaves), [p.id for p in periods], plan.quota_key
    )
    children: dict[UUID | None, list[Target]] = {}
    for t in targets:
        children.setdefault(t.parent_id, []).append(t)
    out: dict[UUID, Decimal] = {}

    def walk(t: Target) -> Decimal:
        below = children.get(t.id)
        value = (
            sum((walk(c) for c in below), Decimal(0))
            if below
            else totals.get(t.user_id, Decimal(0))
        )
        out[t.id] = value
        return value

    for root in children.get(None, []):
        walk(root)
    return out


async def plans_with_actuals(
    *, viewer: Viewer, plan_ids: Sequence[UUID]
) -> dict[UUID, tuple[TargetPlan, dict[UUID, Decimal]]]:
    """Plans by id with the actuals of their targets (one batch of reads per plan, whatever
    the number of targets)."""
    plans = await TargetRepository(viewer).plans(plan_ids)
    missing = set(plan_ids) - plans.keys()
    if missing:
        raise NotFound("no such target plan", field="planId")
    return {pid: (p, await plan_actuals(viewer=viewer, plan=p)) for pid, p in plans.items()}


async def target_plans(*, viewer: Viewer, period: str | None) -> list[TargetPlan]:
    """Every version of the target plans of ``period`` (all periods: None), by period, key
    and version: an admin's tenant's, a manager's those with a target in their subtree;
    refused to anyone else."""
    query = TargetPlan.filter(tenant_id=viewer.tenant_id)
    if period is not None:
        query = query.filter(period=parse_period(period).id)
    if viewer.role is Role.ADMIN:
        return await query.order_by("period", "key", "version")
    if viewer.role is not Role.MANAGER or viewer.user_id is None:
        raise Forbidden("only admins and managers list target plans", field="period")
    below = await _subtree(viewer, viewer.user_id)
    return (
        await query.filter(targets__user_id__in=list(below))
        .distinct()
        .order_by("period", "key", "version")
    )


async def allocations_to_do(*, viewer: Viewer) -> list[Target]:
    """The viewer's targets in draft plans that they still have to allocate or propose: a
    validated target of someone with direct reports whose split is missing or a draft."""
    if viewer.user_id is None:
        return []
    users = UserRepository(viewer)
    if not await users.direct_reports(viewer.user_id):
        return []
    repo = TargetRepository(viewer)
    out = []
    for target in await repo.drafts_of(viewer.user_id):
        children = await repo.children(target.id)
        if target.status is TargetStatus.VALIDATED and all(
            c.status is TargetStatus.DRAFT for c in children
        ):
            out.append(target)
    return out


async def allocations_to_validate(*, viewer: Viewer) -> list[Target]:
    """Targets in draft plans whose allocation was proposed to the viewer: an admin's, any;
    a manager's, those of people strictly below them (validate's own rule)."""
    if viewer.role is Role.ADMIN:
        below = None
    elif viewer.role is Role.MANAGER and viewer.user_id is not None:
        below = await _subtree(viewer, viewer.user_id) - {viewer.user_id}
        if not below:
            return []
    else:
        return []
    return await TargetRepository(viewer).proposed_parents(below)


async def own_targets(*, viewer: Viewer, plan_ids: Sequence[UUID]) -> dict[UUID, Target]:
    """The viewer's own target in each plan version that has one, by plan id (an admin's:
    the root); where their view of its subtree starts."""
    repo = TargetRepository(viewer)
    if viewer.role is Role.ADMIN:
        return await repo.roots(plan_ids)
    if viewer.user_id is None:
        return {}
    return await repo.of_user_in(viewer.user_id, plan_ids)


async def publish_key(*, viewer: Viewer, key: str) -> UUID:
    """The id of the draft version of target plan ``key`` (what `podium targets publish`
    publishes)."""
    found = (
        await TargetPlan.filter(tenant_id=viewer.tenant_id, key=key, status=PlanStatus.DRAFT)
        .order_by("-version")
        .first()
    )
    if found is None:
        raise NotFound(f"no draft version of target plan {key!r}", field="--plan")
    return found.id


async def root_of(*, viewer: Viewer, plan_id: UUID) -> Target:
    repo = TargetRepository(viewer)
    return next(t for t in await repo.targets_of_plan(plan_id) if t.parent_id is None)


async def allocations_of(*, viewer: Viewer, target_ids: Sequence[UUID]) -> dict[UUID, list[Target]]:
    """The allocations (children) of targets, by parent id, in one query. Only for targets
    already shown to the viewer: the allocation of a target they may see is theirs to see
    (their reports, or anyone for an admin)."""
    return await TargetRepository(viewer).children_of_many(target_ids)
