"""Earnings types. Built from stored results: leaf fields are plain attributes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

import strawberry
from strawberry.types import Info

from api.graphql.money import Money, money
from api.graphql.relay import Connection, decode_offset, offset_connection, page_size
from domain.earnings.models import EarningsLine as StoredLine
from domain.earnings.models import EarningsResult, ResultStatus
from domain.earnings.repository import EarningsRepository
from domain.earnings.service import WhatIfResult as DomainWhatIf
from domain.earnings.summary import main_currency, totals
from domain.engine.explanations import error_words, render_stored
from domain.kit.money import unpadded
from domain.rewards import repository as rewards_repository


def humanize(identifier: str) -> str:
    """'quota_club' -> 'Quota club': the name of a component or measure stored without the
    plan's display name (before plans had them)."""
    words = identifier.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:]


@strawberry.enum
class LineStatus(Enum):
    PAYABLE = "payable"
    PENDING = "pending"
    PARTIAL = "partial"


@strawberry.type(description="One figure behind a period's earnings, explained in plain words.")
class EarningsLine:
    id: strawberry.ID
    component: str
    transaction_id: str | None
    occurred_at: date | None = strawberry.field(description="The transaction's date.")
    value: Decimal | None = strawberry.field(description="The measure value credited.")
    status: LineStatus
    amount: Money
    explanation: str

    @classmethod
    def of(cls, line: StoredLine, currency: str, locale: str) -> EarningsLine:
        return cls(
            id=strawberry.ID(str(line.id)),
            component=line.component,
            transaction_id=line.transaction_external_id,
            occurred_at=line.occurred_on,
            value=None if line.value is None else Decimal(line.value).normalize(),
            status=LineStatus(line.status),
            amount=money(line.amount, currency, locale),
            explanation=render_stored(
                line.explanation,
                locale=locale,
                currency=currency,
                value=line.value,
                amount=line.amount,
                transaction=line.transaction_external_id,
            ),
        )


@strawberry.type
class EarningsComponent:
    id: strawberry.ID
    name: str
    type: str
    amount: Money
    payable: Money
    pending: Money


@strawberry.type(description="A quota measure's progress in one period.")
class QuotaProgress:
    measure: str
    name: str
    total: Decimal
    quota: Decimal | None
    attainment: Decimal | None = strawberry.field(description="total / quota (1 = 100%).")


@strawberry.type(description="A rep's earnings in one period, over every plan they are on.")
class Earnings:
    period: str
    total: Money
    payable: Money = strawberry.field(description="Earned and payable now.")
    pending: Money = strawberry.field(
        description="Earned, waiting for a condition such as activation (payable_when)."
    )
    updated_at: datetime | None = strawberry.field(description="When the last recompute ended.")
    components: list[EarningsComponent]
    errors: list[str] = strawberry.field(
        description="Plans that could not be calculated this period, and why, in the "
        "viewer's language (people by their names)."
    )
    user_id: strawberry.Private[UUID]
    currencies: strawberry.Private[dict[UUID, str]]

    @strawberry.field(description="The lines behind the figures, newest first.")
    async def lines(
        self, info: Info[Any, None], first: int | None = 20, after: str | None = None
    ) -> Connection[EarningsLine]:
        context = info.context
        size, offset = page_size(first), decode_offset(after)
        rows, has_next = await EarningsRepository(context.viewer).lines(
            self.user_id, self.period, first=size, after=offset
        )
        fallback = next(iter(self.currencies.values()), self.total.currency)
        nodes = [
            EarningsLine.of(r, self.currencies.get(r.result_id, fallback), context.locale)
            for r in rows
        ]
        return offset_connection(nodes, offset=offset, has_next=has_next)

    @strawberry.field(
        description="Money awarded outside the plans this period (contest prizes, and their "
        "claw-backs as negative lines), as lines; not in the totals above, which are the plans'."
    )
    async def reward_lines(self, info: Info[Any, None]) -> list[EarningsLine]:
        context = info.context
        rows = await rewards_repository.for_user_period(
            tenant_id=context.viewer.tenant_id, user_id=self.user_id, period=self.period
        )
        return [
            EarningsLine(
                id=strawberry.ID(f"reward:{r.id}"), component=r.source_kind,
                transaction_id=None, occurred_at=r.created_at.date(), value=None,
                status=LineStatus.PAYABLE, amount=money(r.amount, r.currency, context.locale),
                explanation=r.reason,
            )
            for r in rows
        ]  # fmt: skip


def earnings_of(
    user_id: UUID,
    period: str,
    results: Sequence[EarningsResult],
    *,
    default_currency: str,
    locale: str,
) -> Earnings:
    """Sums a rep's stored results for one period (plans paying in another currency than the
    main one are listed as components but not added to the totals)."""
    currency = main_currency(results, default_currency)
    total, payable, pending = totals(results, currency)
    components = [
        EarningsComponent(
            id=strawberry.ID(f"{r.plan_version_id}:{c['id']}"),
            name=str(c.get("name") or humanize(str(c["id"]))),
            type=str(c.get("type", "")),
            amount=money(Decimal(str(c["amount"])), r.currency, locale),
            payable=money(Decimal(str(c.get("payable", c["amount"]))), r.currency, locale),
            pending=money(Decimal(str(c.get("pending", 0))), r.currency, locale),
        )
        for r in results
        if r.status == ResultStatus.OK
        for c in r.components
    ]
    return Earnings(
        period=period,
        total=money(total, currency, locale),
        payable=money(payable, currency, locale),
        pending=money(pending, currency, locale),
        updated_at=max((r.computed_at for r in results), default=None),
        components=components,
        errors=[
            error_words(r.explanation, r.error, locale=locale, currency=r.currency)
            for r in results
            if r.status == ResultStatus.ERROR
        ],
        user_id=user_id,
        currencies={r.id: r.currency for r in results},
    )


def quota_progress_of(results: Sequence[EarningsResult]) -> list[QuotaProgress]:
    seen: set[str] = set()
    out: list[QuotaProgress] = []
    for r in results:
        for m in r.measures:
            measure = str(m["id"])
            if m.get("quota") is None or measure in seen:
                continue
            seen.add(measure)
            attainment = m.get("attainment")
            out.append(
                QuotaProgress(
                    measure=measure,
                    name=str(m.get("name") or humanize(measure)),
                    total=unpadded(str(m["total"])),
                    quota=unpadded(str(m["quota"])),
                    attainment=None if attainment is None else unpadded(str(attainment)),
                )
            )
    return out


def first_attainment(results: Sequence[EarningsResult]) -> Decimal | None:
    progress = quota_progress_of(results)
    return next((p.attainment for p in progress if p.attainment is not None), None)


@strawberry.type
class EarningsPoint:
    period: str
    total: Money
    payable: Money
    pending: Money

    @classmethod
    def of(cls, row: dict[str, Any], locale: str) -> EarningsPoint:
        currency = str(row["currency"])
        return cls(
            period=str(row["period"]),
            total=money(Decimal(row["total"]), currency, locale),
            payable=money(Decimal(row["payable"]), currency, locale),
            pending=money(Decimal(row["pending"]), currency, locale),
        )


@strawberry.type(description="Earnings this period without and with a hypothetical deal.")
class WhatIf:
    before: Money
    after: Money
    delta: Money

    @classmethod
    def of(cls, result: DomainWhatIf, locale: str) -> WhatIf:
        return cls(
            before=money(result.before, result.currency, locale),
            after=money(result.after, result.currency, locale),
            delta=money(result.delta, result.currency, locale),
        )
