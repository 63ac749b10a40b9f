"""The flash-sale gate: a Redis counter per variant that admits exactly the available units.

When a product is pinned in a live flash sale, 1,000 buyers may arrive in the same second
for 100 units. Sending them all to PostgreSQL makes one stock row the hottest lock in the
database. The gate answers most of them from Redis instead:

- ``flash_sale:<variant>:left`` holds the units still free to reserve (DB quantity minus
  held reservations). A Lua script decrements it for every line of a checkout atomically
  (all lines or none), and moves the admitted units to ``:inflight`` while the checkout's
  database transaction runs.
- After the transaction, :func:`settle` takes the units off ``:inflight`` (committed) or
  puts them back into ``:left`` (rolled back).
- Released reservations (expiry, cancellation) give units back with :func:`give_back`.
- :func:`reconcile` compares ``left + inflight`` with the database and repairs drift.

Without Redis (the embedded default) no gate is ever open and checkouts go straight to
the database, which is still correct, only slower under a crowd.
"""

from __future__ import annotations

import functools
import logging

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

# KEYS: for each line, its left key then its inflight key. ARGV: the quantities.
# Returns 1 when every gated line was admitted (and decremented), 0 when one was short
# (nothing changed), -1 when some key is missing (no gate open for that variant: the
# caller goes to the database for it).
_ADMIT = """
for i = 1, #ARGV do
  local left = redis.call('GET', KEYS[2 * i - 1])
  if left == false then return -1 end
  if tonumber(left) < tonumber(ARGV[i]) then return 0 end
end
for i = 1, #ARGV do
  redis.call('DECRBY', KEYS[2 * i - 1], ARGV[i])
  redis.call('INCRBY', KEYS[2 * i], ARGV[i])
end
return 1
"""

# KEYS: left, inflight. ARGV: quantity, committed (1/0).
_SETTLE = """
redis.call('DECRBY', KEYS[2], ARGV[1])
if ARGV[2] == '0' then redis.call('INCRBY', KEYS[1], ARGV[1]) end
return 1
"""

# KEYS: left. ARGV: quantity. Only when the gate is still open.
_GIVE_BACK = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('INCRBY', KEYS[1], ARGV[1]) end
return false
"""


@functools.cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def client() -> redis.Redis | None:
    return _client(settings.REDIS_URL) if settings.REDIS_URL else None


def _prefix() -> str:
    return f"livemall:{settings.REGION.code}:orders:flash_sale"


def left_key(variant_id: int) -> str:
    return f"{_prefix()}:{variant_id}:left"


def inflight_key(variant_id: int) -> str:
    return f"{_prefix()}:{variant_id}:inflight"


def open_gate(variant_id: int, available: int) -> None:
    r = client()
    if r is None:
        return
    r.mset({left_key(variant_id): max(available, 0), inflight_key(variant_id): 0})


def close_gate(variant_id: int) -> None:
    r = client()
    if r is not None:
        r.delete(left_key(variant_id), inflight_key(variant_id))


def gated_variants(variant_ids: list[int]) -> set[int]:
    r = client()
    if r is None or not variant_ids:
        return set()
    values = r.mget([left_key(v) for v in variant_ids])
    return {v for v, value in zip(variant_ids, values, strict=True) if value is not None}


def admit(wanted: dict[int, int]) -> bool | None:
    """Take ``wanted`` units per gated variant; False when one is sold out, None if no gate is open."""
    r = client()
    if r is None or not wanted:
        return None
    ids = sorted(wanted)
    keys = [k for v in ids for k in (left_key(v), inflight_key(v))]
    result = r.eval(_ADMIT, len(keys), *keys, *[wanted[v] for v in ids])
    if result == -1:
        return None
    return result == 1


def settle(wanted: dict[int, int], *, committed: bool) -> None:
    r = client()
    if r is None:
        return
    for variant_id, quantity in wanted.items():
        r.eval(_SETTLE, 2, left_key(variant_id), inflight_key(variant_id), quantity, 1 if committed else 0)


def give_back(variant_id: int, quantity: int) -> None:
    r = client()
    if r is not None and quantity > 0:
        r.eval(_GIVE_BACK, 1, left_key(variant_id), quantity)


def counts(variant_id: int) -> tuple[int | None, int]:
    r = client()
    if r is None:
        return None, 0
    left, inflight = r.mget(left_key(variant_id), inflight_key(variant_id))
    return (int(left) if left is not None else None), int(inflight or 0)


def repair(variant_id: int, *, available: int) -> int | None:
    """Set the gate to what the database says is free; return the drift repaired (0: none)."""
    r = client()
    if r is None:
        return None
    left, inflight = counts(variant_id)
    if left is None:
        return None
    drift = (left + inflight) - available
    if drift:
        # Only the settled part is repaired: in-flight units belong to running checkouts.
        r.decrby(left_key(variant_id), drift)
        logger.warning(
            "Flash-sale gate for variant %s drifted by %+d (gate %s + %s in flight, database %s); repaired",
            variant_id,
            drift,
            left,
            inflight,
            available,
        )
    return drift
