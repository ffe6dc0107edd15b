"""A small tenant with statements to build: a manager with two reps, another manager with
one, on a tiered month plan, October closed."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from decimal import Decimal

from domain.crm.models import Transaction
from domain.earnings.close import record_late_events
from domain.earnings.service import close_period, recompute_many
from domain.org.models import Role, User
from domain.org.viewer import Viewer
from domain.tenants.models import Tenant
from payments.statements.models import Statement, StatementLine
from tests.api.cli_runner import ROOT, cli_env
from tests.domain.builders import (
    TIERED,
    assign,
    make_org,
    make_tenant,
    make_transaction,
    make_user,
    publish_plan,
    set_quota,
    system_viewer,
    viewer_of,
)

PERIODS = ("2026-10", "2026-11", "2026-12", "2027-01", "2027-02", "2027-03")


@dataclass
class World:
    tenant: Tenant
    people: dict[str, User]
    system: Viewer

    def __getitem__(self, key: str) -> User:
        return self.people[key]

    def viewer(self, key: str) -> Viewer:
        return viewer_of(self.people[key])


async def make_world(slug: str = "acme", quota: str = "10000", plan: str = TIERED) -> World:
    tenant = await make_tenant(slug=slug)
    org = await make_org(
        tenant=tenant,
        managers={"boss": None, "mia": "boss", "max": "boss", "ann": "mia", "bob": "mia",
                  "cat": "max"},
    )  # fmt: skip
    people = dict(org.people)
    people["ops"] = await make_user(tenant=tenant, external_id="ops", role=Role.PAYOUT_OPS)
    people["admin"] = await make_user(tenant=tenant, external_id="admin", role=Role.ADMIN)
    version = await publish_plan(tenant=tenant, document=plan)
    for rep in ("ann", "bob", "cat"):
        await assign(user=people[rep], plan=version, accepted=True)
        for period in PERIODS:
            await set_quota(user=people[rep], period=period, value=quota)
    return World(tenant, people, system_viewer(tenant))


async def close(world: World, period: str) -> None:
    """Recompute everyone on the plan and close the period (what `podium close` does)."""
    reps = [world[k].id for k in ("ann", "bob", "cat")]
    await recompute_many(viewer=world.system, pairs=[(u, period) for u in reps])
    await close_period(viewer=world.system, period=period)


async def approved_october(world: World) -> None:
    """ann, bob and cat each with a deal in October, closed, their statements built and
    approved (what a payout batch pays)."""
    from payments.statements.service import approve_statements, build_statements

    await deal(world["ann"], "a1", "9000", "2026-10-05")
    await deal(world["bob"], "b1", "4000", "2026-10-06")
    await deal(world["cat"], "c1", "6000", "2026-10-07")
    await close(world, "2026-10")
    await build_statements(viewer=world.system, period="2026-10")
    await approve_statements(viewer=world.viewer("ops"), period="2026-10")


async def late_change(world: World, user: User, period: str) -> None:
    """A CRM change to a closed period, as the worker records it when its recompute is
    refused."""
    outcomes = await recompute_many(viewer=world.system, pairs=[(user.id, period)])
    assert outcomes[0].refused is not None
    await record_late_events(viewer=world.system, pairs=[(user.id, period)])


async def deal(user: User, external_id: str, amount: str, on: str) -> Transaction:
    return await make_transaction(rep=user, external_id=external_id, amount=amount, on=on)


async def current(world: World, key: str, period: str) -> Statement:
    return await Statement.get(
        tenant_id=world.tenant.id, user_id=world[key].id, period=period, current=True
    )


async def lines_of(statement: Statement) -> list[StatementLine]:
    return await StatementLine.filter(statement_id=statement.id).order_by("position")


def D(text: str) -> Decimal:
    return Decimal(text)


async def execute_in_process(db: str, batch_id: object, **env: str) -> tuple[int, str]:
    """`podium payouts execute` of the batch in a process of its own (which the crash tests
    kill with PODIUM_TEST_KILL_AT in ``env``): its exit status and what it printed."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "api.cli", "payouts", "execute", "--tenant", "acme",
        "--batch", str(batch_id), cwd=ROOT, env={**cli_env(db), **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode() + err.decode()
