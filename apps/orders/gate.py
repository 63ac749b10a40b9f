"""The flash-sale gate: a Redis counter per variant that admits exactly the available units.

When a product is pinned in a live flash sale, 1,000 buyers may arrive in the same second
for 100 units. Sending them all to PostgreSQL makes one stock row the hottest lock in the
database. The gate answers most of them from Redis instead:

- ``flash_sale:<variant>:left`` holds the units still free to reserve (DB quantity minus
  held reservations). A Lua script decrements it for every line of a checkout atomically
  (all lines or none), and moves the admitted units to ``:inflight`` while the checkout's
  database transaction runs.
- After the transaction, :func:`settle` takes the units off ``:inflight`` (committed) or
  puts them back into ``:left`` (rolled back). Each admission is recorded by its id in
  ``:admitted``, so settling is exact and happens once, and :func:`reap_stale` gives back
  the units of a checkout whose process died before it settled.
- Released reservations (expiry, cancellation) give units back with :func:`give_back`.
- :func:`reconcile` compares ``left + inflight`` with the database and repairs drift.
- At the door (:mod:`apps.orders.door`, before Django), :func:`door_admit` does the same
  admission for a checkout that names its lines, so a sold-out buyer is answered without
  a thread, a session or a query; the checkout then claims those units instead of asking
  again (:class:`DoorAdmission`), and the door gives back any it did not claim.

Without Redis (the embedded default) no gate is ever open and checkouts go straight to
the database, which is still correct, only slower under a crowd.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import threading
import time
import uuid
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis
import redis.asyncio
from django.conf import settings

logger = logging.getLogger(__name__)

# Every admission is recorded in its variant's ``:admitted`` hash (admission id ->
# "quantity:time"), so that settling is exact and idempotent (a second settle, or one after
# the gate was reopened, changes nothing) and units of a checkout whose process died between
# admission and settlement can be found and given back (:func:`reap_stale`).

# KEYS: for each line, its left, inflight and admitted keys. ARGV: the admission id, the time
# (epoch seconds), then the quantities. Returns 1 when every gated line was admitted (and
# decremented), 0 when one was short (nothing changed), -1 when some key is missing (no gate
# open for that variant: the caller goes to the database for it).
_ADMIT = """
for i = 1, #ARGV - 2 do
  local left = redis.call('GET', KEYS[3 * i - 2])
  if left == false then return -1 end
  if tonumber(left) < tonumber(ARGV[i + 2]) then return 0 end
end
for i = 1, #ARGV - 2 do
  redis.call('DECRBY', KEYS[3 * i - 2], ARGV[i + 2])
  redis.call('INCRBY', KEYS[3 * i - 1], ARGV[i + 2])
  redis.call('HSET', KEYS[3 * i], ARGV[1], ARGV[i + 2] .. ':' .. ARGV[2])
end
return 1
"""

# KEYS: left, inflight, admitted. ARGV: admission id, committed (1/0). Returns the units
# settled (0 when the admission is not, or no longer, in flight).
_SETTLE = """
local held = redis.call('HGET', KEYS[3], ARGV[1])
if held == false then return 0 end
local quantity = tonumber(string.match(held, '^(%d+)'))
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('DECRBY', KEYS[2], quantity)
if ARGV[2] == '0' then redis.call('INCRBY', KEYS[1], quantity) end
return quantity
"""

# KEYS: left, inflight, admitted. ARGV: admitted before this time (epoch seconds). Admissions
# that old belong to no running checkout: their units go back to ``left``. Returns the units.
_REAP = """
local entries = redis.call('HGETALL', KEYS[3])
local reaped = 0
for i = 1, #entries, 2 do
  local quantity, at = string.match(entries[i + 1], '^(%d+):([%d.]+)$')
  if quantity and tonumber(at) < tonumber(ARGV[1]) then
    redis.call('HDEL', KEYS[3], entries[i])
    redis.call('DECRBY', KEYS[2], quantity)
    redis.call('INCRBY', KEYS[1], quantity)
    reaped = reaped + tonumber(quantity)
  end
end
return reaped
"""

# KEYS: a shopper key. ARGV: the door key of the checkout that is over. Only that checkout's
# hold is released: once the key had expired, another checkout of the shopper's may hold it.
_SHOPPER_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: left. ARGV: quantity. Only when the gate is still open.
_GIVE_BACK = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('INCRBY', KEYS[1], ARGV[1]) end
return false
"""


