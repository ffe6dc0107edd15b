"""Local stand-ins for the payout providers, on 127.0.0.1: Stripe Connect
(``stripe_connect``) and a Tremendous-style gift card API (``giftcards``).

They check requests the way the providers document them, keep what was asked in memory and
can be told to fail: the tests run the real adapters against them, and `podium dev` serves
them as the demo's sandbox when no real provider is configured (development only; no money
moves). Nothing in production imports them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

# how a stand-in told to garble its next answers answers, after executing the request
GARBLES = ("html", "empty", "cut", "huge", "stall", "trickle", "shapeless", "other")


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


async def garbled(request: web.Request, how: str, answer: Any) -> web.StreamResponse:
    """A provider's bad answer to a request it executed: ``html`` an error page with 200,
    ``empty`` no body, ``cut`` half the JSON and the connection closed, ``huge`` the answer
    padded to 20 MB, ``stall`` headers and nothing more, ``trickle`` a space every 50 ms, until
    the client leaves; otherwise ``answer`` (a stand-in's wrong-shaped or other answer) as
    JSON."""
    if how == "html":
        page = f"<html><body><h1>502 Bad Gateway</h1>{'<p>nginx</p>' * 500}</body></html>"
        return web.Response(text=page, content_type="text/html")
    if how == "empty":
        return web.Response(body=b"", content_type="application/json")
    if how == "huge":
        padded = json.dumps({"padding": "x" * 20_000_000, **answer}).encode()
        return web.Response(body=padded, content_type="application/json")
    if how not in ("cut", "stall", "trickle"):
        return web.json_response(answer)
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    body = json.dumps(answer).encode()
    if how != "trickle":  # a trickle is chunked: a space (JSON's own) every 50 ms, for ever
        response.content_length = len(body)
    await response.prepare(request)
    if how == "cut":
        await response.write(body[: len(body) // 2])
        assert request.transport is not None
        request.transport.close()
        raise web.HTTPException()
    while request.transport is not None and not request.transport.is_closing():
        if how == "trickle":
            await response.write(b" ")
        await asyncio.sleep(0.05)
    raise web.HTTPException()  # the client is gone: nothing to answer
