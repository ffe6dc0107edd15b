from __future__ import annotations

import asyncio

import pytest
from tortoise.transactions import in_transaction

from domain.audit.models import AuditEntry
from domain.kit.errors import DomainError
from domain.notifications.models import DevicePlatform, Notification
from domain.notifications.service import claim_pushes, register_device
from payments.disputes.models import Dispute, DisputeComment
from payments.disputes.service import comment, raise_dispute, resolve_dispute
from payments.statements.models import Adjustment, Statement, StatementLine
from payments.statements.service import add_adjustment, approve_statements, build_statements
from tests.payments.helpers import D, close, current, deal, lines_of, make_world
from tests.workers.fcm_standin import ACCESS_TOKEN, PROJECT, fcm_standin
from workers.push import FcmPushSender
from workers.realtime import PUSH_SENDER, push_notifications

pytestmark = pytest.mark.usefixtures("db")


async def _built():
    world = await make_world()
    world["mia"].locale = "de"
    await world["mia"].save(update_fields=["locale"])
    await deal(world["ann"], "t1", "8000", "2026-10-05")
    await deal(world["bob"], "t2", "4000", "2026-10-06")
    await close(world, "2026-10")
    await build_statements(viewer=world.system, period="2026-10")
    return world


async def _raise(world, who="ann", on="ann", line=True, message="t1 was 9,000, not 8,000"):
    statement = await current(world, on, "2026-10")
    first = (await lines_of(statement))[0]
    return await raise_dispute(
        viewer=world.viewer(who),
        statement_id=str(statement.id),
        line_id=str(first.id) if line else None,
        message=message,
    )


async def test_given_a_payee_when_they_dispute_a_line_then_their_manager_is_told_in_german():
    world = await _built()

    dispute, told = await _raise(world)

    assert (dispute.status, dispute.assignee_id, dispute.period) == (
        "open",
        world["mia"].id,
        "2026-10",
    )
    assert dispute.line_id is not None
    assert told == [world["mia"].id]
    note = await Notification.get(user_id=world["mia"].id)
    assert note.kind == "dispute_raised"
    assert note.title == "Eine Abrechnung wird beanstandet"
    assert note.body == "Ann beanstandet die Abrechnung für Oktober 2026: t1 was 9,000, not 8,000"
    assert await AuditEntry.filter(action="dispute.raised", entity_id=str(dispute.id)).exists()


async def test_given_an_open_dispute_then_it_holds_the_approval_of_that_statement_only():
    world = await _built()
    await _raise(world)
    before = [(s.id, s.status) for s in await Statement.all().order_by("id")]

    with pytest.raises(DomainError) as caught:
        await approve_statements(
            viewer=world.viewer("mia"), period="2026-10", rep_ids=[world["ann"].id]
        )
    assert caught.value.field == "repIds"
    assert [(s.id, s.status) for s in await Statement.all().order_by("id")] == before

    done = await approve_statements(viewer=world.viewer("mia"), period="2026-10")
    assert (done.approved, done.skipped) == (1, 1)
    assert (await current(world, "ann", "2026-10")).status == "draft"
    assert (await current(world, "bob", "2026-10")).status == "approved"


@pytest.mark.parametrize(
    ("who", "on", "message", "field"),
    [
        ("bob", "ann", "not mine", "statementId"),  # someone else's statement
        ("mia", "ann", "as the manager", "statementId"),  # the manager is not the payee
        ("ann", "ann", "  ", "message"),
        ("ann", "ann", "a\x00b", "message"),
        ("ann", "ann", "a\x1b[2Jb", "message"),  # told to the manager, pushed to their phone
        ("ann", "ann", "x" * 2001, "message"),
    ],
)
async def test_given_a_bad_dispute_then_a_field_error_and_nothing_changes(who, on, message, field):
    world = await _built()
    with pytest.raises(DomainError) as caught:
        await _raise(world, who=who, on=on, message=message)
    assert caught.value.field == field
    assert await Dispute.all().count() == 0
    assert await Notification.all().count() == 0


async def test_given_a_line_of_another_statement_then_a_line_error():
    world = await _built()
    ann = await current(world, "ann", "2026-10")
    bobs_line = (await lines_of(await current(world, "bob", "2026-10")))[0]
    with pytest.raises(DomainError) as caught:
        await raise_dispute(
            viewer=world.viewer("ann"), statement_id=str(ann.id), line_id=str(bobs_line.id),
            message="this one",
        )  # fmt: skip
    assert caught.value.field == "lineId"
    assert await Dispute.all().count() == 0


