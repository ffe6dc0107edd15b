"""Reading stored earnings and lines: a rep their own, a manager their subtree, an admin the
tenant, nobody another tenant's, whatever ids they guess."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

from domain.earnings.models import EarningsLine, EarningsResult
from domain.earnings.repository import EarningsRepository
from domain.earnings.service import recompute_rep_period
from domain.kit.errors import Forbidden, NotFound
from domain.org.models import Role
from tests.domain.builders import (
    Org,
    assign,
    make_org,
    make_tenant,
    make_transaction,
    make_user,
    plan_yaml,
    publish_plan,
    system_viewer,
    viewer_of,
)

HIERARCHY = {"vp": None, "lead": "vp", "ana": "lead", "ben": "lead", "cara": "vp"}


@dataclass
class World:
    org: Org
    results: dict[str, EarningsResult]
    lines: dict[str, list[EarningsLine]]


async def _world(slug: str) -> World:
    tenant = await make_tenant(slug=slug)
    org = await make_org(tenant=tenant, managers=HIERARCHY)
    org.people["admin"] = await make_user(tenant=tenant, external_id="admin", role=Role.ADMIN)
    version = await publish_plan(tenant=tenant, document=plan_yaml(rate="0.1"))
    results: dict[str, EarningsResult] = {}
    lines: dict[str, list[EarningsLine]] = {}
    for i, name in enumerate(HIERARCHY):
        user = org[name]
        await assign(user=user, plan=version)
        await make_transaction(rep=user, external_id=f"{slug}-{i}", amount=f"{100 * (i + 1)}")
        [results[name]] = await recompute_rep_period(
            viewer=system_viewer(tenant), user_id=user.id, period="2026-10"
        )
        lines[name] = await EarningsLine.filter(result_id=results[name].id)
    return World(org, results, lines)


VISIBLE = {
    "ana": {"ana"},
    "lead": {"lead", "ana", "ben"},
    "vp": set(HIERARCHY),
    "admin": set(HIERARCHY),
}


@pytest.mark.parametrize("who", list(VISIBLE))
async def test_given_viewer_when_reading_each_persons_earnings_then_only_those_in_reach(
    db: str, who: str
):
    acme = await _world("acme")
    repo = EarningsRepository(viewer_of(acme.org[who]))

    for name in HIERARCHY:
        user = acme.org[name]
        if name in VISIBLE[who]:
            [result] = await repo.results(user.id, "2026-10")
            assert result.id == acme.results[name].id
            lines, _ = await repo.lines(user.id, "2026-10", first=50, after=None)
            assert {line.id for line in lines} == {line.id for line in acme.lines[name]}
            assert (await repo.result(acme.results[name].id)).id == acme.results[name].id
            assert (await repo.line(acme.lines[name][0].id)).id == acme.lines[name][0].id
            assert len(await repo.history(user.id, 12)) == 1
        else:
            with pytest.raises(Forbidden):
                await repo.results(user.id, "2026-10")
            with pytest.raises(Forbidden):
                await repo.lines(user.id, "2026-10", first=50, after=None)
            with pytest.raises(Forbidden):
                await repo.result(acme.results[name].id)
            with pytest.raises(Forbidden):
                await repo.line(acme.lines[name][0].id)
            with pytest.raises(Forbidden):
                await repo.history(user.id, 12)
    everyone = [acme.org[name].id for name in HIERARCHY]
    batch = await repo.results_for_users(everyone, "2026-10")
    by_user = {acme.org[name].id: name for name in HIERARCHY}
    assert {by_user[r.user_id] for r in batch} == VISIBLE[who]


@pytest.mark.parametrize("who", ["ana", "lead", "vp", "admin"])
async def test_given_ids_of_another_tenant_when_guessed_then_not_found_and_never_listed(
    db: str, who: str
):
    acme, globex = await _world("acme"), await _world("globex")
    repo = EarningsRepository(viewer_of(acme.org[who]))

    for name in HIERARCHY:
        foreign_user = globex.org[name]
        with pytest.raises(NotFound):
            await repo.results(foreign_user.id, "2026-10")
        with pytest.raises(NotFound):
            await repo.lines(foreign_user.id, "2026-10", first=50, after=None)
        with pytest.raises(NotFound):
            await repo.history(foreign_user.id, 12)
        with pytest.raises(NotFound):
            await repo.result(globex.results[name].id)
        for line in globex.lines[name]:
            with pytest.raises(NotFound):
                await repo.line(line.id)
    foreign_ids = [globex.org[name].id for name in HIERARCHY]
    assert await repo.results_for_users(foreign_ids, "2026-10") == []


async def test_given_malformed_ids_when_read_then_not_found(db: str):
    acme = await _world("acme")
    repo = EarningsRepository(viewer_of(acme.org["admin"]))

    for bad in ("nope", "1; DROP TABLE users", ""):
        with pytest.raises(NotFound):
            await repo.result(bad)
        with pytest.raises(NotFound):
            await repo.line(bad)
        with pytest.raises(NotFound):
            await repo.results(bad, "2026-10")
    # past a BIGINT (the driver's OverflowError was a 500), Unicode digits, signs
    for bad in ("9223372036854775808", "99999999999999999999999", 2**63, "-1", "0", "١٢"):
        with pytest.raises(NotFound) as caught:
            await repo.line(bad)
        assert caught.value.field == "lineId"


async def test_given_many_lines_when_paged_then_every_line_once(db: str):
    tenant = await make_tenant()
    ana = await make_user(tenant=tenant, external_id="ana")
    await assign(user=ana, plan=await publish_plan(tenant=tenant))
    for i in range(7):
        await make_transaction(rep=ana, external_id=f"t{i}", amount="10", on=f"2026-10-{i + 1:02d}")
    await recompute_rep_period(viewer=system_viewer(tenant), user_id=ana.id, period="2026-10")
    repo = EarningsRepository(viewer_of(ana))

    seen: list[int] = []
    after: int | None = None
    while True:
        page, more = await repo.lines(ana.id, "2026-10", first=3, after=after)
        seen.extend(line.id for line in page)
        if not more:
            break
        after = (after or 0) + len(page)

    assert len(seen) == len(set(seen)) == await EarningsLine.all().count()
    total = sum(
        (
            Decimal(line.amount)
            for line in await EarningsLine.filter(transaction_external_id__isnull=False)
        ),
        Decimal(0),
    )
    assert total == Decimal("3.50")
