"""Plan use cases: publish a version, assign, accept, set quotas. Services never commit: the
caller owns the transaction. Every change writes an audit entry."""

from __future__ import annotations

import functools
import hashlib
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.audit.service import record
from domain.engine.plan import Plan as EnginePlan
from domain.engine.plan import parse_plan_text
from domain.kit.clock import utc_now
from domain.kit.errors import Conflict, Forbidden, InvalidInput, PlanError
from domain.kit.money import format_plain, unpadded
from domain.kit.periods import LAST_DAY, check_day, parse_period, period_containing
from domain.org.models import Role
from domain.org.repository import UserRepository
from domain.org.viewer import Viewer
from domain.plans.models import AssignmentStatus, Plan, PlanAssignment, PlanVersion, Quota
from domain.plans.repository import PlanRepository


def _require(viewer: Viewer, *roles: Role) -> None:
    if viewer.role not in roles:
        allowed = ", ".join(r.value for r in roles)
        raise Forbidden(f"only {allowed} may do this")


def jsonable(value: Any) -> Any:
    """A parsed plan document as JSON: decimals as strings (exact), dates in ISO form."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    return value


def compile_version(version: PlanVersion) -> EnginePlan:
    """The engine plan of a stored version, compiled from the text as published.

    Compiled once per process and text: parsing the YAML and compiling its expressions was a
    quarter of a worker's time when every recompute and notification did it again. Keyed by
    the text itself (not the version id), so a cached plan can never stand for other words;
    an engine plan is immutable, so sharing one between recomputes is safe."""
    return _compiled(version.document_text)


@functools.lru_cache(maxsize=512)
def _compiled(text: str) -> EnginePlan:
    return parse_plan_text(text)


# Column widths of what a published document is stored in and explained with.
_MAX_KEY = 100
_MAX_NAME = 200


def _check_storable(compiled: EnginePlan) -> None:
    """What the engine accepts but the tables cannot hold is refused with the key path, never
    as a database error."""
    if len(compiled.id) > _MAX_KEY:
        raise PlanError(f"at most {_MAX_KEY} characters", field="id")
    if len(compiled.name) > _MAX_NAME:
        raise PlanError(f"at most {_MAX_NAME} characters", field="name")
    for i, component in enumerate(compiled.components):
        if len(component.id) > _MAX_KEY:
            raise PlanError(f"at most {_MAX_KEY} characters", field=f"components[{i}].id")


def _version_state(version: PlanVersion) -> dict[str, Any]:
    return {
        "version": version.version,
        "effective_from": version.effective_from.isoformat(),
        "effective_to": version.effective_to.isoformat() if version.effective_to else None,
        "document_sha256": version.document_sha256,
    }


async def publish_plan_version(
    *, viewer: Viewer, document: str, effective_from: date
) -> PlanVersion:
    """Publish ``document`` as the plan's next version from ``effective_from`` (the first day
    of a period), closing the version in force the day before. A version starting on or
    before the latest one's start would overlap it (or rewrite history) and is refused."""
    _require(viewer, Role.ADMIN)
    compiled = parse_plan_text(document)  # PlanError names the key path
    _check_storable(compiled)
    period = period_containing(check_day(effective_from, field="effectiveFrom"), compiled.period)
    if period.start != effective_from:
        # the period after the last one Podium accepts does not exist: only the one before
        # is offered then
        after = "" if period.end == LAST_DAY else f" or {period.next().start.isoformat()}"
        raise InvalidInput(
            f"a {compiled.period}ly plan takes effect at the start of a period: "
            f"use {period.start.isoformat()}{after}",
            field="effectiveFrom",
        )
    repo = PlanRepository(viewer)
    # Two first publications of a plan may race: insert-if-absent waits for the other one
    # instead of failing on the unique key, and the plan row's lock then serializes them.
    await Plan.bulk_create(
        [Plan(tenant_id=viewer.tenant_id, key=compiled.id, name=compiled.name)],
        ignore_conflicts=True,
    )
    plan = await repo.plan_by_key(compiled.id, for_update=True)
    if plan is None:  # removed by someone else in between
        raise Conflict(f"plan {compiled.id!r} was removed meanwhile: try again", field="id")
    latest = await repo.latest_version(plan.id, for_update=True)
    previous = None if latest is None else _version_state(latest)
    if latest is not None:
        if effective_from <= latest.effective_from:
            raise Conflict(
                f"version {latest.version} of {compiled.id!r} is in force from "
                f"{latest.effective_from.isoformat()}: a new version must start after it",
                field="effectiveFrom",
            )
        if latest.period_kind != compiled.period:
            raise InvalidInput(
                f"plan {compiled.id!r} is paid per {latest.period_kind}; a version cannot change "
                "that (publish a new plan id)",
                field="period",
            )
    if latest is not None and (
        latest.effective_to is None or latest.effective_to >= effective_from
    ):
        latest.effective_to = effective_from - timedelta(days=1)
        await latest.save(update_fields=["effective_to"])
        await record(
            viewer=viewer,
            action="plan_version.closed",
            entity_type="plan_version",
            entity_id=str(latest.id),
            before=previous,
            after=_version_state(latest),
        )
    if plan.name != compiled.name:
        plan.name = compiled.name
        await plan.save(update_fields=["name"])
    version = await PlanVersion.create(
        tenant_id=viewer.tenant_id,
        plan=plan,
        version=(latest.version + 1) if latest else 1,
        document=jsonable(dict(compiled.document)),
        document_text=document,
        document_sha256=_digest(document),
        currency=compiled.currency,
        period_kind=compiled.period,
        effective_from=effective_from,
        published_by_id=viewer.user_id,
        published_by_label=viewer.actor_label,
    )
    await record(
        viewer=viewer,
        action="plan.published",
        entity_type="plan",
        entity_id=str(plan.id),
        before=previous,
        after={
            "plan": compiled.id,
            "plan_version_id": str(version.id),
            "currency": compiled.currency,
            "period": compiled.period,
            "published_by": viewer.actor_label,
            **_version_state(version),
        },
    )
    return version


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def assign_plan(
    *,
    viewer: Viewer,
    plan_id: UUID | str,
    user_id: UUID | str,
    effective_from: date,
    effective_to: date | None = None,
) -> PlanAssignment:
    _require(viewer, Role.ADMIN, Role.MANAGER)
    users = UserRepository(viewer)
    user = await users.visible(user_id)
    # the person's row lock serializes offers to them: two racing offers cannot both pass
    # the overlap check
    await users.get(user.id, for_update=True)
    repo = PlanRepository(viewer)
    plan = await repo.plan(plan_id)
    if effective_to is not None and effective_to < effective_from:
        raise InvalidInput("must not be before effectiveFrom", field="effectiveTo")
    for other in await repo.assignments_of(user.id):
        if other.plan_id != plan.id or other.status is AssignmentStatus.DECLINED:
            continue
        ends = other.effective_to or date.max
        if other.effective_from <= (effective_to or date.max) and effective_from <= ends:
            raise Conflict(
                f"{user.display_name} is already on {plan.key} from "
                f"{other.effective_from.isoformat()}",
                field="effectiveFrom",
            )
    assignment = await PlanAssignment.create(
        tenant_id=viewer.tenant_id,
        plan=plan,
        user=user,
        effective_from=effective_from,
        effective_to=effective_to,
    )
    await record(
        viewer=viewer,
        action="assignment.offered",
        entity_type="plan_assignment",
        entity_id=str(assignment.id),
        after=_assignment_state(assignment),
    )
    return assignment


