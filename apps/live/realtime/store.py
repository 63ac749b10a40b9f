"""The room bus and the room counters behind one small interface: Redis, or memory.

Per room, Redis holds:
- ``<prefix>:room:<id>:bus``     pub/sub channel; every event is published once per region;
- ``<prefix>:room:<id>:recent``  the last danmaku events (JSON text, newest first) for snapshots;
- ``<prefix>:room:<id>:likes``   the running likes total (INCRBY);
- ``<prefix>:room:<id>:viewers`` per-process viewer counts with an expiry time each;
and per user ``<prefix>:rate:<user id>``, the token bucket of their chat messages.

Accepting a message is one round trip: a Lua script takes a token from the poster's
bucket and, if there was one, keeps the event in the recent list and publishes it.

Without ``REDIS_URL`` (the embedded default, one process) :class:`MemoryRoomStore` does
the same in memory, so the same room works on a bare machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

import redis
import redis.asyncio as aioredis

from apps.live.realtime.config import LiveConfig

logger = logging.getLogger(__name__)

OnMessage = Callable[[str], None]
OnReconnect = Callable[[], None]

# Token bucket + keep + publish. KEYS: bucket, recent, channel.
# ARGV: rate per second, burst, event JSON ("" = count the token only), recent size.
# Redis's own clock, so that processes on several hosts share one notion of time.
_POST_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
if tokens < 1 then
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
  redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
  return 0
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - 1), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
if ARGV[3] ~= '' then
  redis.call('LPUSH', KEYS[2], ARGV[3])
  redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[4]) - 1)
  redis.call('EXPIRE', KEYS[2], 604800)
  redis.call('PUBLISH', KEYS[3], ARGV[3])
end
return 1
"""

# INCRBY that survives a Redis restart: a missing counter is first set back to the
# highest total this process (or the database) has seen. KEYS: likes; ARGV: add, floor.
_LIKES_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[1], ARGV[2])
end
redis.call('EXPIRE', KEYS[1], 604800)
return redis.call('INCRBY', KEYS[1], ARGV[1])
"""

# Per-process viewer counts, each with its own expiry, summed. KEYS: viewers hash.
# ARGV: node, count, time-to-live in ms. A count of 0 removes the node's entry.
_VIEWERS_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
if tonumber(ARGV[2]) > 0 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. tostring(now + ttl))
else
  redis.call('HDEL', KEYS[1], ARGV[1])
end
local total = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local count, expires = string.match(all[i + 1], '^(%d+):(%d+)$')
  if count == nil or tonumber(expires) < now then
    redis.call('HDEL', KEYS[1], all[i])
  else
    total = total + tonumber(count)
  end
end
redis.call('PEXPIRE', KEYS[1], ttl * 3)
return total
"""


class StoreUnavailable(Exception):
    """The bus cannot be reached just now (Redis down or restarting)."""


class Listener(Protocol):
    async def aclose(self) -> None: ...


class RoomStore(Protocol):
    async def allocate_node(self) -> int: ...

    async def post(self, *, room_id: int, user_id: int, event: str | None) -> bool:
        """Take a token from the user's bucket; if there was one and ``event`` is given,
        keep it among the recent messages and publish it. False: rate-limited."""

    async def publish(self, *, room_id: int, event: str) -> None: ...

    async def listen(self, *, room_id: int, on_message: OnMessage, on_reconnect: OnReconnect) -> Listener: ...

    async def likes_add(self, *, room_id: int, count: int, floor: int) -> int: ...

    async def recent(self, *, room_id: int) -> list[str]:
        """Recent danmaku events, oldest first."""

    async def viewers_report(self, *, room_id: int, node: int, count: int, ttl: float) -> int: ...

    async def aclose(self) -> None: ...


class _Keys:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def room(self, room_id: int, what: str) -> str:
        return f"{self.prefix}:room:{room_id}:{what}"

    def rate(self, user_id: int) -> str:
        return f"{self.prefix}:rate:{user_id}"

    @property
    def node(self) -> str:
        return f"{self.prefix}:node"


