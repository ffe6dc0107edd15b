"""The API's side of Redis pub/sub: one pub/sub connection per API process, fanned out in
memory to the subscriptions that listen to each rep's channel.

Workers publish (workers/realtime.py); channel names come from domain.notifications.channels,
so the API can only ever listen to the channel of the viewer it authenticated. A channel is
subscribed while at least one subscription listens to it, and left with the last one. A person
may hold `Limits.max_subscriptions_per_person` subscriptions at once, over all their sockets:
one more is refused with TOO_MANY_SUBSCRIPTIONS (before 60 sockets could hold 6,006 Redis
clients and starve `/ready`).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

import structlog
from graphql import GraphQLError
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from domain.notifications.channels import earnings_channel
from domain.notifications.summary import EarningsSummary
from gamification.leaderboards.store import named

log = structlog.get_logger("podium.live")

POLL_SECONDS = 1.0  # a read waits at most this long, so that closing is prompt
RETRY_SECONDS = 0.5  # after Redis failed a read
QUEUE_SIZE = 64  # messages waiting for one slow subscriber; older ones are dropped first
TOO_MANY_SUBSCRIPTIONS = "TOO_MANY_SUBSCRIPTIONS"
# A board's pushes show people's names and pictures, read from PostgreSQL at most this often
# per person: a busy board pushes each follower a few times a second, and a statement per
# push and follower (their aroundMe) was a tenth of the API's CPU under a stream of events. A
# renamed person shows their new name on live boards within this many seconds.
CARD_SECONDS = 10.0
MAX_CARDS = 100_000  # over every tenant; then the cache starts over
T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
Item = TypeVar("Item", bound=Hashable)


@dataclass(eq=False, slots=True)
class _Batch:
    """One read of `LiveHub.batched`: the items asked for while it was open; once sent,
    the channel's generation it started at and the read under way."""

    items: dict[Hashable, None]
    answer: asyncio.Future[Any]
    generation: int = -1  # -1: still open (collecting)
    task: asyncio.Task[None] | None = None  # the read, once sent


@dataclass(frozen=True, slots=True)
class BoardPulse:
    """A board changed: ``generation`` is how many messages its channel had brought when
    the pulse left (what `LiveHub.shared` reads must be at least as recent as)."""

    generation: int


