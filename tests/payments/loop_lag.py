"""How long a coroutine keeps the event loop from turning: a PDF made on the loop holds up
every other request, webhook and live update of the process for as long as it takes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any

SLOW_RENDER = 0.4  # seconds a stand-in renderer takes (time.sleep: as fpdf2's CPU would)


def slow_render(*args: Any, **kwargs: Any) -> bytes:
    """A PDF renderer that takes SLOW_RENDER seconds of the thread it runs on."""
    time.sleep(SLOW_RENDER)
    return b"%PDF-1.4 stand-in"


async def longest_stall(work: Awaitable[Any]) -> tuple[Any, float]:
    """(what ``work`` returns, the longest the loop went without running a 10 ms ticker)."""
    longest = 0.0
    done = False

    async def tick() -> None:
        nonlocal longest
        last = time.monotonic()
        while not done:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            longest = max(longest, now - last)
            last = now

    ticker = asyncio.create_task(tick())
    try:
        result = await work
    finally:
        done = True
        await ticker
    return result, longest
