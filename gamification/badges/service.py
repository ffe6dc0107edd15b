"""Badge definitions, rule evaluation after a recompute, awards and revocations.
Services never commit: they run inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID, uuid4

from tortoise import connections

from domain.kit.clock import utc_now
from domain.kit.errors import ExpressionError
from domain.kit.expressions import CompiledExpression, EvaluationError, compile_expression
from gamification.badges.errors import BadgeNotFound, BadgeRuleError
from gamification.badges.facts import NAMED_FACTS, REFERENCE_FACTS, env_of, facts_of
from gamification.badges.models import BadgeAward, BadgeDefinition
from gamification.levels.service import grant_xp, reverse_xp


def compile_rule(rule: str, *, field: str = "rule") -> CompiledExpression:
    """The rule compiled, or BadgeRuleError naming ``field`` (unknown facts included)."""
    try:
        compiled = compile_expression(
            rule, where=field, allow_names=True, reference_functions=REFERENCE_FACTS
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
    *, tenant_id: UUID, name: str, rule: str, description: str = "", icon: str = "", xp: int = 0
) -> BadgeDefinition:
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise BadgeRuleError("a badge needs a name of 1 to 100 characters", field="name")
    if rule:
        compile_rule(rule)
    if isinstance(xp, bool) or not isinstance(xp, int) or not 0 <= xp <= 1_000_000:
        raise BadgeRuleError("xp must be a whole number from 0 to 1000000", field="xp")
    if await BadgeDefinition.filter(tenant_id=tenant_id, name=name).exists():
        raise BadgeRuleError(f"a badge named {name!r} exists already", field="name")
    return await BadgeDefinition.create(
        id=uuid4(),
        tenant_id=tenant_id,
        name=name,
        rule=rule,
        description=description,
        icon=icon,
        xp=xp,
        created_at=utc_now(),
    )


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
            source=_xp_source(award),
            points=badge.xp,
            reason=f"badge {badge.name}",
        )
    return award


def _xp_source(award: BadgeAward) -> str:
    return f"badge:{award.badge_id}:{award.period}"


async def revoke_award(*, award: BadgeAward, reason: str) -> bool:
    if award.revoked_at is not None:
        return False
    award.revoked_at = utc_now()
    await award.save(update_fields=["revoked_at"])
    await reverse_xp(
        tenant_id=award.tenant_id, user_id=award.user_id, source=_xp_source(award), reason=reason
    )
    return True


def rule_source(badge_id: UUID, period: str) -> str:
    return f"rule:{badge_id}:{period}"


async def evaluate_after_recompute(
    *,
    tenant_id: UUID,
    pairs: Sequence[tuple[UUID, str]],
    results: Mapping[tuple[UUID, str], Sequence[Any]],
    history: Mapping[tuple[UUID, str], Mapping[str, Sequence[Any]]] | None = None,
) -> tuple[list[BadgeAward], list[BadgeAward]]:
    """Each rule over each (person, period): award what now holds; revoke a rule's award
    whose rule no longer holds (its deal was reversed). Returns (awarded, revoked)."""
    badges = [b for b in await BadgeDefinition.filter(tenant_id=tenant_id) if b.rule]
    awarded: list[BadgeAward] = []
    revoked: list[BadgeAward] = []
    for user_id, period in dict.fromkeys(pairs):
        facts = facts_of(results.get((user_id, period), ()), (history or {}).get((user_id, period)))
        env = env_of(facts)
        for badge in badges:
            try:
                holds = bool(compile_rule(badge.rule)(env))
            except EvaluationError:
                holds = False
            source = rule_source(badge.id, period)
            if holds:
                award = await award_badge(
                    tenant_id=tenant_id,
                    user_id=user_id,
                    badge_id=badge.id,
                    period=period,
                    source=source,
                )
                if award is not None:
                    awarded.append(award)
                continue
            current = await BadgeAward.get_or_none(
                tenant_id=tenant_id, user_id=user_id, source=source, revoked_at=None
            )
            if current is not None and await revoke_award(
                award=current, reason=f"badge {badge.name} revoked"
            ):
                revoked.append(current)
    return awarded, revoked
