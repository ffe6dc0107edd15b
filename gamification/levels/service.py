"""XP, levels and streaks. The XP ledger is append-only and keyed by its source, so a replayed
event never counts twice and a reversal is an entry of its own (``<source>:reversed``).
Services never commit: they run inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from tortoise import connections

from domain.kit.clock import utc_now
from domain.kit.errors import Forbidden
from domain.kit.periods import parse_period
from domain.kit.text import blank, name_problem
from domain.org.models import Role
from domain.org.viewer import Viewer
from gamification.definitions import TenantCache, definition_name, lock_name
from gamification.levels.errors import LevelMapError, XpError
from gamification.levels.models import LevelDefinition
from gamification.levels.rules import Level, LevelStanding, level_of

MAX_POINTS = 1_000_000
MAX_LEVELS = 100
REVERSED = ":reversed"


def _db() -> Any:
    return connections.get("default")


async def grant_xp(
    *, tenant_id: UUID, user_id: UUID, source: str, points: int, reason: str
) -> bool:
    """Append ``points`` for ``source``; False (nothing written) if that source has an entry
    already."""
    if not isinstance(source, str) or not source or len(source) > 200:
        raise XpError("source must be 1 to 200 characters", field="source")
    if isinstance(points, bool) or not isinstance(points, int) or abs(points) > MAX_POINTS:
        raise XpError(f"points must be a whole number up to {MAX_POINTS}", field="points")
    return await _append(tenant_id, user_id, source, points, reason[:200])


async def _append(tenant_id: UUID, user_id: UUID, source: str, points: int, reason: str) -> bool:
    rows = await _db().execute_query_dict(
        """
        INSERT INTO xp_entries (tenant_id, user_id, source, points, reason, created_at)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (tenant_id, user_id, source) DO NOTHING
        RETURNING id
        """,
        [tenant_id, user_id, source, points, reason, utc_now()],
    )
    return bool(rows)


async def reverse_xp(*, tenant_id: UUID, user_id: UUID, source: str, reason: str) -> bool:
    """Write the entry that cancels ``source`` (once; False if there is nothing to reverse
    or it is reversed already). A source granted again after its reversal is not counted
    again: the ledger's key is the source, and both rows stay."""
    rows = await _db().execute_query_dict(
        "SELECT points FROM xp_entries WHERE tenant_id = $1 AND user_id = $2 AND source = $3",
        [tenant_id, user_id, source],
    )
    if not rows or rows[0]["points"] == 0:
        return False
    return await _append(tenant_id, user_id, source + REVERSED, -rows[0]["points"], reason[:200])


@dataclass(frozen=True, slots=True)
class Earned:
    points: int
    last_at: datetime  # when the last entry counted was written


async def xp_earned(
    *, tenant_id: UUID, start: datetime, end: datetime, user_ids: Sequence[UUID] | None = None
) -> dict[UUID, Earned]:
    """The XP that stands, written from ``start`` (inclusive) to ``end`` (exclusive): the
    entries written inside the window, less those whose source has been reversed (the grant
    and its reversal both leave, whenever the reversal was written: a deal won in the window
    and deleted later earned nothing in it). Each person who has such entries (all of the
    tenant's, or ``user_ids``'), with when the last of them was written; one statement, exact
    integers. The XP leaderboards and the contests' ``xp`` metric both read it."""
    if user_ids is not None and not user_ids:
        return {}
    rows = await _db().execute_query_dict(
        f"""
        SELECT e.user_id, SUM(e.points)::bigint AS xp, MAX(e.created_at) AS last_at
        FROM xp_entries e
        WHERE e.tenant_id = $1 AND ($2::uuid[] IS NULL OR e.user_id = ANY($2::uuid[]))
          AND e.created_at >= $3 AND e.created_at < $4 AND right(e.source, {len(REVERSED)}) <> $5
          AND NOT EXISTS (
              SELECT 1 FROM xp_entries r
              WHERE r.tenant_id = e.tenant_id AND r.user_id = e.user_id
                AND r.source = e.source || $5)
        GROUP BY e.user_id
        """,  # noqa: S608 - a fixed query
        [tenant_id, None if user_ids is None else list(user_ids), start, end, REVERSED],
    )
    return {row["user_id"]: Earned(int(row["xp"]), row["last_at"]) for row in rows}


async def xp_of(*, tenant_id: UUID, user_id: UUID) -> int:
    rows = await _db().execute_query_dict(
        "SELECT COALESCE(SUM(points), 0)::bigint AS xp FROM xp_entries "
        "WHERE tenant_id = $1 AND user_id = $2",
        [tenant_id, user_id],
    )
    return int(rows[0]["xp"])


async def level_map(*, tenant_id: UUID) -> list[Level]:
    rows = await LevelDefinition.filter(tenant_id=tenant_id).order_by("number")
    return [Level(r.number, r.name, r.xp_required, r.reward) for r in rows]