async def test_given_a_dispute_accepted_with_an_adjustment_then_a_new_version_and_the_payee_told():
    world = await _built()
    dispute, _ = await _raise(world)
    await approve_statements(viewer=world.viewer("mia"), period="2026-10")  # bob only
    await comment(viewer=world.viewer("mia"), dispute_id=str(dispute.id), body="Checking the CRM")
    await comment(viewer=world.viewer("ann"), dispute_id=str(dispute.id), body="Order 4411")
    await register_device(viewer=world.viewer("ann"), token="tok-ann", platform=DevicePlatform.IOS)

    resolved, told = await resolve_dispute(
        viewer=world.viewer("mia"), dispute_id=str(dispute.id), accept=True,
        comment="Confirmed: 1,000 more", adjustment=D("50"),
    )  # fmt: skip

    assert (resolved.status, resolved.resolution) == ("accepted", "Confirmed: 1,000 more")
    assert told == [world["ann"].id]
    ann = await current(world, "ann", "2026-10")
    assert (ann.version, ann.status, ann.total) == (1, "draft", D("300"))
    adjustment = await Adjustment.get(id=resolved.adjustment_id)
    assert adjustment.reason == "Dispute: Confirmed: 1,000 more"
    assert [(ln.kind, ln.amount) for ln in await lines_of(ann)][-1] == ("adjustment", D("50"))
    assert [c.body for c in await DisputeComment.all().order_by("id")] == [
        "Checking the CRM",
        "Order 4411",
    ]
    note = await Notification.get(user_id=world["ann"].id)
    assert (note.kind, note.title) == ("dispute_resolved", "Your dispute is accepted")
    pushes = await claim_pushes(tenant_id=world.tenant.id, user_ids=[world["ann"].id])
    assert [(p.token, p.title) for p in pushes] == [("tok-ann", "Your dispute is accepted")]
    assert await claim_pushes(tenant_id=world.tenant.id, user_ids=[world["ann"].id]) == []
    assert (await approve_statements(viewer=world.viewer("mia"), period="2026-10")).approved == 1


async def test_given_a_dispute_on_an_approved_statement_when_accepted_then_version_two():
    world = await _built()
    dispute, _ = await _raise(world, line=False)
    await resolve_dispute(
        viewer=world.viewer("admin"), dispute_id=str(dispute.id), accept=False,
        comment="The CRM says 8,000",
    )  # fmt: skip
    await approve_statements(viewer=world.viewer("mia"), period="2026-10")
    second, _ = await _raise(world, line=False, message="Please look again")
    await resolve_dispute(
        viewer=world.viewer("boss"), dispute_id=str(second.id), accept=True,
        comment="Goodwill", adjustment=D("10"),
    )  # fmt: skip
    ann = await current(world, "ann", "2026-10")
    assert (ann.version, ann.status, ann.total) == (2, "draft", D("260"))


@pytest.mark.parametrize(
    ("who", "accept", "text", "amount", "field"),
    [
        ("ann", True, "mine", None, "id"),  # the payee
        ("max", True, "not my team", None, "id"),  # another manager
        ("cat", False, "a rep", None, "id"),
        ("mia", False, "no", D("5"), "adjustment"),  # a rejection takes no adjustment
        ("mia", True, "yes", D("5.001"), "adjustment"),
        ("mia", True, "yes", D("0"), "adjustment"),
        ("mia", False, "   ", None, "comment"),
        ("mia", False, "no\x1b[2J", None, "comment"),
    ],
)
async def test_given_a_bad_resolution_then_a_field_error_and_nothing_changes(
    who, accept, text, amount, field
):
    world = await _built()
    dispute, _ = await _raise(world)
    before = (
        await StatementLine.all().count(),
        await Adjustment.all().count(),
        await Notification.all().count(),
    )
    with pytest.raises(DomainError) as caught:
        await resolve_dispute(
            viewer=world.viewer(who), dispute_id=str(dispute.id), accept=accept, comment=text,
            adjustment=amount,
        )  # fmt: skip
    assert caught.value.field == field
    assert (await Dispute.get(id=dispute.id)).status == "open"
    assert before == (
        await StatementLine.all().count(),
        await Adjustment.all().count(),
        await Notification.all().count(),
    )


