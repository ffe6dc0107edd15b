"""The API's board pulses on a real Redis, with the messages the workers publish
(`store.board_message`): other people's changes pulse a follower at most once per slot, all of
a process's followers at the same instants, and what they read for a push is read once for all
of them (never older than the change the pulse announces); a change of the follower's own
entry pulses at once, even right after a pulse of other people's changes, and a burst of them
a gap apart; the last change is always pulsed."""

from __future__ import annotations

import asyncio
from uuid import UUID, uuid4

from redis.asyncio import Redis

from api.graphql.live import LiveHub
from gamification.leaderboards.store import board_message

CHANNEL = f"podium:board-changed:{uuid4()}"  # pub/sub is server-wide: this run's own
INTERVAL = 0.2
GAP = 0.1


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
            tenant_id=tenant, user_id=uuid4(), channel=CHANNEL, interval=INTERVAL, gap=GAP
        ):
            pulsed_at = loop.time()  # as it leaves the hub: the read below takes a while
            seen = await hub.shared(CHANNEL, pulse.generation, "top", read)
            assert seen >= pulse.generation  # never older than the announced change
            # a read named by what it reads (the people of one follower's aroundMe)
            await hub.shared(CHANNEL, pulse.generation, ("people", n, seen), mine)
            pulses[n].append((pulsed_at, pulse.generation))

    followers = [asyncio.create_task(follow(n)) for n in (0, 1)]
    try:
        await _until_listening(hub, redis, 2)
        for _ in range(40):  # 1 s of a board changing every 25 ms, other people's entries
            await redis.publish(CHANNEL, board_message([str(uuid4()), str(uuid4())]))
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


