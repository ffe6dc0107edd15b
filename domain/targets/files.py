"""Targets as CSV, for the people who keep planning in a spreadsheet (`podium targets
import|export`). One row per person and plan:

    plan,period,measure,currency,rep_id,value[,breakdown_field,breakdown_value]

A plan's rows form its tree through the manager hierarchy: the top row is the one whose
person's manager has no row; every other row's parent is its person's manager's row, and a
parent's value is exactly the sum of its children's. The export adds version, status, comment
and accepted_at, which the import reads past, so an exported file imports back. A cell a
spreadsheet would run as a formula (a comment ``=HYPERLINK(...)``) is exported with a leading
``'`` (domain/kit/text.py) and the import takes the quote off again.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.audit.service import record
from domain.datasets.csvfiles import _rows
from domain.kit.errors import DataError, Forbidden, InvalidInput, quoted
from domain.kit.money import format_plain, is_currency, not_a_currency, unpadded
from domain.kit.periods import parse_period
from domain.kit.text import csv_writer, from_csv_cell
from domain.org.models import Role, User
from domain.org.repository import UserRepository
from domain.org.viewer import Viewer
from domain.targets.models import PlanStatus, Target, TargetPlan, TargetStatus
from domain.targets.repository import TargetRepository
from domain.targets.service import (
    check_target_key,
    check_target_measure,
    engine_periods,
    quantum_of,
    tenant_today,
)
from domain.tenants.repository import get_tenant

REQUIRED = ("plan", "period", "measure", "currency", "rep_id", "value")
OPTIONAL = ("breakdown_field", "breakdown_value")
EXPORTED = ("version", "status", "comment", "accepted_at")
COLUMNS = (*REQUIRED, *OPTIONAL, *EXPORTED)


@dataclass(frozen=True, slots=True)
class _Line:
    row: int
    plan: str
    period: str
    measure: str
    currency: str | None
    breakdown: tuple[str | None, str | None]
    user: User
    value: Decimal


@dataclass(frozen=True, slots=True)
class TargetImport:
    file: str
    rows: int
    plans: tuple[tuple[str, int], ...]  # (key, version) written


def _text(row: Any, column: str, limit: int, *, required: bool = True) -> str | None:
    value = row.text(column, required=required)
    if value is not None and len(value) > limit:
        raise row.fail(column, f"is longer than {limit} characters")
    return value  # type: ignore[no-any-return]


async def import_targets(
    *, viewer: Viewer, lines: Iterable[str], file: str = "targets.csv"
) -> TargetImport:
    """Admins: create (or, for a plan already published, revise as a new version; for a draft,
    replace) target plans from a CSV file. Every row is checked before anything is written;
    the targets are validated (an admin designed them) and wait for `publishTargets`."""
    if viewer.role is not Role.ADMIN:
        raise Forbidden("only admins import targets")
    header, rows = _rows(lines, file, REQUIRED, extra_columns=True)
    unknown = [c for c in header if c not in COLUMNS]
    if unknown:
        raise DataError(
            f"unknown column {quoted(unknown[0])} (expected {','.join(COLUMNS)})", file=file, row=1
        )
    people = {u.external_id: u for u in await UserRepository(viewer).all()}
    tenant = await get_tenant(viewer.tenant_id)
    kind = tenant.settings.get("period_kind", "month")
    plans: dict[str, list[_Line]] = {}
    for row in rows:
        # an exported cell's formula quote off (domain/kit/text.py): an export imports back
        row.cells = {column: from_csv_cell(cell.strip()) for column, cell in row.cells.items()}
        key = _text(row, "plan", 100)
        try:
            check_target_key(key or "")
        except InvalidInput as exc:
            raise row.fail("plan", exc.message) from None
        period = row.required("period")
        try:
            engine_periods(parse_period(period, field="period"), kind)
        except InvalidInput as exc:
            raise row.fail("period", exc.message) from None
        measure = _text(row, "measure", 100)
        currency = row.text("currency", required=False)
        if currency is not None and not is_currency(currency):
            raise row.fail("currency", not_a_currency(currency))
        rep = row.required("rep_id")
        if rep not in people:
            raise row.fail("rep_id", f"unknown person {quoted(rep)}")
        value = row.number("value", minimum=Decimal(0))
        quantum = quantum_of(currency)
        if value % quantum:
            raise row.fail("value", f"{value} is not a whole number of {quantum}")
        breakdown = (
            _text(row, "breakdown_field", 100, required=False),
            _text(row, "breakdown_value", 200, required=False),
        )
        assert key is not None
        assert measure is not None
        try:
            check_target_measure(measure, *breakdown)
        except InvalidInput as exc:
            raise row.fail(_COLUMN_OF.get(exc.field or "", "measure"), exc.message) from None
        line = _Line(row.line, key, period, measure, currency, breakdown, people[rep], value)
        group = plans.setdefault(key, [])
        if group:
            first = group[0]
            for column, mine, theirs in (
                ("period", line.period, first.period),
                ("measure", line.measure, first.measure),
                ("currency", line.currency, first.currency),
                ("breakdown_value", line.breakdown, first.breakdown),
            ):
                if mine != theirs:
                    raise row.fail(column, f"differs from row {first.row} of plan {quoted(key)}")
            if any(g.user.id == line.user.id for g in group):
                raise row.fail("rep_id", f"second row for {quoted(rep)} in plan {quoted(key)}")
        group.append(line)
    trees = {key: _tree(group, file) for key, group in plans.items()}
    today = tenant_today(tenant.time_zone)
    for key in sorted(plans):  # one order, so two imports cannot wait for each other
        await TargetRepository(viewer).lock_key(key)
    for group in plans.values():
        await _check_revision(viewer, group[0], today, file)
    written = []
    for key, group in plans.items():
        written.append((key, await _write(viewer, group, trees[key])))
    result = TargetImport(file=file, rows=sum(len(g) for g in plans.values()), plans=tuple(written))
    await record(
        viewer=viewer,
        action="target.import",
        entity_type="import",
        entity_id=file,
        after={"rows": result.rows, "plans": [f"{k} v{v}" for k, v in written]},
    )
    return result


_COLUMN_OF = {"breakdownField": "breakdown_field", "breakdownValue": "breakdown_value"}


async def _check_revision(viewer: Viewer, first: _Line, today: date, file: str) -> None:
    """A plan key already stored keeps its period, measure, currency and breakdown (another
    target is another key), and a published one is revised only while its period runs."""
    latest = (
        await TargetPlan.filter(tenant_id=viewer.tenant_id, key=first.plan)
        .order_by("-version")
        .first()
    )
    if latest is None:
        return
    for column, mine, theirs in (
        ("period", parse_period(first.period).id, latest.period),
        ("measure", first.measure, latest.measure),
        ("currency", first.currency, latest.currency),
        ("breakdown_value", first.breakdown, (latest.breakdown_field, latest.breakdown_value)),
    ):
        if mine != theirs:
            raise DataError(
                f"plan {quoted(first.plan)} v{latest.version} has {column} {quoted(theirs)}: "
                "a new version keeps it (use another plan key for another target)",
                file=file,
                row=first.row,
                column=column,
            )
    if latest.status is not PlanStatus.DRAFT:
        whole = parse_period(latest.period)
        if today > whole.end:
            raise DataError(
                f"plan {quoted(first.plan)} is published and {whole.id} ended on "
                f"{whole.end.isoformat()}: its targets can no longer be revised",
                file=file,
                row=first.row,
                column="plan",
            )


def _tree(group: list[_Line], file: str) -> dict[UUID, UUID | None]:
    """Each row's parent person (None: the top), checking the sums."""
    by_user = {line.user.id: line for line in group}
    parents: dict[UUID, UUID | None] = {
        line.user.id: line.user.manager_id if line.user.manager_id in by_user else None
        for line in group
    }
    tops = [line for line in group if parents[line.user.id] is None]
    if len(tops) > 1:
        second = tops[1]
        raise DataError(
            f"plan {quoted(second.plan)} has a second top row ({second.user.external_id}; "
            f"the first is {tops[0].user.external_id}): a person's manager needs a row too",
            file=file,
            row=second.row,
            column="rep_id",
        )
    sums: dict[UUID, Decimal] = {}
    for user_id, parent in parents.items():
        if parent is not None:
            sums[parent] = sums.get(parent, Decimal(0)) + by_user[user_id].value
    for parent, total in sums.items():
        line = by_user[parent]
        if total != line.value:
            raise DataError(
                f"the rows below {line.user.external_id} add up to "
                f"{format_plain(unpadded(total))}, not {format_plain(unpadded(line.value))}",
                file=file,
                row=line.row,
                column="value",
            )
    return parents


