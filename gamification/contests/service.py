"""Contest use cases: launch (validated, nothing stored on bad input), scores from PostgreSQL,
the lifecycle tick driven by arq cron, and the award. Services never commit."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from tortoise import connections
from tortoise.transactions import in_transaction

from domain.audit import service as audit
from domain.kit.clock import utc_now
from domain.kit.errors import InvalidInput
from domain.kit.money import is_currency, round_money, unpadded
from domain.kit.periods import check_day, period_containing
from domain.kit.text import blank, name_problem
from domain.notifications.models import NotificationKind
from domain.notifications.service import Event
from domain.org.models import Role, User
from domain.org.repository import ManagerSpell, UserRepository, manager_history
from domain.org.viewer import Viewer
from domain.rewards.models import Reward
from domain.rewards.service import grant_reward
from domain.tenants.models import Tenant
from domain.tenants.repository import get_tenant
from gamification.badges.models import BadgeDefinition
from gamification.contests import rules
from gamification.contests.errors import ContestError
from gamification.contests.metrics import KNOWN, MEASURE, line_components, scorer_of
from gamification.contests.models import Contest, ContestStatus
from gamification.definitions import definition_name
from gamification.leaderboards.repository import LeaderboardRepository

DEFAULT_GRACE = timedelta(minutes=30)
AwardBadge = Callable[..., Awaitable[object | None]]
GrantXp = Callable[..., Awaitable[bool]]
AwardPlaces = Callable[..., Awaitable[object]]
log = logging.getLogger(__name__)
XP_FOR_RANK = (100, 60, 30)  # XP for places 1, 2, 3; other prize ranks get the last


def payable_currencies(tenant: Tenant) -> set[str]:
    extra = (tenant.settings or {}).get("payout_currencies") or []
    return {tenant.currency, *extra}


def grace(tenant: Tenant) -> timedelta:
    minutes = ((tenant.settings or {}).get("contests") or {}).get("grace_minutes")
    return DEFAULT_GRACE if minutes is None else timedelta(minutes=int(minutes))


def claws_back(tenant: Tenant) -> bool:
    """After an award a reversal keeps the award; this setting says whether the money is
    clawed back with a negative reward (the default) or not."""
    return bool(((tenant.settings or {}).get("contests") or {}).get("claw_back", True))


# what NUMERIC(20, 6) holds (a prize's reward, a race's target); a rank beyond any team
MAX_FIGURE = Decimal(10) ** 14
MAX_RANK = 1000
MAX_NAME = 100
# a prize's description goes into its reward's reason ("<name>: rank <n> (<description>)", at
# most 500 characters) and onto statements, one line
MAX_DESCRIPTION = 200
# a contest may start in the past and count the deals already dated inside its window (the
# demo's runs from the first of the month), but not from the year 1
MAX_BACKDATE = timedelta(days=366)


def _moment(value: Any, field: str) -> datetime:
    """A window's bound as an aware UTC datetime; a time without a UTC offset (or a bare
    date) is refused naming ``field``, not compared with aware times (a TypeError)."""
    if not isinstance(value, datetime):
        raise ContestError("not a date and time", field=field)
    if value.tzinfo is None or value.utcoffset() is None:
        raise ContestError(
            f"{value.isoformat()} has no UTC offset: give one, e.g. 2030-01-04T08:00:00Z",
            field=field,
        )
    try:
        moment = value.astimezone(UTC)
    except OverflowError:
        raise ContestError(f"{value.isoformat()} is out of range", field=field) from None
    try:
        check_day(moment.date(), field=field)  # its month's prizes are paid in a period
    except InvalidInput as exc:
        raise ContestError(exc.message, field=field) from None
    return moment


def _figure(value: Decimal, field: str, what: str) -> None:
    if not value.is_finite() or not 0 < value < MAX_FIGURE:
        raise ContestError(f"{what} is above zero and below {MAX_FIGURE:,}", field=field)


def _prizes(raw: list[dict[str, Any]], tenant: Tenant) -> list[rules.Prize]:
    prizes: list[rules.Prize] = []
    for i, item in enumerate(raw):
        field = f"prizes[{i}]"
        rank = item.get("rank")
        if not isinstance(rank, int) or not 1 <= rank <= MAX_RANK:
            raise ContestError(
                f"a prize rank is a whole number from 1 to {MAX_RANK}", field=f"{field}.rank"
            )
        description = str(item.get("description") or "").strip()
        if len(description) > MAX_DESCRIPTION:
            raise ContestError(
                f"a prize description of at most {MAX_DESCRIPTION} characters",
                field=f"{field}.description",
            )
        if problem := name_problem(description):
            raise ContestError(problem, field=f"{field}.description")
        amount, currency, badge = item.get("amount"), item.get("currency"), item.get("badge_id")
        if amount is None and badge is None:
            raise ContestError("a prize is an amount or a badge", field=f"{field}.amount")
        if amount is not None:
            try:
                amount = Decimal(str(amount))
            except InvalidOperation:
                raise ContestError("not a number", field=f"{field}.amount") from None
            _figure(amount, f"{field}.amount", "a prize amount")
            currency = currency or tenant.currency
            if not is_currency(currency) or currency not in payable_currencies(tenant):
                raise ContestError(
                    f"the tenant cannot pay prizes in {currency!r}", field=f"{field}.currency"
                )
            if round_money(amount, currency) != amount:
                raise ContestError(f"finer than {currency} allows", field=f"{field}.amount")
        if badge is not None:
            try:
                badge = str(UUID(str(badge)))
            except ValueError:
                raise ContestError("not a badge id", field=f"{field}.badgeId") from None
        prizes.append(rules.Prize(rank, description, amount, currency, badge))
    clash = rules.overlapping_prizes(prizes)
    if clash is not None:
        raise ContestError(f"two prizes for rank {clash}", field="prizes")
    return prizes


async def _check_badges(tenant_id: UUID, prizes: list[rules.Prize]) -> None:
    """A badge prize names a badge of the tenant: checked at launch, since the award (in
    the cron's transaction) could not give a badge that is not there."""
    wanted = {p.badge_id for p in prizes if p.badge_id is not None}
    if not wanted:
        return
    found = {
        str(b)
        for b in await BadgeDefinition.filter(
            tenant_id=tenant_id, id__in=[UUID(b) for b in wanted]
        ).values_list("id", flat=True)
    }
    for i, prize in enumerate(prizes):
        if prize.badge_id is not None and prize.badge_id not in found:
            raise ContestError(f"no badge {prize.badge_id}", field=f"prizes[{i}].badgeId")


async def _check_measure(tenant_id: UUID, measure: str) -> None:
    """A ``measure:<id>`` metric needs a measure of the tenant's plans, and per-deal lines
    of it (a rate component) to date its total by the window."""
    measures = await LeaderboardRepository(tenant_id).measures()
    if measure not in measures:
        known = ", ".join(sorted(measures)) or "none"
        raise ContestError(
            f"no plan of the tenant has a measure {measure!r} (measures: {known})", field="metric"
        )
    if not await line_components(tenant_id, measure):
        raise ContestError(
            f"measure {measure!r} has no per-deal lines (no rate component on it in any plan): "
            "its total cannot be counted by the deals dated inside the window",
            field="metric",
        )


async def launch_contest(
    *,
    viewer: Viewer,
    name: str,
    metric: str,
    starts_at: datetime,
    ends_at: datetime,
    prizes: list[dict[str, Any]],
    format: str = "ranked",
    tie_rule: str = "share",
    target: Decimal | None = None,
    team_id: UUID | None = None,
    rep_ids: list[UUID] | None = None,
    hidden: bool = False,
    now: datetime | None = None,
) -> Contest:
    now = now or utc_now()
    if viewer.role not in (Role.ADMIN, Role.MANAGER):
        raise ContestError("only managers and admins launch contests", field="input")
    name = definition_name(name)
    if blank(name) or len(name) > MAX_NAME:
        raise ContestError(f"a name of 1 to {MAX_NAME} characters", field="name")
    if problem := name_problem(name):
        raise ContestError(problem, field="name")
    if scorer_of(metric) is None:
        known = ", ".join(KNOWN)
        raise ContestError(f"unknown metric {metric[:60]!r} (known: {known})", field="metric")
    if metric.startswith(MEASURE):
        await _check_measure(viewer.tenant_id, metric[len(MEASURE) :])
    if format not in set(rules.Format):
        raise ContestError(f"unknown format {format!r}", field="format")
    if tie_rule not in set(rules.TieRule):
        raise ContestError(f"unknown tie rule {tie_rule!r}", field="tieRule")
    fmt, tie = rules.Format(format), rules.TieRule(tie_rule)
    starts_at, ends_at = _moment(starts_at, "startsAt"), _moment(ends_at, "endsAt")
    if starts_at < now - MAX_BACKDATE:
        raise ContestError(
            f"starts more than {MAX_BACKDATE.days} days ago: give a start within the last year",
            field="startsAt",
        )
    if ends_at <= starts_at:
        raise ContestError("the window ends before it starts", field="endsAt")
    if ends_at <= now:
        raise ContestError("the contest would be over already", field="endsAt")
    if fmt is rules.Format.RACE:
        if target is None:
            raise ContestError("a race needs a target above zero", field="target")
        _figure(target, "target", "a race's target")
    tenant = await Tenant.get(id=viewer.tenant_id)
    prize_list = _prizes(prizes, tenant)
    await _check_badges(viewer.tenant_id, prize_list)
    users = UserRepository(viewer)
    allowed = None if viewer.role is Role.ADMIN else set(await users.subtree_ids(viewer.user_id))  # type: ignore[arg-type]
    if team_id is not None:
        if allowed is not None and team_id not in allowed:
            raise ContestError("that team is outside your subtree", field="teamId")
        if not await User.exists(id=team_id, tenant_id=viewer.tenant_id):
            raise ContestError("no such team", field="teamId")
    if rep_ids:
        found = {
            u.id for u in await User.filter(tenant_id=viewer.tenant_id, id__in=list(set(rep_ids)))
        }
        for i, rep in enumerate(rep_ids):
            if rep not in found or (allowed is not None and rep not in allowed):
                raise ContestError(f"{rep} is outside your subtree", field=f"repIds[{i}]")
        participants = list(dict.fromkeys(rep_ids))
    else:
        # an admin's default is the whole tenant (an admin manages nobody), a manager's their
        # own subtree
        root = team_id or (None if viewer.role is Role.ADMIN else viewer.user_id)
        if root is None:
            participants = [
                u.id for u in await User.filter(tenant_id=viewer.tenant_id, role=Role.REP)
            ]
        else:
            participants = [u for u in await users.subtree_ids(root) if u != root]
    if not participants:
        raise ContestError("the contest has no participants", field="repIds")
    contest = await Contest.create(
        tenant_id=viewer.tenant_id,
        name=name,
        metric=metric,
        format=fmt.value,
        tie_rule=tie.value,
        target=target,
        starts_at=starts_at,
        ends_at=ends_at,
        status=ContestStatus.SCHEDULED,
        hidden=hidden,
        manager_id=viewer.user_id,
        participant_ids=[str(p) for p in participants],
        prizes=[
            {
                "rank": p.rank,
                "description": p.description,
                "amount": None if p.amount is None else str(p.amount),
                "currency": p.currency,
                "badge_id": p.badge_id,
            }
            for p in prize_list
        ],
        created_by_label=viewer.actor_label,
    )
    await audit.record(
        viewer=viewer,
        action="contest.launched",
        entity_type="contest",
        entity_id=str(contest.id),
        after={"name": contest.name, "metric": metric, "participants": len(participants)},
    )
    return contest


def prize_list(contest: Contest) -> list[rules.Prize]:
    return [
        rules.Prize(
            p["rank"],
            p["description"],
            None if p["amount"] is None else Decimal(p["amount"]),
            p["currency"],
            p["badge_id"],
        )
        for p in contest.prizes
    ]


Scored = dict[UUID, tuple[Decimal, datetime | None]]


async def _scores(contest: Contest, users: list[UUID], start: datetime, end: datetime) -> Scored:
    scorer = scorer_of(contest.metric)
    if scorer is None:  # validated at launch: a row written by hand
        raise ContestError(f"unknown metric {contest.metric!r}", field="metric")
    return await scorer(tenant_id=contest.tenant_id, user_ids=users, start=start, end=end)


async def standings(contest: Contest) -> list[rules.Placed]:
    """Live standings, computed from PostgreSQL transactions dated inside the window; a team
    contest sums each member's score into the team they were on when they scored it
    (`Teams`)."""
    users = [UUID(u) for u in contest.participant_ids]
    tie_rule = rules.TieRule(contest.tie_rule)
    if contest.format == rules.Format.TEAMS:
        teams = await team_history(contest)
        contributions = []
        for start, end, team_of in teams.stretches:
            scores = await _scores(contest, users, start, end)
            contributions += [
                (team_of[str(u)], rules.Entry(str(u), unpadded(s), at))
                for u, (s, at) in scores.items()
                if str(u) in team_of
            ]
        totals, _ = rules.team_entries(contributions)
        return rules.rank(totals, tie_rule=tie_rule)
    scores = await _scores(contest, users, contest.starts_at, contest.ends_at)
    # as written, not at the column's scale (29299.36, not 29299.360000)
    entries = [rules.Entry(str(u), unpadded(s), at) for u, (s, at) in scores.items()]
    if contest.format == rules.Format.RACE:
        return rules.race(entries, target=contest.target or Decimal(0))
    return rules.rank(entries, tie_rule=tie_rule)


@dataclass(frozen=True, slots=True)
class Teams:
    """Who was on which team during a team contest's window. A team is a participant's
    manager (someone with none is a team of their own), as it was on the day they scored:
    the window cut at the first instant (midnight in the tenant's time zone) of each day on
    which a participant changed managers, each stretch with every participant's team of
    those days (the team they ended the day in: a day belongs to one team, as a deal's date
    is a day). So a rep who moved in November leaves October's deals with October's team,
    and one who moved on 10 October scores the 1st to the 9th for the old team and the rest
    for the new one. ``members``: everyone on a team at some time in the window (who split
    its prize); ``last``: each participant's team at the window's end (or today's)."""

    stretches: list[tuple[datetime, datetime, dict[str, str]]]
    members: dict[str, list[str]]
    last: dict[str, str]


async def team_history(contest: Contest) -> Teams:
    users = [UUID(u) for u in contest.participant_ids]
    zone = ZoneInfo((await get_tenant(contest.tenant_id)).time_zone or "UTC")
    start, end = contest.starts_at, contest.ends_at
    # a change on the window's last day counts for that day (up to its end, not ``end``)
    last_day = (end - timedelta(microseconds=1)).astimezone(zone).date()
    until = datetime.combine(last_day + timedelta(days=1), time(), zone)
    history = await manager_history(contest.tenant_id, users, until=until)
    changes = {str(u): _days_teams(u, history.get(u, []), zone) for u in users if u in history}
    cuts = sorted({at for days in changes.values() for at, _ in days if at and start < at < end})
    bounds = [start, *cuts, end]
    stretches = []
    members: dict[str, set[str]] = {}
    for a, b in zip(bounds, bounds[1:], strict=False):
        team_of = {u: _team_at(days, a) for u, days in changes.items()}
        stretches.append((a, b, team_of))
        for user, team in team_of.items():
            members.setdefault(team, set()).add(user)
    return Teams(stretches, {t: sorted(m) for t, m in members.items()}, dict(stretches[-1][2]))


def _days_teams(
    user: UUID, spells: list[ManagerSpell], zone: ZoneInfo
) -> list[tuple[datetime | None, str]]:
    """(the first instant of the day a manager change took effect, None: from the start;
    the team from then on), oldest first, one per day: a day's last change holds for it."""
    out: list[tuple[datetime | None, str]] = []
    for spell in spells:
        day = None
        if spell.since is not None:
            day = datetime.combine(spell.since.astimezone(zone).date(), time(), zone)
        team = str(spell.manager_id or user)
        if out and out[-1][0] == day:
            out[-1] = (day, team)
        else:
            out.append((day, team))
    return out


def _team_at(days: list[tuple[datetime | None, str]], at: datetime) -> str:
    team = days[0][1]
    for since, then in days:
        if since is None or since <= at:
            team = then
    return team


async def team_key(contest: Contest, user_id: UUID) -> str | None:
    """The team a participant of a team contest is on at its window's end (today's while it
    runs): whose standing they read as theirs."""
    return (await team_history(contest)).last.get(str(user_id))


async def winners(contest: Contest, placed: list[rules.Placed]) -> list[rules.Won]:
    won = rules.award(placed, prize_list(contest))
    if contest.format != rules.Format.TEAMS:
        return won
    # a team's prize is split among its members (everyone on it during the window) with the
    # same remainder rule
    members = (await team_history(contest)).members
    out: list[rules.Won] = []
    for w in won:
        keys = members.get(w.key, [])
        parts = (
            rules.split_amount(w.amount, w.currency, keys)
            if w.amount is not None and w.currency is not None and keys
            else [None] * len(keys)
        )
        out += [
            rules.Won(k, w.rank, part, w.currency, w.badge_id, w.description)
            for k, part in zip(keys, parts, strict=True)
        ]
    return out


async def places(contest: Contest, placed: list[rules.Placed]) -> list[tuple[UUID, int]]:
    """Each placed person who scored (`rules.scored`) and their rank: a team's members have
    their team's (the best of the teams they were on)."""
    placed = rules.scored(placed)
    if contest.format != rules.Format.TEAMS:
        return [(UUID(p.key), p.rank) for p in placed]
    rank_of = {p.key: p.rank for p in placed}
    best: dict[str, int] = {}
    for team, keys in (await team_history(contest)).members.items():
        if team in rank_of:
            for key in keys:
                best[key] = min(best.get(key, rank_of[team]), rank_of[team])
    return sorted((UUID(k), r) for k, r in best.items())


async def award_contest(
    *,
    contest: Contest,
    award_badge: AwardBadge | None,
    grant_xp: GrantXp | None,
    period: str,
    award_places: AwardPlaces | None = None,
) -> list[rules.Won]:
    """Freeze the results, write the money prizes as rewards, the badges and XP through the
    injected callables (all idempotent on their source), the badges whose rule reads the
    place (``award_places``: `badges.service.award_contest_badges`), and audit it."""
    viewer = Viewer.system(contest.tenant_id, "contests")
    placed = await standings(contest)
    won = await winners(contest, placed)
    source = f"contest:{contest.id}"
    if contest.hidden:  # test mode: its results are frozen for its launcher, nothing is paid
        award_badge = grant_xp = award_places = None
        won_paid: list[rules.Won] = []
    else:
        won_paid = won
    if award_places is not None:
        await award_places(
            tenant_id=contest.tenant_id, contest_id=contest.id, period=period,
            places=await places(contest, placed),
        )  # fmt: skip
    for w in won_paid:
        user = UUID(w.key)
        if w.amount is not None and w.currency is not None:
            await grant_reward(
                viewer=viewer,
                user_id=user,
                period=period,
                amount=w.amount,
                currency=w.currency,
                source_kind="contest_prize",
                source_id=str(contest.id),
                reason=f"{contest.name}: rank {w.rank} ({w.description})",
            )
        if w.badge_id is not None and award_badge is None:
            log.warning("badge prize of contest %s kept in its results: no badges wired", source)
        elif w.badge_id is not None:
            await award_badge(
                tenant_id=contest.tenant_id,
                user_id=user,
                badge_id=UUID(w.badge_id),
                period=period,
                source=f"{source}:rank:{w.rank}",
            )
        if grant_xp is not None:
            await grant_xp(
                tenant_id=contest.tenant_id,
                user_id=user,
                source=f"{source}:place",
                points=XP_FOR_RANK[min(w.rank, len(XP_FOR_RANK)) - 1],
                reason=f"{contest.name}: rank {w.rank}",
            )
    contest.results = {
        "tie_rule": rules.TIE_RULE_TEXT[rules.TieRule(contest.tie_rule)],
        "period": period,
        "standings": [_placed_json(p) for p in placed],
        "winners": [
            {
                "key": w.key,
                "rank": w.rank,
                "amount": None if w.amount is None else str(w.amount),
                "currency": w.currency,
                "badge_id": w.badge_id,
            }
            for w in won
        ],
    }
    contest.status = ContestStatus.AWARDED
    contest.awarded_at = utc_now()
    await contest.save()
    await audit.record(
        viewer=viewer,
        action="contest.awarded",
        entity_type="contest",
        entity_id=str(contest.id),
        after=contest.results,
    )
    return won


def _placed_json(p: rules.Placed) -> dict[str, Any]:
    return {
        "key": p.key,
        "rank": p.rank,
        "score": str(p.score),
        "reached_at": None if p.reached_at is None else p.reached_at.isoformat(),
    }


async def awarded_money_to(*, tenant_id: UUID, user_ids: list[UUID]) -> list[UUID]:
    """The awarded contests of the tenant in which one of these people won money: those a
    recompute of them may claw back from (one statement, whatever the batch's size)."""
    conn = connections.get("default")
    rows = await conn.execute_query_dict(
        """
        SELECT c.id FROM contests c
        WHERE c.tenant_id = $1 AND c.status = $2 AND NOT c.hidden AND EXISTS (
            SELECT 1 FROM jsonb_array_elements(c.results -> 'winners') w
            WHERE w ->> 'key' = ANY($3::text[]) AND w ->> 'amount' IS NOT NULL)
        ORDER BY c.id
        """,
        [tenant_id, ContestStatus.AWARDED.value, [str(u) for u in user_ids]],
    )
    return [row["id"] for row in rows]


async def claw_back_after_reversal(*, contest: Contest) -> list[Reward]:
    """After the award, a reversal keeps the frozen result; if the tenant claws back, a winner
    whose winnings are lower once the reversals are taken out gets a negative reward for the
    difference (once per winner and contest). Only lowered scores count: a late deal that
    raises someone else's score after the award changes nobody's prize."""
    tenant = await Tenant.get(id=contest.tenant_id)
    if contest.results is None or contest.hidden or not claws_back(tenant):
        return []  # a hidden (test) contest paid nothing
    viewer = Viewer.system(contest.tenant_id, "contests")
    frozen = contest.results["standings"]
    live = {p.key: p.score for p in await standings(contest)}
    entries = [
        rules.Entry(
            p["key"],
            min(Decimal(p["score"]), live.get(p["key"], Decimal(0))),
            None if p["reached_at"] is None else datetime.fromisoformat(p["reached_at"]),
        )
        for p in frozen
    ]
    if contest.format == rules.Format.RACE:
        replaced = rules.race(entries, target=contest.target or Decimal(0))
    else:
        replaced = rules.rank(entries, tie_rule=rules.TieRule(contest.tie_rule))
    now_won = await winners(contest, replaced)
    fresh: dict[tuple[str, str], Decimal] = {}
    for w in now_won:
        if w.amount is not None and w.currency is not None:
            key = (w.key, w.currency)
            fresh[key] = fresh.get(key, Decimal(0)) + w.amount
    made: list[Reward] = []
    for w in contest.results["winners"]:
        if w["amount"] is None:
            continue
        paid = Decimal(w["amount"])
        due = fresh.get((w["key"], w["currency"]), Decimal(0))
        if due < paid:
            reward, created = await grant_reward(
                viewer=viewer,
                user_id=UUID(w["key"]),
                period=contest.results["period"],
                amount=due - paid,
                currency=w["currency"],
                source_kind="contest_clawback",
                source_id=str(contest.id),
                reason=f"{contest.name}: prize clawed back after a reversal",
            )
            if created:
                made.append(reward)
    return made


async def tick(
    *,
    now: datetime,
    award_badge: AwardBadge | None,
    grant_xp: GrantXp | None,
    period_of: Callable[[Contest], Awaitable[str]] | None = None,
    award_places: AwardPlaces | None = None,
) -> list[tuple[Contest, str]]:
    """One lifecycle step for every contest: scheduled -> live -> ended -> awarded (after the
    tenant's grace period). Returns (contest, transition) pairs for notifications."""
    moved: list[tuple[Contest, str]] = []
    for c in await Contest.filter(status=ContestStatus.SCHEDULED, starts_at__lte=now):
        c.status = ContestStatus.LIVE
        await c.save(update_fields=["status"])
        moved.append((c, "started"))
    for c in await Contest.filter(status=ContestStatus.LIVE, ends_at__lte=now):
        c.status = ContestStatus.ENDED
        await c.save(update_fields=["status"])
        moved.append((c, "ended"))
    for c in await Contest.filter(status=ContestStatus.ENDED).select_for_update():
        tenant = await Tenant.get(id=c.tenant_id)
        if c.ends_at + grace(tenant) <= now:
            # each award in a savepoint of its own: one that fails is undone and tried
            # again at the next tick, while every other contest of every tenant moves on
            try:
                async with in_transaction():
                    await award_contest(
                        contest=c,
                        award_badge=award_badge,
                        grant_xp=grant_xp,
                        period=await (period_of or prize_period)(c),
                        award_places=award_places,
                    )
            except Exception:
                log.exception(
                    "contest %s (%r) of tenant %s: its award failed and was undone; it "
                    "stays ended and is tried again at the next tick",
                    c.id,
                    c.name,
                    c.tenant_id,
                )
                continue
            moved.append((c, "won"))
    return moved


async def prize_period(contest: Contest) -> str:
    """Prizes are paid in the tenant's month (in its time zone) in which the contest ended."""
    tenant = await Tenant.get(id=contest.tenant_id)
    return _month_of(contest.ends_at, tenant.time_zone)


def notification_events(
    moved: list[tuple[Contest, str]], *, time_zone: str | None = None
) -> list[Event]:
    """Started and ended: every participant; won: every winner. Hidden contests tell nobody.
    The sent record (contest id and kind) makes each one once. ``time_zone``: the tenant's,
    whose month the contest ended in (`prize_period`)."""
    kinds = {
        "started": NotificationKind.CONTEST_STARTED,
        "ended": NotificationKind.CONTEST_ENDED,
        "won": NotificationKind.CONTEST_WON,
    }
    events: list[Event] = []
    for contest, what in moved:
        if contest.hidden:
            continue
        period = _month_of(contest.ends_at, time_zone)
        key = f"{contest.id}:{what}"
        if what == "won":
            for w in (contest.results or {}).get("winners", []):
                prize = f"{w['amount']} {w['currency']}" if w["amount"] is not None else "a badge"
                params = {
                    "contest": contest.name,
                    "rank": str(w["rank"]),
                    "prize": prize,
                    "period": period,
                }
                events.append(Event(UUID(w["key"]), period, kinds[what], key, params))
            continue
        for user in contest.participant_ids:
            params = {"contest": contest.name, "period": period}
            events.append(Event(UUID(user), period, kinds[what], key, params))
    # one per person and key (a prize in two currencies is one notification)
    return list({(e.user_id, e.key): e for e in events}.values())


def _month_of(ends_at: datetime, time_zone: str | None) -> str:
    """The month, in the tenant's time zone, of a window's last instant: the window ends
    before ``ends_at`` (a window up to 1 November 00:00 is October's, whatever the zone)."""
    last = (ends_at - timedelta(microseconds=1)).astimezone(ZoneInfo(time_zone or "UTC"))
    return period_containing(last.date(), "month").id


async def _may_see(viewer: Viewer, contest: Contest, subtree: set[str] | None) -> bool:
    if contest.hidden:  # test mode: its launcher alone
        return viewer.user_id is not None and contest.manager_id == viewer.user_id
    if viewer.sees_whole_tenant:
        return True
    if viewer.user_id is None:
        return False
    if contest.manager_id == viewer.user_id:
        return True
    if subtree is not None:  # a manager: contests with someone of their subtree in them
        return bool(subtree & set(contest.participant_ids))
    return str(viewer.user_id) in contest.participant_ids


async def _subtree(viewer: Viewer) -> set[str] | None:
    if viewer.role is Role.MANAGER and viewer.user_id is not None:
        return {str(u) for u in await UserRepository(viewer).subtree_ids(viewer.user_id)}
    return None


async def visible_contests(
    *, viewer: Viewer, statuses: list[ContestStatus] | None = None
) -> list[Contest]:
    query = Contest.filter(tenant_id=viewer.tenant_id)
    if statuses:
        query = query.filter(status__in=statuses)
    subtree = await _subtree(viewer)
    return [
        c for c in await query.order_by("starts_at", "id") if await _may_see(viewer, c, subtree)
    ]


async def visible_contest(*, viewer: Viewer, contest_id: str) -> Contest | None:
    try:
        wanted = UUID(str(contest_id))
    except ValueError:
        return None
    contest = await Contest.get_or_none(id=wanted, tenant_id=viewer.tenant_id)
    if contest is None or not await _may_see(viewer, contest, await _subtree(viewer)):
        return None
    return contest


async def current_standings(contest: Contest) -> list[rules.Placed]:
    """Frozen once awarded; computed from PostgreSQL before."""
    if contest.results is not None:
        return [
            rules.Placed(
                p["key"],
                p["rank"],
                unpadded(Decimal(p["score"])),  # awarded before scores were trimmed too
                None if p["reached_at"] is None else datetime.fromisoformat(p["reached_at"]),
            )
            for p in contest.results["standings"]
        ]
    return await standings(contest)


async def current_winners(contest: Contest) -> list[rules.Won]:
    """Frozen once awarded; before, who would win if it ended now."""
    if contest.results is not None:
        return [
            rules.Won(
                w["key"],
                w["rank"],
                None if w["amount"] is None else Decimal(w["amount"]),
                w["currency"],
                w["badge_id"],
                "",
            )
            for w in contest.results["winners"]
        ]
    return await winners(contest, await standings(contest))
