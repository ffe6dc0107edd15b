"""Leaderboards: definitions, scores kept in Redis by the workers after each recompute, ranks
read back for the apps, and the rebuild of every board from PostgreSQL.

A board ranks the people in its scope (the tenant, a manager's subtree, or a named group: the
people whose ``attributes["group"]`` is the group's name) by a metric of
their stored results of the board's current period (`metrics`: on a quarter or a year board of
a monthly tenant, the results of its months, `held_periods`), or, on an ``xp`` board, by the
XP they earned in it (the levels ledger's entries written in the period, in the tenant's time
zone, that stand: `levels.service.xp_earned`). The workers' after-recompute step calls
`refresh_after_recompute` with the results the batch stored, after the step that writes the
batch's XP, so a new deal, a reversed one and a deleted one move a board (its XP too) as soon
as their recompute commits; XP written elsewhere (a contest's places and badge prizes) moves
the XP boards through `refresh_xp_boards`. Ranks are
standard competition ranks (`ranking`); scores are exact integers (`metrics`).

Privacy: a board shows names and scores; on an ``earnings`` board, reps see only their own
score unless the tenant's setting ``leaderboard_earnings_visible`` is true. Reps and
managers see the tenant's boards and those of a subtree or group they are in; a manager also
sees the boards of a subtree inside theirs and of a group whose members all are.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from domain.audit.service import record
from domain.kit.clock import utc_now
from domain.kit.documents import unstorable_text
from domain.kit.errors import Forbidden, InvalidInput, NotFound
from domain.kit.periods import PERIOD_KINDS, Period, parse_period, period_containing
from domain.kit.text import blank, name_problem
from domain.notifications.models import NotificationKind
from domain.notifications.repository import NewNotification, NotifierRepository
from domain.notifications.texts import render
from domain.org.models import Role, User
from domain.org.repository import UserRepository
from domain.org.viewer import Viewer
from domain.targets.service import engine_periods
from domain.tenants.models import Tenant
from domain.tenants.repository import get_tenant
from gamification.definitions import TenantCache, definition_name, lock_name
from gamification.leaderboards.errors import DuplicateBoard
from gamification.leaderboards.metrics import Metric, ScoreTooLarge, parse_metric, stored_metric
from gamification.leaderboards.models import Leaderboard
from gamification.leaderboards.ranking import Ranked
from gamification.leaderboards.repository import LeaderboardRepository
from gamification.leaderboards.store import BoardStore, Position, board_key
from gamification.levels.service import xp_earned

MAX_NAME = 100
MAX_ENTRIES = 100
MAX_RADIUS = 10
EARNINGS_VISIBLE = "leaderboard_earnings_visible"
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Entry:
    rank: int
    user_id: UUID
    score: Decimal | None  # None: not shown to this viewer (another rep's earnings)


@dataclass(frozen=True, slots=True)
class Standing:
    board: Leaderboard
    period: str
    rank: int
    of: int
    score: Decimal | None


def _uuid(value: UUID | str, field: str) -> UUID:
    try:
        return value if isinstance(value, UUID) else UUID(str(value))
    except ValueError:
        raise InvalidInput(f"{str(value)[:40]!r} is not an id", field=field) from None


async def create_leaderboard(
    *,
    viewer: Viewer,
    name: str,
    metric: str,
    period_kind: str,
    team_id: UUID | str | None = None,
    group: str | None = None,
) -> Leaderboard:
    """Admins define a board; every refusal names its field and stores nothing. The board
    is filled from PostgreSQL by the caller (`rebuild_board`) once committed."""
    if viewer.role is not Role.ADMIN:
        raise Forbidden("only admins create leaderboards", field="input")
    clean = definition_name(name or "")
    if blank(clean) or len(clean) > MAX_NAME or unstorable_text(clean):
        raise InvalidInput(f"a name of 1 to {MAX_NAME} characters, no NUL", field="name")
    if problem := name_problem(clean):
        raise InvalidInput(problem, field="name")
    if period_kind not in PERIOD_KINDS:
        raise InvalidInput(
            f"{period_kind[:20]!r} is not a period kind ({', '.join(PERIOD_KINDS)})",
            field="periodKind",
        )
    repository = LeaderboardRepository(viewer.tenant_id)
    parsed = parse_metric(metric, measures=await repository.measures())
    if not parsed.from_ledger:
        stored = engine_kind(await get_tenant(viewer.tenant_id))
        if _shorter(period_kind, stored):
            # results are stored by the engine's period: a board sums whole ones, and a
            # month is no part of a quarter's result
            raise InvalidInput(
                f"the tenant's results are stored by {stored}: a board of {parsed.text} ranks "
                f"a {stored} or longer (an xp board ranks any period)",
                field="periodKind",
            )
    team: UUID | None = None
    if team_id is not None:
        team = _uuid(team_id, "teamId")
        people = await repository.people([team])
        if team not in people:
            raise InvalidInput(f"no person {team} in this tenant", field="teamId")
        if people[team].role not in (Role.MANAGER, Role.ADMIN):
            raise InvalidInput(
                f"{people[team].display_name} manages nobody: a team is a manager's subtree",
                field="teamId",
            )
    group_name: str | None = None
    if group is not None:
        if team is not None:
            raise InvalidInput("a board ranks a team or a group, not both", field="group")
        group_name = group.strip()
        if not group_name or len(group_name) > MAX_NAME or unstorable_text(group_name):
            raise InvalidInput(f"a group name of 1 to {MAX_NAME} characters, no NUL", field="group")
        if problem := name_problem(group_name):
            raise InvalidInput(problem, field="group")
        if not await repository.group_members(group_name):
            raise InvalidInput(f"nobody in this tenant is in a group {group_name!r}", field="group")
    await lock_name(viewer.tenant_id, "leaderboard", clean)
    if await repository.named(clean) is not None:
        raise DuplicateBoard(f"a board named {clean!r} exists already", field="name")
    board = await Leaderboard.create(
        tenant_id=viewer.tenant_id,
        name=clean,
        metric=parsed.text,
        period_kind=period_kind,
        team_id=team,
        group_name=group_name,
        created_by_label=viewer.actor_label,
        created_at=utc_now(),
    )
    await record(
        viewer=viewer,
        action="leaderboard.created",
        entity_type="leaderboard",
        entity_id=str(board.id),
        after={"name": clean, "metric": parsed.text, "period_kind": period_kind,
               "team_id": None if team is None else str(team), "group": group_name},
    )  # fmt: skip
    BOARDS.forget(viewer.tenant_id)
    return board


async def _boards(tenant_id: UUID) -> tuple[Leaderboard, ...]:
    return tuple(await LeaderboardRepository(tenant_id).boards())


# the after-recompute step's boards (gamification.definitions: a few seconds old at most); a
# board's members and scores are read fresh by every batch
BOARDS: TenantCache[tuple[Leaderboard, ...]] = TenantCache(_boards)


async def current_period(tenant_id: UUID, kind: str) -> Period:
    return period_of(await get_tenant(tenant_id), kind)


def engine_kind(tenant: Tenant) -> str:
    """The period kind the tenant's results are stored by (the engine's)."""
    return str((tenant.settings or {}).get("period_kind", "month"))


def _shorter(kind: str, than: str) -> bool:
    order: tuple[str, ...] = PERIOD_KINDS
    return order.index(kind) < order.index(than)


def held_periods(period: Period, kind: str) -> list[str]:
    """The engine periods of ``kind`` that make up a board's ``period``, whose results its
    scores sum: the period itself on a board of the engine's kind, its three months on a
    quarter board of a monthly tenant; none when ``period`` is shorter (refused at creation;
    a tenant whose engine period changed since)."""
    if _shorter(period.kind, kind):
        return []
    return [p.id for p in engine_periods(period, kind)]


async def _scope(board: Leaderboard) -> set[UUID] | None:
    """The people a board ranks: None for the whole tenant."""
    if board.group_name is not None:
        return await LeaderboardRepository(board.tenant_id).group_members(board.group_name)
    if board.team_id is None:
        return None
    users = UserRepository(Viewer.system(board.tenant_id))
    return set(await users.subtree_ids(board.team_id))


def _exact(board: Leaderboard, metric: Metric, user_id: UUID, score: Decimal | None) -> int | None:
    """The score a board stores for this person; None (not on the board) when there is none,
    or when it is too large to rank exactly: that person alone is left off, with a warning
    naming the board, rather than the whole board's fill or batch failing."""
    if score is None:
        return None
    try:
        return metric.exact(score)
    except ScoreTooLarge as exc:
        log.warning("board %r (%s) leaves %s off: %s", board.name, board.id, user_id, exc.message)
        return None