# The door's admissions of one turn of the event loop, each its own checkout, in arrival order.
# KEYS: each variant's left, inflight and admitted keys, then two per admission: its door key
# (the checkout's idempotency key at the door, also the admission's id in the gate's records)
# and its shopper key (its session's, see door_admit; "" for none: units may not be taken).
# ARGV[1]: how long the door remembers a key (seconds), ARGV[2]: the time (epoch seconds),
# ARGV[3]: how long a shopper key lasts at most (seconds; it holds the door key of the checkout
# that set it), ARGV[4]: the index in KEYS of the first admission's door key, then runs of
# consecutive admissions naming the same lines: how many admissions, the number of lines, and
# per line the index of the variant's left key in KEYS and the quantity. A crowd names the same
# line, so each buyer costs the call two keys: redis-py packs each argument in Python, and the
# seven a buyer took before were most of the door's time in Redis' client (measured: README,
# Performance, "Session 24").
# Lines with no open gate are left to the checkout. Returns one answer per admission, joined
# by ",": its lines admitted (their 1-based positions joined by "."), 0 when a gated line is
# short (nothing changed for it), -1 when no line is gated, -2 when the key came through the
# door before (a retry: the checkout decides, it may already have placed the order), -3 when
# units are there but may not be taken here (no shopper key, or that shopper has a checkout at
# the door already). One string, because parsing a reply of 500 integers in redis-py took
# longer than the script.
_DOOR_ADMIT = """
local answers = {}
local k = tonumber(ARGV[4])
local a = 5
while a <= #ARGV do
  local count = tonumber(ARGV[a])
  local lines = tonumber(ARGV[a + 1])
  local first = a + 2
  a = first + 2 * lines
  for _ = 1, count do
    local door, shopper = KEYS[k], KEYS[k + 1]
    k = k + 2
    local answer
    if redis.call('EXISTS', door) == 1 then
      answer = -2
    else
      local gated = {}
      for i = 1, lines do
        local left = redis.call('GET', KEYS[tonumber(ARGV[first + 2 * i - 2])])
        if left ~= false then
          if tonumber(left) < tonumber(ARGV[first + 2 * i - 1]) then
            answer = 0
            break
          end
          gated[#gated + 1] = i
        end
      end
      if answer == nil and #gated == 0 then answer = -1 end
      if answer == nil and (shopper == '' or redis.call('SET', shopper, door, 'NX', 'EX', ARGV[3]) == false) then
        answer = -3
      end
      if answer == nil then
        for _, i in ipairs(gated) do
          local key, quantity = tonumber(ARGV[first + 2 * i - 2]), ARGV[first + 2 * i - 1]
          redis.call('DECRBY', KEYS[key], quantity)
          redis.call('INCRBY', KEYS[key + 1], quantity)
          redis.call('HSET', KEYS[key + 2], door, quantity .. ':' .. ARGV[2])
        end
        redis.call('SET', door, 1, 'EX', ARGV[1])
        answer = table.concat(gated, '.')
      end
    end
    answers[#answers + 1] = answer
  end
end
return table.concat(answers, ',')
"""

# An admission older than this belongs to no running checkout (a checkout request is over in
# seconds; reservations last minutes): the reconcile gives its units back (seconds).
STALE_ADMISSION_SECONDS = 10 * 60

# A retried checkout key goes to the checkout for a day: it may have placed the order.
DOOR_MEMORY_SECONDS = 24 * 3600

# A shopper's checkout at the door is over in seconds, and its shopper key is deleted then;
# should that be lost (the process died), the shopper's checkouts meet the gate in Django
# until the key expires. As long as an admission is kept: a checkout may wait in the door's
# queue behind a crowd's winners, and its hold must last until it is over.
DOOR_SHOPPER_SECONDS = STALE_ADMISSION_SECONDS


def _pool_options() -> dict:
    # A flash-sale crowd asks all at once: wait for a free connection rather than refuse.
    return {
        "max_connections": settings.REDIS_POOL_MAX_CONNECTIONS,
        "timeout": settings.REDIS_POOL_TIMEOUT,
        "socket_timeout": 2,
        "socket_connect_timeout": 2,
    }


@functools.cache
def _client(url: str) -> redis.Redis:
    return redis.Redis(connection_pool=redis.BlockingConnectionPool.from_url(url, **_pool_options()))


def client() -> redis.Redis | None:
    return _client(settings.REDIS_URL) if settings.REDIS_URL else None


# Per event loop (weakly: a test's short-lived loop takes its client with it, and a new loop
# never inherits one whose connections belong to a closed loop).
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, tuple[redis.asyncio.Redis, Any]]] = (
    weakref.WeakKeyDictionary()
)


