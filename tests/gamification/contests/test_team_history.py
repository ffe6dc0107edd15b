"""Team contests rank the teams people were on when they scored, not today's, on real
PostgreSQL: a rep who moved to another team after October leaves October's deals with
October's team, in the live standings, the award (the prize split among October's members)
and the claw-back after a reversal; a rep who moved inside the window scores for each team
what they scored on its days (in the tenant's time zone), and is a member of both. Every
path that changes a manager leaves its trace (a trigger on users: migration 0058)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from redis.asyncio import Redis
from tortoise import connections
from tortoise.transactions import in_transaction

from domain.org.service import set_manager
from domain.rewards.models import Reward
from gamification.contests import service
from tests.api.graphql.helpers import Api
from tests.domain.builders import make_org, make_tenant, make_transaction, system_viewer

pytestmark = pytest.mark.usefixtures("db")

NOW = datetime(2026, 9, 30, 8, tzinfo=UTC)
START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2026, 11, 1, tzinfo=UTC)


async def october(time_zone: str = "UTC") -> tuple[Any, Any, Any]:
    tenant = await make_tenant(time_zone=time_zone)
    org = await make_org(
        tenant=tenant,
        managers={"boss": None, "north": "boss", "south": "boss", "ann": "north",
                  "bob": "north", "cy": "south"},
    )  # fmt: skip
    contest = await service.launch_contest(
        viewer=system_viewer(tenant), name="October teams", metric="deal_amount",
        starts_at=START, ends_at=END, format="teams", now=NOW,
        rep_ids=[org["ann"].id, org["bob"].id, org["cy"].id],
        prizes=[{"rank": 1, "description": "team", "amount": "100.00", "currency": "EUR"}],
    )  # fmt: skip
    return tenant, org, contest


async def move(tenant: Any, who: Any, to: Any, at: datetime | None = None) -> None:
    """``who`` moves under ``to`` now (December), or at ``at`` (the change's recorded time)."""
    await set_manager(viewer=system_viewer(tenant), user_id=who.id, manager_id=to.id)
    if at is not None:
        await connections.get("default").execute_query(
            "UPDATE user_managers SET since = $1 WHERE user_id = $2 AND since IS NOT NULL",
            [at, who.id],
        )


def table(placed: list[Any], org: Any) -> list[tuple[int, str, Decimal]]:
    names = {str(u.id): n for n, u in org.people.items()}
    return [(p.rank, names[p.key], p.score) for p in placed]


async def rewards(org: Any, kind: str) -> list[tuple[str, Decimal]]:
    names = {u.id: n for n, u in org.people.items()}
    found = await Reward.filter(source_kind=kind).order_by("amount", "user_id")
    return sorted((names[r.user_id], r.amount) for r in found)


async def test_given_a_rep_who_moved_after_october_then_october_stays_with_the_old_team():
    tenant, org, contest = await october()
    ann_deal = await make_transaction(rep=org["ann"], external_id="a", amount="50", on="2026-10-06")
    await make_transaction(rep=org["bob"], external_id="b", amount="10", on="2026-10-07")
    await make_transaction(rep=org["cy"], external_id="c", amount="40", on="2026-10-08")
    await move(tenant, org["ann"], org["south"])  # in November, say: after the window

    # by today's teams north had bob's 10 and south ann's and cy's 90
    assert table(await service.standings(contest), org) == [
        (1, "north", Decimal(60)), (2, "south", Decimal(40))
    ]  # fmt: skip
    assert await service.team_key(contest, org["ann"].id) == str(org["north"].id)

    await service.award_contest(contest=contest, award_badge=None, grant_xp=None, period="2026-10")

    # October's north splits the prize: ann with bob, not bob alone
    assert await rewards(org, "contest_prize") == [
        ("ann", Decimal("50.00")), ("bob", Decimal("50.00"))
    ]  # fmt: skip

    # ann's deal reversed after the award: north (10) falls behind south (40), and both of
    # October's north give their half back; by today's teams ann kept hers (south won)
    ann_deal.deleted = True
    await ann_deal.save()
    await service.claw_back_after_reversal(contest=contest)
    assert await rewards(org, "contest_clawback") == [
        ("ann", Decimal("-50.00")), ("bob", Decimal("-50.00"))
    ]  # fmt: skip


async def test_given_a_rep_who_moved_after_october_when_a_small_reversal_then_no_claw_back():
    tenant, org, contest = await october()
    await make_transaction(rep=org["ann"], external_id="a", amount="50", on="2026-10-06")
    bob_deal = await make_transaction(rep=org["bob"], external_id="b", amount="10", on="2026-10-07")
    await make_transaction(rep=org["cy"], external_id="c", amount="40", on="2026-10-08")
    await service.award_contest(contest=contest, award_badge=None, grant_xp=None, period="2026-10")
    await move(tenant, org["ann"], org["south"])  # after the award

    # north still leads (50 to 40): nobody gives anything back (by today's teams ann's
    # half was clawed back whole, south having lost)
    bob_deal.deleted = True
    await bob_deal.save()
    assert await service.claw_back_after_reversal(contest=contest) == []


@pytest.mark.parametrize(
    ("zone", "moved_at", "day_one"),
    [
        # 20:00 UTC on the 9th is the 9th in UTC: the 9th is south's
        ("UTC", datetime(2026, 10, 9, 20, tzinfo=UTC), "south"),
        # ... and 09:00 on the 10th in Auckland (UTC+13): the 9th is north's there
        ("Pacific/Auckland", datetime(2026, 10, 9, 20, tzinfo=UTC), "north"),
    ],
)
async def test_given_a_move_inside_the_window_then_each_team_has_the_days_it_had_her(
    zone: str, moved_at: datetime, day_one: str
):
    tenant, org, contest = await october(zone)
    await make_transaction(rep=org["ann"], external_id="a1", amount="50", on="2026-10-06")
    await make_transaction(rep=org["ann"], external_id="a2", amount="7", on="2026-10-09")
    await make_transaction(rep=org["ann"], external_id="a3", amount="30", on="2026-10-12")
    await make_transaction(rep=org["bob"], external_id="b", amount="10", on="2026-10-07")
    await make_transaction(rep=org["cy"], external_id="c", amount="40", on="2026-10-08")
    await move(tenant, org["ann"], org["south"], at=moved_at)

    north = Decimal(60) + (7 if day_one == "north" else 0)
    south = Decimal(70) + (7 if day_one == "south" else 0)
    assert table(await service.standings(contest), org) == [
        (1, "south", south), (2, "north", north)
    ]  # fmt: skip
    placed = await service.standings(contest)
    # ann was on both teams in October: she shares south's prize and places first
    won = await service.winners(contest, placed)
    names = {str(u.id): n for n, u in org.people.items()}
    assert sorted((names[w.key], w.amount) for w in won) == [
        ("ann", Decimal("50.00")), ("cy", Decimal("50.00"))
    ]  # fmt: skip
    assert sorted((names[str(u)], r) for u, r in await service.places(contest, placed)) == [
        ("ann", 1),
        ("bob", 2),
        ("cy", 1),
    ]
    assert await service.team_key(contest, org["ann"].id) == str(org["south"].id)


async def test_given_people_imported_then_their_managers_hold_from_the_start():
    # `podium import reps` creates everyone, then sets the managers, in one transaction: the
    # people read as their own teams until the import's instant
    tenant = await make_tenant()
    conn = connections.get("default")
    async with in_transaction() as transaction:
        org = await make_org(tenant=tenant, managers={"north": None, "ann": None})
        await transaction.execute_query(
            "UPDATE users SET manager_id = $1 WHERE id = $2", [org["north"].id, org["ann"].id]
        )
    rows = await conn.execute_query_dict(
        "SELECT manager_id, since FROM user_managers WHERE user_id = $1", [org["ann"].id]
    )
    assert [(r["manager_id"], r["since"]) for r in rows] == [(org["north"].id, None)]


async def test_given_every_path_that_changes_a_manager_then_its_trace_is_kept():
    tenant, org, _ = await october()
    conn = connections.get("default")
    # a bulk UPDATE (as `podium import reps` writes) and a manager's deletion (SET NULL)
    await conn.execute_query(
        "UPDATE users SET manager_id = $1 WHERE id = $2", [org["south"].id, org["bob"].id]
    )
    await org["south"].delete()
    rows = await conn.execute_query_dict(
        "SELECT manager_id, since IS NULL AS first FROM user_managers WHERE user_id = $1 "
        "ORDER BY since NULLS FIRST, id",
        [org["bob"].id],
    )
    assert [(r["manager_id"], r["first"]) for r in rows] == [
        (org["north"].id, True), (org["south"].id, False), (None, False)
    ]  # fmt: skip


async def test_given_a_rep_who_moved_after_october_then_the_api_shows_octobers_team(
    api: Api, redis: Redis
):
    tenant, org, contest = await october()
    await make_transaction(rep=org["ann"], external_id="a", amount="50", on="2026-10-06")
    await make_transaction(rep=org["bob"], external_id="b", amount="10", on="2026-10-07")
    await make_transaction(rep=org["cy"], external_id="c", amount="40", on="2026-10-08")
    await move(tenant, org["ann"], org["south"])

    read = await api.as_(tenant, org["ann"]).gql(
        "query($id: ID!) { contest(id: $id) { myStanding { rank score }"
        " standings { rank score team { displayName } } } }",
        {"id": str(contest.id)},
    )

    shown = read["data"]["contest"]
    # ann's standing is north's, the team she scored for (south's 40 by today's team)
    assert shown["myStanding"] == {"rank": 1, "score": "60"}
    assert shown["standings"] == [
        {"rank": 1, "score": "60", "team": {"displayName": "North"}},
        {"rank": 2, "score": "40", "team": {"displayName": "South"}},
    ]