async def _level_tuple(tenant_id: UUID) -> tuple[Level, ...]:
    return tuple(await level_map(tenant_id=tenant_id))


# the after-recompute step's level map (gamification.definitions: a few seconds old at most)
LEVEL_MAPS: TenantCache[tuple[Level, ...]] = TenantCache(_level_tuple)


MAX_XP_REQUIRED = 2**31 - 1  # the column's INT


async def set_level_map(*, viewer: Viewer, levels: Sequence[Level]) -> list[Level]:
    """Admins replace the tenant's levels: numbered 1, 2, ... with strictly rising
    thresholds; a refusal names the level and stores nothing."""
    if viewer.role is not Role.ADMIN:
        raise Forbidden("only admins set the level map", field="levels")
    tenant_id = viewer.tenant_id
    if not levels:
        # it would leave everyone at level 0 with no name; a map is 1 to MAX_LEVELS levels
        raise LevelMapError(f"a level map needs 1 to {MAX_LEVELS} levels, got none", field="levels")
    if len(levels) > MAX_LEVELS:
        raise LevelMapError(f"at most {MAX_LEVELS} levels", field="levels")
    # stored trimmed and composed (NFC), as every definition's name
    cleaned = [
        Level(lv.number, definition_name(lv.name), lv.xp_required, lv.reward.strip())
        for lv in levels
    ]
    seen: set[str] = set()
    for i, lv in enumerate(cleaned):
        where = f"levels[{i}]"
        if lv.number != i + 1:
            raise LevelMapError(f"level numbers must be 1, 2, ... (got {lv.number})", field=where)
        if blank(lv.name) or len(lv.name) > 100 or len(lv.reward) > 200:
            raise LevelMapError(
                "a level needs a name of 1 to 100 characters, a reward up to 200", field=where
            )
        if problem := name_problem(lv.name) or name_problem(lv.reward):
            raise LevelMapError(problem, field=where)
        if lv.name.casefold() in seen:
            raise LevelMapError(f"a level map names {lv.name!r} twice", field=where)
        seen.add(lv.name.casefold())
        if not 0 <= lv.xp_required <= MAX_XP_REQUIRED:
            raise LevelMapError(
                f"xpRequired is a whole number from 0 to {MAX_XP_REQUIRED}", field=where
            )
        if i and lv.xp_required <= cleaned[i - 1].xp_required:
            raise LevelMapError("xpRequired must rise from level to level", field=where)
    await lock_name(tenant_id, "level_map", "")  # a double submit replaces it in turn
    await LevelDefinition.filter(tenant_id=tenant_id).delete()
    await LevelDefinition.bulk_create(
        [
            LevelDefinition(
                id=uuid4(),
                tenant_id=tenant_id,
                number=lv.number,
                name=lv.name,
                xp_required=lv.xp_required,
                reward=lv.reward,
            )
            for lv in cleaned
        ]
    )
    LEVEL_MAPS.forget(tenant_id)
    return cleaned


async def level_standings(
    *, tenant_id: UUID, user_ids: Sequence[UUID], levels: Sequence[Level] | None = None
) -> dict[UUID, LevelStanding]:
    """Each person's level (their whole ledger against the tenant's map, read unless given),
    in one query or two."""
    if not user_ids:
        return {}
    if levels is None:
        levels = await level_map(tenant_id=tenant_id)
    rows = await _db().execute_query_dict(
        "SELECT user_id, SUM(points)::bigint AS xp FROM xp_entries "
        "WHERE tenant_id = $1 AND user_id = ANY($2::uuid[]) GROUP BY user_id",
        [tenant_id, list(user_ids)],
    )
    xp = {row["user_id"]: int(row["xp"]) for row in rows}
    return {u: level_of(xp.get(u, 0), levels) for u in user_ids}


DEAL_XP = 10  # XP for each deal won that credits a rep

# The deals crediting each (person, period) of a batch: $2, $3, $4 are the people and their
# periods' first and last days, in the same order. As the batch recompute reads them: a
# person's own deals through the (tenant, rep, date) index, split ones through the GIN index
# of split rows' credited ids (a row that is not split credits its owner alone).
_BATCH_DEALS = """
    SELECT p.user_id, left('deal:' || t.external_id, 200) AS source, t.deleted
    FROM unnest($2::uuid[], $3::date[], $4::date[]) AS p(user_id, first_day, last_day)
    JOIN transactions t ON t.tenant_id = $1 AND t.rep_id = p.user_id
     AND t.date BETWEEN p.first_day AND p.last_day AND t.splits IS NULL
    UNION ALL
    SELECT p.user_id, left('deal:' || t.external_id, 200), t.deleted
    FROM unnest($2::uuid[], $3::date[], $4::date[]) AS p(user_id, first_day, last_day)
    JOIN transactions t ON t.tenant_id = $1 AND t.splits IS NOT NULL
     AND t.credited_user_ids ? p.user_id::text AND t.date BETWEEN p.first_day AND p.last_day
"""


