"""Targets down the hierarchy: allocate, propose, validate, publish as quotas, accept; who may
do each step; bad input that leaves nothing half-allocated."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from domain.audit.models import AuditEntry
from domain.earnings.service import close_period, recompute_rep_period
from domain.kit.errors import Conflict, Forbidden, InvalidInput, NotFound, PeriodError
from domain.notifications.models import Notification, NotificationKind
from domain.org.models import Role
from domain.plans.models import Quota
from domain.targets import service
from domain.targets.errors import AllocationError
from domain.targets.models import (
    AllocationMethod,
    PlanStatus,
    Target,
    TargetPlan,
    TargetStatus,
)
from domain.targets.service import Allocation
from tests.domain.builders import (
    assign,
    make_fx_rate,
    make_org,
    make_tenant,
    make_transaction,
    make_user,
    publish_plan,
    system_viewer,
    viewer_of,
)

ORG = {"boss": None, "mia": "boss", "ana": "mia", "ben": "mia", "cy": "boss", "admin": None}


async def _setup():
    tenant = await make_tenant()
    org = await make_org(tenant=tenant, managers=ORG, roles={"admin": Role.ADMIN})
    admin = viewer_of(org["admin"])
    plan = await service.create_target_plan(
        viewer=admin,
        key="q4",
        period="2026-Q4",
        measure="bookings",
        amount=Decimal("90000.00"),
        currency="EUR",
        owner_id=org["boss"].id,
    )
    root = await Target.get(plan_id=plan.id, parent_id=None)
    return tenant, org, admin, plan, root


async def _child(plan, user) -> Target:
    return await Target.get(plan_id=plan.id, user_id=user.id)


async def _allocated_and_validated(org, admin, plan, root) -> None:
    boss, mia = viewer_of(org["boss"]), viewer_of(org["mia"])
    await service.allocate(viewer=boss, target_id=root.id, method=AllocationMethod.EQUAL)
    await service.propose(viewer=boss, target_id=root.id)
    await service.validate(viewer=admin, target_id=root.id)
    mias = await _child(plan, org["mia"])
    await service.allocate(
        viewer=mia,
        target_id=mias.id,
        method=AllocationMethod.MANUAL,
        allocations=[
            Allocation(str(org["ana"].id), value=Decimal("20000")),
            Allocation(str(org["ben"].id), value=Decimal("25000")),
        ],
    )
    await service.propose(viewer=mia, target_id=mias.id)
    await service.validate(viewer=boss, target_id=mias.id)


async def test_given_a_quarter_target_when_published_then_quotas_and_engine_use_them(
    db: str,
):
    tenant, org, admin, plan, root = await _setup()
    await _allocated_and_validated(org, admin, plan, root)

    published = await service.publish(viewer=admin, plan_id=plan.id)

    assert published.status is PlanStatus.PUBLISHED
    values = {t.user_id: t.value for t in await Target.filter(plan_id=plan.id)}
    assert values[org["mia"].id] == values[org["cy"].id] == Decimal("45000")
    assert values[org["ana"].id] + values[org["ben"].id] == values[org["mia"].id]
    ana_quotas = {q.period: q.value for q in await Quota.filter(user_id=org["ana"].id)}
    assert ana_quotas == {
        "2026-10": Decimal("6666.67"),
        "2026-11": Decimal("6666.67"),
        "2026-12": Decimal("6666.66"),
    }
    # the engine reads the published quota: 3,333.335 of 6,666.67 is 50% attainment
    version = await publish_plan(tenant=tenant)
    await assign(user=org["ana"], plan=version)
    await make_transaction(rep=org["ana"], external_id="t1", amount="3333.335", on="2026-10-05")
    [result] = await recompute_rep_period(
        viewer=system_viewer(tenant), user_id=org["ana"].id, period="2026-10"
    )
    [measure] = result.measures
    assert Decimal(measure["quota"]) == Decimal("6666.67")
    assert Decimal(measure["attainment"]) == Decimal("0.5")
    # every step audited, with who
    actions = [
        e.action
        for e in await AuditEntry.filter(entity_type__in=["target", "target_plan"]).order_by("id")
    ]
    assert actions == [
        "target.create",
        "target.allocate",
        "target.propose",
        "target.validate",
        "target.allocate",
        "target.propose",
        "target.validate",
        "target.publish",
    ]
    # whoever must act next was told: the reps to accept
    told = await Notification.filter(user_id=org["ana"].id, kind=NotificationKind.TARGET)
    assert [n.title for n in told] == ["Your target is published"]


async def test_given_published_targets_when_reps_accept_or_dispute_then_status_and_manager_told(
    db: str,
):
    _, org, admin, plan, root = await _setup()
    await _allocated_and_validated(org, admin, plan, root)
    await service.publish(viewer=admin, plan_id=plan.id)
    anas, bens = await _child(plan, org["ana"]), await _child(plan, org["ben"])

    accepted = await service.respond(viewer=viewer_of(org["ana"]), target_id=anas.id, accept=True)
    disputed = await service.respond(
        viewer=viewer_of(org["ben"]), target_id=bens.id, accept=False, comment="my territory shrank"
    )

    assert accepted.status is TargetStatus.ACCEPTED
    assert accepted.accepted_at is not None
    assert disputed.status is TargetStatus.DISPUTED
    assert disputed.comment == "my territory shrank"
    told = await Notification.filter(user_id=org["mia"].id, title="A target is disputed")
    assert len(told) == 1
    mine = await service.my_targets(viewer=viewer_of(org["ana"]), period="2026-Q4")
    assert [(t.id, p.id) for t, p in mine] == [(anas.id, plan.id)]


async def test_given_german_and_french_recipients_when_targets_move_then_told_in_their_language(
    db: str,
):
    _, org, admin, plan, root = await _setup()
    org["mia"].locale = "de-DE"
    await org["mia"].save(update_fields=["locale"])
    org["ben"].locale = "fr"
    await org["ben"].save(update_fields=["locale"])
    await _allocated_and_validated(org, admin, plan, root)
    await service.publish(viewer=admin, plan_id=plan.id)
    bens = await _child(plan, org["ben"])
    await service.respond(
        viewer=viewer_of(org["ben"]), target_id=bens.id, accept=False, comment="zu hoch"
    )

    mias = await Notification.filter(user_id=org["mia"].id).order_by("created_at", "id")
    texts = [(n.title, n.body, n.locale) for n in mias]
    # told to allocate (the boss's split was validated) and of ben's dispute, in German
    assert (
        "Ein Ziel zum Verteilen",
        "Ihr Ziel Bookings für Q4 2026 ist bereit zur Verteilung: 45.000,00\xa0€.",
        "de-DE",
    ) in texts
    assert (
        "Ein Ziel wird angefochten",
        f"{org['ben'].display_name} widerspricht dem Ziel Bookings für Q4 2026: zu hoch",
        "de-DE",
    ) in texts
    [published] = await Notification.filter(user_id=org["ben"].id)
    assert published.title == "Votre objectif est publié"
    assert published.body == (
        "Votre objectif Bookings pour T4 2026 (25\u202f000,00\xa0€) attend votre acceptation."
    )
    assert published.params["event"] == "publish"
    assert published.params["amount"] == "25000"


async def test_given_a_published_plan_when_revised_and_republished_then_open_periods_get_new_quotas(
    db: str,
):
    _, org, admin, plan, root = await _setup()
    await _allocated_and_validated(org, admin, plan, root)
    await service.publish(viewer=admin, plan_id=plan.id)
    await close_period(viewer=admin, period="2026-10")

    revised = await service.revise(viewer=admin, plan_id=plan.id, amount=Decimal("120000"))
    new_root = await Target.get(plan_id=revised.id, parent_id=None)
    await service.allocate(
        viewer=viewer_of(org["boss"]),
        target_id=new_root.id,
        method=AllocationMethod.WEIGHTS,
        allocations=[
            Allocation(str(org["mia"].id), share=Decimal(3)),
            Allocation(str(org["cy"].id), share=Decimal(1)),
        ],
    )
    await service.propose(viewer=viewer_of(org["boss"]), target_id=new_root.id)
    await service.validate(viewer=admin, target_id=new_root.id)
    await service.publish(viewer=admin, plan_id=revised.id, effective=date(2026, 11, 1))

    assert revised.version == 2
    cy = {q.period: q.value for q in await Quota.filter(user_id=org["cy"].id)}
    assert cy == {
        "2026-10": Decimal("15000"),
        "2026-11": Decimal("10000"),
        "2026-12": Decimal("10000"),
    }
    await plan.refresh_from_db()
    assert plan.status is PlanStatus.SUPERSEDED


async def test_given_a_revision_effective_mid_month_when_published_then_that_month_is_prorated(
    db: str,
):
    _, org, admin, plan, root = await _setup()
    await _allocated_and_validated(org, admin, plan, root)
    await service.publish(viewer=admin, plan_id=plan.id)  # cy: 45,000 = 15,000 a month
    revised = await service.revise(viewer=admin, plan_id=plan.id, amount=Decimal("120000"))
    new_root = await Target.get(plan_id=revised.id, parent_id=None)
    boss = viewer_of(org["boss"])
    await service.allocate(
        viewer=boss,
        target_id=new_root.id,
        method=AllocationMethod.WEIGHTS,
        allocations=[
            Allocation(str(org["mia"].id), share=Decimal(3)),
            Allocation(str(org["cy"].id), share=Decimal(1)),
        ],
    )  # cy: 30,000 = 10,000 a month
    await service.propose(viewer=boss, target_id=new_root.id)
    await service.validate(viewer=admin, target_id=new_root.id)

    await service.publish(viewer=admin, plan_id=revised.id, effective=date(2026, 11, 11))

    cy = {q.period: q.value for q in await Quota.filter(user_id=org["cy"].id)}
    # October ended before the revision: the old share; November: 10 days of 15,000 a month
    # (5,000) + 20 of 10,000 a month (6,666.67, the cent left over by the remainder rule)
    assert cy == {
        "2026-10": Decimal("15000"),
        "2026-11": Decimal("11666.67"),
        "2026-12": Decimal("10000"),
    }
    mia = {q.period: q.value for q in await Quota.filter(user_id=org["mia"].id)}
    assert mia["2026-11"] == Decimal("5000") + Decimal("20000")


async def test_given_each_step_when_someone_without_the_right_tries_then_refused(db: str):
    tenant, org, admin, plan, root = await _setup()
    boss, mia, ana, cy = (viewer_of(org[k]) for k in ("boss", "mia", "ana", "cy"))
    other_tenant = await make_tenant(slug="other")
    stranger = viewer_of(await make_user(tenant=other_tenant, external_id="x", role=Role.ADMIN))

    for who in (ana, mia, boss, stranger):  # only the tenant's admins create and publish
        with pytest.raises((Forbidden, NotFound)):
            await service.create_target_plan(
                viewer=who,
                key="k",
                period="2026-Q4",
                measure="b",
                amount=Decimal(1),
                currency="EUR",
                owner_id=org["boss"].id,
            )
    for who in (ana, mia, cy):  # boss's target: boss or an admin
        with pytest.raises(Forbidden):
            await service.allocate(viewer=who, target_id=root.id, method=AllocationMethod.EQUAL)
    with pytest.raises(NotFound):
        await service.allocate(viewer=stranger, target_id=root.id, method=AllocationMethod.EQUAL)
    await service.allocate(viewer=boss, target_id=root.id, method=AllocationMethod.EQUAL)
    with pytest.raises(Forbidden):
        await service.propose(viewer=mia, target_id=root.id)
    await service.propose(viewer=boss, target_id=root.id)
    with pytest.raises(Forbidden):  # not one's own allocation
        await service.validate(viewer=boss, target_id=root.id)
    await service.validate(viewer=admin, target_id=root.id)
    mias = await _child(plan, org["mia"])
    with pytest.raises(Forbidden):  # cy is a sibling, not above
        await service.allocate(viewer=cy, target_id=mias.id, method=AllocationMethod.EQUAL)
    await service.allocate(
        viewer=boss, target_id=mias.id, method=AllocationMethod.EQUAL
    )  # above: may
    await service.propose(viewer=mia, target_id=mias.id)
    with pytest.raises(Forbidden):
        await service.validate(viewer=mia, target_id=mias.id)
    with pytest.raises(Forbidden):
        await service.validate(viewer=ana, target_id=mias.id)
    await service.validate(viewer=boss, target_id=mias.id)
    for who in (boss, mia, ana):
        with pytest.raises(Forbidden):
            await service.publish(viewer=who, plan_id=plan.id)
    with pytest.raises(NotFound):
        await service.publish(viewer=stranger, plan_id=plan.id)
    anas = await _child(plan, org["ana"])
    with pytest.raises(Conflict):  # not published yet
        await service.respond(viewer=ana, target_id=anas.id, accept=True)
    await service.publish(viewer=admin, plan_id=plan.id)
    for who in (ana, mia, boss):  # only admins revise
        with pytest.raises(Forbidden):
            await service.revise(viewer=who, plan_id=plan.id)
    with pytest.raises(NotFound):
        await service.revise(viewer=stranger, plan_id=plan.id)
    for who in (mia, boss, admin, stranger):  # only the person accepts their own
        with pytest.raises(NotFound):
            await service.respond(viewer=who, target_id=anas.id, accept=True)
    # visibility: ana sees her own, mia her subtree's, cy not mia's subtree
    assert (await service.visible_target(viewer=mia, target_id=anas.id)).id == anas.id
    with pytest.raises(NotFound):
        await service.visible_target(viewer=cy, target_id=anas.id)
    with pytest.raises(NotFound):
        await service.visible_target(viewer=ana, target_id=mias.id)


async def _children(target) -> dict:
    return {t.user_id: t.value for t in await Target.filter(parent_id=target.id)}


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        ([("ana", "20000"), ("ben", "20000")], "allocations"),  # 40,000 of 45,000
        ([("ana", "-5000"), ("ben", "50000")], "allocations.0.value"),
        ([("ana", "20000"), ("cy", "25000")], "allocations.1.personId"),  # not mia's report
        ([("ana", "20000"), ("ana", "25000")], "allocations.1.personId"),
        ([("ana", "45000")], "allocations"),  # ben missing
        ([("ana", "20000.001"), ("ben", "24999.999")], "allocations.0.value"),
    ],
)
async def test_given_bad_lines_when_allocated_then_error_names_field_and_nothing_changes(
    db: str, lines, field
):
    _, org, admin, plan, root = await _setup()
    await _allocated_and_validated(org, admin, plan, root)
    mias = await _child(plan, org["mia"])
    before = await _children(mias)

    with pytest.raises(AllocationError) as caught:
        await service.allocate(
            viewer=viewer_of(org["mia"]),
            target_id=mias.id,
            method=AllocationMethod.MANUAL,
            allocations=[Allocation(str(org[p].id), value=Decimal(v)) for p, v in lines],
        )

    assert caught.value.field == field
    assert await _children(mias) == before


async def test_given_bad_plans_when_created_or_published_then_error_names_field(db: str):
    _, org, admin, plan, root = await _setup()
    with pytest.raises(InvalidInput) as negative:
        await service.create_target_plan(
            viewer=admin,
            key="neg",
            period="2026-Q4",
            measure="b",
            amount=Decimal(-1),
            currency="EUR",
            owner_id=org["boss"].id,
        )
    assert negative.value.field == "amount"
    with pytest.raises(NotFound) as unknown:  # a well-formed id of nobody in the tenant
        await service.create_target_plan(
            viewer=admin, key="nobody", period="2026-Q4", measure="b", amount=Decimal(1),
            currency="EUR", owner_id=root.id,
        )  # fmt: skip
    assert unknown.value.field == "ownerId"
    await service.allocate(viewer=admin, target_id=root.id, method=AllocationMethod.EQUAL)
    with pytest.raises(Conflict) as unvalidated:
        await service.publish(viewer=admin, plan_id=plan.id)
    assert unvalidated.value.field == "planId"
    await service.propose(viewer=admin, target_id=root.id)
    await service.validate(viewer=admin, target_id=root.id)
    await service.allocate(
        viewer=admin, target_id=(await _child(plan, org["mia"])).id, method=AllocationMethod.EQUAL
    )
    await service.propose(viewer=admin, target_id=(await _child(plan, org["mia"])).id)
    await service.validate(viewer=admin, target_id=(await _child(plan, org["mia"])).id)
    await close_period(viewer=admin, period="2026-11")
    with pytest.raises(PeriodError) as closed:
        await service.publish(viewer=admin, plan_id=plan.id)
    assert closed.value.field == "period"
    assert await Quota.all().count() == 0


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"key": "q\nfake line"}, "key"),
        ({"key": "Evil\x1b[2J"}, "key"),
        ({"key": "\u202e\u200b"}, "key"),  # shows nothing
        ({"measure": "book\tings"}, "measure"),
        ({"breakdown_field": "ty\npe", "breakdown_value": "heat_pump"}, "breakdownField"),
        ({"breakdown_field": "type", "breakdown_value": "heat\x1bpump"}, "breakdownValue"),
    ],
)
async def test_given_a_key_or_measure_with_control_characters_then_refused_naming_it(
    db: str, fields, field
):
    # a plan key is one line of `podium targets list` (and --plan on the command line): a
    # newline forged a line of the listing, an escape sequence reached the admin's terminal
    _, org, admin, _, _ = await _setup()
    args = {
        "key": "q5", "period": "2026-Q4", "measure": "bookings", "amount": Decimal(1),
        "currency": "EUR", "owner_id": org["boss"].id,
    }  # fmt: skip
    with pytest.raises(InvalidInput) as caught:
        await service.create_target_plan(viewer=admin, **(args | fields))
    assert caught.value.field == field
    assert await TargetPlan.all().count() == 1  # _setup's


async def test_given_last_period_actuals_when_allocated_by_actuals_then_split_in_proportion(
    db: str,
):
    tenant, org, admin, plan, root = await _setup()
    version = await publish_plan(tenant=tenant, effective_from="2026-07-01")
    for person, amount in (("ana", "3000"), ("ben", "1000"), ("cy", "4000")):
        await assign(user=org[person], plan=version, effective_from="2026-07-01")
        await make_transaction(rep=org[person], external_id=person, amount=amount, on="2026-08-10")
        await recompute_rep_period(
            viewer=system_viewer(tenant), user_id=org[person].id, period="2026-08"
        )

    await service.allocate(
        viewer=viewer_of(org["boss"]), target_id=root.id, method=AllocationMethod.ACTUALS
    )

    # mia's subtree sold 4,000 in Q3 and cy 4,000: half each
    children = await _children(root)
    assert children == {org["mia"].id: Decimal("45000"), org["cy"].id: Decimal("45000")}


async def test_given_a_breakdown_when_allocated_by_actuals_then_only_its_transactions_count(
    db: str,
):
    tenant = await make_tenant()
    org = await make_org(tenant=tenant, managers=ORG, roles={"admin": Role.ADMIN})
    plan = await service.create_target_plan(
        viewer=viewer_of(org["admin"]),
        key="hp",
        period="2026-Q4",
        measure="bookings",
        amount=Decimal("80000.00"),
        currency="EUR",
        owner_id=org["boss"].id,
        breakdown_field="product",
        breakdown_value="heat_pump",
    )
    root = await Target.get(plan_id=plan.id, parent_id=None)
    await make_transaction(
        rep=org["ana"],
        external_id="a",
        amount="3000",
        on="2026-08-01",
        extra={"product": "heat_pump"},
    )
    await make_transaction(
        rep=org["cy"], external_id="c1", amount="9000", on="2026-08-01", extra={"product": "solar"}
    )
    await make_transaction(
        rep=org["cy"],
        external_id="c2",
        amount="2000",
        on="2026-09-30",
        splits=[(org["cy"], "0.5"), (org["ben"], "0.5")],
        extra={"product": "heat_pump"},
    )
    await make_transaction(
        rep=org["cy"],
        external_id="c3",
        amount="5000",
        on="2026-10-01",
        extra={"product": "heat_pump"},
    )  # in Q4: not last period's

    await service.allocate(
        viewer=viewer_of(org["boss"]), target_id=root.id, method=AllocationMethod.ACTUALS
    )

    # heat pumps in Q3: mia's subtree 3,000 + 1,000 (ben's half), cy 1,000
    assert await _children(root) == {
        org["mia"].id: Decimal("64000"),
        org["cy"].id: Decimal("16000"),
    }


async def test_given_an_absurd_share_when_allocated_then_refused_by_name(db: str):
    _, org, _admin, _plan, root = await _setup()

    with pytest.raises(InvalidInput) as caught:
        await service.allocate(
            viewer=viewer_of(org["boss"]),
            target_id=root.id,
            method=AllocationMethod.WEIGHTS,
            allocations=[
                Allocation(str(org["mia"].id), share=Decimal("1e999999")),
                Allocation(str(org["cy"].id), share=Decimal(1)),
            ],
        )

    assert caught.value.field == "allocations.0.share"


async def test_given_a_weighting_column_when_allocated_by_weights_then_split_by_it(db: str):
    _, org, _admin, plan, root = await _setup()
    for person, weight in (("mia", "2"), ("cy", "1")):
        org[person].attributes = {"headcount": weight}
        await org[person].save(update_fields=["attributes"])
    boss = viewer_of(org["boss"])

    await service.allocate(
        viewer=boss,
        target_id=root.id,
        method=AllocationMethod.WEIGHTS,
        weight_attribute="headcount",
    )
    with pytest.raises(AllocationError) as missing:
        await service.allocate(viewer=boss, target_id=root.id, method=AllocationMethod.WEIGHTS)

    assert await _children(root) == {
        org["mia"].id: Decimal("60000"),
        org["cy"].id: Decimal("30000"),
    }
    assert missing.value.field == "weightAttribute"  # nobody has a target_weight column


async def test_given_a_proposed_allocation_when_sent_back_then_a_draft_again_and_owner_told(
    db: str,
):
    _, org, admin, plan, root = await _setup()
    boss = viewer_of(org["boss"])
    await service.allocate(viewer=boss, target_id=root.id, method=AllocationMethod.EQUAL)
    with pytest.raises(Conflict):  # nothing proposed yet
        await service.reject(viewer=admin, target_id=root.id, comment="no")
    await service.propose(viewer=boss, target_id=root.id)

    with pytest.raises(InvalidInput) as silent:
        await service.reject(viewer=admin, target_id=root.id, comment="  ")
    with pytest.raises(Forbidden):  # never one's own allocation
        await service.reject(viewer=boss, target_id=root.id, comment="fine by me")
    await service.reject(viewer=admin, target_id=root.id, comment="Cy's region grows faster")

    assert silent.value.field == "comment"
    assert {t.status for t in await Target.filter(parent_id=root.id)} == {TargetStatus.DRAFT}
    [told] = await Notification.filter(user_id=org["boss"].id, title="An allocation sent back")
    assert told.body == (
        "Your allocation of the Bookings target for Q4 2026 was sent back: Cy's region grows faster"
    )
    rejected = await AuditEntry.get(action="target.reject")
    assert rejected.after["comment"] == "Cy's region grows faster"
    # changed and proposed again, it goes on
    await service.allocate(
        viewer=boss,
        target_id=root.id,
        method=AllocationMethod.WEIGHTS,
        allocations=[
            Allocation(str(org["mia"].id), share=Decimal(1)),
            Allocation(str(org["cy"].id), share=Decimal(2)),
        ],
    )
    await service.propose(viewer=boss, target_id=root.id)
    await service.validate(viewer=admin, target_id=root.id)
    assert await _children(root) == {
        org["mia"].id: Decimal("30000"),
        org["cy"].id: Decimal("60000"),
    }


async def test_given_the_last_allocation_when_validated_then_the_admins_are_told_to_publish(
    db: str,
):
    _, org, admin, plan, root = await _setup()
    boss = viewer_of(org["boss"])
    await service.allocate(viewer=boss, target_id=root.id, method=AllocationMethod.EQUAL)
    await service.propose(viewer=boss, target_id=root.id)
    await service.validate(viewer=admin, target_id=root.id)
    # mia still has to split hers: not ready
    assert not await Notification.filter(user_id=org["admin"].id, title="A target plan to publish")

    await _allocated_and_validated(org, admin, plan, root)  # mia's split validated by boss

    [ready] = await Notification.filter(user_id=org["admin"].id, title="A target plan to publish")
    assert ready.body == (
        "Every allocation of the Bookings target for Q4 2026 is validated: it is ready to publish."
    )
    assert ready.params["plan_id"] == str(plan.id)


async def _heat_pump_plan(org, currency: str | None, amount: str):
    plan = await service.create_target_plan(
        viewer=viewer_of(org["admin"]),
        key=f"hp-{currency}",
        period="2026-Q4",
        measure="bookings",
        amount=Decimal(amount),
        currency=currency,
        owner_id=org["boss"].id,
        breakdown_field="product",
        breakdown_value="heat_pump",
    )
    return await Target.get(plan_id=plan.id, parent_id=None)


async def test_given_breakdown_actuals_in_two_currencies_or_a_count_when_split_then_like_for_like(
    db: str,
):
    tenant = await make_tenant()
    org = await make_org(tenant=tenant, managers=ORG, roles={"admin": Role.ADMIN})
    hp = {"product": "heat_pump"}
    await make_transaction(
        rep=org["ana"], external_id="a", amount="3000", on="2026-08-01", extra=hp
    )
    # cy: two sales in dollars, 1 USD = 0.5 EUR on the day of the first (a later rate for later)
    await make_fx_rate(tenant=tenant, currency="USD", rate="0.5", on="2026-07-01")
    await make_fx_rate(tenant=tenant, currency="USD", rate="2", on="2026-09-01")
    for n, day in enumerate(("2026-08-10", "2026-08-20")):
        await make_transaction(
            rep=org["cy"], external_id=f"c{n}", amount="1000", currency="USD", on=day, extra=hp
        )
    boss = viewer_of(org["boss"])
    in_euros = await _heat_pump_plan(org, "EUR", "4000.00")
    in_units = await _heat_pump_plan(org, None, "30")

    await service.allocate(viewer=boss, target_id=in_euros.id, method=AllocationMethod.ACTUALS)
    await service.allocate(viewer=boss, target_id=in_units.id, method=AllocationMethod.ACTUALS)

    # euros: mia's 3,000 and cy's 1,000 (2 x 1,000 USD at 0.5); units: one sale and two
    assert await _children(in_euros) == {
        org["mia"].id: Decimal("3000"),
        org["cy"].id: Decimal("1000"),
    }
    assert await _children(in_units) == {org["mia"].id: Decimal(10), org["cy"].id: Decimal(20)}
    await make_transaction(
        rep=org["cy"], external_id="c9", amount="5", currency="CHF", on="2026-09-02", extra=hp
    )
    with pytest.raises(AllocationError) as no_rate:
        await service.allocate(viewer=boss, target_id=in_euros.id, method=AllocationMethod.ACTUALS)
    assert no_rate.value.field == "method"
    assert "no FX rate from CHF to EUR" in no_rate.value.message


async def test_given_concurrent_double_submits_then_one_plan_and_the_rest_refused(db: str):
    # two createTargetPlan (a double click) both passed the 'exists' check: the second's
    # insert hit the unique version and answered a 500; two revisions of the same published
    # version likewise
    import asyncio

    from tortoise.transactions import in_transaction

    from domain.kit.errors import DomainError

    _, org, admin, plan, root = await _setup()

    async def once(step):
        try:
            async with in_transaction():
                return await step()
        except DomainError as exc:
            return exc

    def create():
        return service.create_target_plan(
            viewer=admin, key="twice", period="2026-Q4", measure="bookings",
            amount=Decimal(10), currency="EUR", owner_id=org["boss"].id,
        )  # fmt: skip

    outcomes = await asyncio.gather(*(once(create) for _ in range(6)))
    refused = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(refused) == 5
    assert {(o.code, o.field) for o in refused} == {("conflict", "key")}
    assert await TargetPlan.filter(key="twice").count() == 1

    await _allocated_and_validated(org, admin, plan, root)
    await service.publish(viewer=admin, plan_id=plan.id)
    outcomes = await asyncio.gather(
        *(once(lambda: service.revise(viewer=admin, plan_id=plan.id)) for _ in range(4))
    )
    refused = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(refused) == 3
    assert {o.field for o in refused} == {"planId"}
    assert await TargetPlan.filter(key="q4").count() == 2
