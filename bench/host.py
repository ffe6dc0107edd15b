"""The host's speed at a moment, for benchmarks that print CPU figures: this machine's vCPUs
switch between two speeds within seconds, and every CPU figure moves with them."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import threading
import time


def host_probe() -> float:
    """CPU milliseconds this thread takes for a fixed piece of pure-Python work (about 2 ms):
    the host's speed at that moment. This machine's vCPUs switch between two speeds within
    seconds (the same work took 67-73 or 99-100 ms of CPU, 6 December), and every CPU figure
    here moves with them: the probe, sampled through the run, says which the run had."""
    started = time.thread_time()
    counts: dict[int, int] = {}
    for i in range(20_000):
        counts[i % 97] = counts.get(i % 97, 0) + i
    return 1000 * (time.thread_time() - started)


class HostProbes:
    """`host_probe` sampled every ``every`` seconds on a thread of its own while in use (``with
    HostProbes() as probes:``), for a line saying which speed a run had."""

    def __init__(self, every: float = 0.5) -> None:
        self.every = every
        self.probes: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.probes.append(host_probe())

    def __enter__(self) -> HostProbes:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def line(self) -> str:
        return probes_line(self.probes) if self.probes else "host speed: no sample"


def probes_line(probes: list[float]) -> str:
    """Probes' median, p10 and p90 in words."""
    q = statistics.quantiles(probes, n=10) if len(probes) > 1 else probes * 9
    return (
        f"host speed: a fixed Python loop (host_probe, {len(probes)} samples) took "
        f"{statistics.median(probes):.2f} ms of CPU (p10 {q[0]:.2f}, p90 {q[-1]:.2f}); "
        "every CPU figure above moves with it"
    )


def interpreter() -> str:
    """Which interpreter ran a benchmark whose work is mostly Python: builds differ (pyenv's
    default, without profile-guided and link-time optimisation, runs the same code slower than
    Debian's or the official Docker images', as the service image's `python:3.11-slim`)."""
    base = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    return f"interpreter: {platform.python_implementation()} {platform.python_version()} ({base})"