def _scores(
    board: Leaderboard,
    metric: Metric,
    results: Mapping[UUID, Sequence[Mapping[str, Any]]],
    currency: str,
) -> dict[str, int | None]:
    return {
        str(user_id): _exact(board, metric, user_id, metric.score(rows, currency=currency))
        for user_id, rows in results.items()
    }


async def _xp_of(tenant_id: UUID, period: Period, people: Sequence[UUID] | None) -> dict[UUID, int]:
    """The XP earned in ``period`` (its days in the tenant's time zone) that stands, of the
    people who earned some (all of the tenant's, or ``people``'): exact integers."""
    zone = ZoneInfo((await get_tenant(tenant_id)).time_zone)
    earned = await xp_earned(
        tenant_id=tenant_id,
        start=datetime.combine(period.start, time(), zone),
        end=datetime.combine(period.end + timedelta(days=1), time(), zone),
        user_ids=people,
    )
    return {user_id: e.points for user_id, e in earned.items()}


Outside = list[tuple[Leaderboard, str, str]]


async def _xp_updates(
    boards: Sequence[Leaderboard],
    scopes: Mapping[UUID, set[UUID] | None],
    people: Sequence[UUID],
) -> tuple[dict[str, dict[str, int | None]], dict[UUID, set[str]], Outside]:
    """The scores of ``people`` on the tenant's XP boards, current periods (one ledger read
    per period kind): a person without XP that stands in the period leaves the board. Also
    each board changed -> the people written on it, and (board, set, person) of those
    outside a team's or group's XP board (`_leave`)."""
    updates: dict[str, dict[str, int | None]] = {}
    changed: dict[UUID, set[str]] = {}
    outside: Outside = []
    periods: dict[str, Period] = {}
    earned: dict[str, dict[UUID, int]] = {}
    for board in boards:
        if not stored_metric(board.metric).from_ledger:
            continue
        if board.period_kind not in periods:
            periods[board.period_kind] = await current_period(board.tenant_id, board.period_kind)
        period = periods[board.period_kind]
        key = board_key(board.id, period.id)
        scope = scopes[board.id]
        mine = [u for u in people if scope is None or u in scope]
        outside += [(board, key, str(u)) for u in people if scope is not None and u not in scope]
        if not mine:
            continue
        if board.period_kind not in earned:
            earned[board.period_kind] = await _xp_of(board.tenant_id, period, people)
        points = earned[board.period_kind]
        updates[key] = {str(u): points.get(u) for u in mine}
        changed[board.id] = {str(u) for u in mine}
    return updates, changed, outside


