"""Database builders for tests: tenants, people, published plans, assignments, quotas,
transactions and FX rates, written through the domain services where there is one (so what a
test sets up is what the product could have produced) and directly otherwise.

Every helper is async and keyword-only; money and rates are strings or Decimals, never floats.
Use them with the ``db`` fixture::

    tenant = await make_tenant(slug="acme")
    boss = await make_user(tenant=tenant, external_id="boss", role=Role.MANAGER)
    ana = await make_user(tenant=tenant, external_id="ana", manager=boss)
    version = await publish_plan(tenant=tenant, document=PLAN_YAML, effective_from="2026-10-01")
    await assign(user=ana, plan=version, effective_from="2026-10-01")
    await set_quota(user=ana, measure="bookings", period="2026-10", value="100000")
    await make_transaction(rep=ana, external_id="t1", amount="40000", on="2026-10-03")
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from tortoise import connections

from domain.crm.models import FxRate, Transaction
from domain.datasets.csvfiles import (
    read_assignments,
    read_quota_records,
    read_rep_records,
    read_transactions,
)
from domain.kit.periods import parse_period
from domain.org.models import Role, User
from domain.org.service import create_user
from domain.org.viewer import Viewer
from domain.plans.models import AssignmentStatus, PlanAssignment, PlanVersion, Quota
from domain.plans.service import accept_plan, assign_plan, publish_plan_version
from domain.plans.service import set_quota as set_quota_service
from domain.tenants.models import Tenant
from domain.tenants.service import create_tenant

Day = date | str


def to_date(value: Day | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def to_decimal(value: str | int | Decimal) -> Decimal:
    if isinstance(value, float):
        raise TypeError("money and rates are strings or Decimals, never floats")
    return Decimal(value)


# --- who is asking ---------------------------------------------------------------------------


def system_viewer(tenant: Tenant | Any, label: str = "tests") -> Viewer:
    """The system (a worker or the CLI) acting in ``tenant`` (a Tenant, or a User standing
    for their tenant): sees and may do everything."""
    tenant_id = tenant.tenant_id if isinstance(tenant, User) else tenant.id
    return Viewer.system(tenant_id, label)


def viewer_of(user: User, *, request_id: str | None = None) -> Viewer:
    """``user`` signed in, with their role."""
    return Viewer(
        tenant_id=user.tenant_id,
        user_id=user.id,
        role=Role(user.role),
        locale=user.locale or "en",
        request_id=request_id,
    )


# --- tenants and people ----------------------------------------------------------------------


async def make_tenant(
    *,
    slug: str = "acme",
    name: str | None = None,
    currency: str = "EUR",
    locale: str = "en",
    time_zone: str = "UTC",
) -> Tenant:
    return await create_tenant(
        slug=slug,
        name=name or slug.title(),
        currency=currency,
        locale=locale,
        time_zone=time_zone,
    )


async def make_user(
    *,
    tenant: Tenant | Any,
    external_id: str,
    role: Role = Role.REP,
    manager: User | None = None,
    display_name: str | None = None,
    email: str | None = None,
    hire_date: Day | None = None,
    end_date: Day | None = None,
    locale: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    by: Viewer | None = None,
) -> User:
    """A person of ``tenant`` created by an admin (``by``; default the system)."""
    user = await create_user(
        viewer=by or system_viewer(tenant),
        external_id=external_id,
        display_name=display_name or external_id.title(),
        role=role,
        email=email,
        manager_id=manager.id if manager else None,
        locale=locale,
        hire_date=to_date(hire_date),
        end_date=to_date(end_date),
    )
    if attributes:
        user.attributes = _jsonable(dict(attributes))
        await user.save(update_fields=["attributes"])
    return user


@dataclass
class Org:
    """A small hierarchy: ``people[external_id]``."""

    tenant: Tenant
    people: dict[str, User] = field(default_factory=dict)

    def __getitem__(self, external_id: str) -> User:
        return self.people[external_id]


async def make_org(
    *,
    tenant: Tenant | Any,
    managers: Mapping[str, str | None],
    roles: Mapping[str, Role] | None = None,
) -> Org:
    """People from ``{external_id: manager's external_id or None}`` (managers listed first);
    everyone with reports is a manager unless ``roles`` says otherwise."""
    roles = dict(roles or {})
    with_reports = {m for m in managers.values() if m}
    org = Org(tenant)
    for external_id, manager in managers.items():
        role = roles.get(external_id, Role.MANAGER if external_id in with_reports else Role.REP)
        org.people[external_id] = await make_user(
            tenant=tenant,
            external_id=external_id,
            role=role,
            manager=org.people[manager] if manager else None,
        )
    return org


# --- plans, assignments, quotas ----------------------------------------------------------------


# A month plan with two marginal tiers on one measure: what the CLI recompute and close tests
# publish.
TIERED = """\
id: ae
name: AE
currency: EUR
period: month
measures:
  - id: bookings
components:
  - id: commission
    type: tiered
    measure: bookings
    tiers:
      - {from: 0, rate: 0.02}
      - {from: 0.5, rate: 0.05}
"""


def plan_yaml(
    *,
    key: str = "ae",
    currency: str = "EUR",
    period: str = "month",
    rate: str = "0.05",
    measure_filter: str | None = None,
    scope: str = "self",
) -> str:
    """A one-measure, one-rate-component plan document."""
    measure = f"  - id: bookings\n    scope: {scope}\n"
    if measure_filter:
        measure += f"    filter: {json.dumps(measure_filter)}\n"
    return (
        f"id: {key}\nname: Plan {key}\ncurrency: {currency}\nperiod: {period}\n"
        f"measures:\n{measure}"
        "components:\n"
        f"  - id: commission\n    type: rate\n    measure: bookings\n    rate: {rate}\n"
    )


async def publish_plan(
    *,
    tenant: Tenant | Any,
    document: str | None = None,
    effective_from: Day = "2026-10-01",
    by: Viewer | None = None,
) -> PlanVersion:
    """Publish ``document`` (YAML or JSON text; default :func:`plan_yaml`)."""
    effective = to_date(effective_from)
    assert effective is not None
    return await publish_plan_version(
        viewer=by or system_viewer(tenant),
        document=document if document is not None else plan_yaml(),
        effective_from=effective,
    )


async def assign(
    *,
    user: User,
    plan: PlanVersion | Any,
    effective_from: Day = "2026-10-01",
    effective_to: Day | None = None,
    accepted: bool = False,
    by: Viewer | None = None,
) -> PlanAssignment:
    """Offer ``plan`` (a PlanVersion or Plan) to ``user``; ``accepted`` has them accept it."""
    plan_id = plan.plan_id if isinstance(plan, PlanVersion) else plan.id
    start = to_date(effective_from)
    assert start is not None
    assignment = await assign_plan(
        viewer=by or system_viewer(user),
        plan_id=plan_id,
        user_id=user.id,
        effective_from=start,
        effective_to=to_date(effective_to),
    )
    if accepted:
        assignment = await accept_plan(viewer=viewer_of(user), assignment_id=assignment.id)
        assert assignment.status is AssignmentStatus.ACCEPTED
    return assignment


async def set_quota(
    *,
    user: User,
    measure: str = "bookings",
    period: str = "2026-10",
    value: str | int | Decimal,
    by: Viewer | None = None,
) -> Quota:
    return await set_quota_service(
        viewer=by or system_viewer(user),
        user_id=user.id,
        measure=measure,
        period=period,
        value=to_decimal(value),
    )


# --- CRM data ----------------------------------------------------------------------------------


def _jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (format(v, "f") if isinstance(v, Decimal) else v) for k, v in values.items()}


def _json_exact(values: Mapping[str, Any]) -> str:
    """A flat JSON object whose Decimals are JSON numbers written exactly (``json`` would
    need a float)."""
    parts = []
    for key, value in values.items():
        text = format(value, "f") if isinstance(value, Decimal) else json.dumps(value)
        parts.append(f"{json.dumps(key)}:{text}")
    return "{" + ",".join(parts) + "}"


async def make_transaction(
    *,
    rep: User,
    external_id: str,
    amount: str | int | Decimal,
    on: Day = "2026-10-15",
    currency: str = "EUR",
    type: str | None = "deal",
    state: str | None = "won",
    splits: Iterable[tuple[User, str | Decimal]] | None = None,
    extra: Mapping[str, Any] | None = None,
    version: int = 0,
) -> Transaction:
    """A CRM transaction credited to ``rep`` (or to ``splits``: (user, share) pairs)."""
    split_list = [(u, to_decimal(s)) for u, s in splits] if splits else None
    credited = [str(u.id) for u, _ in split_list] if split_list else [str(rep.id)]
    return await Transaction.create(
        tenant_id=rep.tenant_id,
        external_id=external_id,
        rep_id=rep.id,
        type=type,
        amount=to_decimal(amount),
        currency=currency,
        date=to_date(on),
        state=state,
        splits=[{"rep_id": str(u.id), "share": format(s, "f")} for u, s in split_list]
        if split_list
        else None,
        credited_user_ids=credited,
        extra_fields=_json_exact(dict(extra or {})),
        version=version,
    )


async def make_fx_rate(
    *,
    tenant: Tenant | Any,
    currency: str,
    rate: str | Decimal,
    on: Day,
    quote_currency: str | None = None,
) -> FxRate:
    """``rate`` units of ``quote_currency`` (default: the tenant's) per one ``currency``."""
    return await FxRate.create(
        tenant_id=tenant.id,
        date=to_date(on),
        currency=currency,
        quote_currency=quote_currency or tenant.currency,
        rate=to_decimal(rate),
    )


# --- a whole simulator dataset in the database -----------------------------------------------


@dataclass
class Dataset:
    tenant: Tenant
    version: PlanVersion
    people: dict[str, User]

    def __getitem__(self, external_id: str) -> User:
        return self.people[external_id]


async def load_dataset(*, tenant: Tenant, directory: Path, period: str) -> Dataset:
    """Rebuild a `podium simulate` example (``plan.yaml`` and ``data/*.csv``) in the database:
    people with their managers and employment dates, the plan published from the period's
    start, assignments (everyone for the whole period without assignments.csv), quotas,
    transactions and FX rates (into the plan's currency)."""
    data = directory / "data"
    start = parse_period(period).start
    version = await publish_plan(
        tenant=tenant, document=(directory / "plan.yaml").read_text(), effective_from=start
    )
    people: dict[str, User] = {}
    records = read_rep_records(_lines(data / "reps.csv"))
    pending = [r.rep for r in records]
    while pending:  # managers before their reports
        rep = next(r for r in pending if r.manager_id is None or r.manager_id in people)
        pending.remove(rep)
        has_reports = any(r.rep.manager_id == rep.id for r in records)
        people[rep.id] = await make_user(
            tenant=tenant,
            external_id=rep.id,
            display_name=rep.name or rep.id,
            role=Role.MANAGER if has_reports else Role.REP,
            manager=people[rep.manager_id] if rep.manager_id else None,
            hire_date=rep.hire_date,
            end_date=rep.end_date,
            attributes={k: v for k, v in rep.fields.items() if v is not None},
        )
    assignments_file = data / "assignments.csv"
    if assignments_file.exists():
        for a in read_assignments(_lines(assignments_file), set(people)):
            await assign(
                user=people[a.rep_id],
                plan=version,
                effective_from=a.start or start,
                effective_to=a.end,
            )
    else:
        for user in people.values():
            await assign(user=user, plan=version, effective_from=start)
    for q in read_quota_records(_lines(data / "quotas.csv"), set(people)):
        await set_quota(user=people[q.rep_id], measure=q.measure, period=q.period, value=q.value)
    for t in read_transactions(_lines(data / "transactions.csv"), set(people)):
        reserved = {"id", "rep_id", "type", "amount", "amount_original", "currency", "date"}
        await make_transaction(
            rep=people[t.rep_id],
            external_id=t.id,
            amount=t.amount,
            on=t.date,
            currency=t.currency,
            type=t.fields.get("type"),
            state=t.fields.get("state"),
            splits=[(people[r], s) for r, s in t.credits] if len(t.credits) > 1 else None,
            extra={
                k: v
                for k, v in t.fields.items()
                if k not in reserved and k != "state" and v is not None
            },
        )
    fx_file = data / "fx.csv"
    if fx_file.exists():
        with fx_file.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                await make_fx_rate(
                    tenant=tenant,
                    currency=row["currency"],
                    rate=row["rate"],
                    on=row["date"],
                    quote_currency=version.currency,
                )
    return Dataset(tenant, version, people)


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


async def count_rows(*tables: str) -> dict[str, int]:
    """Rows per table, to prove that something wrote nothing."""
    conn = connections.get("default")
    counts: dict[str, int] = {}
    for table in tables:
        rows = await conn.execute_query_dict(f'SELECT count(*) AS n FROM "{table}"')
        counts[table] = int(rows[0]["n"])
    return counts


ALL_TABLES = (
    "tenants",
    "users",
    "plans",
    "plan_versions",
    "plan_assignments",
    "quotas",
    "transactions",
    "fx_rates",
    "periods",
    "earnings_results",
    "earnings_lines",
    "audit_log",
)
