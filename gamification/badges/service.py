"""Badge definitions, rule evaluation after a recompute, awards and revocations.
Services never commit: they run inside the caller's transaction."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from tortoise import connections

from domain.earnings.models import EarningsResult
from domain.kit.clock import utc_now
from domain.kit.errors import ExpressionError, Forbidden, PeriodError
from domain.kit.expressions import (
    CompiledExpression,
    EvaluationError,
    compile_expression,
    evaluate_safely,
)
from domain.kit.periods import parse_period
from domain.kit.text import blank, name_problem
from domain.notifications.models import NotificationKind, NotificationSent
from domain.notifications.repository import NewNotification, NotifierRepository
from domain.notifications.service import (
    attainment_key,
    attainments_of,
    compiled_plans,
    thresholds_of,
    tier_key,
    tier_positions,
)
from domain.notifications.texts import render
from domain.org.models import Role, User
from domain.org.viewer import Viewer
from domain.tenants.repository import get_tenant
from gamification.badges.certificates import certificate_pdf
from gamification.badges.credentials import signed_credential
from gamification.badges.errors import BadgeNotFound, BadgeRuleError
from gamification.badges.facts import (
    CONTEST_FACTS,
    CONTEST_PLACE,
    NAMED_FACTS,
    REFERENCE_FACTS,
    env_of,
    facts_of,
)
from gamification.badges.models import BadgeAward, BadgeDefinition
from gamification.definitions import TenantCache, definition_name, lock_name
from gamification.levels.rules import Level
from gamification.levels.service import (
    LEVEL_MAPS,
    grant_xp,
    level_standings,
    reverse_xp,
    sync_deal_xp,
    sync_threshold_xp,
    threshold_source,
)

log = logging.getLogger(__name__)


def compile_rule(rule: str, *, field: str = "rule", new: bool = False) -> CompiledExpression:
    """The rule compiled, or BadgeRuleError naming ``field`` (unknown facts included).
    ``new``: a rule being defined, also refused when a part of it fails whatever the person's
    figures (``1/0 > 1``); a stored rule is compiled as it was accepted."""
    try:
        compiled = compile_expression(
            rule,
            where=field,
            allow_names=True,
            reference_functions=REFERENCE_FACTS,
            refuse_constant_failures=new,
        )
    except ExpressionError as exc:
        raise BadgeRuleError(exc.message, field=field) from None
    unknown = sorted(compiled.names - set(NAMED_FACTS))
    if unknown:
        raise BadgeRuleError(
            f"unknown fact {unknown[0]!r} (known: {', '.join(sorted(NAMED_FACTS))})", field=field
        )
    return compiled


async def create_badge(
    *, viewer: Viewer, name: str, rule: str, description: str = "", icon: str = "", xp: int = 0
) -> BadgeDefinition:
    """Admins define a badge; a rule that does not compile, or any other refusal, names its
    field and stores nothing."""
    if viewer.role is not Role.ADMIN:
        raise Forbidden("only admins define badges", field="input")
    tenant_id = viewer.tenant_id
    name = definition_name(name) if isinstance(name, str) else name
    if not isinstance(name, str) or blank(name) or len(name) > 100:
        raise BadgeRuleError("a badge needs a name of 1 to 100 characters", field="name")
    if problem := name_problem(name):
        raise BadgeRuleError(problem, field="name")
    if not isinstance(rule, str) or len(description) > 500 or len(icon) > 100:
        raise BadgeRuleError(
            "description up to 500, icon up to 100 characters", field="description"
        )
    if rule:
        compile_rule(rule, new=True)
    if isinstance(xp, bool) or not isinstance(xp, int) or not 0 <= xp <= 1_000_000:
        raise BadgeRuleError("xp must be a whole number from 0 to 1000000", field="xp")
    await lock_name(tenant_id, "badge", name)
    if await BadgeDefinition.filter(tenant_id=tenant_id, name=name).exists():
        raise BadgeRuleError(f"a badge named {name!r} exists already", field="name")
    badge = await BadgeDefinition.create(
        id=uuid4(),
        tenant_id=tenant_id,
        name=name,
        rule=rule,
        description=description,
        icon=icon,
        xp=xp,
        created_at=utc_now(),
    )
    BADGE_RULES.forget(tenant_id)
    return badge


@dataclass(frozen=True, slots=True)
class BadgeRules:
    """A tenant's badges, and those with a rule with it compiled."""

    badges: tuple[BadgeDefinition, ...]
    rules: tuple[tuple[BadgeDefinition, CompiledExpression], ...]