def _async_client() -> tuple[redis.asyncio.Redis, _DoorQueue] | None:
    """The event loop's own client and door queue (an asyncio connection belongs to its loop)."""
    # Asked for each of a flash sale's buyers: settings are read once (each read of the lazy
    # settings object costs a few tenths of a microsecond), and the common case is one lookup.
    url = settings.REDIS_URL
    if not url:
        return None
    loop = asyncio.get_running_loop()
    clients = _async_clients.get(loop)
    if clients is None:
        clients = _async_clients[loop] = {}
    if url not in clients:
        pool = redis.asyncio.BlockingConnectionPool.from_url(url, **_pool_options())
        client = redis.asyncio.Redis(connection_pool=pool)
        clients[url] = (client, _DoorQueue(client))
    return clients[url]


class _DoorQueue:
    """The door's admissions asked in one turn of the event loop, sent to Redis as one script call.

    A flash-sale crowd arrives together. One round trip per buyer means a pooled connection
    and several turns of the loop each, and in a server process whose checkout threads take
    turns with the loop at the interpreter lock every turn can cost milliseconds: measured
    with one busy thread, 500 admissions one by one took 1.8-4.5 s, p50 1.2-2.7 s. Sent as
    one pipeline of a script call each, 500 took 17-18 ms of the loop, most of it redis-py
    packing and parsing 500 commands; as one call of a script that admits them all, in
    arrival order and each all-or-nothing as before, they take one command's work.
    """

    BATCH = 500

    def __init__(self, client: redis.asyncio.Redis) -> None:
        # EVALSHA: the script's text crosses the wire once, not with each of 1,000 buyers.
        self.script = client.register_script(_DOOR_ADMIT)
        self.client = client
        self.waiting: list[tuple[str, str, dict[int, int], asyncio.Future]] = []
        self.sender: asyncio.Task | None = None

    def ask(self, door_key: str, shopper_key: str, lines: dict[int, int]) -> asyncio.Future:
        """The door script's answer for one checkout (``lines``: {variant: quantity}), when it comes.

        ``shopper_key`` "" means the door may not take units for it (see :func:`door_admit`).
        """
        loop = asyncio.get_running_loop()
        if self.sender is None:
            # Its first step comes in the loop's next turn, after every ask of this one.
            self.sender = loop.create_task(self._send_waiting())
        answer = loop.create_future()
        self.waiting.append((door_key, shopper_key, lines, answer))
        return answer

    async def _send_waiting(self) -> None:
        """Send what waits, one script call at a time, until nothing waits.

        Asks that come while a call is out wait for its answer and go together in the next:
        a second call at once would need a second connection, and opening one in a loop busy
        with a crowd took 30-40 ms (measured), longer than waiting for the call that is out.
        """
        try:
            while self.waiting:
                # A batch is one script run, which Redis runs alone: 500 admissions keep it short.
                batch, self.waiting = self.waiting[: self.BATCH], self.waiting[self.BATCH :]
                await self._send(batch)
        finally:
            self.sender = None

    async def _send(self, batch: list[tuple[str, str, dict[int, int], asyncio.Future]]) -> None:
        # The crowd asks for the same few variants: each variant's keys are sent once.
        keys: list[str] = []
        variant_keys: dict[int, int] = {}
        for _door_key, _shopper_key, lines, _answer in batch:
            for variant_id in lines:
                if variant_id not in variant_keys:
                    variant_keys[variant_id] = len(keys) + 1
                    keys += _keys(variant_id)
        args: list[Any] = [DOOR_MEMORY_SECONDS, time.time(), DOOR_SHOPPER_SECONDS, len(keys) + 1]
        run_lines: tuple[tuple[int, int], ...] | None = None
        run_count = 0
        for door_key, shopper_key, lines, _answer in batch:
            # In order: an answer's positions are its own lines' ({1: 1, 2: 1} == {2: 1, 1: 1}).
            items = tuple(lines.items())
            if items != run_lines:
                run_lines, run_count = items, len(args)
                args += [0, len(lines)]
                for variant_id, quantity in lines.items():
                    args += [variant_keys[variant_id], quantity]
            args[run_count] += 1
            keys += (door_key, shopper_key)
        try:
            reply = await self.script(keys=keys, args=args)
            results: list[Any] = [_door_answer(answer) for answer in reply.split(b",")]
            if len(results) != len(batch):  # no buyer may be left waiting for an answer that never comes
                raise redis.RedisError(f"door script answered {len(results)} of {len(batch)} admissions")
        except Exception as exc:
            results = [exc] * len(batch)
        for (door_key, shopper_key, lines, answer), result in zip(batch, results, strict=True):
            if answer.done():  # the buyer left (the request was cancelled) while Redis answered
                if isinstance(result, list):
                    await self._give_back_abandoned(door_key, shopper_key, lines)
                continue
            if isinstance(result, Exception):
                answer.set_exception(result)
            else:
                answer.set_result(result)

    async def _give_back_abandoned(self, door_key: str, shopper_key: str, lines: dict[int, int]) -> None:
        """Units admitted for a buyer who is gone go back to the gate."""
        try:
            await _release_at_door(self.client, door_key, shopper_key, lines, units_back=True)
        except Exception as exc:  # the periodic reconcile repairs the gate
            logger.warning("Flash-sale door could not give back an abandoned admission: %s", exc)


