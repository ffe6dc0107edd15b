"""Benchmarks: run with ``python -m bench.engine`` (or ``make bench``)."""