async def badge_rules(tenant_id: UUID) -> BadgeRules:
    badges = tuple(await BadgeDefinition.filter(tenant_id=tenant_id))
    return BadgeRules(badges, tuple(_rules(badges)))


# the after-recompute step's badges, compiled once per read (gamification.definitions: a few
# seconds old at most); the awards they decide on are read fresh by every batch
BADGE_RULES: TenantCache[BadgeRules] = TenantCache(badge_rules)


def _db() -> Any:
    return connections.get("default")


async def award_badge(
    *, tenant_id: UUID, user_id: UUID, badge_id: UUID, period: str, source: str
) -> BadgeAward | None:
    """Award the badge (once per badge, person and period; idempotent on ``source``) and its
    XP; None if it was awarded already."""
    badge = await BadgeDefinition.get_or_none(id=badge_id, tenant_id=tenant_id)
    if badge is None:
        raise BadgeNotFound(f"no badge {badge_id}", field="badgeId")
    # the tenant's awards take status-list indexes one after the other: lock the tenant's
    # definitions row set so two awarders do not pick the same index
    await _db().execute_query(
        "SELECT pg_advisory_xact_lock(hashtext('badge_awards:' || $1::text))", [str(tenant_id)]
    )
    rows = await _db().execute_query_dict(
        """
        INSERT INTO badge_awards
            (id, tenant_id, badge_id, user_id, period, source, awarded_at, status_index)
        SELECT $1, $2, $3, $4, $5, $6, $7,
               COALESCE((SELECT MAX(status_index) + 1 FROM badge_awards WHERE tenant_id = $2), 0)
        ON CONFLICT DO NOTHING
        RETURNING id
        """,
        [uuid4(), tenant_id, badge_id, user_id, period, source, utc_now()],
    )
    if not rows:
        return None
    award = await BadgeAward.get(id=rows[0]["id"])
    if badge.xp:
        await grant_xp(
            tenant_id=tenant_id,
            user_id=user_id,
            source=await _xp_source(award),
            points=badge.xp,
            reason=f"badge {badge.name}",
        )
    return award


async def _xp_source(award: BadgeAward) -> str:
    """The XP ledger's source of an award's XP: the badge and period; an award earned anew
    after a revoked one of the same badge and period, its own (a source reversed is not
    granted again)."""
    source = f"badge:{award.badge_id}:{award.period}"
    earlier = await BadgeAward.exists(
        tenant_id=award.tenant_id, user_id=award.user_id, badge_id=award.badge_id,
        period=award.period, status_index__lt=award.status_index,
    )  # fmt: skip
    return f"{source}:{award.id}" if earlier else source


async def revoke_award(*, award: BadgeAward, reason: str) -> bool:
    if award.revoked_at is not None:
        return False
    award.revoked_at = utc_now()
    await award.save(update_fields=["revoked_at"])
    await reverse_xp(
        tenant_id=award.tenant_id,
        user_id=award.user_id,
        source=await _xp_source(award),
        reason=reason,
    )
    return True


def rule_source(badge_id: UUID, period: str) -> str:
    return f"rule:{badge_id}:{period}"