class LiveHub:
    def __init__(self, redis: Redis, *, max_per_person: int) -> None:
        self.redis = redis
        self.max_per_person = max_per_person
        self.listeners: dict[str, set[asyncio.Queue[Any]]] = {}
        self.decoders: dict[str, Callable[[bytes], Any]] = {}  # channel -> its messages' decoder
        self.per_person: Counter[tuple[UUID, UUID]] = Counter()
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # subscribe/unsubscribe in order, one at a time
        self.generations: Counter[str] = Counter()  # messages received per channel
        # (channel, name) -> the generation a shared read started at, and the read
        self._shared: dict[tuple[str, Hashable], tuple[int, asyncio.Future[object]]] = {}
        # (channel, name) -> the latest read of `batched`
        self._batches: dict[tuple[str, Hashable], _Batch] = {}
        # (tenant, person) -> when their card was read, and the card (`cards`)
        self._cards: dict[tuple[UUID, Hashable], tuple[float, Any]] = {}
        # (tenant, person) -> the read under way that fetches their card
        self._reading: dict[tuple[UUID, Hashable], asyncio.Future[Any]] = {}

    async def earnings_updates(
        self, *, tenant_id: UUID, user_id: UUID
    ) -> AsyncIterator[EarningsSummary]:
        """Every earnings summary published for (tenant, rep) from now on, until the consumer
        stops (the subscription ends or the socket closes: the channel is then left)."""
        channel = earnings_channel(tenant_id, user_id)
        async for data in self._listen((tenant_id, user_id), channel):
            try:
                summary = EarningsSummary.from_json(data)
            except (ValueError, KeyError, TypeError):
                log.warning("unreadable earnings message", channel=channel)
                continue
            # the channel is the viewer's already; the payload must agree, or it is dropped
            if summary.tenant_id == tenant_id and summary.user_id == user_id:
                yield summary

    async def board_changes(
        self, *, tenant_id: UUID, user_id: UUID, channel: str, interval: float, gap: float
    ) -> AsyncIterator[BoardPulse]:
        """A pulse each time the board of ``channel`` changed, for the follower ``user_id``;
        a pulse covers every message received before it (the board is read after it).

        A message naming the follower (a change of their own entry, `store.named`; one that
        may be anyone's counts as theirs) pulses at once, or ``gap`` seconds after the last
        pulse that covered such a message if that was less than ``gap`` ago: a burst of the
        follower's own changes pulses them at most once a gap, and their own change never
        waits behind a pulse of other people's changes.

        Other people's changes are coalesced: the seconds are cut in slots of ``interval``
        on the process's clock; such a change pulses at once in a slot that had no pulse
        yet, else at the next slot's start, and never less than ``gap`` after any pulse. So
        other people's churn pulses a follower at most once a slot, and the followers of a
        busy board in one process are pulsed at the same instants (slot starts) and share
        their reads of it (`shared`): the board is read once per push, not once per
        follower.

        Nothing is dropped: the last change is pulsed at most ``max(interval, gap)`` seconds
        after it arrived."""
        member = str(user_id)
        loop = asyncio.get_running_loop()
        last_at, last_slot = -math.inf, -1  # the last pulse: when, and in which slot
        last_own = -math.inf  # the last pulse that covered a change of the follower's entry
        due: float | None = None  # when the changes not pulsed yet will be; None: none
        own = False  # whether they include a change of the follower's entry
        async with self._subscription((tenant_id, user_id), channel, decode=named) as queue:
            while True:
                try:
                    async with asyncio.timeout_at(due):
                        names = await queue.get()
                except TimeoutError:
                    pass  # due
                else:
                    now = loop.time()
                    while True:
                        if names is None or member in names:
                            own = True
                            at = max(now, last_own + gap)
                        else:
                            if _slot(now, interval) != last_slot:
                                at = now  # the first of other people's changes in this slot
                            else:
                                at = (last_slot + 1) * interval  # the next slot's start
                            at = max(at, last_at + gap)
                        due = at if due is None else min(due, at)
                        if queue.empty():
                            break
                        names = queue.get_nowait()
                    if due > now:
                        continue
                assert due is not None
                last_at = max(loop.time(), due)
                last_slot = _slot(last_at, interval)
                if own:
                    last_own, own = last_at, False
                while not queue.empty():
                    queue.get_nowait()  # received before this pulse: covered by it
                due = None
                yield BoardPulse(self.generations[channel])

    async def shared(
        self, channel: str, generation: int, name: Hashable, read: Callable[[], Awaitable[T]]
    ) -> T:
        """``read()`` once for every subscription of this process that asks for ``name`` of
        ``channel`` at ``generation``: a read started when the channel's generation was at
        least that shows every change the pulse announced, and is reused."""
        key = (channel, name)
        found = self._shared.get(key)
        if found is None or found[0] < generation or _failed(found[1]):
            task: asyncio.Future[object] = asyncio.ensure_future(read())
            found = (self.generations[channel], task)
            # the channel's reads of earlier generations are not reused any more: dropped,
            # so that reads named by what they read (a page of a given length, say)
            # do not pile up over a long subscription
            for old in [k for k, v in self._shared.items() if k[0] == channel and v[0] < found[0]]:
                del self._shared[old]
            self._shared[key] = found
        return await asyncio.shield(found[1])  # type: ignore[return-value]

    async def batched(
        self,
        channel: str,
        generation: int,
        name: Hashable,
        items: Iterable[Item],
        read: Callable[[list[Item]], Awaitable[T]],
    ) -> T:
        """``read(all items)`` once for the subscriptions of this process that ask for
        ``name`` of ``channel`` in the same turn of the event loop (the followers of a board
        are pulsed at the same instants), each with its own ``items`` (the people whose
        neighbourhood it shows, say): one read, one answer that covers every asker's items.
        A read started when the channel's generation was at least ``generation`` and that
        covers ``items`` is reused (as `shared`); else the items go to the next read."""
        key = (channel, name)
        wanted = list(items)
        batch = self._batches.get(key)
        if batch is not None and batch.generation >= 0:  # sent: reused if it covers us
            if (
                batch.generation < generation
                or _failed(batch.answer)
                or any(item not in batch.items for item in wanted)
            ):
                batch = None
        if batch is None:
            loop = asyncio.get_running_loop()
            batch = _Batch({}, loop.create_future())
            batch.answer.add_done_callback(_retrieved)
            self._batches[key] = batch
            loop.call_soon(self._send, channel, batch, read)
        for item in wanted:
            batch.items.setdefault(item)
        return await asyncio.shield(batch.answer)

    def _send(
        self,
        channel: str,
        batch: _Batch,
        read: Callable[[list[Any]], Awaitable[Any]],
    ) -> None:
        batch.generation = self.generations[channel]
        # reads of earlier generations are not kept: reads named by what they read (a
        # board's period, say) do not pile up over a long subscription
        for old in [k for k, b in self._batches.items() if k[0] == channel
                    and 0 <= b.generation < batch.generation]:  # fmt: skip
            del self._batches[old]

        async def reading() -> None:
            try:
                found = await read(list(batch.items))
            except asyncio.CancelledError:
                batch.answer.cancel()
                raise
            except Exception as exc:  # noqa: BLE001 - its askers get it; the next ones read again
                batch.answer.set_exception(exc)
            else:
                batch.answer.set_result(found)

        # a task of its own: an asker leaving does not cancel the others' read
        batch.task = asyncio.ensure_future(reading())

    async def cards(
        self,
        tenant_id: UUID,
        ids: list[K],
        read: Callable[[list[K]], Awaitable[dict[K, T]]],
    ) -> dict[K, T]:
        """The cards (names, pictures) of ``ids`` in ``tenant_id``: those read in the last
        CARD_SECONDS from memory, those a read under way is fetching from that read (the
        followers of a board are pushed at the same instants, and ask for the same new
        faces at once), the others by ``read`` (one call for all of them). Someone ``read``
        does not find is asked for again next time."""
        now = time.monotonic()
        out: dict[K, T] = {}
        missing: list[K] = []
        pending: dict[asyncio.Future[dict[K, T]], list[K]] = {}
        for person in ids:
            known = self._cards.get((tenant_id, person))
            if known is not None and now - known[0] < CARD_SECONDS:
                out[person] = known[1]
            elif (under_way := self._reading.get((tenant_id, person))) is not None:
                pending.setdefault(under_way, []).append(person)
            else:
                missing.append(person)
        if missing:
            # a task of its own: a follower leaving mid-read does not fail the others' push
            task = asyncio.ensure_future(self._read_cards(tenant_id, missing, read, now))
            task.add_done_callback(_retrieved)
            for person in missing:
                self._reading[(tenant_id, person)] = task
            pending[task] = missing
        for under_way, people in pending.items():
            found = await asyncio.shield(under_way)
            out.update((person, found[person]) for person in people if person in found)
        return out

    async def _read_cards(
        self,
        tenant_id: UUID,
        missing: list[K],
        read: Callable[[list[K]], Awaitable[dict[K, T]]],
        now: float,
    ) -> dict[K, T]:
        this = asyncio.current_task()
        try:
            found = await read(missing)
        finally:
            for person in missing:
                if self._reading.get((tenant_id, person)) is this:
                    del self._reading[(tenant_id, person)]
        if len(self._cards) + len(found) > MAX_CARDS:
            self._cards.clear()
        for person, card in found.items():
            self._cards[(tenant_id, person)] = (now, card)
        return found

    async def _listen(self, person: tuple[UUID, UUID], channel: str) -> AsyncIterator[bytes]:
        """The messages of ``channel`` for one subscription of ``person``."""
        async with self._subscription(person, channel) as queue:
            while True:
                yield await queue.get()

    @contextlib.asynccontextmanager
    async def _subscription(
        self,
        person: tuple[UUID, UUID],
        channel: str,
        decode: Callable[[bytes], Any] | None = None,
    ) -> AsyncIterator[asyncio.Queue[Any]]:
        """A queue of ``channel``'s messages for one subscription of ``person`` (counted
        against their limit) while the context lasts; with ``decode``, each message is
        decoded once for all the channel's subscriptions (every one of a channel must pass
        the same)."""
        if self.per_person[person] >= self.max_per_person:
            raise GraphQLError(
                f"at most {self.max_per_person} live subscriptions per person at once: "
                "complete one first",
                extensions={"code": TOO_MANY_SUBSCRIPTIONS, "max": self.max_per_person},
            )
        self.per_person[person] += 1
        queue: asyncio.Queue[Any] = asyncio.Queue(QUEUE_SIZE)
        try:
            await self._join(channel, queue, decode)
            yield queue
        finally:
            self.per_person[person] -= 1
            if self.per_person[person] <= 0:
                del self.per_person[person]
            await self._leave(channel, queue)

    async def _join(
        self, channel: str, queue: asyncio.Queue[Any], decode: Callable[[bytes], Any] | None
    ) -> None:
        async with self._lock:
            listeners = self.listeners.setdefault(channel, set())
            listeners.add(queue)
            if len(listeners) > 1:
                return
            if decode is not None:
                self.decoders[channel] = decode
            if self._pubsub is None:
                self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await self._pubsub.subscribe(channel)
            except BaseException:
                listeners.discard(queue)
                if not listeners:
                    del self.listeners[channel]
                    self.decoders.pop(channel, None)
                raise
            if self._reader is None or self._reader.done():
                self._reader = asyncio.create_task(self._read(self._pubsub))

    async def _leave(self, channel: str, queue: asyncio.Queue[bytes]) -> None:
        async with self._lock:
            listeners = self.listeners.get(channel)
            if listeners is None:
                return
            listeners.discard(queue)
            if listeners:
                return
            del self.listeners[channel]
            self.decoders.pop(channel, None)
            self.generations.pop(channel, None)
            for key in [k for k in self._shared if k[0] == channel]:
                del self._shared[key]
            for key in [k for k in self._batches if k[0] == channel]:
                del self._batches[key]
            if self._pubsub is not None:
                try:
                    await self._pubsub.unsubscribe(channel)
                except Exception as exc:  # noqa: BLE001 - Redis gone: nothing left to leave
                    log.warning("could not leave a channel", channel=channel, error=repr(exc))

    async def _read(self, pubsub: PubSub) -> None:
        while True:
            try:
                message = await pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=POLL_SECONDS
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - redis-py reconnects on the next read
                log.warning("pub/sub read failed", error=repr(exc))
                await asyncio.sleep(RETRY_SECONDS)
                continue
            if message is None or message.get("type") != "message":
                if not pubsub.subscribed:
                    await asyncio.sleep(POLL_SECONDS / 10)  # nothing to read yet
                continue
            channel = message["channel"]
            channel = channel.decode() if isinstance(channel, bytes) else str(channel)
            listeners = tuple(self.listeners.get(channel, ()))
            if not listeners:
                continue
            self.generations[channel] += 1
            data = message["data"]
            decode = self.decoders.get(channel)
            if decode is not None:
                data = decode(data)
            for queue in listeners:
                if queue.full():
                    queue.get_nowait()  # a slow reader loses its oldest update, not the newest
                queue.put_nowait(data)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._pubsub is not None:
            await self._pubsub.aclose()


def _slot(at: float, interval: float) -> int:
    """The slot of ``at``: the k with k * interval <= at < (k + 1) * interval, as the slot
    starts are computed (a pulse at a slot's start is in that slot)."""
    slot = int(at // interval)
    return slot + 1 if (slot + 1) * interval <= at else slot


def _retrieved(read: asyncio.Future[Any]) -> None:
    """Marks a failed read's exception retrieved: its askers got it (or all left)."""
    if not read.cancelled():
        read.exception()


def _failed(read: asyncio.Future[object]) -> bool:
    return read.done() and (read.cancelled() or read.exception() is not None)
