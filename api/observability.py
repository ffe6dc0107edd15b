"""Structured logs (structlog, one JSON object a line) and request ids."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
import time
import uuid
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.tenants.repository import tenants_read_once

REQUEST_ID_HEADER = "x-request-id"
# A client's id is echoed into logs and headers: accept only short, plain tokens.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

log = structlog.get_logger("podium.api")

# request.state.<this>: what an endpoint adds to its request's one access line (a webhook's
# counts), rather than a second line of its own
ACCESS_LOG_FIELDS = "access_log_fields"


def configure_logging(*, json: bool = True, level: int = logging.INFO) -> None:
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info if json else structlog.dev.set_exc_info,
    ]
    # colours only for a person at a terminal: never escape codes in a log file or a pipe
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )


def request_id_from(value: str | None) -> str:
    if value and _VALID_REQUEST_ID.match(value):
        return value
    return uuid.uuid4().hex


async def _internal_error(send: Send, request_id: str) -> None:
    body = json.dumps(
        {
            "errors": [
                {
                    "message": "Internal server error",
                    "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
                }
            ]
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestIdMiddleware:
    """Takes X-Request-ID from the client (or makes one), binds it to every log line of the
    request, returns it in the response and logs one access line. Within the request each
    tenant is read from the database once."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = request_id_from(incoming)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        # a websocket lives for hours: it must see a tenant's changes, so no memo there
        once = tenants_read_once() if scope["type"] == "http" else contextlib.nullcontext()
        with structlog.contextvars.bound_contextvars(request_id=request_id), once:
            try:
                await self.app(scope, receive, send_with_id)
            except Exception:
                # the traceback goes to the log, never to the client
                log.exception("unhandled error", path=scope.get("path"))
                if scope["type"] == "http" and not response_started:
                    await _internal_error(send_with_id, request_id)
            finally:
                if scope["type"] == "http":
                    log.info(
                        "request",
                        method=scope.get("method"),
                        path=scope.get("path"),
                        status=status,
                        duration_ms=round((time.perf_counter() - started) * 1000, 1),
                        **scope["state"].get(ACCESS_LOG_FIELDS, {}),
                    )
