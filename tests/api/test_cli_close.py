"""`podium close --tenant T --period P`: every person recomputed in chunks through the batch
path, the same results, lines and totals as recomputing each person alone, also when a close
is killed half-way and run again; then the period is closed. Bad input: one line, exit 2,
nothing changed."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from domain.audit.models import AuditEntry
from domain.earnings.close import period_chunks, record_late_events
from domain.earnings.models import CloseChunk, CloseRun, EarningsResult, PeriodStatus
from domain.earnings.models import Period as StoredPeriod
from domain.earnings.service import recompute_rep_period
from domain.kit.periods import parse_period
from domain.org.models import Role
from domain.plans.models import AssignmentStatus, PlanAssignment, PlanVersion
from tests.api.cli_runner import ROOT, cli_env, podium
from tests.domain.builders import (
    TIERED,
    assign,
    make_fx_rate,
    make_tenant,
    make_transaction,
    make_user,
    plan_yaml,
    publish_plan,
    set_quota,
    system_viewer,
)


async def world(reps: int = 12) -> tuple[Any, list[Any]]:
    """``reps`` on a tiered EUR plan (the last without a quota: an error), two on a USD rate
    plan too, each with a few October deals (one split between two reps)."""
    tenant = await make_tenant(slug="acme")
    await make_user(tenant=tenant, external_id="root", role=Role.ADMIN)
    await make_fx_rate(
        tenant=tenant, currency="USD", rate="0.9", on="2026-09-30", quote_currency="EUR"
    )
    await make_fx_rate(
        tenant=tenant, currency="EUR", rate="1.1", on="2026-09-30", quote_currency="USD"
    )
    eur = await publish_plan(tenant=tenant, document=TIERED)
    usd = await publish_plan(tenant=tenant, document=plan_yaml(key="spiff", currency="USD"))
    people = []
    for i in range(reps):
        rep = await make_user(tenant=tenant, external_id=f"rep{i:02}")
        await assign(user=rep, plan=eur)
        if i < reps - 1:
            await set_quota(user=rep, value=str(10000 + 1000 * i))
        if i < 2:
            await assign(user=rep, plan=usd)
        for n in range(3):
            await make_transaction(
                rep=rep,
                external_id=f"t{i}-{n}",
                amount=str(1500 * (n + 1) + 17 * i),
                on=f"2026-10-{n + 3:02}",
                currency="USD" if i < 2 and n == 2 else "EUR",
            )
        people.append(rep)
    await make_transaction(
        rep=people[0],
        external_id="split",
        amount="9000",
        splits=[(people[0], "0.5"), (people[1], "0.5")],
    )
    return tenant, people


async def snapshot() -> list[tuple[Any, ...]]:
    """Every stored result and line, without ids and times."""
    rows = await connections.get("default").execute_query_dict(
        """
        SELECT u.external_id, r.plan_version_id, r.period, r.status, r.error, r.currency,
               r.total, r.payable, r.pending, r.measures::text, r.components::text,
               l.position, l.component, l.transaction_external_id, l.credited_rep,
               l.occurred_on, l.value, l.amount, l.status AS line_status, l.explanation
        FROM earnings_results r JOIN users u ON u.id = r.user_id
        LEFT JOIN earnings_lines l ON l.result_id = r.id
        ORDER BY 1, 2, l.position
        """
    )
    return [tuple(r.values()) for r in rows]


async def each_alone(tenant: Any, people: list[Any]) -> list[tuple[Any, ...]]:
    from tortoise.transactions import in_transaction

    for rep in people:
        async with in_transaction():
            await recompute_rep_period(
                viewer=system_viewer(tenant), user_id=rep.id, period="2026-10"
            )
    alone = await snapshot()
    await connections.get("default").execute_query("DELETE FROM earnings_results")
    return alone


async def test_given_a_tenant_when_closed_then_results_equal_each_alone_and_period_closed(db):
    tenant, people = await world()
    alone = await each_alone(tenant, people)

    ran = await podium(db, "close", "--tenant", "acme", "--period", "2026-10", "--chunk-size", "15")

    assert ran.returncode == 0, ran.stderr
    assert await snapshot() == alone
    assert ran.stdout.splitlines()[0] == (
        "2026-10: closed. 12 people, 11 without errors, 1 with errors"
    )
    assert "  EUR total " in ran.stdout
    assert "  USD total " in ran.stdout
    assert "  rep11: no quota for measure 'bookings' in 2026-10" in ran.stdout
    assert "Traceback" not in ran.stderr
    # chunks of up to 15 transactions, the last 15 of them in two (how many depends on the
    # people's random ids: their order)
    chunks = await period_chunks(system_viewer(tenant), parse_period("2026-10"), transactions=15)
    assert len(chunks) > 2
    assert await CloseChunk.filter(done=True).count() == len(chunks)
    period = await StoredPeriod.get(tenant_id=tenant.id, key="2026-10")
    assert period.status is PeriodStatus.CLOSED


async def test_given_a_parked_recompute_request_when_the_period_closes_then_it_ends(db):
    """A request that failed five times (parked) asked for a recompute the close has done."""
    from domain.ingest.models import RecomputeRequest
    from domain.ingest.repository import FailedRequest, IngestRepository

    tenant, people = await world(reps=2)
    repo = IngestRepository(system_viewer(tenant))
    async with in_transaction():
        await repo.request_recomputes([(people[0].id, "2026-10"), (people[1].id, "2026-11")])
        taken = await repo.take_recompute_requests(10)
        await repo.restore_recompute_requests([FailedRequest(t, "a bug", True) for t in taken])

    ran = await podium(db, "close", "--tenant", "acme", "--period", "2026-10")

    assert ran.returncode == 0, ran.stderr
    (left,) = await RecomputeRequest.all()  # the other period's stays parked
    assert (left.user_id, left.period, left.parked_at is not None) == (
        people[1].id,
        "2026-11",
        True,
    )


async def test_given_a_request_pending_when_closed_then_consumed_and_no_late_change_flagged(
    db, redis_url: str
):
    """A CRM change that asked for a recompute before the close reached its person: the
    close read the change, so its request ends with the chunk. Left pending, the worker
    took it after the close, found the period closed and flagged a late change for 2026-11
    that the close had already counted. A request of another period stays."""
    from domain.earnings.models import LateEvent
    from domain.ingest.models import RecomputeRequest
    from domain.ingest.repository import IngestRepository
    from tests.workers.ingest_helpers import arq_pool
    from workers.tasks.earnings import recompute_requested

    tenant, people = await world(reps=2)
    await make_transaction(rep=people[0], external_id="late-t", amount="7000", on="2026-10-28")
    async with in_transaction():
        await IngestRepository(system_viewer(tenant)).request_recomputes(
            [(people[0].id, "2026-10"), (people[1].id, "2026-11")]
        )

    ran = await podium(db, "close", "--tenant", "acme", "--period", "2026-10")
    pool = await arq_pool(redis_url, "h3-close-test")
    try:  # the worker, after the close, takes what is still requested
        await recompute_requested({"redis": pool}, str(tenant.id), follow_up=True)
    finally:
        await pool.aclose()

    assert ran.returncode == 0, ran.stderr
    assert await LateEvent.all().count() == 0
    assert await RecomputeRequest.all().count() == 0  # 2026-11's done by the worker
    assert await EarningsResult.filter(user_id=people[0].id, period="2026-10").exists()


async def test_given_a_closed_period_when_closed_again_then_refused_and_nothing_changes(db):
    tenant, _ = await world(reps=2)
    assert (await podium(db, "close", "--tenant", "acme", "--period", "2026-10")).returncode == 0
    before = (await snapshot(), await AuditEntry.all().count())

    ran = await podium(db, "close", "--tenant", "acme", "--period", "2026-10")

    ran.one_line_error("2026-10 is closed already")
    assert (await snapshot(), await AuditEntry.all().count()) == before


async def test_given_a_close_killed_before_its_statements_when_run_again_then_drafts_them(db):
    """The close commits, then drafts the statements in a transaction of their own: killed
    between the two, the period is closed without them, and a rerun drafts them."""
    from tortoise.transactions import in_transaction

    from domain.earnings import close as closing
    from payments.statements.models import Statement

    tenant, _ = await world(reps=3)
    viewer = system_viewer(tenant)
    async with in_transaction():
        run = await closing.start_close(viewer=viewer, period="2026-10")
    while True:
        async with in_transaction():
            if await closing.close_next_chunk(viewer=viewer, run_id=run.id) is None:
                break
    async with in_transaction():
        assert await closing.finish_close(viewer=viewer, run_id=run.id)
    assert await Statement.filter(tenant_id=tenant.id).count() == 0  # the kill
    before = await snapshot()

    ran = await podium(db, "close", "--tenant", "acme", "--period", "2026-10")

    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines()[0] == "2026-10: closed already; drafting its missing statements"
    # rep00 and rep01 in EUR and USD; rep02 has no quota: in error, no statement (named)
    assert await Statement.filter(tenant_id=tenant.id).count() == 4
    assert "no statement for rep02" in ran.stdout
    assert await snapshot() == before  # the results stay as closed

    again = await podium(db, "close", "--tenant", "acme", "--period", "2026-10")
    again.one_line_error("2026-10 is closed already")


async def test_given_a_closed_period_when_reopened_then_audited_and_it_can_close_again(db):
    await world(reps=2)
    await podium(db, "close", "--tenant", "acme", "--period", "2026-10")

    ran = await podium(db, "close", "--tenant", "acme", "--period", "2026-10", "--reopen")

    assert ran.returncode == 0, ran.stderr
    assert await AuditEntry.filter(action="period.reopened", entity_id="2026-10").count() == 1
    again = await podium(db, "close", "--tenant", "acme", "--period", "2026-10")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("2026-10: closed. 2 people")


async def test_given_an_open_period_when_reopened_then_one_line(db):
    await world(reps=2)

    ran = await podium(db, "close", "--tenant", "acme", "--period", "2026-10", "--reopen")

    ran.one_line_error("2026-10 is not closed")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--tenant", "acme", "--period", "2026-13"], "month 13 out of range"),
        (["--tenant", "acme", "--period", "last month"], "is not a period id"),
        # it ends on date.max, stored as infinity: "cannot subtract infinite dates", exit 1
        (["--tenant", "acme", "--period", "9999-12"], "year 9999 is outside the years"),
        (["--tenant", "nope", "--period", "2026-10"], "no tenant 'nope'"),
    ],
)
async def test_given_bad_input_when_closing_then_one_line_and_nothing_written(
    db, args: list[str], fragment: str
):
    await world(reps=2)

    ran = await podium(db, "close", *args)

    ran.one_line_error(fragment)
    assert await EarningsResult.all().count() == 0
    assert await StoredPeriod.all().count() == 0


async def test_given_the_month_under_way_when_closing_then_refused_naming_period(db):
    """Closed before its end, its last days' deals would count only as late changes of the
    next month: refused, nothing recomputed, nothing closed (no option forces it)."""
    from domain.kit.clock import today_in
    from domain.kit.periods import period_containing

    await world(reps=2)
    this = period_containing(today_in("UTC"), "month").id

    ran = await podium(db, "close", "--tenant", "acme", "--period", this)

    ran.one_line_error("period", f"{this} has not ended yet")
    assert await EarningsResult.all().count() == 0
    assert await StoredPeriod.all().count() == 0
    assert await CloseRun.all().count() == 0


async def test_given_a_closed_period_when_recomputing_then_refused_in_one_line(db):
    await world(reps=2)
    await podium(db, "close", "--tenant", "acme", "--period", "2026-10")

    ran = await podium(db, "recompute", "--tenant", "acme", "--period", "2026-10")

    ran.one_line_error("2026-10 is closed")


async def killable(db: str, marker: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.api.killable_close",
        *args,
        cwd=ROOT,
        env=cli_env(db, PODIUM_SLOW_SECONDS="0.3", PODIUM_MARKER=str(marker)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def wait_for_done_chunks(at_least: int) -> None:
    for _ in range(400):
        if await CloseChunk.filter(done=True).count() >= at_least:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the close did not get going")


CLOSE = ("close", "--tenant", "acme", "--period", "2026-10", "--chunk-size", "6")


async def test_given_a_close_killed_half_way_when_run_again_then_equal_to_an_uninterrupted_one(
    db, tmp_path: Path
):
    tenant, people = await world()
    alone = await each_alone(tenant, people)
    proc = await killable(db, tmp_path / "marker", *CLOSE)
    await wait_for_done_chunks(2)

    os.kill(proc.pid, signal.SIGKILL)  # mid-chunk: its transaction is rolled back
    await proc.wait()
    # killed half-way: some chunks done, some not
    assert await CloseChunk.filter(done=True).count() >= 2
    assert await CloseChunk.filter(done=False).count() > 0
    assert (await StoredPeriod.filter(status=PeriodStatus.CLOSED).count()) == 0
    ran = await podium(db, *CLOSE)

    assert ran.returncode == 0, ran.stderr
    assert await snapshot() == alone
    assert ran.stdout.startswith("2026-10: closed. 12 people, 11 without errors, 1 with errors")


async def test_given_a_hire_between_a_kill_and_the_rerun_then_the_rerun_closes_them_too(
    db, tmp_path: Path
):
    """The rerun plans the people the period has now: a person hired (assigned to the plan
    for October) after the kill was left out, without results, when the rerun finished the
    chunks planned at the start; one who declined their plan since is left out. Done chunks
    are not redone; the results equal each person recomputed alone."""
    tenant, people = await world()
    proc = await killable(db, tmp_path / "marker", *CLOSE)
    await wait_for_done_chunks(2)
    os.kill(proc.pid, signal.SIGKILL)
    await proc.wait()
    done_before = {c.id for c in await CloseChunk.filter(done=True)}
    waiting = (await CloseChunk.filter(done=False).order_by("-position").first()).user_ids
    gone = next(p for p in people if str(p.id) == waiting[-1])  # declined since: not closed
    await PlanAssignment.filter(user_id=gone.id).update(status=AssignmentStatus.DECLINED)
    hire = await make_user(tenant=tenant, external_id="rep99")
    await assign(user=hire, plan=await PlanVersion.filter(tenant_id=tenant.id).first())
    await set_quota(user=hire, value="20000")
    await make_transaction(rep=hire, external_id="hire-1", amount="25000", on="2026-10-20")

    ran = await podium(db, *CLOSE)

    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("2026-10: closed. 12 people, ")  # 12 - 1 + 1
    # the chunks done before the kill were kept, not planned (or recomputed) again
    assert done_before <= {c.id for c in await CloseChunk.filter(done=True)}
    closed = await snapshot()
    assert any(row[0] == "rep99" for row in closed)
    assert not any(row[0] == gone.external_id for row in closed)
    await StoredPeriod.filter(tenant_id=tenant.id).update(status=PeriodStatus.OPEN)
    assert closed == await each_alone(tenant, [p for p in [*people, hire] if p is not gone])


async def test_given_the_database_goes_away_mid_close_then_one_line_and_a_rerun_completes(
    db, tmp_path: Path
):
    tenant, people = await world()
    alone = await each_alone(tenant, people)
    proc = await killable(db, tmp_path / "marker", *CLOSE)
    await wait_for_done_chunks(1)
    # every other connection to this database (the close's): by current_database(), as the
    # URL of an embedded server names its socket folder after the database's name
    ended = await connections.get("default").execute_query_dict(
        "SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    assert ended
    assert all(row["ended"] for row in ended)
    out, err = await asyncio.wait_for(proc.communicate(), 60)

    assert proc.returncode == 1, (out, err)
    said = err.decode()  # progress lines, then the reason
    assert "Traceback" not in said
    assert said.splitlines()[-1].startswith("podium: cannot use the database at "), said
    assert await StoredPeriod.filter(status=PeriodStatus.CLOSED).count() == 0
    ran = await podium(db, *CLOSE)
    assert ran.returncode == 0, ran.stderr
    assert await snapshot() == alone


async def test_given_two_closes_at_once_then_they_share_the_chunks_and_agree(db, tmp_path: Path):
    tenant, people = await world()
    alone = await each_alone(tenant, people)
    # slowed chunks (0.3 s each), so the second starts while the first still has work
    procs = [await killable(db, tmp_path / f"marker{i}", *CLOSE) for i in range(2)]

    outs = [await asyncio.wait_for(p.communicate(), 60) for p in procs]

    assert [p.returncode for p in procs] == [0, 0], outs
    assert outs[0][0] == outs[1][0]
    assert outs[0][0].decode().startswith("2026-10: closed. 12 people, 11 without errors")
    assert await snapshot() == alone
    assert await AuditEntry.filter(action="period.closed").count() == 1


async def test_given_late_changes_to_a_closed_period_then_the_next_close_counts_them(db):
    tenant, people = await world(reps=2)
    await podium(db, "close", "--tenant", "acme", "--period", "2026-10")
    from tortoise.transactions import in_transaction

    async with in_transaction():
        await record_late_events(viewer=system_viewer(tenant), pairs=[(people[0].id, "2026-10")])

    ran = await podium(db, "close", "--tenant", "acme", "--period", "2026-11")

    assert ran.returncode == 0, ran.stderr
    assert "  1 late CRM change(s) to closed periods flagged for 2026-11\n" in ran.stdout


async def close_with_redis(db: str, redis_url: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.cli",
        *CLOSE,
        "--workers",
        "2",
        cwd=ROOT,
        env=cli_env(db, REDIS_URL=redis_url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_given_workers_when_closing_then_helper_jobs_are_queued(db, redis, redis_url: str):
    await world(reps=2)

    code, out, err = await close_with_redis(db, redis_url)

    assert code == 0, err
    assert out.startswith("2026-10: closed. 2 people")
    queued = sorted(await redis.zrange("arq:queue", 0, -1))
    assert [job.rsplit(b":", 1)[1] for job in queued] == [b"0", b"1"]
    assert all(job.startswith(b"close:") for job in queued)


async def test_given_no_redis_when_closing_with_workers_then_it_closes_alone(db):
    await world(reps=2)

    code, out, err = await close_with_redis(db, "redis://127.0.0.1:1/0")

    assert code == 0, err
    assert "no worker asked to help" in err
    assert out.startswith("2026-10: closed. 2 people")


async def test_given_approved_statements_when_reopened_then_refused_naming_them(db):
    """A period whose statements are approved (or paid) is not reopened: its next close
    builds no statement for who has one, so what reopening changed (a deal added, one
    cancelled) was never paid nor taken back, and no late change was flagged for the next
    period either. Refused in one line naming the period, nothing changed; a change to it
    goes to the next period's statements as a late change."""
    from tests.payments.helpers import approved_october, make_world

    await approved_october(await make_world())

    ran = await podium(db, "close", "--tenant", "acme", "--period", "2026-10", "--reopen")

    ran.one_line_error("period", "approved", "late change")
    assert (await StoredPeriod.get(key="2026-10")).status is PeriodStatus.CLOSED
    assert not await AuditEntry.filter(action="period.reopened").exists()


