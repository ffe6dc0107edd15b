"""Reading statements, scoped to the viewer's tenant and to the people the viewer may see (a
rep: themselves; a manager: their subtree; admins and payout ops: the tenant). Another
tenant's ids are NotFound; someone outside the viewer's reach is Forbidden."""

from __future__ import annotations

from uuid import UUID

from domain.kit.errors import Forbidden, NotFound
from domain.org.repository import UserRepository, parse_id
from domain.org.viewer import Viewer
from payments.statements.models import Adjustment, Statement, StatementLine


class StatementRepository:
    def __init__(self, viewer: Viewer) -> None:
        self.tenant_id = viewer.tenant_id
        self.users = UserRepository(viewer)

    async def statement(self, statement_id: UUID | str, *, field: str = "id") -> Statement:
        found = await Statement.get_or_none(
            tenant_id=self.tenant_id, id=parse_id(statement_id, field)
        )
        if found is None:
            raise NotFound(f"no statement {statement_id}", field=field)
        if await self.users.visible_among([found.user_id]) != [found.user_id]:
            raise Forbidden("you may not see this person's statements", field=field)
        return found

    async def current_of(
        self, user_id: UUID, *, first: int, offset: int
    ) -> tuple[list[Statement], bool]:
        """The person's statements in force, newest period first."""
        visible_id = await self.users.require_visible_id(user_id)
        rows = (
            await Statement.filter(tenant_id=self.tenant_id, user_id=visible_id, current=True)
            .order_by("-period", "currency")
            .offset(offset)
            .limit(first + 1)
        )
        return rows[:first], len(rows) > first

    async def versions(self, statement: Statement) -> list[Statement]:
        """Every version of the statement's payee, period and currency, oldest first."""
        return await Statement.filter(
            tenant_id=self.tenant_id,
            user_id=statement.user_id,
            period=statement.period,
            currency=statement.currency,
        ).order_by("version")

    async def lines(
        self, statement_id: UUID, *, first: int, offset: int
    ) -> tuple[list[StatementLine], bool]:
        rows = (
            await StatementLine.filter(tenant_id=self.tenant_id, statement_id=statement_id)
            .order_by("position")
            .offset(offset)
            .limit(first + 1)
        )
        return rows[:first], len(rows) > first

    async def all_lines(self, statement_id: UUID) -> list[StatementLine]:
        return await StatementLine.filter(
            tenant_id=self.tenant_id, statement_id=statement_id
        ).order_by("position")

    async def line(self, statement: Statement, line_id: int | str, *, field: str) -> StatementLine:
        try:
            parsed = int(str(line_id))
        except ValueError:
            raise NotFound(f"no statement line {line_id!r}", field=field) from None
        found = await StatementLine.get_or_none(
            tenant_id=self.tenant_id, statement_id=statement.id, id=parsed
        )
        if found is None:
            raise NotFound(f"no line {line_id} on this statement", field=field)
        return found

    async def adjustment(self, adjustment_id: UUID) -> Adjustment | None:
        return await Adjustment.get_or_none(tenant_id=self.tenant_id, id=adjustment_id)
