"""Disputes: the payee raises one on their statement (or one of its lines); it goes to their
manager (with none, to the tenant's admins), who resolves it with an adjustment or a reason
for rejecting it. Open disputes hold the statement's approval. Every step is audited; the
other side is told through the inbox (pushed after the caller commits: `claim_pushes`).

Services never commit: the resolver owns the transaction.
"""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from domain.audit.service import record
from domain.kit.clock import utc_now
from domain.kit.periods import parse_period
from domain.kit.text import control_character
from domain.notifications.models import NotificationKind
from domain.notifications.repository import NewNotification, NotifierRepository
from domain.notifications.texts import render
from domain.org.models import Role, User
from domain.org.repository import UserRepository
from domain.org.viewer import Viewer
from domain.tenants.repository import get_tenant
from payments.disputes.errors import DisputeError
from payments.disputes.models import Dispute, DisputeComment, DisputeStatus
from payments.disputes.repository import DisputeRepository
from payments.statements import service as statements
from payments.statements.models import Statement
from payments.statements.repository import StatementRepository

MAX_MESSAGE = 2000


def _text(value: str | None, field: str) -> str:
    cleaned = (value or "").strip()
    if not cleaned:
        raise DisputeError("must not be empty", field=field)
    if len(cleaned) > MAX_MESSAGE:
        raise DisputeError(f"at most {MAX_MESSAGE} characters", field=field)
    if "\x00" in cleaned:
        raise DisputeError("must not contain a NUL character", field=field)
    if found := control_character(cleaned, but=statements.TEXT_BREAKS):  # told, pushed
        raise DisputeError(f"contains a control character ({found}): give plain text",
                           field=field)  # fmt: skip
    return cleaned


async def raise_dispute(
    *, viewer: Viewer, statement_id: str, line_id: str | None, message: str
) -> tuple[Dispute, list[UUID]]:
    """The payee disputes their statement in force (or one of its lines). Returns the
    dispute and who was told (to push to after the commit)."""
    statement = await StatementRepository(viewer).statement(statement_id, field="statementId")
    if viewer.user_id != statement.user_id:
        raise DisputeError(
            "only the payee may dispute a statement: it is not yours", field="statementId"
        )
    # locked: concurrent raises of one statement take turns, so the second finds the first
    # (and an adjustment that replaces the version waits, or is waited for)
    statement = await Statement.filter(id=statement.id).select_for_update().get()
    if not statement.current:
        raise DisputeError(
            f"version {statement.version} was replaced: dispute the statement in force",
            field="statementId",
        )
    line = None
    if line_id is not None:
        line = await StatementRepository(viewer).line(statement, line_id, field="lineId")
    text = _text(message, "message")
    already = Dispute.filter(
        tenant_id=viewer.tenant_id, statement_id=statement.id, user_id=statement.user_id,
        status=DisputeStatus.OPEN.value,
    )  # fmt: skip
    already = already.filter(line_id=line.id) if line else already.filter(line_id__isnull=True)
    if await already.exists():
        raise DisputeError(
            f"you have an open dispute on this {'line' if line else 'statement'} already: "
            "comment on it (commentDispute) instead of raising another",
            field="lineId" if line else "statementId",
        )
    payee = await UserRepository(viewer).get(statement.user_id)
    dispute = await Dispute.create(
        tenant_id=viewer.tenant_id,
        statement_id=statement.id,
        line_id=line.id if line else None,
        user_id=payee.id,
        period=statement.period,
        assignee_id=payee.manager_id,
        status=DisputeStatus.OPEN.value,
        message=text,
    )
    await record(
        viewer=viewer, action="dispute.raised", entity_type="dispute", entity_id=str(dispute.id),
        after={"statement_id": str(statement.id), "line_id": line.id if line else None,
               "message": text, "assignee_id": str(payee.manager_id or "")},
    )  # fmt: skip
    told = await _answerers(viewer, payee)
    await _tell(
        viewer, told, statement.period, NotificationKind.DISPUTE_RAISED,
        {"name": payee.display_name, "note": text, "dispute": str(dispute.id)},
    )  # fmt: skip
    return dispute, [u.id for u in told]


async def _answerers(viewer: Viewer, payee: User) -> list[User]:
    """The payee's manager; with none, the tenant's admins."""
    users = UserRepository(viewer)
    if payee.manager_id is not None:
        return [await users.get(payee.manager_id)]
    return [u for u in await users.all() if u.role is Role.ADMIN and u.id != payee.id]


