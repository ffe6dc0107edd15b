from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from api.graphql.payouts.types import PayoutDetails
from payments.payouts.service import payout_details_of


async def payout_details(
    info: Info[Any, None], rep_id: strawberry.ID | None = None
) -> PayoutDetails | None:
    details = await payout_details_of(viewer=info.context.viewer, rep_id=rep_id)
    return None if details is None else PayoutDetails.of(details)
