"""A recompute writes only what changed: the same figures and lines leave the stored result,
its lines and the audit log untouched (``computed_at`` is when the figures last changed);
any change rewrites them, and the stored result always equals a fresh recompute."""

from __future__ import annotations

from decimal import Decimal

from domain.audit.models import AuditEntry
from domain.earnings.models import EarningsLine, EarningsResult
from domain.earnings.service import recompute_rep_period
from tests.domain.builders import (
    assign,
    make_tenant,
    make_transaction,
    make_user,
    publish_plan,
    system_viewer,
)


async def _state(user_id) -> tuple:
    result = await EarningsResult.get(user_id=user_id)
    lines = await EarningsLine.filter(result_id=result.id).order_by("position")
    return (
        result.id,
        result.total,
        result.computed_at,
        result.fingerprint,
        [(ln.id, ln.transaction_external_id, ln.amount) for ln in lines],
        await AuditEntry.all().count(),
    )


async def test_given_nothing_changed_when_recomputed_then_nothing_is_written(db):
    tenant = await make_tenant()
    ana = await make_user(tenant=tenant, external_id="ana")
    await assign(user=ana, plan=await publish_plan(tenant=tenant))
    await make_transaction(rep=ana, external_id="t1", amount="1000", on="2026-10-03")
    viewer = system_viewer(tenant)
    await recompute_rep_period(viewer=viewer, user_id=ana.id, period="2026-10")
    first = await _state(ana.id)

    await recompute_rep_period(viewer=viewer, user_id=ana.id, period="2026-10")

    assert await _state(ana.id) == first  # same line ids: not even rewritten
    assert len(first[3]) == 64


async def test_given_a_change_when_recomputed_then_result_lines_and_audit_are_rewritten(db):
    tenant = await make_tenant()
    ana = await make_user(tenant=tenant, external_id="ana")
    await assign(user=ana, plan=await publish_plan(tenant=tenant))
    await make_transaction(rep=ana, external_id="t1", amount="1000", on="2026-10-03")
    viewer = system_viewer(tenant)
    await recompute_rep_period(viewer=viewer, user_id=ana.id, period="2026-10")
    first = await _state(ana.id)
    await make_transaction(rep=ana, external_id="t2", amount="500", on="2026-10-04")

    await recompute_rep_period(viewer=viewer, user_id=ana.id, period="2026-10")

    result_id, total, computed_at, fingerprint, lines, audits = await _state(ana.id)
    assert result_id == first[0]
    assert total == Decimal("75.00")
    assert computed_at > first[2]
    assert fingerprint != first[3]
    assert [(t, a) for _, t, a in lines if t] == [("t1", Decimal("50")), ("t2", Decimal("25"))]
    assert audits == first[5] + 1
