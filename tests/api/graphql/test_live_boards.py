"""The API's board pulses on a real Redis: a busy board pulses each follower at most once per
slot, all of a process's followers at the same instants, and what they read for a push is
read once for all of them (never older than the change the pulse announces)."""

from __future__ import annotations

import asyncio
from uuid import uuid4

from redis.asyncio import Redis

from api.graphql.live import LiveHub

CHANNEL = f"podium:board-changed:{uuid4()}"  # pub/sub is server-wide: this run's own
INTERVAL = 0.2


async def test_given_a_busy_board_then_followers_pulse_together_and_share_one_read(
    redis: Redis,
):
    hub = LiveHub(redis, max_per_person=10)
    tenant = uuid4()
    reads: list[int] = []
    pulses: dict[int, list[tuple[float, int]]] = {0: [], 1: []}
    loop = asyncio.get_running_loop()

    async def read() -> int:
        reads.append(hub.generations[CHANNEL])
        await asyncio.sleep(0.01)  # a Redis read: the other followers come meanwhile
        return hub.generations[CHANNEL]

    async def mine() -> int:
        return 0

    async def follow(n: int) -> None:
        async for pulse in hub.board_changes(
            tenant_id=tenant, user_id=uuid4(), channel=CHANNEL, min_interval=INTERVAL
        ):
            pulsed_at = loop.time()  # as it leaves the hub: the read below takes a while
            seen = await hub.shared(CHANNEL, pulse.generation, "top", read)
            assert seen >= pulse.generation  # never older than the announced change
            # a read named by what it reads (the people of one follower's aroundMe)
            await hub.shared(CHANNEL, pulse.generation, ("people", n, seen), mine)
            pulses[n].append((pulsed_at, pulse.generation))

    followers = [asyncio.create_task(follow(n)) for n in (0, 1)]
    try:
        await _until_listening(hub, redis)
        for _ in range(40):  # 1 s of a board changing every 25 ms
            await redis.publish(CHANNEL, "x")
            await asyncio.sleep(0.025)
        await asyncio.sleep(3 * INTERVAL)
        # only the last push's reads are kept: named reads do not pile up
        kept = [k for k in hub._shared if k[0] == CHANNEL]
        assert len(kept) <= 3, kept
    finally:
        for task in followers:
            task.cancel()
        await asyncio.gather(*followers, return_exceptions=True)
        await hub.close()

    for n in (0, 1):
        times = [at for at, _ in pulses[n]]
        slots = [int(at // INTERVAL) for at in times]
        assert len(slots) == len(set(slots))  # at most one pulse a slot
        assert 2 <= len(times) <= 8  # coalesced: 40 changes, a few pulses
        assert pulses[n][-1][1] == 40  # the last change is shown
    # the followers were pulsed at the same instants, each push with news, and read the
    # board once per push
    generations = [g for _, g in pulses[0]]
    assert generations == [g for _, g in pulses[1]]
    assert generations == sorted(set(generations))
    assert len(reads) == len(generations)


async def _until_listening(hub: LiveHub, redis: Redis) -> None:
    for _ in range(500):
        [(_, count)] = await redis.pubsub_numsub(CHANNEL)
        if len(hub.listeners.get(CHANNEL, ())) == 2 and int(count) >= 1:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the followers did not reach Redis")
