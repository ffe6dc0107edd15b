"""The contest metrics: a small registry, name -> scorer over the transactions of a window.

A scorer returns, per participant, the score and when it was reached (the creation time of the
transaction that brought the running total to the final score). "xp" joins at merge, from the
levels ledger; until then it is an unknown metric.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta
from decimal import Decimal
from uuid import UUID

from domain.crm.models import Transaction

Scores = dict[UUID, tuple[Decimal, datetime | None]]
Scorer = Callable[..., Awaitable[Scores]]


async def _walk(
    *, tenant_id: UUID, user_ids: list[UUID], start: datetime, end: datetime, count: bool
) -> Scores:
    wanted = {str(u) for u in user_ids}
    scores: Scores = {u: (Decimal(0), None) for u in user_ids}
    # a transaction carries a date: it counts when its day starts inside the window
    last = end.date() if end.time() != time(0) else end.date() - timedelta(days=1)
    rows = (
        await Transaction.filter(
            tenant_id=tenant_id, deleted=False, date__gte=start.date(), date__lte=last
        )
        .order_by("created_at", "id")
        .values("rep_id", "splits", "amount", "created_at", "credited_user_ids")
    )
    for row in rows:
        credited = set(row["credited_user_ids"] or [str(row["rep_id"])]) & wanted
        for user in credited:
            share = Decimal(1)
            for split in row["splits"] or []:
                if split["rep_id"] == user:
                    share = Decimal(split["share"])
            gain = Decimal(1) if count else Decimal(row["amount"]) * share
            total = scores[UUID(user)][0] + gain
            scores[UUID(user)] = (total, row["created_at"])
    return scores


async def deal_count(**kw: object) -> Scores:
    return await _walk(count=True, **kw)  # type: ignore[arg-type]


async def deal_amount(**kw: object) -> Scores:
    return await _walk(count=False, **kw)  # type: ignore[arg-type]


METRICS: dict[str, Scorer] = {"deal_count": deal_count, "deal_amount": deal_amount}