def _assignment_state(a: PlanAssignment) -> dict[str, Any]:
    return {
        "plan_id": str(a.plan_id),
        "user_id": str(a.user_id),
        "status": a.status.value,
        "effective_from": a.effective_from.isoformat(),
        "effective_to": a.effective_to.isoformat() if a.effective_to else None,
        "accepted_at": a.accepted_at.isoformat() if a.accepted_at else None,
    }


async def accept_plan(*, viewer: Viewer, assignment_id: UUID | str) -> PlanAssignment:
    repo = PlanRepository(viewer)
    assignment = await repo.assignment(assignment_id, for_update=True)
    if viewer.user_id is None or assignment.user_id != viewer.user_id:
        raise Forbidden("only the rep on the plan can accept it", field="assignmentId")
    if assignment.status is AssignmentStatus.ACCEPTED:
        raise Conflict("this plan is accepted already", field="assignmentId")
    if assignment.status is not AssignmentStatus.OFFERED:
        raise Conflict(f"this plan is {assignment.status.value}", field="assignmentId")
    before = _assignment_state(assignment)
    assignment.status = AssignmentStatus.ACCEPTED
    assignment.accepted_at = utc_now()
    await assignment.save(update_fields=["status", "accepted_at"])
    await record(
        viewer=viewer,
        action="assignment.accepted",
        entity_type="plan_assignment",
        entity_id=str(assignment.id),
        before=before,
        after=_assignment_state(assignment),
    )
    return assignment


_QUOTA_PLACES = 6  # quotas.value is NUMERIC(20, 6)


async def set_quota(
    *, viewer: Viewer, user_id: UUID | str, measure: str, period: str, value: Decimal
) -> Quota:
    """Set (or change) a person's quota for a measure and period, audited."""
    _require(viewer, Role.ADMIN, Role.MANAGER)
    period = parse_period(period).id
    measure = measure.strip()
    if not measure or len(measure) > 100:
        raise InvalidInput("a measure id of 1-100 characters", field="measure")
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        raise InvalidInput("a quota is a decimal of at least 0", field="value")
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > _QUOTA_PLACES:
        raise InvalidInput(f"at most {_QUOTA_PLACES} decimal places", field="value")
    if value >= Decimal(10) ** (20 - _QUOTA_PLACES):
        raise InvalidInput("too large", field="value")
    users = UserRepository(viewer)
    user = await users.visible(user_id)
    await users.get(user.id, for_update=True)  # racing first quotas: one insert, one update
    if viewer.role is Role.MANAGER and user.id == viewer.user_id:
        raise Forbidden("managers do not set their own quota", field="userId")
    repo = PlanRepository(viewer)
    existing = await repo.quota(user.id, measure, period, for_update=True)
    before = None if existing is None else {"value": format_plain(unpadded(existing.value))}
    after = {"value": format_plain(unpadded(value))}
    if existing is None:
        quota = await Quota.create(
            tenant_id=viewer.tenant_id, user=user, measure=measure, period=period, value=value
        )
    elif before == after:
        return existing
    else:
        existing.value = value
        await existing.save(update_fields=["value", "updated_at"])
        quota = existing
    await record(
        viewer=viewer,
        action="quota.set",
        entity_type="quota",
        entity_id=f"{user.id}:{measure}:{period}",
        before=before,
        after=after,
    )
    return quota