async def test_given_a_change_of_my_own_entry_then_pulsed_at_once_not_at_the_next_slot(
    redis: Redis,
):
    interval = 1.0  # a wide slot: waiting for the next one would show
    hub = LiveHub(redis, max_per_person=10)
    me, other = uuid4(), str(uuid4())
    loop = asyncio.get_running_loop()
    pulses: asyncio.Queue[tuple[float, int]] = asyncio.Queue()
    follower = asyncio.create_task(_follow(hub, me, interval, pulses))
    try:
        await _until_listening(hub, redis, 1)
        await asyncio.sleep(interval - loop.time() % interval + 0.01)  # a slot has begun
        slot = int(loop.time() // interval)

        await redis.publish(CHANNEL, board_message([other]))
        first, generation = await asyncio.wait_for(pulses.get(), 1)
        assert (int(first // interval), generation) == (slot, 1)  # the slot's first: at once
        await redis.publish(CHANNEL, board_message([other]))  # held for the next slot
        await redis.publish(CHANNEL, board_message([other, str(me)]))
        mine, generation = await asyncio.wait_for(pulses.get(), 1)
        # at once, not held behind the other person's pulse (no gap after it), in the same
        # slot, and covering the other person's change held before it
        assert mine - first < GAP / 2, mine - first
        assert (int(mine // interval), generation) == (slot, 3)
        await asyncio.sleep(GAP + 0.05)
        sent = loop.time()
        await redis.publish(CHANNEL, board_message(None))  # a rebuild: maybe mine
        anyone, generation = await asyncio.wait_for(pulses.get(), 1)
        assert anyone - sent < 0.3
        assert (int(anyone // interval), generation) == (slot, 4)
        # the changes were all covered: nothing more to pulse, not even at the next slot
        assert await _nothing(pulses, (slot + 1) * interval - loop.time() + 0.2)
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
        await hub.close()


async def test_given_a_burst_of_my_changes_then_pulses_keep_the_gap_and_others_stay_coalesced(
    redis: Redis,
):
    hub = LiveHub(redis, max_per_person=10)
    me, them = uuid4(), uuid4()
    loop = asyncio.get_running_loop()
    mine: asyncio.Queue[tuple[float, int]] = asyncio.Queue()
    theirs: asyncio.Queue[tuple[float, int]] = asyncio.Queue()
    followers = [
        asyncio.create_task(_follow(hub, me, INTERVAL, mine)),
        asyncio.create_task(_follow(hub, them, INTERVAL, theirs)),
    ]
    try:
        await _until_listening(hub, redis, 2)
        start = loop.time()
        for _ in range(60):  # 0.6 s of my entry changing every 10 ms
            await redis.publish(CHANNEL, board_message([str(me)]))
            await asyncio.sleep(0.01)
        last = loop.time()
        await asyncio.sleep(INTERVAL + GAP + 0.1)
    finally:
        for task in followers:
            task.cancel()
        await asyncio.gather(*followers, return_exceptions=True)
        await hub.close()

    own = [mine.get_nowait() for _ in range(mine.qsize())]
    other = [theirs.get_nowait() for _ in range(theirs.qsize())]
    own_times = [at for at, _ in own]
    gaps = [b - a for a, b in zip(own_times, own_times[1:], strict=False)]
    assert min(gaps) >= GAP - 0.002, gaps  # never closer than the gap
    own_slots = [int(at // INTERVAL) for at in own_times]
    assert len(own) >= 4
    assert len(set(own_slots)) < len(own_slots)  # not held to one a slot
    slots = [int(at // INTERVAL) for at, _ in other]
    assert len(slots) == len(set(slots))  # someone else's change: one pulse a slot at most
    assert len(other) <= (last - start) / INTERVAL + 2
    # nothing lost: the last change is pulsed to both, the own one within a gap
    assert own[-1][1] == other[-1][1] == 60
    assert own_times[-1] - last <= GAP + 0.05


async def _follow(
    hub: LiveHub, user_id: UUID, interval: float, pulses: asyncio.Queue[tuple[float, int]]
) -> None:
    loop = asyncio.get_running_loop()
    async for pulse in hub.board_changes(
        tenant_id=uuid4(), user_id=user_id, channel=CHANNEL, interval=interval, gap=GAP
    ):
        pulses.put_nowait((loop.time(), pulse.generation))


async def _nothing(pulses: asyncio.Queue[tuple[float, int]], wait: float) -> bool:
    try:
        await asyncio.wait_for(pulses.get(), wait)
    except TimeoutError:
        return True
    return False


async def _until_listening(hub: LiveHub, redis: Redis, followers: int) -> None:
    for _ in range(500):
        [(_, count)] = await redis.pubsub_numsub(CHANNEL)
        if len(hub.listeners.get(CHANNEL, ())) == followers and int(count) >= 1:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the followers did not reach Redis")


async def test_given_cards_read_lately_then_the_hub_reads_only_the_others_until_they_age(
    redis: Redis, monkeypatch
):
    import api.graphql.live as live

    hub = LiveHub(redis, max_per_person=10)
    tenant, other_tenant = uuid4(), uuid4()
    ana, bob, gone = uuid4(), uuid4(), uuid4()
    names = {ana: "Ana", bob: "Bob"}
    asked: list[list[UUID]] = []

    async def read(ids: list[UUID]) -> dict[UUID, str]:
        asked.append(list(ids))
        return {i: names[i] for i in ids if i in names}

    assert await hub.cards(tenant, [ana, gone], read) == {ana: "Ana"}
    # Ana from memory; Bob and the person not found are read, in one call
    assert await hub.cards(tenant, [ana, bob, gone], read) == {ana: "Ana", bob: "Bob"}
    assert asked == [[ana, gone], [bob, gone]]
    # the same ids in another tenant are that tenant's own
    await hub.cards(other_tenant, [ana], read)
    assert asked[-1] == [ana]
    # renamed: shown once the card is older than CARD_SECONDS
    names[ana] = "Ana Maria"
    assert await hub.cards(tenant, [ana], read) == {ana: "Ana"}
    monkeypatch.setattr(live, "CARD_SECONDS", 0.0)
    assert await hub.cards(tenant, [ana], read) == {ana: "Ana Maria"}


async def test_given_followers_asking_for_the_same_new_cards_at_once_then_one_read_serves_them(
    redis: Redis,
):
    """The followers of a board are pushed at the same instants: a card a read under way
    fetches is taken from that read, not read again; a follower leaving mid-read leaves the
    read to the others; a failed read fails those waiting on it, and the next asks again."""
    hub = LiveHub(redis, max_per_person=10)
    tenant = uuid4()
    ana, bob = uuid4(), uuid4()
    names = {ana: "Ana", bob: "Bob"}
    asked: list[list[UUID]] = []
    release = asyncio.Event()

    async def read(ids: list[UUID]) -> dict[UUID, str]:
        asked.append(list(ids))
        await release.wait()
        return {i: names[i] for i in ids if i in names}

    first = asyncio.create_task(hub.cards(tenant, [ana], read))
    leaving = asyncio.create_task(hub.cards(tenant, [ana], read))
    both = asyncio.create_task(hub.cards(tenant, [ana, bob], read))
    await asyncio.sleep(0.01)
    leaving.cancel()
    first.cancel()  # the one that started the read leaves too: the read goes on
    await asyncio.sleep(0.01)
    release.set()
    assert await both == {ana: "Ana", bob: "Bob"}
    assert asked == [[ana], [bob]]  # Ana read once for the three, Bob by the one who asked

    async def failing(ids: list[UUID]) -> dict[UUID, str]:
        await asyncio.sleep(0.01)
        raise RuntimeError("database gone")

    carl = uuid4()
    waits = [asyncio.create_task(hub.cards(tenant, [carl], failing)) for _ in range(2)]
    for outcome in await asyncio.gather(*waits, return_exceptions=True):
        assert isinstance(outcome, RuntimeError)
    names[carl] = "Carl"
    assert await hub.cards(tenant, [carl], read) == {carl: "Carl"}


async def test_given_followers_asking_for_a_page_at_once_then_one_read_serves_them_all(
    redis: Redis,
):
    """The followers pushed at one instant ask in the same turn of the event loop: one read
    for all their items; one asked for later is served by that read if it covers the items
    and is recent enough, else read again; a failed read fails its askers only."""
    hub = LiveHub(redis, max_per_person=10)
    reads: list[list[str]] = []

    async def read(items: list[str]) -> dict[str, int]:
        reads.append(list(items))
        await asyncio.sleep(0.01)  # a Redis read: later askers come meanwhile
        return {item: len(reads) for item in items}

    hub.generations[CHANNEL] = 3
    first = [
        asyncio.create_task(hub.batched(CHANNEL, 3, "page", items, read))
        for items in (["top", "ana"], ["top", "ben"], ["top"])
    ]
    answers = await asyncio.gather(*first)
    assert reads == [["top", "ana", "ben"]]
    assert all(answer == {"top": 1, "ana": 1, "ben": 1} for answer in answers)

    # covered and recent enough: the same read, even for a pulse older than it
    assert await hub.batched(CHANNEL, 2, "page", ["ben"], read) == answers[0]
    assert len(reads) == 1
    # someone it did not read for, or a pulse newer than the read: read again
    assert (await hub.batched(CHANNEL, 3, "page", ["cy"], read))["cy"] == 2
    hub.generations[CHANNEL] = 4
    assert (await hub.batched(CHANNEL, 4, "page", ["top"], read))["top"] == 3
    assert reads[1:] == [["cy"], ["top"]]

    async def failing(items: list[str]) -> dict[str, int]:
        await asyncio.sleep(0.01)
        raise RuntimeError("redis gone")

    hub.generations[CHANNEL] = 5
    waits = [asyncio.create_task(hub.batched(CHANNEL, 5, "page", ["top"], failing)) for _ in "ab"]
    for outcome in await asyncio.gather(*waits, return_exceptions=True):
        assert isinstance(outcome, RuntimeError)
    assert (await hub.batched(CHANNEL, 5, "page", ["top"], read))["top"] == 4
    # a reader leaving does not cancel the read the others wait for
    leaving = asyncio.create_task(hub.batched(CHANNEL, 6, "page", ["ana"], read))
    staying = asyncio.create_task(hub.batched(CHANNEL, 6, "page", ["ben"], read))
    hub.generations[CHANNEL] = 6
    await asyncio.sleep(0)
    leaving.cancel()
    assert await staying == {"ana": 5, "ben": 5}
    await hub.close()
