"""The root of the GraphQL API: `schema` (exported to schema.graphql) and `build_schema`.

Regenerate the SDL after changing a type:
    .venv/bin/strawberry export-schema api.graphql.schema:schema --output schema.graphql
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext, StreamResult
from strawberry.types import ExecutionContext
from strawberry.types.execution import PreExecutionError

from api.graphql.batches.resolvers import (
    PayoutBatchResult,
    approve_payout_batch,
    confirm_payout_batch,
    create_payout_batch,
    execute_payout_batch,
    paid_by_payee,
    payout_batch,
    payout_batches,
    return_payout_item,
    settle_payout_item,
)
from api.graphql.batches.types import PaidInYear, PayoutBatch
from api.graphql.disputes.mutations.raise_dispute import RaiseDisputeResult, raise_dispute
from api.graphql.disputes.mutations.resolve_dispute import (
    CommentDisputeResult,
    ResolveDisputeResult,
    comment_dispute,
    resolve_dispute,
)
from api.graphql.earnings.mutations.close_period import ClosePeriodResult, close_period
from api.graphql.errors import ErrorPolicy, public_errors
from api.graphql.gamification.badges.mutations.define import (
    CreateBadgeResult,
    CreateStreakResult,
    SetLevelMapResult,
    create_badge,
    create_streak,
    set_level_map,
)
from api.graphql.gamification.contests.mutations.launch_contest import (
    LaunchContestResult,
    launch_contest,
)
from api.graphql.gamification.contests.types import Contest, contest, contests
from api.graphql.gamification.leaderboards.mutations.create_leaderboard import (
    CreateLeaderboardResult,
    create_leaderboard,
)
from api.graphql.gamification.leaderboards.subscriptions import leaderboard_changed
from api.graphql.gamification.leaderboards.types import Leaderboard, leaderboard
from api.graphql.limits import limit_extensions
from api.graphql.notifications.mutations.mark_notifications_read import (
    MarkNotificationsReadResult,
    mark_notifications_read,
)
from api.graphql.notifications.mutations.register_device import (
    RegisterDeviceResult,
    register_device,
)
from api.graphql.notifications.subscriptions import earnings_updated
from api.graphql.notifications.types import EarningsUpdate
from api.graphql.payouts.mutations.set_payout_details import (
    SetPayoutDetailsResult,
    set_payout_details,
)
from api.graphql.payouts.queries import payout_details
from api.graphql.payouts.types import PayoutDetails
from api.graphql.people.queries import me, rep
from api.graphql.people.types import Me, Rep
from api.graphql.plans.mutations.accept_plan import AcceptPlanResult, accept_plan
from api.graphql.plans.mutations.publish_plan import PublishPlanResult, publish_plan
from api.graphql.scalars import SCALAR_OVERRIDES
from api.graphql.statements.accruals import Accrual, accruals
from api.graphql.statements.balances import OutstandingBalance, outstanding_balances
from api.graphql.statements.invoices import (
    SetPartnerProfileResult,
    SetTaxRuleResult,
    set_partner_profile,
    set_tax_rule,
)
from api.graphql.statements.mutations.add_adjustment import AddAdjustmentResult, add_adjustment
from api.graphql.statements.mutations.approve_statements import (
    ApproveStatementsResult,
    approve_statements,
)
from api.graphql.statements.mutations.set_draw import (
    SetDrawResult,
    SetPlanDrawTermsResult,
    set_draw,
    set_plan_draw_terms,
)
from api.graphql.statements.queries import statement
from api.graphql.statements.types import Statement
from api.graphql.targets.mutations.accept_target import AcceptTargetResult, accept_target
from api.graphql.targets.mutations.allocate_target import AllocateTargetResult, allocate_target
from api.graphql.targets.mutations.create_target_plan import (
    CreateTargetPlanResult,
    create_target_plan,
)
from api.graphql.targets.mutations.propose_target import ProposeTargetResult, propose_target
from api.graphql.targets.mutations.publish_targets import PublishTargetsResult, publish_targets
from api.graphql.targets.mutations.reject_target import RejectTargetResult, reject_target
from api.graphql.targets.mutations.revise_target_plan import (
    ReviseTargetPlanResult,
    revise_target_plan,
)
from api.graphql.targets.mutations.validate_target import ValidateTargetResult, validate_target
from api.graphql.targets.queries import target, target_plans
from api.graphql.targets.types import Target, TargetPlanVersion
from api.settings import Limits


@strawberry.type
class Query:
    me: Me = strawberry.field(resolver=me, description="The signed-in person.")
    rep: Rep | None = strawberry.field(
        resolver=rep,
        description="A person the viewer may see (reps: themselves; managers: their "
        "subtree; admins: their tenant). Another person's id is FORBIDDEN; an unknown id null.",
    )
    target: Target | None = strawberry.field(
        resolver=target,
        description="A target the viewer may see (their own, their subtree's, any for "
        "admins), with its allocation, actuals so far and attainment; otherwise null.",
    )
    leaderboard: Leaderboard | None = strawberry.field(
        resolver=leaderboard,
        description="A board the viewer may see (the tenant's, or a team's they are in or "
        "manage), ranking its current period; otherwise null.",
    )
    contests: list[Contest] = strawberry.field(
        resolver=contests,
        description="Contests the viewer may see (reps: theirs; managers: their subtree's; "
        "admins: all; hidden ones: their launcher only), filtered by status.",
    )
    contest: Contest | None = strawberry.field(
        resolver=contest, description="A contest the viewer may see, with standings and winners."
    )
    statement: Statement | None = strawberry.field(
        resolver=statement,
        description="A statement (any version) of someone the viewer may see, with its "
        "lines; an unknown id null, someone else's FORBIDDEN.",
    )
    accruals: list[Accrual] = strawberry.field(
        resolver=accruals,
        description="Admins and payout ops: a period's earned, approved, paid and "
        "outstanding commissions per currency (and component with byComponent).",
    )
    outstanding_balances: list[OutstandingBalance] = strawberry.field(
        resolver=outstanding_balances,
        description="Admins and payout ops: the balances payees owe (approved statements "
        "owing below zero) that no statement has carried yet, with their age.",
    )
    payout_details: PayoutDetails | None = strawberry.field(
        resolver=payout_details,
        description="How a payee is paid, masked: the viewer's own (repId left out), "
        "anyone's for payout ops and admins; null when none are set.",
    )
    payout_batch: PayoutBatch | None = strawberry.field(
        resolver=payout_batch,
        description="Payout ops and admins: a batch with each item's status and failure "
        "reason; an unknown id null.",
    )
    payout_batches: list[PayoutBatch] = strawberry.field(
        resolver=payout_batches,
        description="Payout ops and admins: the tenant's payout batches (of a period), newest "
        "first (at most 200).",
    )
    paid_by_payee: list[PaidInYear] = strawberry.field(
        resolver=paid_by_payee,
        description="Payout ops and admins: what each payee was paid through batches in a "
        "year, per currency; US payees over the 1099-NEC threshold flagged.",
    )
    target_plans: list[TargetPlanVersion] = strawberry.field(
        resolver=target_plans,
        description="Admins: every target plan version of `period`; managers: those with a "
        "target in their subtree.",
    )


@strawberry.type
class Mutation:
    create_leaderboard: CreateLeaderboardResult = strawberry.mutation(
        resolver=create_leaderboard,
        description="Admins: a leaderboard (metric, period kind, the tenant or a manager's "
        "subtree), filled at once from the stored results.",
    )
    create_badge: CreateBadgeResult = strawberry.mutation(
        resolver=create_badge,
        description="Admins: a badge, awarded by its rule (plan expression language) once "
        "per person and period, or as a contest prize.",
    )
    set_level_map: SetLevelMapResult = strawberry.mutation(
        resolver=set_level_map,
        description="Admins: replace the level map (thresholds rising from level to level).",
    )
    create_streak: CreateStreakResult = strawberry.mutation(
        resolver=create_streak,
        description="Admins: a streak of periods or working days meeting a rule.",
    )
    launch_contest: LaunchContestResult = strawberry.mutation(
        resolver=launch_contest,
        description="Managers: a contest for their own subtree; admins: for anyone.",
    )
    accept_plan: AcceptPlanResult = strawberry.mutation(
        resolver=accept_plan, description="The rep accepts a plan offered to them."
    )
    publish_plan: PublishPlanResult = strawberry.mutation(
        resolver=publish_plan,
        description="Admins: publish a plan document (YAML or JSON) as a new version.",
    )
    register_device: RegisterDeviceResult = strawberry.mutation(
        resolver=register_device,
        description="Registers this app install's push token for the signed-in person.",
    )
    accept_target: AcceptTargetResult = strawberry.mutation(
        resolver=accept_target,
        description="The person accepts their published target, or disputes it with a comment.",
    )
    allocate_target: AllocateTargetResult = strawberry.mutation(
        resolver=allocate_target,
        description="Managers: split a target among its person's direct reports.",
    )
    propose_target: ProposeTargetResult = strawberry.mutation(
        resolver=propose_target,
        description="Managers: send an allocation to the level above for validation.",
    )
    validate_target: ValidateTargetResult = strawberry.mutation(
        resolver=validate_target,
        description="The level above (a manager above the target's person, or an admin) "
        "validates its allocation.",
    )
    reject_target: RejectTargetResult = strawberry.mutation(
        resolver=reject_target,
        description="The level above sends a proposed allocation back to its owner with a "
        "comment: the split is a draft again.",
    )
    create_target_plan: CreateTargetPlanResult = strawberry.mutation(
        resolver=create_target_plan,
        description="Admins: a tenant-level target for a period and measure, to allocate.",
    )
    revise_target_plan: ReviseTargetPlanResult = strawberry.mutation(
        resolver=revise_target_plan,
        description="Admins: a new draft version of a published target plan.",
    )
    publish_targets: PublishTargetsResult = strawberry.mutation(
        resolver=publish_targets,
        description="Admins: publish a validated target plan as everyone's quotas.",
    )
    mark_notifications_read: MarkNotificationsReadResult = strawberry.mutation(
        resolver=mark_notifications_read,
        description="Marks the viewer's own notifications read; others' ids change nothing.",
    )
    approve_statements: ApproveStatementsResult = strawberry.mutation(
        resolver=approve_statements,
        description="Managers (their team), admins and payout ops: approve a period's draft "
        "statements, of repIds (all or none) or all they may (open disputes skipped).",
    )
    add_adjustment: AddAdjustmentResult = strawberry.mutation(
        resolver=add_adjustment,
        description="Managers (their team), admins and payout ops: a manual amount on a "
        "payee's statement (audited); an approved one becomes a new draft version.",
    )
    set_draw: SetDrawResult = strawberry.mutation(
        resolver=set_draw,
        description="Admins and payout ops: the draw of a plan assignment (recoverable or "
        "not; its own recovery share and rule on termination, or the plan's).",
    )
    set_plan_draw_terms: SetPlanDrawTermsResult = strawberry.mutation(
        resolver=set_plan_draw_terms,
        description="Admins and payout ops: what a plan says of its draws (recovery share, "
        "forgiven or kept on termination), for every draw on it without terms of its own.",
    )
    set_partner_profile: SetPartnerProfileResult = strawberry.mutation(
        resolver=set_partner_profile,
        description="Admins and payout ops: a payee's legal data as a partner (legal name, "
        "address, country, tax id); partners get a self-billing invoice on approval.",
    )
    set_tax_rule: SetTaxRuleResult = strawberry.mutation(
        resolver=set_tax_rule,
        description="Admins and payout ops: a tax rule (VAT, reverse charge, withholding, "
        "social security, backup withholding) for partners in a country.",
    )
    raise_dispute: RaiseDisputeResult = strawberry.mutation(
        resolver=raise_dispute,
        description="The payee disputes their statement or one of its lines; their manager "
        "is told; an open dispute holds the statement's approval.",
    )
    resolve_dispute: ResolveDisputeResult = strawberry.mutation(
        resolver=resolve_dispute,
        description="The payee's manager (or above, admins, payout ops) accepts a dispute, "
        "with an adjustment or without, or rejects it with a reason; the payee is told.",
    )
    comment_dispute: CommentDisputeResult = strawberry.mutation(
        resolver=comment_dispute,
        description="A comment on a dispute by the payee or whoever may answer it.",
    )
    set_payout_details: SetPayoutDetailsResult = strawberry.mutation(
        resolver=set_payout_details,
        description="The payee, or payout ops for anyone: how they are paid (validated, "
        "encrypted at rest, audited; the payee is told).",
    )
    create_payout_batch: PayoutBatchResult = strawberry.mutation(
        resolver=create_payout_batch,
        description="Payout ops and admins: a draft batch of a period's approved, unpaid "
        "statements paid by one method, in one currency (audited).",
    )
    approve_payout_batch: PayoutBatchResult = strawberry.mutation(
        resolver=approve_payout_batch,
        description="Payout ops and admins other than its creator (four eyes): approve a "
        "draft batch.",
    )
    execute_payout_batch: PayoutBatchResult = strawberry.mutation(
        resolver=execute_payout_batch,
        description="Payout ops and admins: a worker pays the approved batch's items, each "
        "exactly once; again: its pending items are sent again with the same keys.",
    )
    confirm_payout_batch: PayoutBatchResult = strawberry.mutation(
        resolver=confirm_payout_batch,
        description="Payout ops and admins: an executed batch's submitted items confirmed. "
        "A file batch's are paid on your word (the bank statement's); a gift card batch's "
        "become what the provider shows of each order (executed: paid; canceled or failed: "
        "failed, for the next batch; held, bounced or not askable: left submitted, "
        "confirmedItems saying why).",
    )
    return_payout_item: PayoutBatchResult = strawberry.mutation(
        resolver=return_payout_item,
        description="Payout ops and admins: one item of an executed file or gift card batch "
        "that the bank (payroll, SAP, the provider) did not pay or gave back, by its "
        "reference: failed with the reason, its statement unpaid again for the next batch.",
    )
    settle_payout_item: PayoutBatchResult = strawberry.mutation(
        resolver=settle_payout_item,
        description="Payout ops and admins: a pending item whose provider never answered "
        "for sure (by its reference or id), settled by hand, saying why: PAID, with the "
        "transfer, order or bank reference (item and statement paid), or FAILED (its "
        "statement paid by the next batch): Podium first asks the provider, and refuses "
        "(field outcome) when it shows a payment of the item, or when it cannot be asked "
        "unless providerChecked. Audited with who, why, the reference and what the provider "
        "showed; never sent again; a payment the provider reports later is flagged on the "
        "item.",
    )
    close_period: ClosePeriodResult = strawberry.mutation(
        resolver=close_period,
        description="Admins and payout ops: start or resume the close of a period a plan is "
        "paid per, once it has ended (the workers recompute its people in chunks, then "
        "close it); again: its progress.",
    )


@strawberry.type
class Subscription:
    leaderboard_changed: Leaderboard = strawberry.subscription(
        resolver=leaderboard_changed,
        description="A board the viewer may see, each time a recompute moves it: a change "
        "of the viewer's own entry (their score moved) at once, at least 0.1 s after the last "
        "push of their own change; other people's changes (someone overtaking the viewer "
        "too) coalesced, at most one push per second. Each push shows the board as it is "
        "then.",
    )
    earnings_updated: EarningsUpdate = strawberry.subscription(
        resolver=earnings_updated,
        description="The viewer's own earnings, after each recompute (graphql-transport-ws; "
        "authenticate with connection_init payload {Authorization: 'Bearer <token>'}).",
    )


class PerEventExecutor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core 3.3's executor with each subscription event's memo of collected
    subfields its own. Per-event executors are shallow copies of the subscription's, and the
    memo, keyed by the identity of field lists that each event makes anew, was shared: every
    push of a live subscription added entries that lived as long as it did (a process with
    200 subscribers gained about 500 objects a second, and each full collection rescanned
    them all: 6% of the API's CPU after a minute of pushes, growing). The memo serves one
    execution (the items of a list share their subfields), so one per event loses nothing."""

    def build_per_event_executor(self, payload: Any) -> Any:
        executor = super().build_per_event_executor(payload)
        executor._relevant_sub_fields = {}
        return executor


class PodiumSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Every error a client gets, in the one public form (`public_errors`: domain errors
        coded, the unexpected masked and logged with structlog and the request id), in place:
        this is the step a subscription's errors take too, which ErrorPolicy's operation hook
        does not see. strawberry's own logging would print every expected error with a
        traceback."""
        context = execution_context.context if execution_context is not None else None
        errors[:] = public_errors(
            errors,
            getattr(context, "request_id", None),
            getattr(context, "viewer_or_none", None),
        )

    async def stream(self, *args: Any, **kwargs: Any) -> StreamResult:
        """strawberry's stream (subscriptions), answering a request our parsing refuses as
        the refusal it is. `api.graphql.limits` parses in an on_parse hook and raises a
        syntax error, the token limit or a NUL written in the document from there, which
        the HTTP path answers but strawberry's streaming path lets escape: the socket then
        got a bare "complete". Now a syntax error closes it 4400 naming the error, as
        strawberry does with its own, and the others are an error message with their code."""
        return _refusal_first(await super().stream(*args, **kwargs))


async def _refusal_first(source: StreamResult) -> AsyncGenerator[Any, None]:
    async with aclosing(source):
        try:
            first = await anext(source)
        except StopAsyncIteration:
            return
        except GraphQLError as error:  # raised before any result: a refused request
            yield PreExecutionError(data=None, errors=[error])
            return
        yield first
        async for item in source:
            yield item


def build_schema(limits: Limits | None = None) -> strawberry.Schema:
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        *limit_extensions(limits or Limits()),
        ErrorPolicy,
    ]
    return PodiumSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        scalar_overrides=SCALAR_OVERRIDES,
        execution_context_class=PerEventExecutor,
    )


schema = build_schema()

__all__ = ["Query", "Mutation", "Subscription", "build_schema", "schema"]
