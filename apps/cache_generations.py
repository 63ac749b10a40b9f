"""Generation counters: the part of a cache key that makes every older entry unreadable.

Anything cached from data that changes (the catalog, the country rules, the exchange rates)
puts that data's generation in its key, and whoever changes the data bumps it after the
commit. Nothing is deleted: stale entries are simply never read again and expire.

A counter that is missing (a fresh Redis, an eviction) restarts from the clock, not from 1,
so it can never come back to a value that keys of the old data were built with.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.core.cache import cache


def _fresh_start() -> int:
    return time.time_ns() // 1000


@dataclass(frozen=True)
class Generation:
    key: str

    def current(self) -> int:
        return current_generations(self)[0]

    def bump(self) -> None:
        try:
            cache.incr(self.key)
        except ValueError:  # the counter is gone: restart it past every value it had
            cache.set(self.key, _fresh_start(), timeout=None)


def current_generations(*generations: Generation) -> tuple[int, ...]:
    """The current value of each counter, read in one cache round trip (hot path: listings)."""
    found = cache.get_many([generation.key for generation in generations])
    values = []
    for generation in generations:
        value = found.get(generation.key)
        if value is None:
            # Two requests may race to start it; add() lets one win and both read its value.
            cache.add(generation.key, _fresh_start(), timeout=None)
            value = cache.get(generation.key)
        values.append(int(value))
    return tuple(values)
