"""`createPayoutBatch`, `approvePayoutBatch`, `executePayoutBatch`, `confirmPayoutBatch`,
`returnPayoutItem`, `settlePayoutItem`, `payoutBatch` and `paidByPayee`: payout ops and
admins."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry.types import Info
from tortoise.transactions import in_transaction

from api.graphql.batches.types import (
    CreatePayoutBatchInput,
    PaidInYear,
    PayoutBatch,
    SettledAs,
)
from api.graphql.errors import UserError, user_error
from api.graphql.money import money
from api.graphql.people.types import Rep
from domain.kit.errors import DomainError, Forbidden
from domain.org.models import User
from payments.batches import service
from payments.payouts.models import PayoutMethod

log = logging.getLogger("podium.api.payouts")

PayoutBatchResult = Annotated[PayoutBatch | UserError, strawberry.union("PayoutBatchResult")]


async def _batch_or_error(work: Callable[[], Awaitable[Any]]) -> PayoutBatch | UserError:
    """``work`` in a transaction: its batch, or the UserError of a refusal (FORBIDDEN is
    raised as an error of the operation, as everywhere)."""
    try:
        async with in_transaction():
            batch = await work()
    except Forbidden:
        raise
    except DomainError as exc:
        return user_error(exc)
    return PayoutBatch.of(batch)


async def create_payout_batch(
    info: Info[Any, None], input: CreatePayoutBatchInput
) -> PayoutBatchResult:
    return await _batch_or_error(lambda: service.create_batch(
        viewer=info.context.viewer, period=input.period,
        method=PayoutMethod(input.method.value), rep_ids=input.rep_ids, currency=input.currency,
    ))  # fmt: skip


async def approve_payout_batch(info: Info[Any, None], id: strawberry.ID) -> PayoutBatchResult:
    return await _batch_or_error(
        lambda: service.approve_batch(viewer=info.context.viewer, batch_id=id)
    )


async def execute_payout_batch(info: Info[Any, None], id: strawberry.ID) -> PayoutBatchResult:
    viewer = info.context.viewer
    result = await _batch_or_error(lambda: service.start_execution(viewer=viewer, batch_id=id))
    if isinstance(result, PayoutBatch):
        try:
            await info.context.request.app.state.job_queue.enqueue_payout(
                viewer.tenant_id, result.batch.id
            )
        except Exception:  # the batch is executing: calling again (or the CLI) runs it
            log.exception("could not queue payout batch %s", result.batch.id)
    return result


async def confirm_payout_batch(info: Info[Any, None], id: strawberry.ID) -> PayoutBatchResult:
    """The batch with `confirmedItems`: what became of each submitted item (a gift card
    batch's as its provider shows them); a UserError (`id`, PROVIDER_NOT_CHECKED) when the
    provider could be asked about none, nothing changed."""
    try:
        async with in_transaction():
            confirmed = await service.confirm_batch(
                viewer=info.context.viewer, batch_id=id,
                secret=info.context.settings.payout_details_secret,
            )  # fmt: skip
    except Forbidden:
        raise
    except DomainError as exc:
        return user_error(exc)
    return PayoutBatch.of(confirmed.batch, confirmed)


async def return_payout_item(
    info: Info[Any, None], batch_id: strawberry.ID, reference: str, reason: str
) -> PayoutBatchResult:
    viewer = info.context.viewer

    async def work() -> Any:
        await service.return_item(viewer=viewer, batch_id=batch_id, reference=reference,
                                  reason=reason)  # fmt: skip
        return await service.batch_of(viewer=viewer, batch_id=batch_id)

    return await _batch_or_error(work)


async def settle_payout_item(
    info: Info[Any, None],
    batch_id: strawberry.ID,
    item: str,
    outcome: SettledAs,
    reason: str,
    reference: str | None = None,
    provider_checked: Annotated[
        bool,
        strawberry.argument(
            description="With outcome FAILED: you looked for the payment at the provider "
            "yourself, for when Podium cannot ask it (audited)."
        ),
    ] = False,
) -> PayoutBatchResult:
    viewer = info.context.viewer

    async def work() -> Any:
        await service.settle_item(viewer=viewer, batch_id=batch_id, item=item,
                                  outcome=outcome.value, reason=reason,
                                  secret=info.context.settings.payout_details_secret,
                                  reference=reference,
                                  provider_checked=provider_checked)  # fmt: skip
        return await service.batch_of(viewer=viewer, batch_id=batch_id)

    return await _batch_or_error(work)


async def payout_batch(info: Info[Any, None], id: strawberry.ID) -> PayoutBatch | None:
    batch = await service.batch_of(viewer=info.context.viewer, batch_id=id)
    return None if batch is None else PayoutBatch.of(batch)


async def payout_batches(info: Info[Any, None], period: str | None = None) -> list[PayoutBatch]:
    try:
        found = await service.batches_of(viewer=info.context.viewer, period=period)
    except Forbidden:
        raise
    except DomainError as exc:
        raise GraphQLError(exc.message, extensions={"code": "BAD_USER_INPUT",
                                                    "field": exc.field}) from None  # fmt: skip
    return [PayoutBatch.of(b) for b in found]


async def paid_by_payee(info: Info[Any, None], year: int) -> list[PaidInYear]:
    found = await service.paid_by_payee(viewer=info.context.viewer, year=year)
    people = {u.id: u for u in await User.filter(id__in=[f.user_id for f in found])}
    return [
        PaidInYear(
            rep=Rep.of(people[f.user_id]),
            total=money(f.total, f.currency, info.context.locale),
            nonemployee_compensation=money(
                f.nonemployee_compensation, f.currency, info.context.locale
            ),
            federal_tax_withheld=money(f.federal_tax_withheld, f.currency, info.context.locale),
            form_1099_nec=f.form_1099_nec,
        )  # fmt: skip
        for f in found
    ]