async def _leave(
    store: BoardStore,
    outside: Outside,
    updates: dict[str, dict[str, int | None]],
    changed: dict[UUID, set[str]],
) -> None:
    """Take off their boards the people outside a team's or group's board who are on it
    still: they have just left the team (or group), and are there at their old score. One
    Redis read for them all; the boards they leave are announced with the write."""
    still = await store.present([(key, member) for _, key, member in outside])
    for (board, key, member), there in zip(outside, still, strict=True):
        if there:
            updates.setdefault(key, {})[member] = None
            changed.setdefault(board.id, set()).add(member)


async def refresh_xp_boards(
    *, store: BoardStore, tenant_id: UUID, user_ids: Sequence[UUID]
) -> list[UUID]:
    """Set these people's scores on the tenant's XP boards after XP was written outside the
    after-recompute step (a contest's award); returns the boards that changed."""
    boards = await LeaderboardRepository(tenant_id).boards()
    xp_boards = [b for b in boards if stored_metric(b.metric).from_ledger]
    people = list(dict.fromkeys(user_ids))
    if not xp_boards or not people:
        return []
    scopes = {board.id: await _scope(board) for board in xp_boards}
    updates, changed, outside = await _xp_updates(xp_boards, scopes, people)
    await _leave(store, outside, updates, changed)
    if updates:
        await store.update(updates, announce=changed)
        await _notify_top(tenant_id, store, xp_boards, updates)
    return list(changed)