async def _write(viewer: Viewer, group: list[_Line], parents: dict[UUID, UUID | None]) -> int:
    first = group[0]
    latest = (
        await TargetPlan.filter(tenant_id=viewer.tenant_id, key=first.plan)
        .order_by("-version")
        .first()
    )
    top = next(line for line in group if parents[line.user.id] is None)
    values: dict[str, Any] = {
        "period": parse_period(first.period).id,
        "measure": first.measure,
        "currency": first.currency,
        "breakdown_field": first.breakdown[0],
        "breakdown_value": first.breakdown[1],
        "amount": top.value,
    }
    if latest is not None and latest.status is PlanStatus.DRAFT:
        plan = latest
        await Target.filter(tenant_id=viewer.tenant_id, plan_id=plan.id).delete()
        await TargetPlan.filter(id=plan.id).update(**values)
    else:
        version = 1 if latest is None else latest.version + 1
        plan = await TargetPlan.create(
            tenant_id=viewer.tenant_id, key=first.plan, version=version, **values
        )
    created: dict[UUID, UUID] = {}
    pending = [top]
    while pending:  # parents before children
        line = pending.pop(0)
        parent = parents[line.user.id]
        target = await Target.create(
            tenant_id=viewer.tenant_id,
            plan_id=plan.id,
            parent_id=None if parent is None else created[parent],
            user_id=line.user.id,
            value=line.value,
            status=TargetStatus.VALIDATED,
        )
        created[line.user.id] = target.id
        pending.extend(g for g in group if parents[g.user.id] == line.user.id)
    return plan.version


