"""The API's Redis connections: every reply awaited at most REPLY_SECONDS.

redis-py's ``socket_timeout`` bounds the replies, but it also wraps every command's write in
``asyncio.wait_for``, which on Python 3.11 is a task and a timer per command, and the API
sends one or more commands per webhook call and per board push. Here the reply is bounded
by ``asyncio.timeout`` (a timer only) and the write is not: it only waits when the socket's
buffer is full, and its command's reply is bounded anyway. A reply that does not come is a
``redis.exceptions.TimeoutError`` (and the connection is dropped), as with socket_timeout.
A read given its own timeout (pub/sub's ``get_message(timeout=...)``) keeps it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio.connection import (
    AbstractConnection,
    Connection,
    SSLConnection,
    UnixDomainSocketConnection,
)
from redis.exceptions import TimeoutError as RedisTimeoutError

REPLY_SECONDS = 5.0


class _RepliesBounded(AbstractConnection):
    async def read_response(
        self,
        disable_decoding: bool = False,
        timeout: float | None = None,  # noqa: ASYNC109 - redis-py's signature
        *,
        disconnect_on_error: bool = True,
        push_request: bool | None = False,
    ) -> Any:
        if timeout is not None:
            return await super().read_response(
                disable_decoding, timeout,
                disconnect_on_error=disconnect_on_error, push_request=push_request,
            )  # fmt: skip
        try:
            async with asyncio.timeout(REPLY_SECONDS):
                return await super().read_response(
                    disable_decoding, None,
                    disconnect_on_error=disconnect_on_error, push_request=push_request,
                )  # fmt: skip
        except TimeoutError:
            # the cancelled read dropped the connection (redis-py does on any interruption)
            raise RedisTimeoutError(
                f"Timeout reading from {self._host_error()}: no reply in {REPLY_SECONDS:g} s"
            ) from None


class TimedConnection(_RepliesBounded, Connection):
    pass


class TimedSSLConnection(_RepliesBounded, SSLConnection):
    pass


class TimedUnixDomainSocketConnection(_RepliesBounded, UnixDomainSocketConnection):
    pass


def timed_connection_class(url: str) -> type[AbstractConnection]:
    """The connection class for ``url`` (``redis://``, ``rediss://`` or ``unix://``).
    redis-py picks the class of a ``rediss://`` or ``unix://`` URL itself, over the one it is
    given: hence the keyword the pool is built with is replaced here, by scheme."""
    if url.startswith("rediss://"):
        return TimedSSLConnection
    if url.startswith("unix://"):
        return TimedUnixDomainSocketConnection
    return TimedConnection
