"""Local stand-ins for the payout providers, on 127.0.0.1: Stripe Connect
(``stripe_connect``) and a Tremendous-style gift card API (``giftcards``).

They check requests the way the providers document them, keep what was asked in memory and
can be told to fail: the tests run the real adapters against them, and `podium dev` serves
them as the demo's sandbox when no real provider is configured (development only; no money
moves). Nothing in production imports them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web


@asynccontextmanager
async def served(app: web.Application, port: int = 0) -> AsyncIterator[str]:
    """``app`` served on 127.0.0.1 (``port``, 0: a free one) while the block runs; yields its
    address, ``http://127.0.0.1:<port>``."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