def _door_answer(answer: bytes) -> int | list[int]:
    """One admission's answer in the door script's reply: 0 (sold out), a negative code, or the
    positions of its lines admitted ("1.2" for [1, 2]; positions start at 1, so never at "0")."""
    if answer[:1] in (b"0", b"-"):
        return int(answer)
    return [int(position) for position in answer.split(b".")]


def _prefix() -> str:
    return f"livemall:{settings.REGION.code}:orders:flash_sale"


def left_key(variant_id: int) -> str:
    return f"{_prefix()}:{variant_id}:left"


def inflight_key(variant_id: int) -> str:
    return f"{_prefix()}:{variant_id}:inflight"


def admitted_key(variant_id: int) -> str:
    return f"{_prefix()}:{variant_id}:admitted"


def _keys(variant_id: int) -> tuple[str, str, str]:
    return left_key(variant_id), inflight_key(variant_id), admitted_key(variant_id)


def open_gate(variant_id: int, available: int) -> None:
    r = client()
    if r is None:
        return
    # A gate opened afresh forgets earlier admissions: their late settlements change nothing.
    with r.pipeline() as pipe:
        pipe.mset({left_key(variant_id): max(available, 0), inflight_key(variant_id): 0})
        pipe.delete(admitted_key(variant_id))
        pipe.execute()


def close_gate(variant_id: int) -> None:
    r = client()
    if r is not None:
        r.delete(*_keys(variant_id))


def open_gate_variants() -> set[int]:
    """Every variant whose gate is open (none without Redis)."""
    r = client()
    if r is None:
        return set()
    pattern = left_key(0).replace(":0:", ":*:")
    return {int(key.decode().rsplit(":", 2)[-2]) for key in r.scan_iter(match=pattern, count=500)}


def gated_variants(variant_ids: list[int]) -> set[int]:
    r = client()
    if r is None or not variant_ids:
        return set()
    values = r.mget([left_key(v) for v in variant_ids])
    return {v for v, value in zip(variant_ids, values, strict=True) if value is not None}


def new_admission_id(idempotency_key: str) -> str:
    """An id for one checkout's own admission (a double submit of one key gets two)."""
    return f"checkout:{idempotency_key}:{uuid.uuid4().hex[:12]}"


def admit(wanted: dict[int, int], *, admission_id: str) -> bool | None:
    """Take ``wanted`` units per gated variant; False when one is sold out, None if no gate is open."""
    r = client()
    if r is None or not wanted:
        return None
    ids = sorted(wanted)
    keys = [k for v in ids for k in _keys(v)]
    result = r.eval(_ADMIT, len(keys), *keys, admission_id, time.time(), *[wanted[v] for v in ids])
    if result == -1:
        return None
    return result == 1


def settle(variant_ids: Iterable[int], *, admission_id: str, committed: bool) -> None:
    """The admission's units leave flight: sold (``committed``) or back to the gate. Idempotent."""
    r = client()
    if r is None:
        return
    for variant_id in variant_ids:
        r.eval(_SETTLE, 3, *_keys(variant_id), admission_id, 1 if committed else 0)


def reap_stale(variant_id: int, *, older_than: float = STALE_ADMISSION_SECONDS) -> int:
    """Give back the units of admissions older than ``older_than`` seconds (their checkout's
    process died before settling); returns the units. The reconcile settles those whose order
    committed first, and its count corrects the gate for any older order placed without a
    record of its admission."""
    r = client()
    if r is None:
        return 0
    reaped = int(r.eval(_REAP, 3, *_keys(variant_id), time.time() - older_than))
    if reaped:
        logger.warning(
            "Flash-sale gate for variant %s: %d units of unsettled admissions given back", variant_id, reaped
        )
    return reaped


