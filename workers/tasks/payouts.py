"""Executing a payout batch (`ExecutePayoutBatch` queues it; `podium payouts execute` runs
the same in the foreground): every pending item paid exactly once
(`payments.batches.service.execute_batch`)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from payments.batches.service import execute_batch
from payments.payouts.sealing import secret_from_environment


async def execute_payout_batch(ctx: dict[str, Any], tenant_id: str, batch_id: str) -> int:
    """Returns how many items are still pending (an answer that said nothing: the next
    execution sends them again with the same keys)."""
    secret = ctx.get("payout_details_secret") or secret_from_environment()
    summary = await execute_batch(tenant_id=UUID(tenant_id), batch_id=UUID(batch_id), secret=secret)
    return summary.pending