async def test_given_draft_statements_when_reopened_and_closed_again_then_built_afresh(db):
    """A period whose statements are drafts reopens: they are discarded (audited, with the
    draw ledger's entries of their build), so the next close builds them from the new
    results. They stayed as first built: a deal added while the period was open again was
    never on ann's statement (nor flagged late for the next period). A dispute on them
    refuses the reopen, naming the period (its conversation would go with them)."""
    from domain.plans.models import PlanAssignment
    from payments.disputes.service import raise_dispute
    from payments.draws.models import DrawEntry
    from payments.draws.service import set_draw
    from payments.statements.models import Statement
    from payments.statements.service import build_statements
    from tests.payments.helpers import D, close, current, deal, make_world

    w = await make_world()
    assignment = await PlanAssignment.get(user_id=w["ann"].id)
    await set_draw(viewer=w.viewer("admin"), assignment_id=assignment.id, amount=D("200"),
                   recoverable=True, recovery_share=D("0.5"))  # fmt: skip
    await deal(w["ann"], "a1", "4000", "2026-10-05")  # earns 80: the draw tops it up to 200
    await close(w, "2026-10")
    await build_statements(viewer=w.system, period="2026-10")
    assert (await current(w, "ann", "2026-10")).total == D("200")

    ran = await podium(db, "close", "--tenant", "acme", "--period", "2026-10", "--reopen")
    assert ran.returncode == 0, ran.stderr
    await deal(w["ann"], "a2", "5000", "2026-10-20")  # 9,000: 5,000 at 2% + 4,000 at 5% = 300
    ran = await podium(db, "close", "--tenant", "acme", "--period", "2026-10")
    assert ran.returncode == 0, ran.stderr

    ann = await current(w, "ann", "2026-10")
    assert (ann.version, ann.status, ann.total) == (1, "draft", D("300"))
    assert await Statement.filter(user_id=w["ann"].id).count() == 1
    assert await DrawEntry.filter(period="2026-10").count() == 0  # above the draw: none
    assert await AuditEntry.filter(action="statement.discarded").count() == 3

    await raise_dispute(viewer=w.viewer("ann"), statement_id=str(ann.id), line_id=None,
                        message="A deal is missing")  # fmt: skip
    ran = await podium(db, "close", "--tenant", "acme", "--period", "2026-10", "--reopen")
    ran.one_line_error("period", "dispute")
    assert (await StoredPeriod.get(key="2026-10")).status is PeriodStatus.CLOSED


