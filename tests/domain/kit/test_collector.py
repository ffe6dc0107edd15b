"""collector_paused: the cyclic collector off while any batch runs, back as it was after the
last one, whatever raised."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

from domain.kit.collector import collector_paused


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_given_the_collector_on_when_a_batch_runs_then_off_inside_and_on_after():
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_given_nested_batches_when_the_inner_one_ends_then_still_off_until_the_outer_ends():
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_given_a_batch_that_raises_when_it_ends_then_the_collector_is_on_again():
    with pytest.raises(ValueError, match="boom"), collector_paused():
        raise ValueError("boom")
    assert gc.isenabled()


def test_given_the_collector_off_before_when_a_batch_ends_then_it_stays_off():
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


async def test_given_overlapping_batches_in_tasks_when_the_first_ends_then_off_until_the_last():
    first_done = asyncio.Event()
    seen: list[bool] = []

    async def first() -> None:
        with collector_paused():
            await asyncio.sleep(0)
        first_done.set()

    async def second() -> None:
        with collector_paused():
            await first_done.wait()
            seen.append(gc.isenabled())

    await asyncio.gather(second(), first())
    assert seen == [False]
    assert gc.isenabled()


def test_given_an_engine_run_when_its_pause_ends_then_no_collection_starts_inside_it():
    """The run's result is alive when its pause ends: the collection that scans it belongs to
    the caller (or to nobody, under the caller's own pause), not to the run's own time. A
    pause whose exit allocates (a generator's) started it inside the run."""
    from domain.engine.calculate import calculate
    from domain.kit.periods import parse_period
    from tests.factories import PERIOD, make_inputs, make_plan, rate_component, tx

    plan, period = make_plan(rate_component("0.05")), parse_period(PERIOD)
    people = [f"r{i}" for i in range(200)]
    inputs = make_inputs(people, [tx(f"t{i}", people[i % 200], "100") for i in range(2000)])
    inside = [True]
    started_inside: list[bool] = []

    def watch(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started_inside.append(inside[0])

    gc.callbacks.append(watch)
    gc.collect()  # reported as started outside: the flag is only read from here on
    started_inside.clear()
    try:
        result = calculate(plan, period, inputs)  # nothing but the run between the two flags
        inside[0] = False
    finally:
        gc.callbacks.remove(watch)

    assert len(result.reps) == 200
    assert True not in started_inside
