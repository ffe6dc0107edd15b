"""A rep's earnings in one period, summed from the stored results: what live updates carry
(as JSON, decimals as exact strings) and what the payable rule compares."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.earnings.models import EarningsResult
from domain.earnings.summary import main_currency, totals
from domain.kit.money import format_plain, unpadded


@dataclass(frozen=True, slots=True)
class EarningsSummary:
    tenant_id: UUID
    user_id: UUID
    period: str
    currency: str
    total: Decimal
    payable: Decimal
    pending: Decimal
    updated_at: datetime | None

    def to_json(self) -> str:
        return json.dumps(
            {
                "tenant_id": str(self.tenant_id),
                "user_id": str(self.user_id),
                "period": self.period,
                "currency": self.currency,
                "total": format_plain(self.total),
                "payable": format_plain(self.payable),
                "pending": format_plain(self.pending),
                "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> EarningsSummary:
        data: dict[str, Any] = json.loads(text)
        updated = data.get("updated_at")
        return cls(
            tenant_id=UUID(data["tenant_id"]),
            user_id=UUID(data["user_id"]),
            period=str(data["period"]),
            currency=str(data["currency"]),
            total=Decimal(data["total"]),
            payable=Decimal(data["payable"]),
            pending=Decimal(data["pending"]),
            updated_at=datetime.fromisoformat(updated) if updated else None,
        )


def summarize(
    results: Sequence[EarningsResult],
    *,
    tenant_id: UUID,
    user_id: UUID,
    period: str,
    default_currency: str,
) -> EarningsSummary:
    """The sums of domain.earnings.summary, exact, not rounded."""
    currency = main_currency(results, default_currency)
    total, payable, pending = totals(results, currency)
    return EarningsSummary(
        tenant_id=tenant_id,
        user_id=user_id,
        period=period,
        currency=currency,
        total=unpadded(total),
        payable=unpadded(payable),
        pending=unpadded(pending),
        updated_at=max((r.computed_at for r in results), default=None),
    )
