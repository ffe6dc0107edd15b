"""Every query of the leaderboards area."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from tortoise import connections

from domain.earnings.models import EarningsResult
from domain.org.models import User
from domain.plans.models import PlanVersion
from gamification.leaderboards.models import Leaderboard

_BOARD = "SELECT * FROM leaderboards WHERE tenant_id = $1 AND id = $2"


class LeaderboardRepository:
    def __init__(self, tenant_id: UUID) -> None:
        self.tenant_id = tenant_id

    async def boards(self) -> list[Leaderboard]:
        return await Leaderboard.filter(tenant_id=self.tenant_id).order_by("name")

    async def board(self, board_id: UUID) -> Leaderboard | None:
        """The tenant's board with this id: one plain statement (read at every page of a
        board the apps show), built as the ORM builds it."""
        _, rows = await connections.get("default").execute_query(_BOARD, [self.tenant_id, board_id])
        return Leaderboard._init_from_db(**rows[0]) if rows else None

    async def named(self, name: str) -> Leaderboard | None:
        return await Leaderboard.filter(tenant_id=self.tenant_id, name=name).first()

    async def measures(self) -> set[str]:
        """The measure ids of every plan version the tenant has published."""
        documents = await PlanVersion.filter(tenant_id=self.tenant_id).values_list(
            "document", flat=True
        )
        return {
            str(m["id"])
            for document in documents
            for m in (document or {}).get("measures", ())  # type: ignore[union-attr]
            if isinstance(m, dict) and "id" in m
        }

    async def people(self, user_ids: Sequence[UUID]) -> dict[UUID, User]:
        found = await User.filter(tenant_id=self.tenant_id, id__in=list(user_ids))
        return {u.id: u for u in found}

    async def locales(self, user_ids: Sequence[UUID]) -> dict[UUID, str | None]:
        """The locale of each of these people who exists (the one column a notification
        needs, not the whole row)."""
        rows = await User.filter(tenant_id=self.tenant_id, id__in=list(user_ids)).values_list(
            "id", "locale"
        )
        return dict(rows)

    async def group_members(self, name: str) -> set[UUID]:
        """The people of a named group: ``attributes["group"]`` is ``name`` (as the CRM sync
        and the CSV import set a person's attributes)."""
        rows = await User.filter(tenant_id=self.tenant_id).values_list("id", "attributes")
        return {
            user_id
            for user_id, attributes in rows
            if isinstance(attributes, dict) and attributes.get("group") == name
        }

    async def results(
        self, periods: Sequence[str], user_ids: Sequence[UUID] | None = None
    ) -> dict[tuple[UUID, str], list[dict[str, Any]]]:
        """Stored results of ``periods`` per (person, period), in one statement (all of the
        tenant's people, or ``user_ids``')."""
        query = EarningsResult.filter(tenant_id=self.tenant_id, period__in=list(periods))
        if user_ids is not None:
            query = query.filter(user_id__in=list(user_ids))
        rows = await query.values("user_id", "period", "status", "total", "currency", "measures")
        out: dict[tuple[UUID, str], list[dict[str, Any]]] = {}
        for row in rows:
            out.setdefault((row["user_id"], row["period"]), []).append(row)
        return out