async def sync_deal_xp(*, tenant_id: UUID, pairs: Sequence[tuple[UUID, str]]) -> int:
    """XP for the deals crediting each (person, period) of a batch: granted once per deal
    (source ``deal:<CRM id>``), reversed once when the deal is deleted; one statement for
    the whole batch, whatever its number of deals, which finds the deals once for both
    inserts (a real-time batch recomputes the same people again and again: only what changed
    is written). The two inserts see the ledger as it was before the statement: they write
    different deals (those standing, those deleted), so neither needs the other's rows.
    Returns the entries written."""
    periods = [parse_period(period) for _, period in pairs]
    people = [user_id for user_id, _ in pairs]
    rows = await _db().execute_query_dict(
        f"""
        WITH d AS MATERIALIZED ({_BATCH_DEALS}),
        granted AS (
            INSERT INTO xp_entries (tenant_id, user_id, source, points, reason, created_at)
            SELECT DISTINCT $1::uuid, d.user_id, d.source, $5::int, 'deal won', $7::timestamptz
            FROM d
            WHERE NOT d.deleted
            ON CONFLICT (tenant_id, user_id, source) DO NOTHING
            RETURNING 1
        ),
        reversed AS (
            INSERT INTO xp_entries (tenant_id, user_id, source, points, reason, created_at)
            SELECT DISTINCT $1::uuid, e.user_id, e.source || $6::text, -e.points,
                   'deal reversed', $7::timestamptz
            FROM d
            JOIN xp_entries e ON e.tenant_id = $1 AND e.user_id = d.user_id AND e.source = d.source
            WHERE d.deleted AND e.points <> 0
            ON CONFLICT (tenant_id, user_id, source) DO NOTHING
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM granted) + (SELECT count(*) FROM reversed) AS written
        """,  # noqa: S608 - a fixed query
        [
            tenant_id,
            people,
            [p.start for p in periods],
            [p.end for p in periods],
            DEAL_XP,
            REVERSED,
            utc_now(),
        ],
    )
    return int(rows[0]["written"])


THRESHOLD_XP = 25  # XP for each threshold a person's period reaches (attainment, a tier)
_THRESHOLD = "threshold:"


def threshold_source(kind: str, period: str, key: str) -> str:
    """The ledger source of a threshold reached: ``threshold:<kind>:<period>:<key>``."""
    return f"{_THRESHOLD}{kind}:{period}:{key}"[:200]


async def sync_threshold_xp(
    *, tenant_id: UUID, reached: Mapping[tuple[UUID, str], Collection[str]]
) -> list[tuple[UUID, str]]:
    """XP for the thresholds each (person, period) of a batch reaches now (``reached``: their
    sources, `threshold_source`): each granted once; one of these periods' sources granted
    before and no longer reached (a reversed deal took the attainment back under it) is
    reversed, once. The ledger's rule holds: a source reversed is not granted again. Two
    statements for the batch. Returns the (person, source) entries written."""
    people = sorted({user_id for user_id, _ in reached})
    if not people:
        return []
    rows = await _db().execute_query_dict(
        "SELECT user_id, source, points FROM xp_entries "
        "WHERE tenant_id = $1 AND user_id = ANY($2::uuid[]) AND starts_with(source, $3)",
        [tenant_id, people, _THRESHOLD],
    )
    written = {(row["user_id"], row["source"]): int(row["points"]) for row in rows}
    new: list[tuple[UUID, str, int, str]] = []
    for (user_id, period), sources in reached.items():
        new += [
            (user_id, source, THRESHOLD_XP, "threshold reached")
            for source in sources
            if (user_id, source) not in written
        ]
        new += [
            (user_id, source + REVERSED, -points, "threshold no longer reached")
            for (owner, source), points in written.items()
            if owner == user_id
            and source.split(":")[2] == period
            and not source.endswith(REVERSED)
            and source not in sources
            and (owner, source + REVERSED) not in written
            and points != 0
        ]
    if not new:
        return []
    inserted = await _db().execute_query_dict(
        """
        INSERT INTO xp_entries (tenant_id, user_id, source, points, reason, created_at)
        SELECT $1, n.user_id, n.source, n.points, n.reason, $6
        FROM unnest($2::uuid[], $3::text[], $4::int[], $5::text[])
             AS n(user_id, source, points, reason)
        ON CONFLICT (tenant_id, user_id, source) DO NOTHING
        RETURNING user_id, source
        """,
        [
            tenant_id,
            [n[0] for n in new],
            [n[1] for n in new],
            [n[2] for n in new],
            [n[3] for n in new],
            utc_now(),
        ],
    )
    return [(row["user_id"], row["source"]) for row in inserted]
