"""Benchmarks: ``python -m tests.bench [name ...]`` (``make bench``); never part of ``make test``."""
