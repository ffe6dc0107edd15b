"""The contest metrics: name -> scorer over a contest's window, read from PostgreSQL.

A scorer returns, per participant, the score and when it was reached (when the last thing
that counts towards the final score was written: the transaction, or the XP entry). Only
what is dated inside the window counts: a transaction counts when the
window (``[start, end)``) touches its date (a day of the tenant's calendar, in its time zone),
an XP entry when it was written inside it.

  ``deal_count``        deals credited to the participant (a split deal counts once each)
  ``deal_amount``       their amounts (a split deal its share)
  ``measure:<id>``      a plan measure's total over the deals dated inside the window: the
                        sum of the measure's per-deal values as the engine credited them
                        (its lines, `measure_total`); a measure without per-deal lines is
                        refused at launch
  ``earnings``          the earnings of the deals dated inside the window (`earnings`)
  ``xp``                the XP earned in the window that stands (`levels.service.xp_earned`)
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from tortoise import connections

from domain.crm.models import Transaction
from domain.earnings.models import ResultStatus
from domain.plans.models import PlanVersion
from domain.tenants.repository import get_tenant
from gamification.levels.service import xp_earned

Scores = dict[UUID, tuple[Decimal, datetime | None]]
Scorer = Callable[..., Awaitable[Scores]]
MEASURE = "measure:"
_MEASURE_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")


async def _days(tenant_id: UUID, start: datetime, end: datetime) -> tuple[date, date]:
    """The first and last days a transaction may be dated to count in ``[start, end)``: the
    days of the tenant's calendar (its time zone, as a deal's date and the periods are) that
    the window touches, so a window from midnight to midnight there counts those days only."""
    zone = ZoneInfo((await get_tenant(tenant_id)).time_zone or "UTC")
    start, end = start.astimezone(zone), end.astimezone(zone)
    last = end.date() if end.time() != time(0) else end.date() - timedelta(days=1)
    return start.date(), last


async def _walk(
    *, tenant_id: UUID, user_ids: list[UUID], start: datetime, end: datetime, count: bool
) -> Scores:
    wanted = {str(u) for u in user_ids}
    scores: Scores = {u: (Decimal(0), None) for u in user_ids}
    first, last = await _days(tenant_id, start, end)
    rows = (
        await Transaction.filter(
            tenant_id=tenant_id, deleted=False, date__gte=first, date__lte=last
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


async def deal_count(**kw: Any) -> Scores:
    return await _walk(count=True, **kw)


async def deal_amount(**kw: Any) -> Scores:
    return await _walk(count=False, **kw)


async def xp(*, tenant_id: UUID, user_ids: list[UUID], start: datetime, end: datetime) -> Scores:
    """XP written inside the window that stands: a grant reversed later (its deal deleted,
    its badge revoked) leaves the score whenever the reversal is written, so a reversal after
    the award lowers the live standings the claw-back compares with the frozen ones."""
    earned = await xp_earned(tenant_id=tenant_id, start=start, end=end, user_ids=user_ids)
    scores: Scores = {u: (Decimal(0), None) for u in user_ids}
    for user_id, e in earned.items():
        scores[user_id] = (Decimal(e.points), e.last_at)
    return scores


# The stored lines of deals dated inside a window, per participant, and the newest of those
# deals' creation times. A line belongs to a result (the participant's, of one plan version
# and period); a line of no deal (a component earned by the period as a whole) has no
# ``transaction_external_id`` and never counts. $1 tenant, $2 participants, $3/$4 the
# window's first and last days, $5 the status of the results read; ``which`` chooses the
# lines (from $6 on), ``column`` what is summed (a line's ``amount`` or its ``value``).
_LINES = """
    SELECT r.user_id, SUM({column}) AS score, MAX(t.created_at) AS last_at
    FROM earnings_results r
    JOIN earnings_lines l ON l.result_id = r.id
    JOIN transactions t ON t.tenant_id = r.tenant_id AND t.external_id = l.transaction_external_id
    WHERE r.tenant_id = $1 AND r.user_id = ANY($2::uuid[]) AND r.status = $5
      AND l.occurred_on BETWEEN $3 AND $4 AND NOT t.deleted AND {which}
    GROUP BY r.user_id