async def evaluate_after_recompute(
    *,
    tenant_id: UUID,
    pairs: Sequence[tuple[UUID, str]],
    results: Mapping[tuple[UUID, str], Sequence[Any]],
    definitions: BadgeRules | None = None,
) -> tuple[list[BadgeAward], list[BadgeAward]]:
    """Each rule over each (person, period): award what now holds; revoke a rule's award
    whose rule no longer holds (its deal was reversed). Returns (awarded, revoked).

    Set-based for a batch: the awards the batch already holds are read in one statement,
    and earlier periods (``periods_in_a_row``) only when a rule reads them and only for
    the people at or above 100% now; only an award or a revocation writes. ``definitions``:
    the tenant's badges (read here when not given)."""
    if definitions is None:
        definitions = await badge_rules(tenant_id)
    rules = [(b, r) for b, r in definitions.rules if not r.names & CONTEST_FACTS]
    unique = list(dict.fromkeys(pairs))
    if not rules or not unique:
        return [], []
    facts = {pair: facts_of(results.get(pair, ())) for pair in unique}
    if any(HISTORY_FACT in b.rule for b, _ in rules):
        running = [pair for pair, f in facts.items() if any(a >= 1 for a in f.attainments.values())]
        history = await _history(tenant_id, running)
        for pair, earlier in history.items():
            facts[pair] = facts_of(results.get(pair, ()), earlier)
    # the newest award of each source: the one that stands, unless it was revoked (then the
    # rule holding again awards it anew)
    held = {
        (award.user_id, award.source): award
        for award in await BadgeAward.filter(
            tenant_id=tenant_id,
            user_id__in=list({u for u, _ in unique}),
            source__in=[rule_source(b.id, p) for b, _ in rules for p in {p for _, p in unique}],
        ).order_by("status_index")
    }
    awarded: list[BadgeAward] = []
    revoked: list[BadgeAward] = []
    failures = RuleFailures()
    for (user_id, period), person in facts.items():
        env = env_of(person)
        for badge, rule in rules:
            holds = failures.holds(badge, rule, env)
            source = rule_source(badge.id, period)
            current = held.get((user_id, source))
            if holds and (current is None or current.revoked_at is not None):
                award = await award_badge(
                    tenant_id=tenant_id,
                    user_id=user_id,
                    badge_id=badge.id,
                    period=period,
                    source=source,
                )
                if award is not None:
                    awarded.append(award)
            elif not holds and current is not None and current.revoked_at is None:
                if await revoke_award(award=current, reason=f"badge {badge.name} revoked"):
                    revoked.append(current)
    return awarded, revoked


class RuleFailures:
    """Evaluates badge rules for one batch. A rule that fails for a person (division by
    zero, a missing figure in arithmetic) does not hold for that person: the rule is skipped
    for them, the batch and everyone else's awards and XP go on, and each failing badge is
    logged once per batch with its first reason."""

    def __init__(self) -> None:
        self.logged: set[UUID] = set()

    def holds(self, badge: BadgeDefinition, rule: CompiledExpression, env: Any) -> bool:
        try:
            return bool(evaluate_safely(rule, env))
        except EvaluationError as exc:
            if badge.id not in self.logged:
                self.logged.add(badge.id)
                log.warning(
                    "badge %s (%s) rule skipped for the people it fails for: %s",
                    badge.name,
                    badge.id,
                    exc,
                )
            return False


def _rules(badges: Sequence[BadgeDefinition]) -> list[tuple[BadgeDefinition, CompiledExpression]]:
    return [(b, compile_rule(b.rule)) for b in badges if b.rule]


def contest_source(contest_id: UUID, badge_id: UUID) -> str:
    return f"contest:{contest_id}:rule:{badge_id}"


async def award_contest_badges(
    *, tenant_id: UUID, contest_id: UUID, period: str, places: Sequence[tuple[UUID, int]]
) -> list[BadgeAward]:
    """When a contest is awarded: every badge rule that reads a contest fact, for each
    (person, rank) it placed, over the person's results of ``period`` (the prize period) and
    ``contest_place``. An award's source is the contest and the badge, so a contest awards a
    badge once; like every badge, at most once per person and period. The results are frozen:
    nothing revokes these awards. BADGE notifications as after a recompute."""
    badges = await BadgeDefinition.filter(tenant_id=tenant_id)
    rules = [(b, r) for b, r in _rules(badges) if r.names & CONTEST_FACTS]
    if not rules or not places:
        return []
    rows = await EarningsResult.filter(
        tenant_id=tenant_id, user_id__in=[u for u, _ in places], period=period
    )
    awarded: list[BadgeAward] = []
    failures = RuleFailures()
    for user_id, rank in places:
        facts = facts_of([r for r in rows if r.user_id == user_id])
        facts.extra[CONTEST_PLACE] = rank
        env = env_of(facts)
        for badge, rule in rules:
            if not failures.holds(badge, rule, env):
                continue
            award = await award_badge(
                tenant_id=tenant_id, user_id=user_id, badge_id=badge.id, period=period,
                source=contest_source(contest_id, badge.id),
            )  # fmt: skip
            if award is not None:
                awarded.append(award)
    await _notify(tenant_id, awarded, [], badges, [])
    return awarded


HISTORY_PERIODS = 12  # how far back `periods_in_a_row` looks
HISTORY_FACT = "periods_in_a_row"  # the rules that read earlier periods name it


