"""Reading stored earnings, scoped to the viewer's tenant and to the people the viewer may see
(a rep: themselves; a manager: their subtree; admins and payout ops: the tenant). Another
tenant's ids are NotFound; a colleague outside the viewer's reach is Forbidden."""

from __future__ import annotations

from uuid import UUID

from tortoise import connections

from domain.earnings.models import EarningsLine, EarningsResult
from domain.kit.errors import Forbidden, NotFound
from domain.kit.numbers import bigint_id
from domain.org.repository import UserRepository, parse_id
from domain.org.viewer import Viewer


class EarningsRepository:
    def __init__(self, viewer: Viewer) -> None:
        self.tenant_id = viewer.tenant_id
        self.users = UserRepository(viewer)

    async def results(self, user_id: UUID | str, period: str) -> list[EarningsResult]:
        visible_id = await self.users.require_visible_id(user_id)
        return await EarningsResult.filter(
            tenant_id=self.tenant_id, user_id=visible_id, period=period
        ).order_by("computed_at")

    async def results_for_users(self, user_ids: list[UUID], period: str) -> list[EarningsResult]:
        """Results of those of ``user_ids`` the viewer may see (the others are left out)."""
        return await EarningsResult.filter(
            tenant_id=self.tenant_id,
            user_id__in=await self.users.visible_among(user_ids),
            period=period,
        )

    async def result(self, result_id: UUID | str) -> EarningsResult:
        found = await EarningsResult.get_or_none(
            tenant_id=self.tenant_id, id=parse_id(result_id, "resultId")
        )
        if found is None:
            raise NotFound(f"no earnings result {result_id}", field="resultId")
        await self._require_visible(found.user_id, "resultId")
        return found

    async def line(self, line_id: int | str) -> EarningsLine:
        parsed = bigint_id(line_id)
        if parsed is None:
            raise NotFound(f"no earnings line {str(line_id)[:40]!r}", field="lineId")
        found = (
            await EarningsLine.filter(tenant_id=self.tenant_id, id=parsed)
            .prefetch_related("result")
            .first()
        )
        if found is None:
            raise NotFound(f"no earnings line {line_id}", field="lineId")
        await self._require_visible(found.result.user_id, "lineId")
        return found

    async def _require_visible(self, user_id: UUID, field: str) -> None:
        if await self.users.visible_among([user_id]) != [user_id]:
            raise Forbidden("you may not see this person's earnings", field=field)

    async def lines(
        self, user_id: UUID, period: str, *, first: int, after: int | None
    ) -> tuple[list[EarningsLine], bool]:
        """Newest first (component summaries, which have no date, lead); keyset paginated by
        an opaque offset cursor."""
        offset = after or 0
        visible_id = await self.users.require_visible_id(user_id)
        rows = (
            await EarningsLine.filter(
                tenant_id=self.tenant_id,
                result__user_id=visible_id,
                result__period=period,
            )
            .order_by("-occurred_on", "result_id", "position")
            .offset(offset)
            .limit(first + 1)
        )
        return rows[:first], len(rows) > first

    async def history(self, user_id: UUID, last: int) -> list[dict[str, object]]:
        user_id = await self.users.require_visible_id(user_id)
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
