"""Publishing plan versions: validated by the engine, effective-dated, never overlapping."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest

from domain.audit.models import AuditEntry
from domain.kit.errors import Conflict, ExpressionError, Forbidden, InvalidInput, PlanError
from domain.org.models import Role
from domain.plans.models import Plan, PlanVersion
from domain.plans.repository import PlanRepository
from domain.plans.service import compile_version, publish_plan_version
from tests.domain.builders import (
    count_rows,
    make_tenant,
    make_user,
    plan_yaml,
    publish_plan,
    system_viewer,
    viewer_of,
)


async def test_given_admin_when_plan_published_then_version_one_stored_as_published(db: str):
    tenant = await make_tenant()
    admin = await make_user(tenant=tenant, external_id="root", role=Role.ADMIN)
    text = plan_yaml(key="ae-emea", rate="0.05")

    version = await publish_plan_version(
        viewer=viewer_of(admin, request_id="req-7"), document=text, effective_from=date(2026, 10, 1)
    )

    stored = await PlanVersion.get(id=version.id).prefetch_related("plan")
    assert (stored.plan.key, stored.plan.name, stored.version) == ("ae-emea", "Plan ae-emea", 1)
    assert (stored.currency, stored.period_kind) == ("EUR", "month")
    assert (stored.effective_from, stored.effective_to) == (date(2026, 10, 1), None)
    assert stored.document_text == text
    assert stored.document_sha256 == hashlib.sha256(text.encode()).hexdigest()
    assert stored.document["components"][0]["rate"] == "0.05"  # exact, as text
    assert (stored.published_by_id, stored.published_by_label) == (admin.id, f"user:{admin.id}")
    assert stored.published_at.tzinfo is not None
    assert compile_version(stored).id == "ae-emea"


async def test_given_system_when_plan_published_then_publisher_is_labelled_system(db: str):
    tenant = await make_tenant()

    version = await publish_plan(tenant=tenant)

    assert version.published_by_id is None
    assert version.published_by_label == "system:tests"


async def test_given_publish_when_stored_then_audit_entry_has_before_and_after(db: str):
    tenant = await make_tenant()
    admin = await make_user(tenant=tenant, external_id="root", role=Role.ADMIN)

    version = await publish_plan(tenant=tenant, by=viewer_of(admin, request_id="req-9"))

    [entry] = await AuditEntry.filter(action="plan.published")
    assert (entry.entity_type, entry.entity_id) == ("plan", str(version.plan_id))
    assert (entry.actor_id, entry.request_id, entry.tenant_id) == (admin.id, "req-9", tenant.id)
    assert entry.before is None
    assert entry.after == {
        "plan": "ae",
        "plan_version_id": str(version.id),
        "currency": "EUR",
        "period": "month",
        "published_by": f"user:{admin.id}",
        "version": 1,
        "effective_from": "2026-10-01",
        "effective_to": None,
        "document_sha256": version.document_sha256,
    }


@pytest.mark.parametrize(
    ("document", "field", "error"),
    [
        (plan_yaml().replace("    rate: 0.05", "    rat: 0.05"), "components[0].rat", PlanError),
        (plan_yaml().replace("currency: EUR", "currency: EURO"), "currency", PlanError),
        (plan_yaml().replace("period: month", "period: week"), "period", PlanError),
        (plan_yaml(measure_filter="amount.real > 0"), "measures[0].filter", ExpressionError),
        (plan_yaml(measure_filter="__import__('os')"), "measures[0].filter", ExpressionError),
        (
            "id: x\ncurrency: EUR\nperiod: month\nmeasures: []\ncomponents: []\n",
            "measures",
            PlanError,
        ),
        ("id: [unclosed", "plan", PlanError),
        (plan_yaml(key="a" * 101), "id", PlanError),
    ],
)
async def test_given_invalid_document_when_published_then_error_names_key_path_and_nothing_stored(
    db: str, document: str, field: str, error: type[PlanError]
):
    tenant = await make_tenant()
    before = await count_rows("plans", "plan_versions", "audit_log")

    with pytest.raises(error) as caught:
        await publish_plan(tenant=tenant, document=document)

    assert caught.value.field == field
    assert caught.value.code in ("invalid_plan", "invalid_expression")
    assert await count_rows("plans", "plan_versions", "audit_log") == before


@pytest.mark.parametrize(
    ("period", "effective_from"),
    [("month", "2026-10-15"), ("quarter", "2026-11-01"), ("year", "2026-04-01")],
)
async def test_given_date_inside_a_period_when_published_then_effective_from_rejected(
    db: str, period: str, effective_from: str
):
    tenant = await make_tenant()

    with pytest.raises(InvalidInput) as caught:
        await publish_plan(
            tenant=tenant, document=plan_yaml(period=period), effective_from=effective_from
        )

    assert caught.value.field == "effectiveFrom"
    assert await Plan.all().count() == 0


@pytest.mark.parametrize(
    ("period", "effective_from"),
    [("month", "2026-10-01"), ("quarter", "2026-10-01"), ("year", "2026-01-01")],
)
async def test_given_first_day_of_a_period_when_published_then_accepted(
    db: str, period: str, effective_from: str
):
    tenant = await make_tenant()

    version = await publish_plan(
        tenant=tenant, document=plan_yaml(period=period), effective_from=effective_from
    )

    assert version.effective_from == date.fromisoformat(effective_from)


async def test_given_published_plan_when_next_version_published_then_previous_closed_day_before(
    db: str,
):
    tenant = await make_tenant()
    first = await publish_plan(tenant=tenant, effective_from="2026-10-01")

    second = await publish_plan(
        tenant=tenant, document=plan_yaml(rate="0.06"), effective_from="2026-12-01"
    )

    first = await PlanVersion.get(id=first.id)
    assert (first.effective_from, first.effective_to) == (date(2026, 10, 1), date(2026, 11, 30))
    assert (second.version, second.plan_id, second.effective_to) == (2, first.plan_id, None)
    repo = PlanRepository(system_viewer(tenant))
    assert (await repo.version_on(first.plan_id, date(2026, 11, 30))).id == first.id  # type: ignore[union-attr]
    assert (await repo.version_on(first.plan_id, date(2026, 12, 1))).id == second.id  # type: ignore[union-attr]
    assert await repo.version_on(first.plan_id, date(2026, 9, 30)) is None
    [closed] = await AuditEntry.filter(action="plan_version.closed")
    assert closed.entity_id == str(first.id)
    assert closed.before["effective_to"] is None  # type: ignore[index]
    assert closed.after["effective_to"] == "2026-11-30"  # type: ignore[index]
    published = await AuditEntry.filter(action="plan.published").order_by("id")
    assert published[1].before == {
        "version": 1,
        "effective_from": "2026-10-01",
        "effective_to": None,
        "document_sha256": first.document_sha256,
    }


@pytest.mark.parametrize("effective_from", ["2026-12-01", "2026-11-01", "2026-09-01"])
async def test_given_overlapping_version_when_published_then_conflict(db: str, effective_from: str):
    tenant = await make_tenant()
    await publish_plan(tenant=tenant, effective_from="2026-11-01")
    await publish_plan(tenant=tenant, document=plan_yaml(rate="0.06"), effective_from="2026-12-01")
    before = await count_rows("plan_versions", "audit_log")

    with pytest.raises(Conflict) as caught:
        await publish_plan(
            tenant=tenant, document=plan_yaml(rate="0.07"), effective_from=effective_from
        )

    assert caught.value.field == "effectiveFrom"
    assert await count_rows("plan_versions", "audit_log") == before
    versions = await PlanVersion.all().order_by("version")
    assert [(v.effective_from, v.effective_to) for v in versions] == [
        (date(2026, 11, 1), date(2026, 11, 30)),
        (date(2026, 12, 1), None),
    ]


async def test_given_monthly_plan_when_version_changes_period_kind_then_refused(db: str):
    tenant = await make_tenant()
    await publish_plan(tenant=tenant, effective_from="2026-10-01")

    with pytest.raises(InvalidInput) as caught:
        await publish_plan(
            tenant=tenant, document=plan_yaml(period="quarter"), effective_from="2027-01-01"
        )

    assert caught.value.field == "period"


@pytest.mark.parametrize("role", [Role.REP, Role.MANAGER, Role.PAYOUT_OPS])
async def test_given_non_admin_when_publishing_then_forbidden(db: str, role: Role):
    tenant = await make_tenant()
    someone = await make_user(tenant=tenant, external_id="someone", role=role)

    with pytest.raises(Forbidden):
        await publish_plan(tenant=tenant, by=viewer_of(someone))

    assert await Plan.all().count() == 0


async def test_given_same_plan_key_in_two_tenants_when_published_then_independent_plans(
    db: str,
):
    acme, globex = await make_tenant(slug="acme"), await make_tenant(slug="globex")
    await publish_plan(tenant=acme, effective_from="2026-12-01")

    version = await publish_plan(tenant=globex, effective_from="2026-10-01")

    assert version.version == 1
    assert await Plan.filter(key="ae").count() == 2
    acme_version = await PlanVersion.get(tenant_id=acme.id)
    assert acme_version.effective_to is None


async def test_given_the_last_days_of_the_calendar_when_published_then_typed_errors_or_stored(
    db: str,
):
    """`effectiveFrom: 9999-12-31` once failed computing the next period's start; the last
    days are now those of 2199 (domain.kit.periods.LAST_DAY), and 9999 is refused."""
    tenant = await make_tenant()
    admin = await make_user(tenant=tenant, external_id="root", role=Role.ADMIN)
    viewer = viewer_of(admin)
    await publish_plan_version(
        viewer=viewer, document=plan_yaml(key="ae"), effective_from=date(2026, 10, 1)
    )

    with pytest.raises(InvalidInput) as mid_month:
        await publish_plan_version(
            viewer=viewer, document=plan_yaml(key="ae"), effective_from=date(2199, 12, 31)
        )
    with pytest.raises(InvalidInput) as end_of_time:
        await publish_plan_version(
            viewer=viewer, document=plan_yaml(key="ae"), effective_from=date(9999, 12, 1)
        )
    last = await publish_plan_version(
        viewer=viewer, document=plan_yaml(key="ae"), effective_from=date(2199, 12, 1)
    )

    assert mid_month.value.field == end_of_time.value.field == "effectiveFrom"
    assert "use 2199-12-01" in mid_month.value.message
    assert " or " not in mid_month.value.message  # no period comes after 2199-12
    assert end_of_time.value.message == (
        "9999-12-01 is outside the dates Podium accepts (1900-01-01 to 2199-12-31)"
    )
    assert (last.version, last.effective_from) == (2, date(2199, 12, 1))


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ('{"id": "ae", "name": "A\\u0000B"}', "name"),
        ('{"id": "ae", "name": "\\ud800"}', "name"),
        (
            '{"id": "ae", "measures": [{"id": "m", "filter": "x == \'\\u0000\'"}]}',
            "measures[0].filter",
        ),
    ],
)
async def test_given_a_nul_or_lone_surrogate_in_a_plan_when_published_then_plan_error(
    db: str, document: str, field: str
):
    tenant = await make_tenant()
    admin = await make_user(tenant=tenant, external_id="root", role=Role.ADMIN)

    with pytest.raises(PlanError) as info:
        await publish_plan_version(
            viewer=viewer_of(admin), document=document, effective_from=date(2026, 10, 1)
        )

    assert info.value.field == field
    assert await PlanVersion.all().count() == 0
