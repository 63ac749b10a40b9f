"""The server process's start and stop (ASGI lifespan): work that belongs to no request.

At start the flash-sale door makes its answers, connects to Redis and loads its script, so a
sale's first crowd does not wait for that; at stop the live rooms' runtime saves what it still holds (likes,
danmaku waiting to be written) after the server has closed its connections. Neither may
keep the server from starting or stopping: a failure is logged, and the door and the rooms
then do the same work on demand.

Once started, the process's long-lived objects are set aside from the garbage collector
(``gc.freeze``): Django, the URL resolver and the language catalogues are some 140,000
objects that every full collection walked again, a pause of 65-75 ms in the middle of
whatever the loop was answering (measured: 500 sold-out answers at the door took 17 ms, or
83 ms with the collection; the flash-sale burst's slowest losers waited for it).
"""

from __future__ import annotations

import gc
import logging
from typing import Any

from apps.live.realtime.hub import close_runtime
from apps.orders import door, gate

logger = logging.getLogger(__name__)


async def lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                door.prepare()
                await gate.door_prepare()
            except Exception as exc:
                logger.warning("Flash-sale door could not prepare (it will on its first buyers): %s", exc)
            gc.freeze()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            try:
                await close_runtime()
            except Exception:
                logger.exception("Live rooms' runtime did not close cleanly")
            await send({"type": "lifespan.shutdown.complete"})
            return