async def _tell(
    viewer: Viewer,
    people: list[User],
    period: str,
    kind: NotificationKind,
    params: dict[str, str],
) -> None:
    tenant = await get_tenant(viewer.tenant_id)
    news = []
    for person in people:
        locale = person.locale or tenant.locale or "en"
        title, body = render(kind, {"period": period, **params}, locale)
        news.append(
            NewNotification(
                user_id=person.id, period=period, kind=kind, title=title, body=body,
                params={"period": period, **params}, locale=locale, sent=(),
            )
        )  # fmt: skip
    await NotifierRepository(viewer.tenant_id).add_notifications(news)


async def _may_answer(viewer: Viewer, dispute: Dispute, field: str) -> None:
    if viewer.user_id == dispute.user_id:
        raise DisputeError("the payee does not resolve their own dispute", field=field)
    if viewer.user_id is not None and viewer.user_id == dispute.assignee_id:
        return
    allowed = await statements.approvable_ids(viewer)
    if allowed is None or dispute.user_id in allowed:
        return
    raise DisputeError("this dispute is not yours to answer", field=field)


async def comment(*, viewer: Viewer, dispute_id: str, body: str) -> DisputeComment:
    """A comment by the payee, or by whoever may answer the dispute."""
    dispute = await DisputeRepository(viewer).dispute(dispute_id)
    if viewer.user_id != dispute.user_id:
        await _may_answer(viewer, dispute, "id")
    text = _text(body, "body")
    made = await DisputeComment.create(
        dispute_id=dispute.id, author_id=viewer.user_id, author_label=viewer.actor_label,
        body=text,
    )  # fmt: skip
    await record(
        viewer=viewer, action="dispute.commented", entity_type="dispute",
        entity_id=str(dispute.id), after={"body": text},
    )  # fmt: skip
    return made


async def resolve_dispute(
    *,
    viewer: Viewer,
    dispute_id: str,
    accept: bool,
    comment: str,
    adjustment: Decimal | None = None,
) -> tuple[Dispute, list[UUID]]:
    """Accept (with an adjustment on the payee's statement, or without one: the fix comes
    another way) or reject with a reason. An adjustment on a paid (or carried) statement, or
    on one a payout batch is paying, goes to the payee's next period. Returns the dispute and who
    was told."""
    dispute = await DisputeRepository(viewer).dispute(dispute_id, for_update=True)
    await _may_answer(viewer, dispute, "id")
    if dispute.status != DisputeStatus.OPEN.value:
        raise DisputeError(f"this dispute is {dispute.status} already", field="id")
    text = _text(comment, "comment")
    if adjustment is not None and not accept:
        raise DisputeError("a rejected dispute takes no adjustment", field="adjustment")
    statement = await Statement.get(id=dispute.statement_id)
    payee = await UserRepository(viewer).get(dispute.user_id)
    made = None
    if adjustment is not None:
        statements.check_amount(adjustment, statement.currency, "adjustment")
        period = statement.period
        current = await Statement.get_or_none(
            tenant_id=viewer.tenant_id, user_id=payee.id, period=period,
            currency=statement.currency, current=True,
        )  # fmt: skip
        if current is not None and (
            statements.settled(current) or await statements.in_payout(current.id) is not None
        ):
            period = parse_period(period).next().id
        reason = statements.check_text(f"Dispute: {text}"[: statements.MAX_REASON], "comment")
        made = await statements.adjust(
            viewer=viewer, user=payee, period=period, amount=adjustment,
            currency=statement.currency, reason=reason, field="adjustment",
        )  # fmt: skip
    dispute.status = (DisputeStatus.ACCEPTED if accept else DisputeStatus.REJECTED).value
    dispute.resolution = text
    dispute.resolved_at = utc_now()
    dispute.resolved_by = viewer.user_id
    dispute.adjustment_id = made.id if made else None
    await dispute.save(
        update_fields=["status", "resolution", "resolved_at", "resolved_by", "adjustment_id"]
    )
    await record(
        viewer=viewer, action="dispute.resolved", entity_type="dispute",
        entity_id=str(dispute.id), before={"status": DisputeStatus.OPEN.value},
        after={"status": dispute.status, "resolution": text,
               "adjustment": None if adjustment is None else format(adjustment, "f"),
               "adjustment_id": str(made.id) if made else None},
    )  # fmt: skip
    await _tell(
        viewer, [payee], dispute.period, NotificationKind.DISPUTE_RESOLVED,
        {"outcome": dispute.status, "note": text, "dispute": str(dispute.id)},
    )  # fmt: skip
    return dispute, [payee.id]