"""


async def _lines(
    *,
    tenant_id: UUID,
    user_ids: list[UUID],
    start: datetime,
    end: datetime,
    column: str,
    which: str,
    extra: list[Any],
) -> Scores:
    first, last = await _days(tenant_id, start, end)
    rows = await connections.get("default").execute_query_dict(
        _LINES.format(column=column, which=which),
        [tenant_id, user_ids, first, last, ResultStatus.OK.value, *extra],
    )
    scores: Scores = {u: (Decimal(0), None) for u in user_ids}
    for row in rows:
        scores[row["user_id"]] = (Decimal(row["score"]), row["last_at"])
    return scores


async def earnings(
    *, tenant_id: UUID, user_ids: list[UUID], start: datetime, end: datetime
) -> Scores:
    """What the deals dated inside the window earned, line by line as the recompute stored
    them (each deal's share of a per-deal component, in the plan's currency; only results in
    the tenant's currency count, as contests compare like with like and convert nothing).

    The choice: a window seldom matches a plan period, and only per-deal lines carry a date.
    A component earned by the period as a whole (a tier of attainment, a bonus, a formula)
    is tied to no deal, so it does not count, nor do rewards (contest prizes among them) or
    draws. A deal's line is what the stored result says now: when a later deal of the same
    period changes a line (a cap reached), the score follows; a deleted deal's lines go with
    the recompute its deletion triggers."""
    tenant = await get_tenant(tenant_id)
    return await _lines(
        tenant_id=tenant_id, user_ids=user_ids, start=start, end=end,
        column="l.amount", which="r.currency = $6", extra=[tenant.currency],
    )  # fmt: skip


async def measure_total(
    *, tenant_id: UUID, user_ids: list[UUID], start: datetime, end: datetime, measure: str
) -> Scores:
    """A measure's total over the deals dated inside the window: the measure's value of each
    credited deal (converted, filtered and shared as the engine credited it), read from the
    lines of one per-deal (rate) component of that measure in each plan version."""
    pairs = await line_components(tenant_id, measure)
    return await _lines(
        tenant_id=tenant_id, user_ids=user_ids, start=start, end=end, column="l.value",
        which="(r.plan_version_id, l.component) IN "
        "(SELECT * FROM unnest($6::uuid[], $7::text[]))",
        extra=[[v for v, _ in pairs], [c for _, c in pairs]],
    )  # fmt: skip


async def line_components(tenant_id: UUID, measure: str) -> list[tuple[UUID, str]]:
    """For each plan version of the tenant with ``measure``, the first per-deal (rate)
    component on it: its lines carry every credited deal's value of the measure."""
    found = []
    for version_id, document in await PlanVersion.filter(tenant_id=tenant_id).values_list(
        "id", "document"
    ):
        for component in (document or {}).get("components", ()):  # type: ignore[union-attr]
            if component.get("type") == "rate" and component.get("measure") == measure:
                found.append((version_id, str(component["id"])))
                break
    return found


METRICS: dict[str, Scorer] = {
    "deal_count": deal_count,
    "deal_amount": deal_amount,
    "earnings": earnings,
    "xp": xp,
}
KNOWN = (*sorted(METRICS), f"{MEASURE}<measure id>")


def scorer_of(metric: str) -> Scorer | None:
    """The scorer of a metric's text (None: not a metric)."""
    if metric.startswith(MEASURE):
        measure = metric[len(MEASURE) :]
        return partial(measure_total, measure=measure) if _MEASURE_ID.fullmatch(measure) else None
    return METRICS.get(metric)