async def rebuild_board(
    *, store: BoardStore, board: Leaderboard, period: Period | None = None
) -> int:
    """Replace the board's current period (or ``period``) in Redis by what PostgreSQL holds;
    returns how many people it ranks."""
    period = period or await current_period(board.tenant_id, board.period_kind)
    scope = await _scope(board)
    people = None if scope is None else sorted(scope)
    metric = stored_metric(board.metric)
    if metric.from_ledger:
        found = await _xp_of(board.tenant_id, period, people)
        scores = {str(user_id): points for user_id, points in found.items()}
    else:
        tenant = await get_tenant(board.tenant_id)
        found = await LeaderboardRepository(board.tenant_id).results(
            held_periods(period, engine_kind(tenant)), people
        )
        results: dict[UUID, list[dict[str, Any]]] = {}
        for (user_id, _), rows in found.items():
            results.setdefault(user_id, []).extend(rows)
        scores = {
            k: v
            for k, v in _scores(board, metric, results, tenant.currency).items()
            if v is not None
        }
    await store.replace(board_key(board.id, period.id), scores)
    await store.update({}, announce={board.id: None})  # anyone's entry may have moved
    return len(scores)


async def rebuild_all(*, store: BoardStore, tenant_id: UUID) -> dict[str, int]:
    """Every board of the tenant rebuilt (`podium rebuild-cache`): name -> people ranked."""
    return {
        board.name: await rebuild_board(store=store, board=board)
        for board in await LeaderboardRepository(tenant_id).boards()
    }


def _as_rows(results: Sequence[Any]) -> list[dict[str, Any]]:
    """Stored results (models or rows) as the rows `Metric.score` reads."""
    return [
        r if isinstance(r, Mapping)
        else {"status": str(getattr(r.status, "value", r.status)), "total": r.total,
              "currency": r.currency, "measures": r.measures}
        for r in results
    ]  # fmt: skip


