"""Leaderboards through the API and the workers' hook, on real PostgreSQL and Redis: an admin
creates a board (filled at once from stored results), reps read ranks (1, 2, 2, 4), their own
neighbourhood and their standings; a recompute moves the board through the after-recompute
hook, a reversed deal lowers it, a flushed Redis is rebuilt from PostgreSQL. Bad input is a
UserError naming the field; reps cannot create boards, see other teams' boards, or read
another rep's earnings on an earnings board unless the tenant allows it."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from graphql import print_ast
from redis.asyncio import Redis

from domain.crm.models import Transaction
from domain.earnings.models import EarningsResult
from domain.kit.periods import Period, period_containing
from domain.notifications.models import Notification, NotificationKind
from domain.notifications.texts import period_text
from domain.org.models import Role, User
from domain.org.repository import UserRepository
from domain.tenants.models import Tenant
from gamification.leaderboards.models import Leaderboard
from gamification.leaderboards.service import EARNINGS_VISIBLE, rebuild_all, refresh_xp_boards
from gamification.leaderboards.store import BoardStore
from gamification.levels.models import XpEntry
from gamification.levels.service import grant_xp, reverse_xp
from tests.api.graphql import helpers as h
from tests.api.graphql.helpers import Api
from tests.api.graphql.test_contract import operation_document
from tests.domain.notifications.plans import AE_PLAN
from workers.realtime import AFTER_RECOMPUTE, realtime_startup
from workers.tasks.leaderboards import update_leaderboards, update_leaderboards_of

CREATE = print_ast(operation_document("CreateLeaderboard"))
BOARD = print_ast(operation_document("Leaderboard"))
STANDINGS = "{ me { standings { leaderboard { id name } rank of score } } }"


async def world() -> dict[str, Any]:
    t = await h.tenant("acme")
    admin = await h.person(t, "ada-admin", role=Role.ADMIN)
    north = await h.person(t, "mgr-north", role=Role.MANAGER)
    south = await h.person(t, "mgr-south", role=Role.MANAGER)
    period = h.this_period()
    version = await h.publish(t, effective_from=period.start)
    people: dict[str, Any] = {"t": t, "admin": admin, "north": north, "south": south}
    for name, manager, amount in (
        ("ana", north, "30000"),
        ("ben", north, "20000"),
        ("cy", south, "20000"),
        ("dee", south, "5000"),
    ):
        rep = await h.person(t, name, manager=manager)
        await h.assign(t, version, rep, period.start)
        await h.quota(t, rep, period.id, "40000")
        await h.deal(t, rep, f"{name}-1", amount, period.start)
        await h.recompute(t, rep, period.id)
        people[name] = rep
    return people


async def create(api: Api, w: dict[str, Any], **fields: Any) -> dict[str, Any]:
    variables = {"input": {"name": "Bookings", "metric": "bookings", "periodKind": "month"}}
    variables["input"].update(fields)
    result = await api.as_(w["t"], w["admin"]).gql(CREATE, variables)
    return result["data"]["createLeaderboard"] if result.get("data") else result


def ranks(board: dict[str, Any], part: str = "entries") -> list[tuple[int, str, str | None]]:
    return [(e["rank"], e["rep"]["displayName"], e["score"]) for e in board[part]]


async def test_given_a_board_when_reps_read_it_then_competition_ranks_and_their_neighbours(
    api: Api, redis: Redis
):
    w = await world()
    created = await create(api, w)
    assert created["__typename"] == "Leaderboard"
    assert created["period"] == h.this_period().id

    read = await api.as_(w["t"], w["dee"]).gql(BOARD, {"id": created["id"]})

    board = read["data"]["leaderboard"]
    # a tie shares its rank; inside it, people in the order of their ids (documented)
    tied = sorted([w["ben"], w["cy"]], key=lambda u: str(u.id))
    assert ranks(board) == [
        (1, "Ana", "30000.00"),
        (2, tied[0].display_name, "20000.00"),
        (2, tied[1].display_name, "20000.00"),
        (4, "Dee", "5000.00"),
    ]
    assert ranks(board, "aroundMe") == [
        (2, board["entries"][1]["rep"]["displayName"], "20000.00"),
        (2, board["entries"][2]["rep"]["displayName"], "20000.00"),
        (4, "Dee", "5000.00"),
    ]
    standings = await api.as_(w["t"], w["ben"]).gql(STANDINGS)
    assert standings["data"]["me"]["standings"] == [
        {"leaderboard": {"id": created["id"], "name": "Bookings"}, "rank": 2, "of": 4,
         "score": "20000.00"}
    ]  # fmt: skip


async def test_given_the_apps_board_query_then_one_store_read_and_one_people_read(
    api: Api, redis: Redis, monkeypatch: Any
):
    w = await world()
    created = await create(api, w)
    pages: list[tuple[int, list[tuple[str, int]]]] = []
    cards: list[list[Any]] = []
    page, read_cards = BoardStore.page, UserRepository.cards

    async def counted_page(self: BoardStore, key: str, first: int, around: Any = ()) -> Any:
        pages.append((first, list(around)))
        return await page(self, key, first, around)

    async def counted_cards(self: UserRepository, ids: Any) -> Any:
        cards.append(list(ids))
        return await read_cards(self, ids)

    monkeypatch.setattr(BoardStore, "page", counted_page)
    monkeypatch.setattr(UserRepository, "cards", counted_cards)

    read = await api.as_(w["t"], w["dee"]).gql(BOARD, {"id": created["id"]})

    board = read["data"]["leaderboard"]
    assert [e["rep"]["displayName"] for e in board["aroundMe"]][-1] == "Dee"
    # the top and Dee's neighbourhood in one script, their people in one statement
    assert pages == [(10, [(str(w["dee"].id), 2)])]
    assert len(cards) == 1
    assert set(cards[0]) == {w[n].id for n in ("ana", "ben", "cy", "dee")}


async def test_given_a_recompute_then_the_hook_moves_the_board_and_a_reversal_lowers_it(
    api: Api, redis: Redis
):
    w = await world()
    created = await create(api, w, metric="attainment:bookings", name="Attainment")
    ctx: dict[str, Any] = {"redis": redis}
    await realtime_startup({**ctx, "push_sender": None})
    assert update_leaderboards in (await _hooks(redis))
    pubsub = redis.pubsub()
    await pubsub.subscribe(f"podium:board-changed:{created['id']}")
    period = h.this_period()

    await h.deal(w["t"], w["dee"], "dee-2", "35000", period.start)
    await h.recompute(w["t"], w["dee"], period.id)
    changed = await update_leaderboards_of(
        ctx, tenant_id=w["t"].id, pairs=[(w["dee"].id, period.id)]
    )

    assert changed == 1
    board = (await api.as_(w["t"], w["dee"]).gql(BOARD, {"id": created["id"]}))["data"][
        "leaderboard"
    ]
    assert ranks(board)[0] == (1, "Dee", "1.000000")  # 40,000 of a 40,000 quota
    assert await _message(pubsub) == str(w["dee"].id)  # the board's message names whom it moved
    # entering the top 3 is told once per board and period, a replayed batch tells nothing
    await update_leaderboards_of(ctx, tenant_id=w["t"].id, pairs=[(w["dee"].id, period.id)])
    told = await Notification.filter(user_id=w["dee"].id, kind=NotificationKind.LEADERBOARD)
    assert [(n.title, n.body) for n in told] == [
        ("You are in the top 3: Attainment", f"Rank 1 on Attainment in {month_words(period)}.")
    ]

    await Transaction.filter(tenant_id=w["t"].id, external_id="dee-2").update(deleted=True)
    await h.recompute(w["t"], w["dee"], period.id)
    await update_leaderboards(ctx, tenant_id=w["t"].id, user_id=w["dee"].id, period=period.id)

    board = (await api.as_(w["t"], w["dee"]).gql(BOARD, {"id": created["id"]}))["data"][
        "leaderboard"
    ]
    assert ranks(board)[-1] == (4, "Dee", "0.125000")
    await pubsub.aclose()


def month_words(period: Period) -> str:
    return period_text(period.id, "en")


async def _hooks(redis: Redis) -> list[Any]:
    ctx: dict[str, Any] = {"redis": redis, "push_sender": None}
    await realtime_startup(ctx)
    return list(ctx[AFTER_RECOMPUTE])


async def _message(pubsub: Any) -> str:
    for _ in range(100):
        found = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.05)
        if found:
            return str(found["data"].decode())
    raise AssertionError("no board-changed message")


async def test_given_a_flushed_redis_then_rebuild_restores_every_board(api: Api, redis: Redis):
    w = await world()
    created = await create(api, w)
    before = (await api.as_(w["t"], w["ana"]).gql(BOARD, {"id": created["id"]}))["data"]

    await redis.flushdb()
    assert (await api.as_(w["t"], w["ana"]).gql(BOARD, {"id": created["id"]}))["data"][
        "leaderboard"
    ]["entries"] == []
    rebuilt = await rebuild_all(store=BoardStore(redis), tenant_id=w["t"].id)

    assert rebuilt == {"Bookings": 4}
    after = (await api.as_(w["t"], w["ana"]).gql(BOARD, {"id": created["id"]}))["data"]
    assert after == before


async def test_given_a_score_too_large_to_rank_exactly_then_that_person_alone_is_left_off(
    api: Api, redis: Redis
):
    # 95 trillion of bookings is 9.5e15 cents, beyond a double's exact integers: that one
    # score failed the whole board's fill (createLeaderboard answered an error naming metric
    # with the board stored), podium rebuild-cache, and the workers' update of everyone in
    # the batch
    w = await world()
    period = h.this_period()
    await h.deal(w["t"], w["ana"], "ana-huge", "95000000000000", period.start)
    await h.recompute(w["t"], w["ana"], period.id)

    created = await create(api, w)

    assert created["__typename"] == "Leaderboard", created
    board = (await api.as_(w["t"], w["ben"]).gql(BOARD, {"id": created["id"]}))["data"]
    assert sorted(ranks(board["leaderboard"])) == [
        (1, "Ben", "20000.00"), (1, "Cy", "20000.00"), (3, "Dee", "5000.00")
    ]  # fmt: skip
    assert await rebuild_all(store=BoardStore(redis), tenant_id=w["t"].id) == {"Bookings": 3}
    # a batch of ana and ben: ben moves, ana stays off
    await h.deal(w["t"], w["ben"], "ben-2", "1000", period.start)
    await h.recompute(w["t"], w["ben"], period.id)
    pairs = [(w["ana"].id, period.id), (w["ben"].id, period.id)]
    assert await update_leaderboards_of({"redis": redis}, tenant_id=w["t"].id, pairs=pairs) == 1
    board = (await api.as_(w["t"], w["ben"]).gql(BOARD, {"id": created["id"]}))["data"]
    assert ranks(board["leaderboard"]) == [
        (1, "Ben", "21000.00"), (2, "Cy", "20000.00"), (3, "Dee", "5000.00")
    ]  # fmt: skip


async def test_given_bad_input_then_a_user_error_names_the_field_and_nothing_is_stored(
    api: Api, redis: Redis
):
    w = await world()

    cases = [
        ({"metric": "revenue"}, "metric"),
        ({"metric": "attainment:"}, "metric"),
        ({"metric": "xp:bookings"}, "metric"),
        ({"periodKind": "week"}, "periodKind"),
        ({"name": " "}, "name"),
        ({"teamId": "not-an-id"}, "teamId"),
        ({"teamId": str(w["ana"].id)}, "teamId"),  # manages nobody
        ({"group": "nobody-is-in-this"}, "group"),
        ({"group": " "}, "group"),
        ({"group": "closers", "teamId": str(w["north"].id)}, "group"),  # one scope
    ]
    for fields, field in cases:
        refused = await create(api, w, **fields)
        assert (refused["__typename"], refused["field"]) == ("UserError", field), fields

    assert await Leaderboard.all().count() == 0
    await create(api, w)
    again = await create(api, w)
    assert (again["__typename"], again["field"]) == ("UserError", "name")
    assert await Leaderboard.all().count() == 1


async def test_given_a_quarterly_tenant_then_a_month_board_is_refused_naming_period_kind(
    api: Api, redis: Redis
):
    # a board sums whole engine periods: a quarter or year board of a monthly tenant sums
    # its months (tests/gamification/leaderboards/test_period_boards.py), but a month is no
    # part of a quarter's stored result
    w = await world()
    created = await create(api, w, name="Bookings this quarter", periodKind="quarter")
    assert created["__typename"] == "Leaderboard"
    assert created["period"] == period_containing(h.this_period().start, "quarter").id
    settings = {**w["t"].settings, "period_kind": "quarter"}
    await Tenant.filter(id=w["t"].id).update(settings=settings)
    for metric in ("bookings", "attainment:bookings", "count:bookings", "earnings"):
        refused = await create(api, w, name=f"{metric} month", metric=metric)
        assert (refused["__typename"], refused["field"]) == ("UserError", "periodKind")
    assert await Leaderboard.all().count() == 1
    xp = await create(api, w, name="XP this month", metric="xp", periodKind="month")
    assert xp["__typename"] == "Leaderboard"


async def test_given_a_rep_when_creating_then_forbidden(api: Api, redis: Redis):
    w = await world()
    variables = {"input": {"name": "Mine", "metric": "bookings", "periodKind": "month"}}

    result = await api.as_(w["t"], w["ana"]).gql(CREATE, variables)

    assert h.codes(result) == ["FORBIDDEN"]
    assert await Leaderboard.all().count() == 0


async def test_given_a_team_board_then_only_that_team_and_its_managers_see_it(
    api: Api, redis: Redis
):
    w = await world()
    created = await create(api, w, name="North", teamId=str(w["north"].id))

    seen = {
        name: (await api.as_(w["t"], w[name]).gql(BOARD, {"id": created["id"]}))["data"][
            "leaderboard"
        ]
        for name in ("ana", "north", "cy", "south", "admin")
    }

    assert ranks(seen["ana"]) == [(1, "Ana", "30000.00"), (2, "Ben", "20000.00")]
    assert seen["north"] is not None
    assert seen["admin"] is not None
    assert seen["cy"] is None
    assert seen["south"] is None


async def test_given_a_group_board_then_it_ranks_the_group_and_only_its_members_see_it(
    api: Api, redis: Redis
):
    w = await world()
    for name in ("ana", "cy"):  # one of each manager's team
        await User.filter(id=w[name].id).update(attributes={"group": "closers"})
    refused = await create(api, w, name="Bad", group="closers", teamId=str(w["north"].id))
    assert (refused["__typename"], refused["field"]) == ("UserError", "group")

    created = await create(api, w, name="Closers", group="closers")

    seen = {
        name: (await api.as_(w["t"], w[name]).gql(BOARD, {"id": created["id"]}))["data"][
            "leaderboard"
        ]
        for name in ("ana", "cy", "ben", "north", "admin")
    }
    assert ranks(seen["ana"]) == [(1, "Ana", "30000.00"), (2, "Cy", "20000.00")]
    assert ranks(seen["cy"]) == ranks(seen["ana"])
    assert ranks(seen["admin"]) == ranks(seen["ana"])
    assert seen["ben"] is None  # not in the group
    assert seen["north"] is None  # Cy is outside north's subtree

    await User.filter(id=w["cy"].id).update(attributes={"group": "north-closers"})
    await User.filter(id=w["ben"].id).update(attributes={"group": "north-closers"})
    north_only = await create(api, w, name="North closers", group="north-closers")
    board = (await api.as_(w["t"], w["north"]).gql(BOARD, {"id": north_only["id"]}))["data"]
    assert board["leaderboard"] is None  # Cy (south) is in it
    await User.filter(id=w["cy"].id).update(attributes={})
    await rebuild_all(store=BoardStore(redis), tenant_id=w["t"].id)
    board = (await api.as_(w["t"], w["north"]).gql(BOARD, {"id": north_only["id"]}))["data"]
    assert ranks(board["leaderboard"]) == [(1, "Ben", "20000.00")]


async def test_given_an_earnings_board_then_reps_see_only_their_own_unless_allowed(
    api: Api, redis: Redis
):
    w = await world()
    created = await create(api, w, name="Earnings", metric="earnings")

    board = (await api.as_(w["t"], w["ben"]).gql(BOARD, {"id": created["id"]}))["data"]
    shown = {e["rep"]["displayName"]: e["score"] for e in board["leaderboard"]["entries"]}
    assert shown["Ana"] is None
    assert shown["Ben"] is not None
    manager = (await api.as_(w["t"], w["north"]).gql(BOARD, {"id": created["id"]}))["data"]
    assert all(e["score"] is not None for e in manager["leaderboard"]["entries"])

    await Tenant.filter(id=w["t"].id).update(settings={EARNINGS_VISIBLE: True})
    from domain.tenants.repository import tenants_read_once

    with tenants_read_once():
        board = (await api.as_(w["t"], w["ben"]).gql(BOARD, {"id": created["id"]}))["data"]
    assert all(e["score"] is not None for e in board["leaderboard"]["entries"])


async def test_given_earnings_in_another_currency_then_an_earnings_board_ranks_the_tenants_only(
    api: Api, redis: Redis
):
    # a partner on a plan in dollars earned 3,000.00 USD: ranked as if 3,000.00 EUR, above
    # everyone (the demo's US partners ranked 2nd and 3rd among the euro earners); as the
    # contests' earnings metric, the board compares like with like and converts nothing
    w = await world()
    period = h.this_period()
    dollars = await h.publish(
        w["t"], AE_PLAN.replace("id: ae\n", "id: ae-us\n").replace("EUR", "USD"),
        effective_from=period.start,
    )  # fmt: skip
    eve = await h.person(w["t"], "eve", manager=w["south"])
    await h.assign(w["t"], dollars, eve, period.start)
    await h.quota(w["t"], eve, period.id, "40000")
    await h.deal(w["t"], eve, "eve-1", "50000", period.start, currency="USD")
    await h.recompute(w["t"], eve, period.id)
    assert [r.currency for r in await EarningsResult.filter(user_id=eve.id)] == ["USD"]

    created = await create(api, w, name="Earnings", metric="earnings")
    board = (await api.as_(w["t"], w["admin"]).gql(BOARD, {"id": created["id"]}))["data"]
    names = [name for _, name, _ in ranks(board["leaderboard"])]
    assert "Eve" not in names
    assert names[0] == "Ana"

    ctx: dict[str, Any] = {"redis": redis}
    await update_leaderboards_of(ctx, tenant_id=w["t"].id, pairs=[(eve.id, period.id)])
    board = (await api.as_(w["t"], w["admin"]).gql(BOARD, {"id": created["id"]}))["data"]
    assert "Eve" not in [name for _, name, _ in ranks(board["leaderboard"])]


async def test_given_hostile_arguments_then_clear_errors_never_a_500(api: Api, redis: Redis):
    w = await world()
    created = await create(api, w)
    ana = api.as_(w["t"], w["ana"])

    too_many = await ana.gql(
        "query($id: ID!) { leaderboard(id: $id) { entries(first: 5000) { rank } } }",
        {"id": created["id"]},
    )
    negative = await ana.gql(
        "query($id: ID!) { leaderboard(id: $id) { aroundMe(radius: -1) { rank } } }",
        {"id": created["id"]},
    )
    garbage = await ana.gql('{ leaderboard(id: "\'; drop table leaderboards") { id } }')

    assert h.codes(too_many) == ["BAD_USER_INPUT"]
    assert "first must be 0 to 100" in too_many["errors"][0]["message"]
    assert h.codes(negative) == ["BAD_USER_INPUT"]
    assert garbage["data"] == {"leaderboard": None}
    assert await Leaderboard.all().count() == 1


async def test_given_an_xp_board_then_the_xp_earned_in_the_period_ranks_and_follows_the_hooks(
    api: Api, redis: Redis
):
    w = await world()
    t, period = w["t"], h.this_period()
    for name, source, points in (
        ("ana", "badge:first", 50), ("ben", "badge:first", 30), ("cy", "badge:first", 30),
        ("dee", "badge:first", 10), ("dee", "deal:gone", 40),
    ):  # fmt: skip
        await grant_xp(tenant_id=t.id, user_id=w[name].id, source=source, points=points, reason="")
    await reverse_xp(tenant_id=t.id, user_id=w["dee"].id, source="deal:gone", reason="deleted")
    last_month = datetime.combine(period.start, time(), UTC) - timedelta(days=2)
    await XpEntry.create(
        tenant_id=t.id,
        user_id=w["ana"].id,
        source="old",
        points=500,
        reason="",
        created_at=last_month,
    )

    created = await create(api, w, metric="xp", name="XP")
    assert (created["__typename"], created["metric"]) == ("Leaderboard", "xp")
    board = (await api.as_(t, w["dee"]).gql(BOARD, {"id": created["id"]}))["data"]["leaderboard"]

    # last month's XP and a reversed grant do not count; equal XP shares a rank
    tied = sorted([w["ben"], w["cy"]], key=lambda u: str(u.id))
    assert ranks(board) == [
        (1, "Ana", "50"),
        (2, tied[0].display_name, "30"),
        (2, tied[1].display_name, "30"),
        (4, "Dee", "10"),
    ]

    # a deal won: the hooks, in the workers' order, write its XP and then move the board
    ctx: dict[str, Any] = {"redis": redis, "push_sender": None}
    await realtime_startup(ctx)
    await h.deal(t, w["dee"], "dee-2", "1000", period.start)
    await h.recompute(t, w["dee"], period.id)
    for hook in ctx[AFTER_RECOMPUTE]:
        await hook(ctx, tenant_id=t.id, user_id=w["dee"].id, period=period.id)
    board = (await api.as_(t, w["dee"]).gql(BOARD, {"id": created["id"]}))["data"]["leaderboard"]
    assert ranks(board)[0] == (1, "Ana", "50")
    assert ("Dee", "30") in [(name, score) for _, name, score in ranks(board)]  # 10 + 2 deals

    before = board
    await redis.flushdb()
    assert (await rebuild_all(store=BoardStore(redis), tenant_id=t.id))["XP"] == 4
    after = (await api.as_(t, w["dee"]).gql(BOARD, {"id": created["id"]}))["data"]["leaderboard"]
    assert after == before


async def test_given_a_rep_moving_to_another_team_then_their_next_recompute_moves_them_across(
    api: Api, redis: Redis
):
    # ana leaves north for south mid-month: her recompute added her to south's board but
    # left her on north's, at her old score, until someone ran podium rebuild-cache (the
    # update only wrote the boards whose scope she is in)
    w = await world()
    for name in ("ana", "ben"):
        await grant_xp(tenant_id=w["t"].id, user_id=w[name].id, source="s", points=10, reason="")
    north = await create(api, w, name="North", teamId=str(w["north"].id))
    south = await create(api, w, name="South", teamId=str(w["south"].id))
    north_xp = await create(api, w, name="North XP", metric="xp", teamId=str(w["north"].id))
    ctx: dict[str, Any] = {"redis": redis}
    pubsub = redis.pubsub()
    await pubsub.subscribe(f"podium:board-changed:{north['id']}")
    period = h.this_period()

    await User.filter(id=w["ana"].id).update(manager_id=w["south"].id)
    await h.deal(w["t"], w["ana"], "ana-2", "1000", period.start)
    await h.recompute(w["t"], w["ana"], period.id)
    changed = await update_leaderboards_of(
        ctx, tenant_id=w["t"].id, pairs=[(w["ana"].id, period.id)]
    )

    assert changed == 3  # north's and north's XP (she left them) and south's
    read = {}
    for name, board in (("north", north), ("south", south), ("north_xp", north_xp)):
        found = await api.as_(w["t"], w["admin"]).gql(BOARD, {"id": board["id"]})
        read[name] = ranks(found["data"]["leaderboard"])
    assert read["north"] == [(1, "Ben", "20000.00")]
    assert read["north_xp"] == [(1, "Ben", "10")]
    assert read["south"] == [(1, "Ana", "31000.00"), (2, "Cy", "20000.00"), (3, "Dee", "5000.00")]
    assert await _message(pubsub) == str(w["ana"].id)  # north's followers are told
    # a batch of people outside a board changes nothing on it and tells nobody
    await h.recompute(w["t"], w["cy"], period.id)
    assert (
        await update_leaderboards_of(ctx, tenant_id=w["t"].id, pairs=[(w["cy"].id, period.id)]) == 1
    )
    await pubsub.aclose()


async def test_given_a_rep_moving_to_another_team_then_xp_written_by_a_contest_moves_them_too(
    api: Api, redis: Redis
):
    # a contest's award writes XP outside the after-recompute step (refresh_xp_boards): it
    # too left someone who had moved on their old team's XP board
    w = await world()
    for name in ("ana", "ben"):
        await grant_xp(tenant_id=w["t"].id, user_id=w[name].id, source="s", points=10, reason="")
    north_xp = await create(api, w, name="North XP", metric="xp", teamId=str(w["north"].id))
    await User.filter(id=w["ana"].id).update(manager_id=w["south"].id)
    await grant_xp(tenant_id=w["t"].id, user_id=w["ana"].id, source="c", points=100, reason="")

    changed = await refresh_xp_boards(
        store=BoardStore(redis), tenant_id=w["t"].id, user_ids=[w["ana"].id]
    )

    assert [str(board) for board in changed] == [north_xp["id"]]
    found = await api.as_(w["t"], w["admin"]).gql(BOARD, {"id": north_xp["id"]})
    assert ranks(found["data"]["leaderboard"]) == [(1, "Ben", "10")]
