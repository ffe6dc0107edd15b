"""Granting rewards: idempotent on (source kind, source id, user) and audited in the caller's
transaction (services never commit)."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from domain.audit import service as audit
from domain.kit.errors import DomainError
from domain.kit.money import is_currency, round_money
from domain.kit.periods import parse_period
from domain.org.viewer import Viewer
from domain.rewards.models import Reward


class RewardError(DomainError):
    code = "invalid_reward"


async def grant_reward(
    *,
    viewer: Viewer,
    user_id: UUID,
    period: str,
    amount: Decimal,
    currency: str,
    source_kind: str,
    source_id: str,
    reason: str,
) -> tuple[Reward, bool]:
    """The reward for this source and user: created (True) or the one already there (False)."""
    parse_period(period)
    if not is_currency(currency):
        raise RewardError(f"unknown currency {currency!r}", field="currency")
    if round_money(amount, currency) != amount:
        raise RewardError(f"{amount} is finer than {currency} allows", field="amount")
    existing = await Reward.get_or_none(
        tenant_id=viewer.tenant_id, source_kind=source_kind, source_id=source_id, user_id=user_id
    )
    if existing is not None:
        return existing, False
    reward = await Reward.create(
        tenant_id=viewer.tenant_id,
        user_id=user_id,
        period=period,
        amount=amount,
        currency=currency,
        source_kind=source_kind,
        source_id=source_id,
        reason=reason,
    )
    await audit.record(
        viewer=viewer,
        action="reward.granted",
        entity_type="reward",
        entity_id=str(reward.id),
        after={
            "user_id": str(user_id),
            "period": period,
            "amount": str(amount),
            "currency": currency,
            "source_kind": source_kind,
            "source_id": source_id,
            "reason": reason,
        },
    )
    return reward, True