async def refresh_after_recompute(
    *,
    store: BoardStore,
    tenant_id: UUID,
    pairs: Sequence[tuple[UUID, str]],
    results: Mapping[tuple[UUID, str], Sequence[Any]] | None = None,
) -> list[UUID]:
    """Set the scores of the recomputed (person, period)s on every board of the tenant that
    ranks them in that period or in a longer one holding it (a quarter board sums its
    months: the other months' results are read here), and their XP of the current period on
    every XP board (the batch's XP is written by then: the gamification hook runs first), in
    one Redis round trip, which announces each board changed with the people written on it
    (`BoardStore.update`); returns the boards that changed. ``results`` are the batch's
    stored results (read here when not given). The boards are definitions a few seconds old
    at most (`BOARDS`)."""
    repository = LeaderboardRepository(tenant_id)
    boards = await BOARDS.get(tenant_id)
    if not boards or not pairs:
        return []
    scopes = {board.id: await _scope(board) for board in boards}
    # each entry to write: (board, person, the board's period holding the recomputed one,
    # the engine periods whose results make its score)
    entries: list[tuple[Leaderboard, UUID, str, list[str]]] = []
    # (board, set, person) of people outside a team's or group's board (`_leave`)
    outside: Outside = []
    for board in boards:
        scope = scopes[board.id]
        if stored_metric(board.metric).from_ledger:
            continue
        for user_id, period in pairs:
            recomputed = parse_period(period)
            if _shorter(board.period_kind, recomputed.kind):
                continue
            held = period_containing(recomputed.start, board.period_kind)  # type: ignore[arg-type]
            if scope is not None and user_id not in scope:
                outside.append((board, board_key(board.id, held.id), str(user_id)))
                continue
            entries.append((board, user_id, held.id, held_periods(held, recomputed.kind)))
    known: dict[tuple[UUID, str], Sequence[Any]] = dict(results or {})
    missing = {(u, p) for _, u, _, periods in entries for p in periods} - known.keys()
    if missing:
        found = await repository.results(
            sorted({p for _, p in missing}), list({u for u, _ in missing})
        )
        known.update({pair: found.get(pair, []) for pair in missing})
    updates, changed, xp_outside = await _xp_updates(
        boards, scopes, list(dict.fromkeys(user_id for user_id, _ in pairs))
    )
    currency = (await get_tenant(tenant_id)).currency
    for board, user_id, held_id, periods in entries:
        metric = stored_metric(board.metric)
        rows = [row for p in periods for row in _as_rows(known[(user_id, p)])]
        score = _exact(board, metric, user_id, metric.score(rows, currency=currency))
        updates.setdefault(board_key(board.id, held_id), {})[str(user_id)] = score
        changed.setdefault(board.id, set()).add(str(user_id))
    await _leave(store, outside + xp_outside, updates, changed)
    if updates:
        await store.update(updates, announce=changed)
        await _notify_top(tenant_id, store, boards, updates)
    return list(changed)


TOP = 3


async def _notify_top(
    tenant_id: UUID,
    store: BoardStore,
    boards: Sequence[Leaderboard],
    updates: Mapping[str, Mapping[str, int | None]],
) -> None:
    """Tell the people whose new score puts them in a board's top 3, once per board and
    period (a `NotificationSent` record per board: a replayed batch finds it)."""
    by_key = {}
    for board in boards:
        for key in updates:
            if key.startswith(board_key(board.id, "")):
                by_key[key] = board
    wanted = [
        (key, member, score)
        for key, members in updates.items()
        for member, score in members.items()
        if score is not None
    ]
    ranks = await store.ranks(wanted)
    entered = [
        (UUID(member), by_key[key], key.rsplit(":", 1)[1], rank)
        for (key, member, _), rank in zip(wanted, ranks, strict=True)
        if rank <= TOP
    ]
    if entered:
        await notify_top(tenant_id=tenant_id, entered=entered)


async def notify_top(
    *, tenant_id: UUID, entered: Sequence[tuple[UUID, Leaderboard, str, int]]
) -> int:
    """A LEADERBOARD notification for each (person, board, period, rank) not told yet;
    returns how many were created. Pushed with the batch's other notifications."""
    repository = NotifierRepository(tenant_id)
    locales = await LeaderboardRepository(tenant_id).locales([u for u, _, _, _ in entered])
    tenant = await get_tenant(tenant_id)
    news = []
    for user_id, board, period, rank in entered:
        key = f"{board.id}:top{TOP}"
        if await repository.was_sent(user_id, period, NotificationKind.LEADERBOARD, key):
            continue
        if user_id not in locales:
            continue
        locale = locales[user_id] or tenant.locale
        params = {"period": period, "board": board.name, "rank": str(rank)}
        title, body = render(NotificationKind.LEADERBOARD, params, locale)
        news.append(
            NewNotification(
                user_id=user_id, period=period, kind=NotificationKind.LEADERBOARD,
                title=title, body=body, params=params, locale=locale, sent=((key, rank),),
            )
        )  # fmt: skip
    if not news:
        return 0
    try:
        async with in_transaction():
            await repository.add_notifications(news)
    except IntegrityError:
        return 0  # another worker told them first (the sent record is unique)
    return len(news)


