from __future__ import annotations

import logging
from datetime import date
from typing import Annotated, Any

import strawberry
from strawberry.types import Info
from tortoise.transactions import in_transaction

from api.graphql.errors import UserError, user_error
from api.graphql.targets.types import Target
from domain.kit.errors import DomainError, Forbidden
from domain.targets.service import publish, root_of

log = logging.getLogger(__name__)

PublishTargetsResult = Annotated[Target | UserError, strawberry.union("PublishTargetsResult")]


async def publish_targets(
    info: Info[Any, None],
    plan_id: strawberry.ID,
    effective_from: Annotated[
        date | None,
        strawberry.argument(
            description="The first day the quotas apply (inside the target's period). "
            "Default: a first version, its period's first day; a revision, today."
        ),
    ] = None,
) -> PublishTargetsResult:
    """Admins: a validated target plan becomes everyone's quotas; answers its root target.
    The periods already under way whose quotas changed are recomputed by the workers."""
    viewer = info.context.viewer
    try:
        async with in_transaction():
            plan = await publish(viewer=viewer, plan_id=str(plan_id), effective=effective_from)
            root = await root_of(viewer=viewer, plan_id=plan.id)
    except Forbidden:
        raise
    except DomainError as exc:
        return user_error(exc)
    try:
        await info.context.request.app.state.job_queue.enqueue_recomputes(viewer.tenant_id)
    except Exception:  # the requests are stored: the sweeper queues them
        log.exception("could not queue the recomputes after publishing target plan %s", plan.id)
    return await Target.load(info, root)