def admissions_in_flight(variant_id: int) -> list[str]:
    """The ids of the variant's admissions on record: their checkouts have not settled them."""
    r = client()
    if r is None:
        return []
    return [admission_id.decode() for admission_id in r.hkeys(admitted_key(variant_id))]


@dataclass
class DoorAdmission:
    """Units the door took from the gate for one checkout, until the checkout claims them.

    The checkout runs in a worker thread and the door in the event loop; the door may give
    the units back (the request ended, or the client left while the thread still runs).
    Whichever comes first wins, under the lock, so the units are settled exactly once.
    """

    wanted: dict[int, int]
    # The door's key: the admission's id in the gate's records.
    id: str = ""
    # The key that keeps the shopper's other checkouts from being admitted at the door meanwhile.
    shopper_key: str = ""
    claimed: bool = False
    returned: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def claim(self, gated_wanted: dict[int, int]) -> bool:
        """Take the units for the checkout (which then settles them); False if not these or gone."""
        with self._lock:
            if self.returned or self.claimed or gated_wanted != self.wanted:
                return False
            self.claimed = True
            return True

    def give_up(self) -> bool:
        """Mark the units as the door's to give back; False once the checkout has claimed them."""
        with self._lock:
            if self.claimed or self.returned:
                return False
            self.returned = True
            return True


async def door_admit(idempotency_key: str, lines: dict[int, int], *, shopper: str = "") -> DoorAdmission | bool | None:
    """Admit a checkout's gated lines at the door.

    ``shopper`` is the session whose checkout pass vouches for these lines; without one, no
    units are taken here. One checkout per shopper holds units at the door at a time, so a
    shopper cannot hold a sale's units with a crowd of checkouts of one cart.

    Returns the admission (units taken), False when a gated line is sold out, None when the
    checkout must decide itself (no gate open for these lines, a retried key, no shopper or
    the shopper's other checkout at the door, no Redis).
    """
    door = _async_client()
    if door is None or not lines:
        return None
    ids = sorted(lines)
    prefix = _prefix()
    door_key = f"{prefix}:door:{idempotency_key}"
    # Hashed: the session key is a credential, and Redis keys are listed by whoever debugs it.
    shopper_key = f"{prefix}:door-shopper:{hashlib.sha256(shopper.encode()).hexdigest()}" if shopper else ""
    result = await door[1].ask(door_key, shopper_key, {v: lines[v] for v in ids})
    if result == 0:
        return False
    if not isinstance(result, list):
        return None
    return DoorAdmission(wanted={ids[i - 1]: lines[ids[i - 1]] for i in result}, id=door_key, shopper_key=shopper_key)


async def door_prepare() -> None:
    """Connect the event loop's door client and load its script into Redis ahead of a crowd.

    Measured in a fresh server process: the first burst's admissions waited for the
    connection and for the script's first load (EVALSHA refused, loaded, asked again), turns
    of a loop busy with a thousand arriving requests, so no buyer heard back until they had
    all arrived. Called at the server's start (ASGI lifespan).
    """
    door = _async_client()
    if door is not None:
        await door[0].script_load(_DOOR_ADMIT)


async def door_give_back(admission: DoorAdmission) -> None:
    """When the checkout's request is over: put back units the checkout did not claim (it
    refused, failed early, or never ran), and let the shopper's next checkout through the door."""
    door = _async_client()
    if door is not None:
        await _release_at_door(
            door[0], admission.id, admission.shopper_key, admission.wanted, units_back=admission.give_up()
        )


async def _release_at_door(
    r: redis.asyncio.Redis, door_key: str, shopper_key: str, variant_ids: Iterable[int], *, units_back: bool
) -> None:
    """The door's part of an admission is over: its units go back to the gate (``units_back``:
    the checkout did not claim them), and the shopper's next checkout may be admitted."""
    try:
        if units_back:
            await _give_back_async(r, [_keys(v) for v in variant_ids], door_key)
    finally:
        if shopper_key:
            await r.eval(_SHOPPER_RELEASE, 1, shopper_key, door_key)


async def _give_back_async(r: redis.asyncio.Redis, lines: Iterable[Sequence[str]], admission_id: str) -> None:
    """From the event loop: the admission's units on each line (its left, inflight and admitted
    keys) go back to the gate; a line the admission did not take is left as it is."""
    for keys in lines:
        await r.eval(_SETTLE, 3, *keys, admission_id, 0)


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