async def visible_board(*, viewer: Viewer, board_id: UUID | str) -> Leaderboard:
    """A board the viewer may see, or NotFound (the same for one that exists elsewhere)."""
    board = await LeaderboardRepository(viewer.tenant_id).board(_uuid(board_id, "id"))
    if board is None or not await _may_see(viewer, board):
        raise NotFound(f"no leaderboard {board_id}", field="id")
    return board


async def _may_see(viewer: Viewer, board: Leaderboard) -> bool:
    if viewer.sees_whole_tenant or (board.team_id is None and board.group_name is None):
        return True
    if viewer.user_id is None:
        return False
    scope = await _scope(board)
    if scope is not None and viewer.user_id in scope:
        return True  # in the team (its manager included)
    if viewer.role is Role.MANAGER:  # a board of a team (or group) inside the manager's subtree
        mine = set(await UserRepository(viewer).subtree_ids(viewer.user_id))
        if board.group_name is not None:
            return scope is not None and bool(scope) and scope <= mine
        return board.team_id in mine
    return False


def _may_hide(viewer: Viewer, metric: Metric) -> bool:
    """Whether the metric is another rep's earnings to this viewer (hidden unless the
    tenant shows them): the tenant is read only when this holds."""
    return metric.is_money and viewer.role is Role.REP


def _earnings_hidden(tenant: Tenant) -> bool:
    return not bool((tenant.settings or {}).get(EARNINGS_VISIBLE, False))


async def _hides_scores(viewer: Viewer, metric: Metric) -> bool:
    return _may_hide(viewer, metric) and _earnings_hidden(await get_tenant(viewer.tenant_id))


@dataclass(frozen=True, slots=True)
class BoardView:
    board: Leaderboard
    period: str
    entries: list[Entry]
    around_me: list[Entry]


async def board_view(
    *, viewer: Viewer, store: BoardStore, board_id: UUID | str, first: int, radius: int
) -> BoardView:
    """A board the viewer may see, its current period's top ``first`` and the viewer's
    neighbourhood."""
    board = await visible_board(viewer=viewer, board_id=board_id)
    period = (await current_period(board.tenant_id, board.period_kind)).id
    top = await board_entries(viewer=viewer, store=store, board=board, period=period, first=first)
    near = await board_around(viewer=viewer, store=store, board=board, period=period, radius=radius)
    return BoardView(board, period, top, near)


ReadTop = Callable[[int], Awaitable[list[Ranked[str]]]]
# (person, radius) -> their neighbourhood: a read batched with the page's others
ReadAround = Callable[[str, int], Awaitable[list[Ranked[str]]]]


async def board_entries(
    *,
    viewer: Viewer,
    store: BoardStore,
    board: Leaderboard,
    period: str,
    first: int,
    read_top: ReadTop | None = None,
) -> list[Entry]:
    """The top ``first`` of a board the caller found visible (`visible_board`); ``read_top``
    reads it instead of the store (a read shared by the board's followers), as the viewer
    may see it all the same."""
    if not 0 <= first <= MAX_ENTRIES:
        raise InvalidInput(f"first must be 0 to {MAX_ENTRIES}", field="first")
    hidden = await _hides_scores(viewer, stored_metric(board.metric))
    found = (
        await read_top(first)
        if read_top is not None
        else await store.top(board_key(board.id, period), first)
    )
    return shown_entries(viewer=viewer, board=board, found=found, hidden=hidden)


