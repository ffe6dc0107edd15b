"""Reading disputes, scoped to the viewer's tenant and to the payees the viewer may see."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from domain.kit.errors import Forbidden, NotFound
from domain.org.repository import UserRepository, parse_id
from domain.org.viewer import Viewer
from payments.disputes.models import Dispute, DisputeComment
from payments.statements.models import Statement


class DisputeRepository:
    def __init__(self, viewer: Viewer) -> None:
        self.tenant_id = viewer.tenant_id
        self.users = UserRepository(viewer)

    async def dispute(
        self, dispute_id: UUID | str, *, field: str = "id", for_update: bool = False
    ) -> Dispute:
        query = Dispute.filter(tenant_id=self.tenant_id, id=parse_id(dispute_id, field))
        if for_update:
            query = query.select_for_update()
        found = await query.first()
        if found is None:
            raise NotFound(f"no dispute {dispute_id}", field=field)
        if await self.users.visible_among([found.user_id]) != [found.user_id]:
            raise Forbidden("you may not see this dispute", field=field)
        return found

    async def of_statements(self, statement_ids: Sequence[UUID]) -> dict[UUID, list[Dispute]]:
        """The disputes of the payee and period of each statement (whichever version they
        were raised on), oldest first."""
        statements = await Statement.filter(tenant_id=self.tenant_id, id__in=list(statement_ids))
        keys = {s.id: (s.user_id, s.period) for s in statements}
        found = await Dispute.filter(
            tenant_id=self.tenant_id,
            user_id__in=list({k[0] for k in keys.values()}),
            period__in=list({k[1] for k in keys.values()}),
        ).order_by("created_at", "id")
        out: dict[UUID, list[Dispute]] = {i: [] for i in statement_ids}
        for statement_id, key in keys.items():
            out[statement_id] = [d for d in found if (d.user_id, d.period) == key]
        return out

    async def comments(self, dispute_id: UUID) -> list[DisputeComment]:
        return (await self.comments_of([dispute_id]))[dispute_id]

    async def comments_of(self, dispute_ids: Sequence[UUID]) -> dict[UUID, list[DisputeComment]]:
        """Each dispute's comments, oldest first (one query whatever their number)."""
        out: dict[UUID, list[DisputeComment]] = {i: [] for i in dispute_ids}
        if dispute_ids:
            for c in await DisputeComment.filter(
                dispute__tenant_id=self.tenant_id, dispute_id__in=list(dispute_ids)
            ).order_by("id"):
                out[c.dispute_id].append(c)
        return out
