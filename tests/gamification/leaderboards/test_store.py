"""The board store on a real Redis: a person's neighbourhood is read at once, so a board that
moves while it is read never centres the page on someone else; ties at the page's start share
the rank of those before the page; a write announces each board once, naming whom it wrote."""

from __future__ import annotations

import asyncio
import random
from uuid import uuid4

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from gamification.leaderboards.store import (
    MAX_NAMED,
    BoardStore,
    board_channel,
    board_key,
    board_message,
    named,
)

KEY = "podium:board:test:2026-10"


async def test_given_a_moving_board_then_around_me_is_always_centred_on_me(redis: Redis):
    store = BoardStore(redis)
    people = [f"p{i:03d}" for i in range(300)]
    await store.replace(KEY, {p: i for i, p in enumerate(people)})
    moving = True

    async def churn() -> None:
        pick = random.Random(3)
        while moving:
            await store.update({KEY: {p: pick.randrange(10**6) for p in pick.sample(people, 20)}})
            await asyncio.sleep(0)

    mover = asyncio.create_task(churn())
    try:
        pages = []
        for _ in range(300):
            pages.append(await store.around(KEY, "p150", 0))
            pages.append(await store.around(KEY, "p007", 2))
    finally:
        moving = False
        await mover

    for page in pages[0::2]:
        assert [r.key for r in page] == ["p150"]
    for page in pages[1::2]:
        keys = [r.key for r in page]
        assert "p007" in keys
        assert [r.rank for r in page] == sorted(r.rank for r in page)


async def test_given_a_tie_across_the_page_start_then_it_shares_the_rank_before_it(
    redis: Redis,
):
    store = BoardStore(redis)
    await store.replace(KEY, {"a": 9, "b": 5, "c": 5, "d": 5, "e": 1})

    page = await store.around(KEY, "d", 1)
    nobody = await store.around(KEY, "zed", 2)

    assert [(r.rank, r.key, r.score) for r in page] == [(2, "c", 5), (2, "d", 5), (5, "e", 1)]
    assert nobody == []


async def test_given_a_page_then_the_top_and_each_neighbourhood_come_from_one_read(redis: Redis):
    store = BoardStore(redis)
    await store.replace(KEY, {"a": 9, "b": 5, "c": 5, "d": 5, "e": 1, "f": 1, "g": 0})

    page = await store.page(KEY, 3, [("d", 1), ("zed", 2), ("g", 1), ("a", 0)])
    nothing = await store.page(KEY, 0)

    assert [(r.rank, r.key, r.score) for r in page.top] == [(1, "a", 9), (2, "b", 5), (2, "c", 5)]
    assert [[(r.rank, r.key) for r in near] for near in page.around] == [
        [(2, "c"), (2, "d"), (5, "e")],
        [],
        [(5, "f"), (7, "g")],
        [(1, "a")],
    ]
    assert page.top == await store.top(KEY, 3)
    assert page.around[0] == await store.around(KEY, "d", 1)
    assert nothing.top == []
    assert nothing.around == []


async def test_given_a_write_then_each_board_is_announced_once_naming_the_people_written(
    redis: Redis,
):
    store = BoardStore(redis)
    north, south, rebuilt = uuid4(), uuid4(), uuid4()
    many = {f"p{i:04d}": i for i in range(MAX_NAMED + 1)}
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(*(board_channel(b) for b in (north, south, rebuilt)))
    try:
        await store.update(
            {
                board_key(north, "2026-10"): {"ana": 5, "ben": None},
                board_key(south, "2026-10"): many,
            },
            announce={north: ["ana", "ben"], south: many.keys(), rebuilt: None},
        )
        messages = await _messages(pubsub, 0.5)
    finally:
        await pubsub.aclose()

    heard = {channel.decode(): named(data) for channel, data in messages}
    assert len(messages) == len(heard) == 3  # one message a board
    assert heard == {
        board_channel(north): {"ana", "ben"},
        board_channel(south): None,  # too many to name: anyone's
        board_channel(rebuilt): None,
    }
    assert named(board_message([])) == frozenset()
    assert named(b"\xff ana") == {"\ufffd", "ana"}  # garbage names nobody, never raises


async def _messages(pubsub: PubSub, wait: float) -> list[tuple[bytes, bytes]]:
    """What the subscriptions hear within ``wait`` seconds: (channel, data)s."""
    loop = asyncio.get_running_loop()
    end, heard = loop.time() + wait, []
    while (left := end - loop.time()) > 0:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=left)
        if message is not None:
            heard.append((message["channel"], message["data"]))
    return heard
