from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import strawberry
from strawberry.types import Info
from tortoise.transactions import in_transaction

from api.graphql.errors import UserError, user_error
from api.graphql.plans.types import Plan
from domain.kit.errors import DomainError, Forbidden
from domain.plans.service import publish_plan_version

PublishPlanResult = Annotated[Plan | UserError, strawberry.union("PublishPlanResult")]


async def publish_plan(
    info: Info[Any, None], document: str, effective_from: date
) -> PublishPlanResult:
    """Publishes a plan document (YAML or JSON) as a new version from `effectiveFrom`. A
    rejected document answers a UserError whose `field` is the plan key path at fault."""
    viewer = info.context.viewer
    try:
        async with in_transaction():
            version = await publish_plan_version(
                viewer=viewer, document=document, effective_from=effective_from
            )
    except Forbidden:
        raise
    except DomainError as exc:
        return user_error(exc)
    return Plan.of(version)
