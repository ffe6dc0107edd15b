"""A stand-in for FCM's HTTP v1 send endpoint on 127.0.0.1 (no emulator exists): records each
request and answers 404 UNREGISTERED for the tokens it is told are dead, or, told to garble
its answers, badly (`payments.methods.sandbox.garbled`: an HTML page, a stall, ...; ``huge``
pads a good answer to 20 MB: read whole, it would say the message was sent), or with answers
of its own that no size known in advance bounds: ``endless`` spaces (JSON's own) as fast as
the client reads, for ever, and ``gzip`` a good answer padded to 20 MB, gzipped to 20 KB."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from payments.methods.sandbox import garbled, served

PROJECT = "podium-test"
ACCESS_TOKEN = "test-access-token"


@dataclass
class FcmStandIn:
    unregistered: set[str] = field(default_factory=set)
    requests: list[dict[str, Any]] = field(default_factory=list)
    garble: str = ""  # how every answer is garbled ("": not)
    url: str = ""
    sent: int = 0  # bytes of ``endless`` answers written

    def _answer(self) -> dict[str, Any]:
        return {"name": f"projects/{PROJECT}/messages/{len(self.requests)}"}

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [r["body"]["message"] for r in self.requests]

    async def send(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(
            {
                "path": request.path,
                "authorization": request.headers.get("Authorization"),
                "body": body,
            }
        )
        if self.garble == "endless":
            return await self._endless(request)
        if self.garble == "gzip":
            padded = json.dumps({"padding": " " * 20_000_000, **self._answer()}).encode()
            return web.Response(
                body=gzip.compress(padded),
                headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
            )
        if self.garble:
            # a good answer under the padding of ``huge``; else one without a message name
            answer = self._answer() if self.garble == "huge" else {"name": None}
            return await garbled(request, self.garble, answer)
        token = body["message"].get("token")
        if token in self.unregistered:
            return web.json_response(
                {
                    "error": {
                        "code": 404,
                        "message": "Requested entity was not found.",
                        "status": "NOT_FOUND",
                        "details": [
                            {
                                "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                                "errorCode": "UNREGISTERED",
                            }
                        ],
                    }
                },
                status=404,
            )
        return web.json_response(self._answer())

    async def _endless(self, request: web.Request) -> web.StreamResponse:
        # chunked (no Content-Length), 64 KB every 5 ms: about 13 MB a second, so that a
        # client reading it all fills its memory slowly enough to be seen doing it
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        chunk = b" " * 65536
        try:
            while request.transport is not None and not request.transport.is_closing():
                await response.write(chunk)
                self.sent += len(chunk)
                await asyncio.sleep(0.005)
        except ConnectionError:  # the client left while a chunk was written
            pass
        raise web.HTTPException()  # the client is gone: nothing to answer


@asynccontextmanager
async def fcm_standin() -> AsyncIterator[FcmStandIn]:
    standin = FcmStandIn()
    app = web.Application()
    app.router.add_post(f"/v1/projects/{PROJECT}/messages:send", standin.send)
    async with served(app) as address:
        standin.url = f"{address}/v1/projects/{PROJECT}/messages:send"
        yield standin