async def test_given_a_resolved_dispute_when_resolved_again_then_an_id_error():
    world = await _built()
    dispute, _ = await _raise(world)
    await resolve_dispute(
        viewer=world.viewer("mia"), dispute_id=str(dispute.id), accept=False, comment="no"
    )
    with pytest.raises(DomainError) as caught:
        await resolve_dispute(
            viewer=world.viewer("mia"), dispute_id=str(dispute.id), accept=True, comment="yes"
        )
    assert caught.value.field == "id"


async def test_given_a_resolved_dispute_when_the_push_job_runs_then_the_payee_phone_gets_it():
    world = await _built()
    dispute, _ = await _raise(world)
    await register_device(
        viewer=world.viewer("ann"), token="ann-phone", platform=DevicePlatform.IOS
    )
    _, told = await resolve_dispute(
        viewer=world.viewer("mia"), dispute_id=str(dispute.id), accept=False, comment="No change"
    )
    async with fcm_standin() as standin:
        sender = FcmPushSender.create(
            project_id=PROJECT, fcm_url=standin.url, access_token=ACCESS_TOKEN
        )
        try:
            ctx = {PUSH_SENDER: sender}
            sent = await push_notifications(ctx, str(world.tenant.id), [str(u) for u in told])
            again = await push_notifications(ctx, str(world.tenant.id), [str(u) for u in told])
        finally:
            await sender.aclose()
    assert (sent, again) == (1, 0)
    assert [(m["token"], m["notification"]["title"]) for m in standin.messages] == [
        ("ann-phone", "Your dispute is rejected")
    ]


@pytest.mark.parametrize(
    "line_id", ["9223372036854775808", "99999999999999999999999", "9223372036854775807", "-1"]
)
async def test_given_a_line_id_past_a_bigint_then_not_found_on_line_id(line_id):
    world = await _built()
    statement = await current(world, "ann", "2026-10")
    with pytest.raises(DomainError) as caught:
        await raise_dispute(
            viewer=world.viewer("ann"), statement_id=str(statement.id), line_id=line_id,
            message="this one",
        )  # fmt: skip
    assert (caught.value.code, caught.value.field) == ("not_found", "lineId")
    assert await Dispute.all().count() == 0


@pytest.mark.parametrize("line", [True, False])
async def test_given_concurrent_identical_disputes_then_one_is_raised_and_the_rest_refused(line):
    world = await _built()

    async def once():
        try:
            async with in_transaction():
                return await _raise(world, line=line)
        except DomainError as exc:
            return exc

    outcomes = await asyncio.gather(*(once() for _ in range(8)))

    refused = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(refused) == 7
    assert {e.field for e in refused} == {"lineId" if line else "statementId"}
    assert await Dispute.filter(status="open").count() == 1
    assert await Notification.all().count() == 1  # the manager told once
    # the other line, or the whole statement, is another question: it may be raised
    await _raise(world, line=not line)
    assert await Dispute.filter(status="open").count() == 2


async def test_given_a_resolved_dispute_then_the_same_line_may_be_disputed_again():
    world = await _built()
    dispute, _ = await _raise(world)
    await resolve_dispute(
        viewer=world.viewer("mia"), dispute_id=str(dispute.id), accept=False, comment="no"
    )
    again, _ = await _raise(world)
    assert again.status == "open"


async def test_given_an_adjustment_past_what_a_total_holds_then_an_adjustment_error():
    world = await _built()
    await add_adjustment(
        viewer=world.viewer("mia"), rep_id=world["ann"].id, period="2026-10",
        amount=D("-99999999999000"), currency="EUR", reason="a large one",
    )  # fmt: skip
    dispute, _ = await _raise(world)
    with pytest.raises(DomainError) as caught:
        await resolve_dispute(
            viewer=world.viewer("mia"), dispute_id=str(dispute.id), accept=True, comment="ok",
            adjustment=D("-99999999999999.99"),
        )  # fmt: skip
    assert caught.value.field == "adjustment"
    assert (await Dispute.get(id=dispute.id)).status == "open"
    assert await Adjustment.all().count() == 1
