"""A stand-in for FCM's HTTP v1 send endpoint on 127.0.0.1 (no emulator exists): records each
request and answers 404 UNREGISTERED for the tokens it is told are dead, or, told to garble
its answers, badly (`payments.methods.sandbox.garbled`: an HTML page, a stall, ...)."""

from __future__ import annotations

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
        if self.garble:
            return await garbled(request, self.garble, {"name": None})
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
        return web.json_response({"name": f"projects/{PROJECT}/messages/{len(self.requests)}"})


@asynccontextmanager
async def fcm_standin() -> AsyncIterator[FcmStandIn]:
    standin = FcmStandIn()
    app = web.Application()
    app.router.add_post(f"/v1/projects/{PROJECT}/messages:send", standin.send)
    async with served(app) as address:
        standin.url = f"{address}/v1/projects/{PROJECT}/messages:send"
        yield standin