async def _history(
    tenant_id: UUID, pairs: Sequence[tuple[UUID, str]]
) -> dict[tuple[UUID, str], dict[str, list[Any]]]:
    """Each pair's earlier periods' results (same kind), newest first; one query."""
    earlier: dict[tuple[UUID, str], list[str]] = {}
    for user_id, period in pairs:
        try:
            current = parse_period(period)
            found = []
            for _ in range(HISTORY_PERIODS):
                current = current.previous()
                found.append(current.id)
        except PeriodError:
            continue
        earlier[(user_id, period)] = found
    if not earlier:
        return {}
    rows = await EarningsResult.filter(
        tenant_id=tenant_id,
        user_id__in=list({u for u, _ in earlier}),
        period__in=list({p for found in earlier.values() for p in found}),
    ).only("user_id", "period", "measures")
    by_person: dict[tuple[UUID, str], list[Any]] = {}
    for row in rows:
        by_person.setdefault((row.user_id, row.period), []).append(row)
    return {
        (user_id, period): {p: by_person.get((user_id, p), []) for p in found}
        for (user_id, period), found in earlier.items()
    }


async def after_recompute(
    *,
    tenant_id: UUID,
    pairs: Sequence[tuple[UUID, str]],
    results: Mapping[tuple[UUID, str], Sequence[Any]] | None = None,
) -> tuple[list[BadgeAward], list[BadgeAward]]:
    """The after-recompute step of gamification: deal XP and XP for the thresholds reached
    (quota attainment and tiers; each granted once, reversed once), badge rules (awarded, or revoked
    when a reversal undoes them), and the BADGE and LEVEL notifications (each once), all
    from what is stored. The tenant's badges and level map are definitions a few seconds old
    at most (`gamification.definitions`); the XP and awards they are applied to are read
    fresh, the levels reached again only when XP was written."""
    unique = list(dict.fromkeys(pairs))
    if results is None or any(p not in results for p in unique):
        rows = await EarningsResult.filter(
            tenant_id=tenant_id,
            user_id__in=[u for u, _ in unique],
            period__in=[p for _, p in unique],
        )
        results = {pair: [r for r in rows if (r.user_id, r.period) == pair] for pair in unique}
    people = list(dict.fromkeys(u for u, _ in unique))
    definitions = await BADGE_RULES.get(tenant_id)
    levels = await LEVEL_MAPS.get(tenant_id)
    before = (
        await level_standings(tenant_id=tenant_id, user_ids=people, levels=levels) if levels else {}
    )
    written = await sync_deal_xp(tenant_id=tenant_id, pairs=unique)
    reached = await _reached(tenant_id, unique, results)
    written += len(await sync_threshold_xp(tenant_id=tenant_id, reached=reached))
    awarded, revoked = await evaluate_after_recompute(
        tenant_id=tenant_id, pairs=unique, results=results, definitions=definitions
    )
    periods = {u: p for u, p in unique}
    ups = []
    if levels and (written or awarded or revoked):
        now = await level_standings(tenant_id=tenant_id, user_ids=people, levels=levels)
        for user_id in people:
            after = now[user_id]
            if after.number > before[user_id].number:
                ups.append((user_id, periods[user_id], after))
    await _notify(tenant_id, awarded, ups, definitions.badges, levels)
    return awarded, revoked


async def _reached(
    tenant_id: UUID,
    pairs: Sequence[tuple[UUID, str]],
    results: Mapping[tuple[UUID, str], Sequence[Any]],
) -> dict[tuple[UUID, str], set[str]]:
    """The XP sources of the thresholds each (person, period) reaches now, those its
    notifications tell: the tenant's quota attainment thresholds, and each tier above the
    first of a tiered component."""
    thresholds = thresholds_of((await get_tenant(tenant_id)).settings)
    plans = await compiled_plans(
        tenant_id=tenant_id,
        version_ids={r.plan_version_id for pair in pairs for r in results.get(pair, ())},
    )
    reached: dict[tuple[UUID, str], set[str]] = {}
    for user_id, period in pairs:
        found = results.get((user_id, period), ())
        reached[(user_id, period)] = {
            *(
                threshold_source("attainment", period, attainment_key(measure, threshold))
                for measure, attainment in attainments_of(found).items()
                for threshold in thresholds
                if attainment * 100 >= threshold
            ),
            *(
                threshold_source("tier", period, tier_key(position, tier))
                for position in tier_positions(found, plans)
                for tier in range(2, position.tier + 1)
            ),
        }
    return reached


