"""Pausing Python's cyclic garbage collector while a batch runs.

A batch (an engine run, a recompute of many people, a period's statements) allocates a few
container objects per transaction, line or payee and frees them all by their reference
counts at its end. With the collector on, every few hundred allocations it rescans the
batch's live objects, again and again while they are alive: a fifth of a close's time, and a
third of a statement build's. Nothing a batch makes needs the collector to be freed. Objects
still alive when the pause ends were all made while it was off, so the first collection
after it scans every one of them (the engine benchmark's result, about 950,000 tracked
objects: 0.36-0.48 s): a batch that only returns its result leaves that to its caller's
next collection, or to none when the caller's own pause outlives the result.
"""

from __future__ import annotations

import gc

# Batches under way (several at once: a close's overlapping chunks, an engine run inside a
# recompute, a statement build beside them), and whether the collector was on before the
# first of them: on again when the last one ends.
_under_way = [0, False]


class _Paused:
    """A class rather than a generator: its exit makes no object after turning the collector
    back on. A generator's exit does (resuming it, its StopIteration), and that started the
    scan of an engine run's result, still alive, inside the run (0.36 s on the engine
    benchmark) instead of at the caller's next collection."""

    __slots__ = ()

    def __enter__(self) -> None:
        if not _under_way[0]:
            _under_way[1] = gc.isenabled()
            gc.disable()
        _under_way[0] += 1

    def __exit__(self, *exc: object) -> None:
        _under_way[0] -= 1
        if not _under_way[0] and _under_way[1]:
            gc.enable()


_PAUSED = _Paused()


def collector_paused() -> _Paused:
    """The cyclic collector off until the last batch under way ends (see the module doc)."""
    return _PAUSED
