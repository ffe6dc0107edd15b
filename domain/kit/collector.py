"""Pausing Python's cyclic garbage collector while a batch runs.

A batch (a recompute of many people, a period's statements) allocates a few container objects
per transaction, line or payee and frees them all by their reference counts at its end. With
the collector on, every few hundred allocations it rescans the batch's live objects, again
and again while they are alive: a fifth of a close's time, and a third of a statement
build's. Nothing a batch makes needs the collector to be freed. A batch should let its
objects go before its pause ends: those still alive then were all made while it was off, so
the first collection after it scans every one of them (the engine benchmark's result, about
950,000 tracked objects, takes 0.36-0.48 s to scan).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Batches under way (several at once: a close's overlapping chunks, a statement build beside
# them), and whether the collector was on before the first of them: on again when the
# last one ends.
_under_way = [0, False]


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic collector off until the last batch under way ends (see the module doc)."""
    if not _under_way[0]:
        _under_way[1] = gc.isenabled()
        gc.disable()
    _under_way[0] += 1
    try:
        yield
    finally:
        _under_way[0] -= 1
        if not _under_way[0] and _under_way[1]:
            gc.enable()
