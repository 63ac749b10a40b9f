"""A crowd waits for a Redis connection instead of failing: redis-py refuses a pool's 101st."""

from __future__ import annotations

import threading

import pytest
from django.core.cache import cache

from apps.orders import gate


def _pools():
    return {"cache": cache._cache.get_client().connection_pool, "flash-sale gate": gate.client().connection_pool}


@pytest.mark.parametrize("name", ["cache", "flash-sale gate"])
def test_a_request_beyond_the_pool_waits_for_a_free_connection(settings, name):
    if not settings.REDIS_URL:
        pytest.skip("the embedded default has no Redis")
    pool = _pools()[name]
    held = [pool.get_connection() for _ in range(settings.REDIS_POOL_MAX_CONNECTIONS)]
    got: list = []
    waiter = threading.Thread(target=lambda: got.append(pool.get_connection()))
    try:
        waiter.start()
        waiter.join(timeout=0.3)
        assert waiter.is_alive() and not got, "the pool should make the extra request wait, not refuse it"
        pool.release(held.pop())
        waiter.join(timeout=5)
        assert got, "a released connection should go to the waiting request"
    finally:
        for connection in held + got:
            pool.release(connection)
