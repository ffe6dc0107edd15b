"""Reading stored earnings, scoped to the viewer's tenant (access is checked by the caller
through UserRepository.visible)."""

from __future__ import annotations

from uuid import UUID

from tortoise import connections

from domain.earnings.models import EarningsLine, EarningsResult
from domain.org.viewer import Viewer


class EarningsRepository:
    def __init__(self, viewer: Viewer) -> None:
        self.tenant_id = viewer.tenant_id

    async def results(self, user_id: UUID, period: str) -> list[EarningsResult]:
        return (
            await EarningsResult.filter(tenant_id=self.tenant_id, user_id=user_id, period=period)
            .prefetch_related("plan_version__plan")
            .order_by("computed_at")
        )

    async def results_for_users(self, user_ids: list[UUID], period: str) -> list[EarningsResult]:
        return await EarningsResult.filter(
            tenant_id=self.tenant_id, user_id__in=user_ids, period=period
        )

    async def lines(
        self, user_id: UUID, period: str, *, first: int, after: int | None
    ) -> tuple[list[EarningsLine], bool]:
        """Newest first (component summaries, which have no date, lead); keyset paginated by
        an opaque offset cursor."""
        offset = after or 0
        rows = (
            await EarningsLine.filter(
                tenant_id=self.tenant_id,
                result__user_id=user_id,
                result__period=period,
            )
            .order_by("-occurred_on", "result_id", "position")
            .offset(offset)
            .limit(first + 1)
        )
        return rows[:first], len(rows) > first

    async def history(self, user_id: UUID, last: int) -> list[dict[str, object]]:
        rows = await connections.get("default").execute_query_dict(
            """
            SELECT period, currency, sum(total) AS total, sum(payable) AS payable,
                   sum(pending) AS pending, max(computed_at) AS computed_at
            FROM earnings_results
            WHERE tenant_id = $1 AND user_id = $2 AND status = 'ok'
            GROUP BY period, currency
            ORDER BY period DESC
            LIMIT $3
            """,
            [self.tenant_id, user_id, last],
        )
        return list(reversed(rows))