async def board_around(
    *,
    viewer: Viewer,
    store: BoardStore,
    board: Leaderboard,
    period: str,
    radius: int,
    read_around: ReadAround | None = None,
) -> list[Entry]:
    """The viewer and up to ``radius`` people either side, on a board the caller found
    visible; ``read_around`` reads it instead of the store (batched with the top)."""
    if not 0 <= radius <= MAX_RADIUS:
        raise InvalidInput(f"radius must be 0 to {MAX_RADIUS}", field="radius")
    if viewer.user_id is None:
        return []
    hidden = await _hides_scores(viewer, stored_metric(board.metric))
    found = (
        await read_around(str(viewer.user_id), radius)
        if read_around is not None
        else await store.around(board_key(board.id, period), str(viewer.user_id), radius)
    )
    return shown_entries(viewer=viewer, board=board, found=found, hidden=hidden)


def scores_hidden(*, tenant: Tenant, viewer: Viewer, board: Leaderboard) -> bool:
    """Whether the board hides other people's scores from the viewer (another rep's
    earnings, unless ``tenant``, the viewer's, shows them): the same for every viewer of
    one role. A live board's followers ask it with a tenant read a few seconds ago."""
    return _may_hide(viewer, stored_metric(board.metric)) and _earnings_hidden(tenant)


def period_of(tenant: Tenant, kind: str) -> Period:
    """The current period of ``kind`` in ``tenant``'s time zone (`current_period`, with the
    tenant at hand)."""
    today = datetime.now(ZoneInfo(tenant.time_zone)).date()
    return period_containing(today, kind)  # type: ignore[arg-type]


def shown_entries(
    *, viewer: Viewer, board: Leaderboard, found: Sequence[Ranked[str]], hidden: bool
) -> list[Entry]:
    """Stored ranks as the viewer reads them, ``hidden`` as `scores_hidden` says: a board's
    live followers ask it once per push for all of them, not once per entry."""
    metric = stored_metric(board.metric)
    out = []
    for r in found:
        user_id = UUID(r.key)
        shown = None if hidden and user_id != viewer.user_id else metric.shown(r.score)
        out.append(Entry(r.rank, user_id, shown))
    return out


async def standings(*, viewer: Viewer, store: BoardStore) -> list[Standing]:
    """The viewer's rank on every board they are on this period, boards by name."""
    if viewer.user_id is None:
        return []
    out = []
    for board in await LeaderboardRepository(viewer.tenant_id).boards():
        if not await _may_see(viewer, board):
            continue
        period = await current_period(board.tenant_id, board.period_kind)
        found: Position | None = await store.position(
            board_key(board.id, period.id), str(viewer.user_id)
        )
        if found is None:
            continue
        metric = stored_metric(board.metric)
        out.append(Standing(board, period.id, found.rank, found.of, metric.shown(found.score)))
    return out


@dataclass(frozen=True, slots=True)
class Leaders:
    """A board as `podium leaderboards list` shows it: its current period, whom it ranks
    (the manager of a team board), how many it ranks, and its top entries with their people."""

    board: Leaderboard
    period: str
    team: User | None
    ranked: int
    top: list[tuple[Entry, User | None]]


async def leaders(*, tenant_id: UUID, store: BoardStore, first: int) -> list[Leaders]:
    """Every board of the tenant, by name, with its top ``first`` of the current period, as
    the system sees them (every score shown)."""
    viewer = Viewer.system(tenant_id, "leaderboards")
    tenant = await get_tenant(tenant_id)
    repository = LeaderboardRepository(tenant_id)
    out = []
    for board in await repository.boards():
        period = period_of(tenant, board.period_kind).id
        key = board_key(board.id, period)
        top = await board_entries(viewer=viewer, store=store, board=board, period=period,
                                  first=first)  # fmt: skip
        wanted = [entry.user_id for entry in top]
        if board.team_id is not None:
            wanted.append(board.team_id)
        people = await repository.people(wanted)
        team = people.get(board.team_id) if board.team_id is not None else None
        ranked = [(entry, people.get(entry.user_id)) for entry in top]
        out.append(Leaders(board, period, team, await store.size(key), ranked))
    return out
