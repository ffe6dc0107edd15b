from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Hashable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from uuid import UUID

import strawberry
import structlog
from strawberry.types import Info

from api.graphql.errors import unauthenticated
from api.graphql.gamification.leaderboards.types import (
    Asked,
    Leaderboard,
    LeaderboardEntry,
    Prefetched,
    board_store,
    entries_of,
    shows,
)
from api.graphql.live import LiveHub
from domain.org.repository import Card, UserRepository
from domain.org.viewer import Viewer
from domain.tenants.models import Tenant
from domain.tenants.repository import get_tenant
from gamification.definitions import DEFINITIONS_TTL, TenantCache
from gamification.leaderboards import service
from gamification.leaderboards.models import Leaderboard as StoredBoard
from gamification.leaderboards.ranking import Ranked
from gamification.leaderboards.store import BoardStore, board_channel, board_key

log = structlog.get_logger("podium.live")

# When a follower is pushed the board (`LiveHub.board_changes`): a change of their own entry
# at once, but at least MIN_GAP seconds after the last push of their own change; other
# people's changes at most once a slot of INTERVAL seconds (the changes between fold into one
# push), at least MIN_GAP seconds after any push. A second: a phone's list cannot be read
# faster as it reorders, and four pushes a second of other people's moves were a fifth of the
# API's CPU at 100 events/s with ten followers (bench/realtime.py: 1.84-1.91 ms an event
# with 0.25 s slots, 1.46-1.55 with 1 s ones, 6 December).
INTERVAL = 1.0
MIN_GAP = 0.1
# A board's pushes take its tenant (the time zone: the period; the settings: whether scores
# are hidden) from a read at most this old, the workers' (DEFINITIONS_TTL): a statement per
# push was a twentieth of the API's CPU on a busy board. A change of either reaches live
# boards within these seconds.
TENANTS: TenantCache[Tenant] = TenantCache(get_tenant, ttl=DEFINITIONS_TTL)


async def leaderboard_changed(
    info: Info[Any, None], id: strawberry.ID
) -> AsyncGenerator[Leaderboard, None]:
    """The board, each time a recompute moves it. A change of the viewer's own entry (their
    score, and their rank with it) is pushed at once, unless the last push of their own
    change was less than MIN_GAP (0.1 s) ago: then MIN_GAP after it. Other people's changes,
    someone overtaking the viewer included, are coalesced: at most one push per INTERVAL
    (1 s) slot, at least MIN_GAP after any push. A change the workers cannot name (a
    rebuild) counts as the viewer's own. Each push shows the board as it is then, so the last
    change is always pushed; a push that would show the viewer exactly what the last one did
    (the part of the board they follow did not move) is not sent.

    What a push shows is read before it is executed (`Prefetched`), for all the board's
    followers of this process at once where they are pushed together: the top and each
    follower's neighbourhood in one Redis script (`LiveHub.batched`), the entries of the top
    built once; the push's execution then awaits nothing."""
    context = info.context
    viewer = context.viewer
    if viewer.user_id is None or context.live is None:
        raise unauthenticated("live updates need a signed-in person")
    board = await service.visible_board(viewer=viewer, board_id=str(id))
    live, channel = context.live, board_channel(board.id)
    push = _Pushes(live, board_store(info), board, viewer, channel)
    last: Prefetched | None = None  # the last push sent, as its execution left it
    async for pulse in live.board_changes(
        tenant_id=viewer.tenant_id,
        user_id=viewer.user_id,
        channel=channel,
        interval=INTERVAL,
        gap=MIN_GAP,
    ):
        # the tenant (its time zone: the board's period) is read once per push for all
        # its followers here, from a read a few seconds old at most (TENANTS)
        tenant = await live.shared(
            channel, pulse.generation, "tenant", lambda: TENANTS.get(board.tenant_id)
        )
        period = service.period_of(tenant, board.period_kind)
        prefetched: Prefetched | None
        try:
            prefetched = await push.prefetch(pulse.generation, tenant, period.id)
        except Exception as exc:  # noqa: BLE001 - the fields read themselves (and say so)
            log.warning("could not read a board push ahead", board=str(board.id), error=repr(exc))
            prefetched = None
        if prefetched is not None and last is not None and prefetched.view() == last.view():
            continue  # nothing the viewer follows moved: they see this already
        last = prefetched
        yield Leaderboard.at(board, period.id, prefetched=prefetched, people=push.people)


@dataclass(slots=True)
class _Page:
    """One read of a board for the followers pulsed together: its top and their
    neighbourhoods, and what is built from them once for all (`memo`)."""

    top: list[Ranked[str]]
    around: dict[tuple[str, int], list[Ranked[str]]]
    memo: dict[Hashable, Any] = field(default_factory=dict)


# a page item: ("top", first) or ("around", member, radius)
_Item = tuple[Any, ...]


async def _read_page(store: BoardStore, key: str, items: Sequence[_Item]) -> _Page:
    first = max((i[1] for i in items if i[0] == "top"), default=0)
    around = list(dict.fromkeys((i[1], i[2]) for i in items if i[0] == "around"))
    page = await store.page(key, first, around)
    return _Page(page.top, dict(zip(around, page.around, strict=True)))


class _Pushes:
    """The reads of one follower's pushes (`leaderboard_changed`)."""

    def __init__(
        self, live: LiveHub, store: BoardStore, board: StoredBoard, viewer: Viewer, channel: str
    ) -> None:
        self.live, self.store, self.board, self.viewer = live, store, board, viewer
        self.channel = channel
        self.me = str(viewer.user_id)
        self.asked = Asked()
        self._cards = UserRepository(viewer).cards

    def people(self, ids: list[UUID]) -> Awaitable[dict[UUID, Card]]:
        # names and pictures of the tenant's people, the same for every follower: kept
        # by the hub for a few seconds (`LiveHub.cards`), not read at every push
        return self.live.cards(self.viewer.tenant_id, ids, self._cards)

    async def prefetch(self, generation: int, tenant: Tenant, period: str) -> Prefetched:
        """The push of ``generation``: what the subscription asks for, read."""
        asked, me, board = self.asked, self.me, self.board
        hidden = service.scores_hidden(tenant=tenant, viewer=self.viewer, board=board)
        items: list[_Item] = [("top", max(asked.firsts))] if asked.firsts else []
        items += [("around", me, radius) for radius in sorted(asked.radii)]
        key = board_key(board.id, period)
        page = _Page([], {})
        if items:  # with the other followers' pushed now: one script for all
            read = partial(_read_page, self.store, key)
            page = await self.live.batched(self.channel, generation, ("page", key), items, read)
        prefetched = Prefetched(asked, period)
        for first in sorted(asked.firsts):
            # the same for every follower unless scores are hidden (then each sees their own)
            name = ("top", first, me if hidden else None)
            if (found := page.memo.get(name)) is None:
                found = page.memo[name] = await self._shown(page.top[:first], hidden)
            prefetched.put_top(first, *found)
        for radius in sorted(asked.radii):
            prefetched.put_around(radius, *await self._shown(page.around[(me, radius)], hidden))
        return prefetched

    async def _shown(
        self, ranked: list[Ranked[str]], hidden: bool
    ) -> tuple[list[LeaderboardEntry], Any]:
        """Ranks as the follower sees them, and `shows` of them."""
        found = service.shown_entries(
            viewer=self.viewer, board=self.board, found=ranked, hidden=hidden
        )
        entries = entries_of(found, await self.people([e.user_id for e in found]))
        return entries, shows(entries)