class _RedisListener:
    """One pub/sub connection and one reader task for one room in this process."""

    def __init__(self, client: aioredis.Redis, channel: str, on_message: OnMessage, on_reconnect: OnReconnect) -> None:
        self.client = client
        self.channel = channel
        self.on_message = on_message
        self.on_reconnect = on_reconnect
        self.subscribed = asyncio.get_running_loop().create_future()
        self.task = asyncio.get_running_loop().create_task(self._run(), name=f"live-bus {channel}")

    async def _run(self) -> None:
        delay = 0.1
        first = True
        while True:
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                if first:
                    first = False
                    if not self.subscribed.done():
                        self.subscribed.set_result(None)
                else:
                    logger.info("live bus %s: subscribed again", self.channel)
                    self.on_reconnect()
                delay = 0.1
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if message is not None and message["type"] == "message":
                        self._deliver(message["data"])
            except asyncio.CancelledError:
                raise
            except (redis.RedisError, OSError) as exc:
                if not self.subscribed.done():
                    self.subscribed.set_exception(StoreUnavailable(str(exc)))
                    return
                logger.warning("live bus %s lost (%s); retrying in %.1fs", self.channel, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                with contextlib.suppress(redis.RedisError, OSError):
                    await asyncio.shield(pubsub.aclose())

    def _deliver(self, data: bytes | str) -> None:
        # Anyone who can reach Redis can publish here; one bad message must not end the
        # room's only subscription in this process.
        try:
            self.on_message(data.decode() if isinstance(data, bytes) else data)
        except UnicodeDecodeError:
            logger.warning("live bus %s: message that is not UTF-8 dropped: %.200r", self.channel, data)
        except Exception:
            logger.exception("live bus %s: a message could not be handled", self.channel)

    async def aclose(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, StoreUnavailable):
            await self.task


class RedisRoomStore:
    def __init__(self, config: LiveConfig) -> None:
        assert config.redis_url
        self.config = config
        self.keys = _Keys(config.prefix)
        self.client = aioredis.Redis.from_url(config.redis_url)
        self._post = self.client.register_script(_POST_SCRIPT)
        self._likes = self.client.register_script(_LIKES_SCRIPT)
        self._viewers = self.client.register_script(_VIEWERS_SCRIPT)

    async def allocate_node(self) -> int:
        try:
            return int(await self.client.incr(self.keys.node)) % 1024
        except (redis.RedisError, OSError) as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def post(self, *, room_id: int, user_id: int, event: str | None) -> bool:
        keys = [self.keys.rate(user_id), self.keys.room(room_id, "recent"), self.keys.room(room_id, "bus")]
        args = [self.config.danmaku_rate_per_second, self.config.danmaku_burst, event or "", self.config.recent_danmaku]
        try:
            return bool(await self._post(keys=keys, args=args))
        except (redis.RedisError, OSError) as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def publish(self, *, room_id: int, event: str) -> None:
        try:
            await self.client.publish(self.keys.room(room_id, "bus"), event)
        except (redis.RedisError, OSError) as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def listen(self, *, room_id: int, on_message: OnMessage, on_reconnect: OnReconnect) -> Listener:
        listener = _RedisListener(self.client, self.keys.room(room_id, "bus"), on_message, on_reconnect)
        await listener.subscribed
        return listener

    async def likes_add(self, *, room_id: int, count: int, floor: int) -> int:
        try:
            return int(await self._likes(keys=[self.keys.room(room_id, "likes")], args=[count, floor]))
        except (redis.RedisError, OSError) as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def recent(self, *, room_id: int) -> list[str]:
        try:
            items = await self.client.lrange(self.keys.room(room_id, "recent"), 0, self.config.recent_danmaku - 1)
        except (redis.RedisError, OSError) as exc:
            raise StoreUnavailable(str(exc)) from exc
        kept = []
        for item in reversed(items):
            try:
                kept.append(item.decode())
            except UnicodeDecodeError:  # a snapshot holds what can be read; one bad item spoils none
                logger.warning("live room %s: recent event that is not UTF-8 skipped: %.200r", room_id, item)
        return kept

    async def viewers_report(self, *, room_id: int, node: int, count: int, ttl: float) -> int:
        try:
            return int(
                await self._viewers(keys=[self.keys.room(room_id, "viewers")], args=[node, count, int(ttl * 1000)])
            )
        except (redis.RedisError, OSError) as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def aclose(self) -> None:
        await self.client.aclose()


class _MemoryState:
    """Process-wide state of the embedded default; any thread may publish into it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.likes: dict[tuple[str, int], int] = {}
        self.recent: dict[tuple[str, int], deque[str]] = {}
        self.buckets: dict[tuple[str, int], tuple[float, float]] = {}
        self.subscribers: dict[tuple[str, int], set[_MemoryListener]] = {}

    def deliver(self, key: tuple[str, int], event: str) -> None:
        with self.lock:
            listeners = list(self.subscribers.get(key, ()))
        for listener in listeners:
            listener.deliver(event)


MEMORY = _MemoryState()


class _MemoryListener:
    def __init__(self, key: tuple[str, int], on_message: OnMessage) -> None:
        self.key = key
        self.loop = asyncio.get_running_loop()
        self.on_message = on_message

    def deliver(self, event: str) -> None:
        # Publishers may be on another thread (the admin, a Celery task run inline).
        with contextlib.suppress(RuntimeError):  # that loop is closed: nobody left to tell
            self.loop.call_soon_threadsafe(self.on_message, event)

    async def aclose(self) -> None:
        with MEMORY.lock:
            MEMORY.subscribers.get(self.key, set()).discard(self)


class MemoryRoomStore:
    def __init__(self, config: LiveConfig) -> None:
        self.config = config

    def _key(self, room_id: int) -> tuple[str, int]:
        return (self.config.prefix, room_id)

    async def allocate_node(self) -> int:
        return 0

    async def post(self, *, room_id: int, user_id: int, event: str | None) -> bool:
        rate, burst = self.config.danmaku_rate_per_second, float(self.config.danmaku_burst)
        now = time.monotonic()
        bucket_key = (self.config.prefix, user_id)
        with MEMORY.lock:
            tokens, at = MEMORY.buckets.get(bucket_key, (burst, now))
            tokens = min(burst, tokens + max(0.0, now - at) * rate)
            if tokens < 1:
                MEMORY.buckets[bucket_key] = (tokens, now)
                return False
            MEMORY.buckets[bucket_key] = (tokens - 1, now)
            if event:
                recent = MEMORY.recent.setdefault(self._key(room_id), deque(maxlen=self.config.recent_danmaku))
                recent.append(event)
        if event:
            MEMORY.deliver(self._key(room_id), event)
        return True

    async def publish(self, *, room_id: int, event: str) -> None:
        MEMORY.deliver(self._key(room_id), event)

    async def listen(self, *, room_id: int, on_message: OnMessage, on_reconnect: OnReconnect) -> Listener:
        listener = _MemoryListener(self._key(room_id), on_message)
        with MEMORY.lock:
            MEMORY.subscribers.setdefault(listener.key, set()).add(listener)
        return listener

    async def likes_add(self, *, room_id: int, count: int, floor: int) -> int:
        with MEMORY.lock:
            total = max(MEMORY.likes.get(self._key(room_id), 0), floor) + count
            MEMORY.likes[self._key(room_id)] = total
            return total

    async def recent(self, *, room_id: int) -> list[str]:
        with MEMORY.lock:
            return list(MEMORY.recent.get(self._key(room_id), ()))

    async def viewers_report(self, *, room_id: int, node: int, count: int, ttl: float) -> int:
        return count

    async def aclose(self) -> None:
        return None


def make_store(config: LiveConfig) -> RoomStore:
    return RedisRoomStore(config) if config.redis_url else MemoryRoomStore(config)


# --- Publishing from synchronous code (services, the admin, Celery tasks) -----------------


@functools.lru_cache(maxsize=8)
def _sync_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def publish_sync(config: LiveConfig, *, room_id: int, event: str) -> None:
    """Publish one event to the room's viewers in every process of this region."""
    if config.redis_url:
        _sync_client(config.redis_url).publish(_Keys(config.prefix).room(room_id, "bus"), event)
    else:
        MEMORY.deliver((config.prefix, room_id), event)


def recent_remove_sync(config: LiveConfig, *, room_id: int, matches: Callable[[str], bool]) -> None:
    """Drop kept recent events for which ``matches`` is true (a message removed by a moderator)."""
    if config.redis_url:
        client = _sync_client(config.redis_url)
        key = _Keys(config.prefix).room(room_id, "recent")
        for item in client.lrange(key, 0, -1):
            if matches(item.decode()):
                client.lrem(key, 0, item)
    else:
        with MEMORY.lock:
            recent = MEMORY.recent.get((config.prefix, room_id))
            if recent is not None:
                kept = [item for item in recent if not matches(item)]
                recent.clear()
                recent.extend(kept)
