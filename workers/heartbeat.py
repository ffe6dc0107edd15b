"""The workers' heartbeat: each worker writes the time into one Redis key every few seconds;
`/ready` reads it (a silent worker means CRM events wait unapplied)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

HEARTBEAT_KEY = "podium:worker:heartbeat"
HEARTBEAT_EVERY = 5.0  # seconds
# kept well past any silence /ready reports on, so a silent worker reads "silent for N s"
# rather than "never seen"
HEARTBEAT_KEPT = 24 * 3600

log = logging.getLogger("podium.worker")


async def beat_once(redis: Any) -> None:
    await redis.set(HEARTBEAT_KEY, f"{time.time():.3f}", ex=HEARTBEAT_KEPT)


async def beat_forever(redis: Any, every: float = HEARTBEAT_EVERY) -> None:
    while True:
        try:
            await beat_once(redis)
        except Exception as exc:  # noqa: BLE001 - Redis away for a moment: try again next beat
            log.warning("heartbeat not written: %s", exc)
        await asyncio.sleep(every)


def start(ctx: dict[str, Any]) -> None:
    ctx["heartbeat"] = asyncio.create_task(beat_forever(ctx["redis"]))


async def stop(ctx: dict[str, Any]) -> None:
    task = ctx.pop("heartbeat", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def seconds_since_last_beat(redis: Any) -> float | None:
    """None when no worker ever beat on this Redis (or not in the last day)."""
    raw = await redis.get(HEARTBEAT_KEY)
    if raw is None:
        return None
    return max(0.0, time.time() - float(raw))
