"""The API's Redis connections: a reply that does not come is a clear timeout, without
socket_timeout's task per command."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis
from redis.exceptions import TimeoutError as RedisTimeoutError

import api.redis_timeouts as redis_timeouts
from api.redis_timeouts import (
    TimedConnection,
    TimedSSLConnection,
    TimedUnixDomainSocketConnection,
    timed_connection_class,
)


def test_given_each_scheme_then_its_connection_class_bounds_replies():
    assert timed_connection_class("redis://h:6379/0") is TimedConnection
    assert timed_connection_class("rediss://h:6380/0") is TimedSSLConnection
    assert timed_connection_class("unix:///run/redis.sock") is TimedUnixDomainSocketConnection


async def test_given_a_reply_that_does_not_come_then_a_redis_timeout_and_the_client_goes_on(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(redis_timeouts, "REPLY_SECONDS", 0.2)
    client = Redis.from_url(redis_url, connection_class=timed_connection_class(redis_url))
    try:
        assert client.connection_pool.connection_kwargs.get("socket_timeout") is None
        with pytest.raises(RedisTimeoutError, match="no reply in 0.2 s"):
            await client.blpop(["podium:test:nothing-comes"], timeout=1)  # held 1 s
        assert await client.ping() is True  # a fresh connection
        # a read given its own timeout keeps it: pub/sub's wait for a message is no error
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe("podium:test:quiet")
        assert await pubsub.get_message(timeout=0.3) is None
        await pubsub.aclose()
    finally:
        await client.aclose()