async def _notify(
    tenant_id: UUID,
    awarded: Sequence[BadgeAward],
    ups: Sequence[tuple[UUID, str, Any]],
    badges: Sequence[BadgeDefinition],
    level_list: Sequence[Level],
) -> int:
    if not awarded and not ups:
        return 0
    tenant = await get_tenant(tenant_id)
    repository = NotifierRepository(tenant_id)
    locales = {
        user_id: locale or tenant.locale
        for user_id, locale in await User.filter(
            tenant_id=tenant_id, id__in=[a.user_id for a in awarded] + [u for u, _, _ in ups]
        ).values_list("id", "locale")
    }
    names = {b.id: b.name for b in badges}
    levels = {lv.number: lv.name for lv in level_list}
    news = []
    for award in awarded:
        key = f"badge:{award.badge_id}"
        if await repository.was_sent(award.user_id, award.period, NotificationKind.BADGE, key):
            continue
        params = {"period": award.period, "badge": names[award.badge_id]}
        news.append(_new(award.user_id, award.period, NotificationKind.BADGE, params, key,
                         locales.get(award.user_id)))  # fmt: skip
    for user_id, period, standing in ups:
        key = f"level:{standing.number}"
        # a level is told once whatever the period: the sent record sits on the first one
        if await NotificationSent.exists(
            tenant_id=tenant_id, user_id=user_id, kind=NotificationKind.LEVEL, key=key
        ):
            continue
        params = {
            "period": period,
            "level": levels.get(standing.number, str(standing.number)),
            "number": str(standing.number),
            "xp": str(standing.xp),
        }
        news.append(_new(user_id, period, NotificationKind.LEVEL, params, key,
                         locales.get(user_id)))  # fmt: skip
    if news:
        await repository.add_notifications(news)
    return len(news)


def _new(
    user_id: UUID,
    period: str,
    kind: NotificationKind,
    params: dict[str, str],
    key: str,
    locale: str | None,
) -> NewNotification:
    title, body = render(kind, params, locale)
    return NewNotification(
        user_id=user_id, period=period, kind=kind, title=title, body=body, params=params,
        locale=locale or "en", sent=((key, 1),),
    )  # fmt: skip


async def certificate_of(*, award_id: UUID, fonts: Sequence[str] = ()) -> bytes | None:
    """The award's PDF certificate; None if there is no such award. ``fonts``: the fallback
    font files (PODIUM_PDF_FONTS) for a name the shipped fonts do not draw."""
    award = await BadgeAward.get_or_none(id=award_id).select_related("badge", "user", "tenant")
    if award is None:
        return None
    # in a thread: fpdf2's CPU on the event loop would hold up the process's other requests
    return await asyncio.to_thread(
        certificate_pdf,
        recipient=award.user.display_name or award.user.external_id,
        badge=award.badge.name,
        description=award.badge.description,
        period=award.period,
        # the day the rep earned it where they work: 23:30 on 31 October in Chicago is
        # 1 November in UTC (the credential keeps the exact instant, in UTC)
        awarded_on=award.awarded_at.astimezone(ZoneInfo(award.tenant.time_zone)).date(),
        tenant=award.tenant.name,
        credential_id=f"urn:uuid:{award.id}",
        revoked=award.revoked_at is not None,
        fonts=fonts,
    )


async def credential_of(*, award: BadgeAward, base_url: str, secret: bytes) -> str:
    """The award's Open Badges 3.0 credential, a compact VC-JWT."""
    await award.fetch_related("badge", "user", "tenant")
    return await signed_credential(
        award=award,
        badge=award.badge,
        recipient=award.user.display_name or award.user.external_id,
        tenant_name=award.tenant.name,
        base_url=base_url,
        secret=secret,
    )


async def badges_of(
    *, tenant_id: UUID, user_id: UUID, first: int, offset: int
) -> tuple[list[BadgeAward], bool]:
    """A person's awards, newest first, revoked ones included (marked)."""
    rows = (
        await BadgeAward.filter(tenant_id=tenant_id, user_id=user_id)
        .select_related("badge")
        .order_by("-awarded_at", "-status_index")
        .offset(offset)
        .limit(first + 1)
    )
    return rows[:first], len(rows) > first