async def export_targets(*, viewer: Viewer, plan: str | None = None) -> str:
    """The latest version of every target plan (or of ``plan``) as CSV text."""
    if viewer.role is not Role.ADMIN:
        raise Forbidden("only admins export targets")
    query = TargetPlan.filter(tenant_id=viewer.tenant_id)
    if plan is not None:
        query = query.filter(key=plan)
    latest: dict[str, TargetPlan] = {}
    for p in await query.order_by("key", "version"):
        latest[p.key] = p
    if plan is not None and plan not in latest:
        raise InvalidInput(f"no target plan {quoted(plan)}", field="--plan")
    people = {u.id: u for u in await UserRepository(viewer).all()}
    out = io.StringIO()
    writer = csv_writer(out)  # no cell a spreadsheet runs as a formula
    writer.writerow(COLUMNS)
    repo = TargetRepository(viewer)
    for p in latest.values():
        targets = await repo.targets_of_plan(p.id)
        ordered = sorted(
            targets, key=lambda t: (t.parent_id is not None, people[t.user_id].external_id)
        )
        for t in ordered:
            writer.writerow(
                [
                    p.key,
                    p.period,
                    p.measure,
                    p.currency or "",
                    people[t.user_id].external_id,
                    format_plain(unpadded(t.value)),
                    p.breakdown_field or "",
                    p.breakdown_value or "",
                    p.version,
                    t.status.value,
                    t.comment or "",
                    t.accepted_at.isoformat() if t.accepted_at else "",
                ]
            )
    return out.getvalue()
