"""A worker's heartbeat: written at start-up and every few seconds, stopped at shutdown."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from workers import heartbeat


async def test_given_a_worker_context_when_started_then_it_beats_and_stops_beating(
    redis: Redis,
):
    ctx = {"redis": redis}

    heartbeat.start(ctx)
    await asyncio.sleep(0.05)
    first = await heartbeat.seconds_since_last_beat(redis)
    await heartbeat.stop(ctx)
    await redis.delete(heartbeat.HEARTBEAT_KEY)
    await asyncio.sleep(0.05)

    assert first is not None
    assert first < 1
    assert "heartbeat" not in ctx
    assert await heartbeat.seconds_since_last_beat(redis) is None  # nothing beats any more


async def test_given_no_worker_ever_beat_then_none(redis: Redis):
    assert await heartbeat.seconds_since_last_beat(redis) is None
