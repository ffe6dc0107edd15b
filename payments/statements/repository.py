"""Reading statements, scoped to the viewer's tenant and to the people the viewer may see (a
rep: themselves; a manager: their subtree; admins and payout ops: the tenant). Another
tenant's ids are NotFound; someone outside the viewer's reach is Forbidden."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from tortoise import connections

from domain.kit.errors import Forbidden, NotFound
from domain.kit.numbers import bigint_id
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

    async def versions_of(
        self, keys: Sequence[tuple[UUID, str, str]]
    ) -> dict[tuple[UUID, str, str], list[Statement]]:
        """Every version of each (payee, period, currency), oldest first: one query."""
        out: dict[tuple[UUID, str, str], list[Statement]] = {k: [] for k in keys}
        if keys:
            for s in await Statement.filter(
                tenant_id=self.tenant_id,
                user_id__in=list({k[0] for k in keys}),
                period__in=list({k[1] for k in keys}),
            ).order_by("version"):
                if (s.user_id, s.period, s.currency) in out:
                    out[(s.user_id, s.period, s.currency)].append(s)
        return out

    async def lines_of(
        self, statement_ids: Sequence[UUID], *, first: int, offset: int
    ) -> dict[UUID, tuple[list[StatementLine], bool]]:
        """A page of each statement's lines (and whether more follow): one query whatever
        the number of statements."""
        ids = list(dict.fromkeys(statement_ids))
        rows = await connections.get("default").execute_query_dict(
            """
            SELECT id FROM (
              SELECT id, statement_id, position,
                     row_number() OVER (PARTITION BY statement_id ORDER BY position) AS n
              FROM statement_lines WHERE tenant_id = $1 AND statement_id = ANY($2::uuid[])
            ) numbered WHERE n > $3 AND n <= $3 + $4 + 1
            """,
            [self.tenant_id, ids, offset, first],
        )
        found: dict[UUID, list[StatementLine]] = {i: [] for i in ids}
        if rows:
            for line in await StatementLine.filter(id__in=[r["id"] for r in rows]).order_by(
                "position"
            ):
                found[line.statement_id].append(line)
        return {i: (lines[:first], len(lines) > first) for i, lines in found.items()}

    async def all_lines(self, statement_id: UUID) -> list[StatementLine]:
        return await StatementLine.filter(
            tenant_id=self.tenant_id, statement_id=statement_id
        ).order_by("position")

    async def line(self, statement: Statement, line_id: int | str, *, field: str) -> StatementLine:
        parsed = bigint_id(line_id)
        if parsed is None:
            raise NotFound(f"no statement line {str(line_id)[:40]!r}", field=field)
        found = await StatementLine.get_or_none(
            tenant_id=self.tenant_id, statement_id=statement.id, id=parsed
        )
        if found is None:
            raise NotFound(f"no line {line_id} on this statement", field=field)
        return found

    async def adjustment(self, adjustment_id: UUID) -> Adjustment | None:
        return await Adjustment.get_or_none(tenant_id=self.tenant_id, id=adjustment_id)
