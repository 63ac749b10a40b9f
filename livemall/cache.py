"""Django's Redis cache backend, sharing one connection pool and client per process.

Django keeps its cache objects per thread, and under ASGI every request's sync code runs
in a thread of its own, so the stock backend opened a new TCP connection to Redis (with
its handshake) for every request and built a new ``redis.Redis`` for every cache call.
Profiled under the catalog benchmark, that was about a fifth of the server's time on a
cached listing page. Connection pools and ``redis.Redis`` are thread-safe (and redis-py
resets a pool after a fork), so one of each per server and process is enough.
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_LOCK = threading.Lock()
_CLIENTS: dict[tuple[str, str], Any] = {}


class PooledRedisCacheClient(RedisCacheClient):
    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        server = self._servers[self._get_connection_pool_index(write)]
        # The options are part of the identity: two caches on one server with different
        # pool settings must not share a pool.
        options = repr(sorted((name, repr(value)) for name, value in self._pool_options.items()))
        identity = (server, f"{self._pool_class.__module__}.{self._pool_class.__qualname__} {options}")
        client = _CLIENTS.get(identity)
        if client is None:
            with _LOCK:
                client = _CLIENTS.get(identity)
                if client is None:
                    pool = self._pool_class.from_url(server, **self._pool_options)
                    client = _CLIENTS[identity] = self._client(connection_pool=pool)
        return client


class PooledRedisCache(RedisCache):
    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = PooledRedisCacheClient
