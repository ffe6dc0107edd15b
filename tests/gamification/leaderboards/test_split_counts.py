"""Count boards of split deals, on real PostgreSQL and Redis: a deal split between reps counts
each one's share (PLAN_SPEC's `count`: "splits counting their share"), kept to a millionth
like a share's tolerance. The Redis score, the GraphQL value (shown without trailing zeros:
"0.5", "1"), the live update and `rebuild-cache` agree exactly; ranks and ties follow the
shares, not their rounding."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from graphql import print_ast
from redis.asyncio import Redis

from domain.crm.models import Transaction
from domain.org.models import Role, User
from domain.tenants.models import Tenant
from gamification.leaderboards.metrics import Metric
from gamification.leaderboards.service import create_leaderboard, rebuild_all, rebuild_board
from gamification.leaderboards.store import BoardStore, board_key
from tests.api.graphql import helpers as h
from tests.api.graphql.helpers import Api
from tests.api.graphql.test_contract import operation_document
from workers.tasks.leaderboards import update_leaderboards_of

pytestmark = pytest.mark.usefixtures("db")
BOARD = print_ast(operation_document("Leaderboard"))


async def split_deal(t: Tenant, external_id: str, shares: dict[User, str], on: Any) -> None:
    first = next(iter(shares))
    await Transaction.create(
        tenant_id=t.id, external_id=external_id, rep_id=first.id, type="deal",
        amount=Decimal("1000"), currency="EUR", date=on, state="won",
        splits=[{"rep_id": str(u.id), "share": s} for u, s in shares.items()],
        credited_user_ids=[str(u.id) for u in shares], extra_fields={},
    )  # fmt: skip


async def world() -> dict[str, Any]:
    """ana: half of deal 1 and half of deal 2 (1 deal); ben: half of deal 1 (0.5);
    cy: deal 3 alone (1); dee: half of deal 2 and a third of deal 4 (0.833333)."""
    t = await h.tenant("acme")
    period = h.this_period()
    version = await h.publish(t, effective_from=period.start)
    w: dict[str, Any] = {"t": t, "period": period}
    w["admin"] = await h.person(t, "ada-admin", role=Role.ADMIN)
    for name in ("ana", "ben", "cy", "dee", "eve", "fay"):
        w[name] = await h.person(t, name)
        await h.assign(t, version, w[name], period.start)
        await h.quota(t, w[name], period.id, "10000")
    on = period.start
    await split_deal(t, "deal-1", {w["ana"]: "0.5", w["ben"]: "0.5"}, on)
    await split_deal(t, "deal-2", {w["ana"]: "0.5", w["dee"]: "0.5"}, on)
    await h.deal(t, w["cy"], "deal-3", "1000", on)
    await split_deal(
        t, "deal-4", {w["dee"]: "0.333333", w["eve"]: "0.333333", w["fay"]: "0.333334"}, on
    )
    for name in ("ana", "ben", "cy", "dee", "eve", "fay"):
        await h.recompute(t, w[name], period.id)
    return w


def shown(board: dict[str, Any], w: dict[str, Any]) -> list[tuple[int, str, str]]:
    names = {str(w[n].id): n for n in ("ana", "ben", "cy", "dee", "eve", "fay")}
    return [(e["rank"], names[e["rep"]["id"]], e["score"]) for e in board["entries"]]


def ordered_ties(w: dict[str, Any], *names: str) -> list[str]:
    return sorted(names, key=lambda n: str(w[n].id))


async def everything(redis: Redis) -> dict[str, list[Any]]:
    keys = sorted(k.decode() for k in await redis.keys("podium:board:*"))
    return {k: await redis.zrange(k, 0, -1, withscores=True) for k in keys}


async def test_given_split_deals_then_a_count_board_ranks_each_reps_share(api: Api, redis: Redis):
    w = await world()
    t, store = w["t"], BoardStore(redis)
    board = await create_leaderboard(
        viewer=h.system(t), name="Deals", metric="count:bookings", period_kind="month"
    )
    await rebuild_board(store=store, board=board)

    read = await api.as_(t, w["admin"]).gql(BOARD, {"id": str(board.id), "first": 10})

    first, second = ordered_ties(w, "ana", "cy")
    # a whole deal and two halves tie; half a deal is behind one, a third behind a half
    assert shown(read["data"]["leaderboard"], w) == [
        (1, first, "1"), (1, second, "1"),
        (3, "dee", "0.833333"), (4, "ben", "0.5"),
        (5, "fay", "0.333334"), (6, "eve", "0.333333"),
    ]  # fmt: skip
    # Redis holds the shares in millionths: what GraphQL shows, exactly
    stored = dict(await redis.zrange(board_key(board.id, w["period"].id), 0, -1, withscores=True))
    assert stored[str(w["ben"].id).encode()] == -500000
    assert stored[str(w["dee"].id).encode()] == -833333
    assert Metric("count", "bookings").shown(500000) == Decimal("0.5")

    # the live update after a recompute writes what the rebuild wrote
    await update_leaderboards_of(
        {"redis": redis}, tenant_id=t.id,
        pairs=[(w[n].id, w["period"].id) for n in ("ana", "ben", "dee")],
    )  # fmt: skip
    live = await everything(redis)
    assert await rebuild_all(store=store, tenant_id=t.id) == {"Deals": 6}
    assert await everything(redis) == live
