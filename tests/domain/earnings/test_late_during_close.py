"""A late change (a CRM change to a closed period, recorded by the worker) whose transaction
is still open while the next period closes and its statements are built, on two real
connections. It was flagged for that next period (open when the worker looked), committed
after the build had read the period's late changes, and was paid on no statement ever."""

from __future__ import annotations

import asyncio

import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from domain.earnings.close import record_late_events
from domain.earnings.models import LateEvent
from payments.statements.service import approve_statements, build_statements, mark_paid
from tests.payments.helpers import D, close, current, deal, lines_of, make_world

pytestmark = pytest.mark.usefixtures("db")

_LOCK_WAITS = "SELECT count(*) AS n FROM pg_locks WHERE NOT granted"


async def test_given_a_late_change_open_while_the_next_period_closes_then_its_statement_pays_it():
    world = await make_world()
    bob = world["bob"]
    await deal(bob, "t1", "1000", "2026-10-05")
    await close(world, "2026-10")
    await build_statements(viewer=world.system, period="2026-10")
    await approve_statements(viewer=world.system, period="2026-10")
    await mark_paid(viewer=world.system, period="2026-10")
    await deal(bob, "t9", "1000", "2026-10-20")  # arrives after October's close: 20 more
    recorded, commit = asyncio.Event(), asyncio.Event()

    async def worker() -> None:  # its transaction records the late change, commits later
        async with in_transaction():
            await record_late_events(viewer=world.system, pairs=[(bob.id, "2026-10")])
            recorded.set()
            await commit.wait()

    async def close_and_build() -> None:  # `podium close` of November, then its statements
        async with in_transaction():
            await close(world, "2026-11")
        async with in_transaction():
            await build_statements(viewer=world.system, period="2026-11")

    async with asyncio.timeout(30):
        late = asyncio.create_task(worker())
        await recorded.wait()
        closing = asyncio.create_task(close_and_build())
        while not closing.done():  # until it ends or waits for the worker's transaction
            rows = await connections.get("default").execute_query_dict(_LOCK_WAITS)
            if rows[0]["n"]:
                break
            await asyncio.sleep(0.01)
        commit.set()
        await late
        await closing

    (event,) = await LateEvent.filter(user_id=bob.id)
    november = await lines_of(await current(world, "bob", "2026-11"))
    paid_late = [ln.amount for ln in november if ln.original_period == "2026-10"]
    assert (event.flagged_for, paid_late) == ("2026-11", [D("20")])
