"""Statements, their lines and adjustments: leaf fields are plain attributes; lines, disputes
and versions are read when asked."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any
from uuid import UUID

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.graphql.disputes.types import Dispute
from api.graphql.money import Money, money
from api.graphql.relay import Connection, decode_offset, offset_connection, page_size
from api.graphql.statements.invoices import Invoice
from api.statements import statement_pdf_url
from payments.statements.models import Adjustment as StoredAdjustment
from payments.statements.models import LineKind as StoredLineKind
from payments.statements.models import Statement as StoredStatement
from payments.statements.models import StatementLine as StoredLine
from payments.statements.repository import StatementRepository
from payments.statements.service import statement_document
from payments.statements.texts import describe


@strawberry.enum
class StatementStatus(Enum):
    DRAFT = "draft"
    APPROVED = "approved"
    PAID = "paid"
    CARRIED = strawberry.enum_value(
        "carried",
        description="Below zero: settled by carrying its balance into the payee's statement "
        "of a later period (carriedIntoPeriod), where a CARRY_FORWARD line nets it.",
    )


@strawberry.enum(description="Where a statement line's money comes from.")
class StatementLineKind(Enum):
    EARNINGS = "earnings"
    ADJUSTMENT = "adjustment"
    CLAWBACK = "clawback"
    PRIZE = "prize"
    DRAW = "draw"
    DRAW_RECOVERY = "draw_recovery"
    CARRY_FORWARD = strawberry.enum_value(
        "carry_forward",
        description="The balance below zero of an earlier statement (carriedFrom), netted here.",
    )


@strawberry.type(description="One line of a statement, described in the viewer's language.")
class StatementLine:
    id: strawberry.ID
    kind: StatementLineKind
    description: str
    amount: Money
    original_period: str | None = strawberry.field(
        description="A clawback or late change: the closed period it corrects."
    )
    original_line_id: strawberry.ID | None = strawberry.field(
        description="... and the earnings line it names."
    )
    carried_from: strawberry.ID | None = strawberry.field(
        description="A CARRY_FORWARD line: the id of the statement (that version) whose "
        "balance it carries; originalPeriod is its period."
    )

    @classmethod
    def of(cls, line: StoredLine, currency: str, locale: str) -> StatementLine:
        return cls(
            id=strawberry.ID(str(line.id)),
            kind=StatementLineKind(line.kind),
            description=describe(line.kind, line.params, locale, currency),
            amount=money(line.amount, currency, locale),
            original_period=line.original_period,
            original_line_id=(
                strawberry.ID(str(line.original_line_id)) if line.original_line_id else None
            ),
            carried_from=carried_from(line),
        )


def carried_from(line: StoredLine) -> strawberry.ID | None:
    if line.kind != StoredLineKind.CARRY_FORWARD.value:
        return None
    return strawberry.ID(str(line.params["statement"]))


@strawberry.type(
    description="What a payee is paid for a period in one currency: draft, approved, paid. "
    "A change after approval is a new version (the old one stays readable by its id)."
)
class Statement:
    id: strawberry.ID
    period: str
    currency: str
    status: StatementStatus
    version: int
    current: bool = strawberry.field(description="False: a later version replaced it.")
    total: Money
    approved_at: datetime | None
    paid_at: datetime | None
    inputs_hash: str = strawberry.field(description="sha256 of what it was built from.")
    carried_into_period: str | None = strawberry.field(
        description="CARRIED: the later period whose statement holds its balance."
    )
    stored: strawberry.Private[StoredStatement]

    @classmethod
    def of(cls, s: StoredStatement, locale: str) -> Statement:
        return cls(
            id=strawberry.ID(str(s.id)),
            period=s.period,
            currency=s.currency,
            status=StatementStatus(s.status),
            version=s.version,
            current=s.current,
            total=money(s.total, s.currency, locale),
            approved_at=s.approved_at,
            paid_at=s.paid_at,
            inputs_hash=s.inputs_hash,
            carried_into_period=s.carried_into_period,
            stored=s,
        )

    @strawberry.field(description="A signed link to the PDF (payee's language), for an hour.")
    def pdf_url(self, info: Info[Any, None]) -> str:
        context = info.context
        return statement_pdf_url(context.settings, self.stored.id)

    @strawberry.field(
        description="What the payee owes back on their recoverable draw after this period; "
        "null when they have no draw."
    )
    async def draw_balance(self, info: Info[Any, None]) -> Money | None:
        s = self.stored
        found = await info.context.loaders.draw_balances.load((s.user_id, s.currency, s.period))
        return None if found is None else money(found, s.currency, info.context.locale)

    @strawberry.field
    async def lines(
        self, info: Info[Any, None], first: int | None = 50, after: str | None = None
    ) -> Connection[StatementLine]:
        size, offset = page_size(first, 50), decode_offset(after)
        rows, has_next = await info.context.loaders.statement_lines.load(
            (self.stored.id, size, offset)
        )
        locale = info.context.locale
        return offset_connection(
            [StatementLine.of(r, self.stored.currency, locale) for r in rows],
            offset=offset,
            has_next=has_next,
        )

    @strawberry.field(description="A partner's self-billing invoice, issued on approval.")
    async def invoice(self, info: Info[Any, None]) -> Invoice | None:
        return await self._invoice(info, "invoice")

    @strawberry.field(
        description="The credit note that cancelled this version's invoice when a later "
        "version was approved; null while the invoice stands."
    )
    async def credit_note(self, info: Info[Any, None]) -> Invoice | None:
        return await self._invoice(info, "credit_note")

    async def _invoice(self, info: Info[Any, None], kind: str) -> Invoice | None:
        related = await info.context.loaders.statement_invoices.load(self.stored.id)
        found = related.get(kind)
        return None if found is None else Invoice.of(found, info.context.locale, related)

    @strawberry.field(description="Disputes of this payee and period, oldest first.")
    async def disputes(self, info: Info[Any, None]) -> list[Dispute]:
        found = await info.context.loaders.statement_disputes.load(self.stored.id)
        return [Dispute.of(d, comments) for d, comments in found]

    @strawberry.field(description="Every version of this statement, oldest first.")
    async def versions(self, info: Info[Any, None]) -> list[Statement]:
        s = self.stored
        found = await info.context.loaders.statement_versions.load(
            (s.user_id, s.period, s.currency)
        )
        return [Statement.of(s, info.context.locale) for s in found]

    @strawberry.field(
        description="The statement as JSON: lines in words, the plan versions (with their "
        "documents' sha256) and the hash of its inputs, to recompute and compare."
    )
    async def document(self, info: Info[Any, None]) -> JSON:
        return await statement_document(
            viewer=info.context.viewer, statement_id=self.stored.id, locale=info.context.locale
        )


@strawberry.type(description="A manual amount on a payee's statement.")
class Adjustment:
    id: strawberry.ID
    rep_id: strawberry.ID
    period: str
    amount: Money
    reason: str

    @classmethod
    def of(cls, a: StoredAdjustment, locale: str) -> Adjustment:
        return cls(
            id=strawberry.ID(str(a.id)),
            rep_id=strawberry.ID(str(a.user_id)),
            period=a.period,
            amount=money(a.amount, a.currency, locale),
            reason=a.reason,
        )


@strawberry.type(description="What approveStatements did.")
class ApprovalResult:
    approved: int
    skipped: int = strawberry.field(description="Held by an open dispute (no repIds given).")


async def statements_of(
    info: Info[Any, None], user_id: UUID, first: int | None, after: str | None
) -> Connection[Statement]:
    """A person's statements in force (the viewer may see them), newest period first."""
    size, offset = page_size(first, 12), decode_offset(after)
    rows, has_next = await StatementRepository(info.context.viewer).current_of(
        user_id, first=size, offset=offset
    )
    locale = info.context.locale
    return offset_connection(
        [Statement.of(s, locale) for s in rows], offset=offset, has_next=has_next
    )