async def test_given_a_period_corrected_by_later_statements_when_reopened_then_refused(db):
    """October's drafts, then a deal of October cancelled after its close: November's
    statement claws it back. Reopening October would rebuild it on the new results while
    November's clawback stays: the deal taken back twice. Refused, naming the period."""
    from datetime import UTC, datetime

    from domain.crm.models import Transaction
    from payments.statements.service import build_statements
    from tests.payments.helpers import close, current, deal, late_change, lines_of, make_world

    w = await make_world()
    await deal(w["ann"], "a1", "8000", "2026-10-05")
    await close(w, "2026-10")
    await build_statements(viewer=w.system, period="2026-10")
    await Transaction.filter(external_id="a1").update(deleted=True,
                                                      updated_at=datetime.now(UTC))  # fmt: skip
    await late_change(w, w["ann"], "2026-10")
    await close(w, "2026-11")
    await build_statements(viewer=w.system, period="2026-11")
    assert "clawback" in [ln.kind for ln in await lines_of(await current(w, "ann", "2026-11"))]

    ran = await podium(db, "close", "--tenant", "acme", "--period", "2026-10", "--reopen")

    ran.one_line_error("period", "corrected by later statements")
    assert (await StoredPeriod.get(key="2026-10")).status is PeriodStatus.CLOSED
