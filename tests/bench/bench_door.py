"""The checkout door's own cost per sold-out buyer, in one process (apps.orders.door).

In the flash-sale burst (``bench_flash_sale``) each server process answers ~500 sold-out
buyers one after another in its event loop, so what the door spends on each is what the last
of them waits for, on top of the server's own work (the bare app's floor). This measures that
part alone, without HTTP or a client sharing the cores: ``--buyers`` checkouts with a valid
checkout pass each, for a variant whose gate is open with no units left, handed to
:class:`~apps.orders.door.CheckoutDoor` in one turn of a uvloop event loop, as uvicorn hands
them over, with real Redis. The same requests handed to an ASGI app that answers at once give
the harness's own cost, which is subtracted.

Run: ``REDIS_URL=redis://127.0.0.1:6379/4 .venv/bin/python -m tests.bench door -- --buyers 500``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import time
import uuid
from typing import Any

from tests.bench.bench_flash_sale import _setup_django

# No variant has this id: the gate is opened for it alone, and no row is read.
VARIANT_ID = 2_000_000_001


def _requests(buyers: int) -> list[tuple[dict[str, Any], bytes]]:
    """What a live room's buyers send: their own session, Idempotency-Key, line and pass."""
    from apps.orders import checkout_pass

    made = []
    for _ in range(buyers):
        session_key = uuid.uuid4().hex
        lines = {VARIANT_ID: 1}
        body = {
            "expected_lines": [{"variant": VARIANT_ID, "quantity": 1}],
            "checkout_pass": checkout_pass.issue(session_key, lines),
            "address": {"name": "A Buyer", "line1": "1 Main St", "city": "Boston", "postal_code": "02110"},
            "shipping_option": "standard",
        }
        headers = [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"idempotency-key", str(uuid.uuid4()).encode()),
            (b"cookie", f"sessionid={session_key}; csrftoken={uuid.uuid4().hex}".encode()),
            (b"accept-language", b"en-US,en;q=0.9"),
        ]
        scope = {"type": "http", "method": "POST", "path": "/api/v1/checkout", "headers": headers}
        made.append((scope, json.dumps(body).encode()))
    return made


async def _answer_at_once(scope: dict, receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 409, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def _never_django(scope: dict, receive: Any, send: Any) -> None:
    raise AssertionError("a sold-out buyer reached Django")


async def _burst(app: Any, requests: list[tuple[dict[str, Any], bytes]]) -> float:
    """Seconds until every request has its answer; each must be 409."""

    async def one(scope: dict[str, Any], body: bytes) -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] != 409:
                raise AssertionError(f"answered {message['status']}, not sold out")

        await app(scope, receive, send)

    started = time.perf_counter()
    await asyncio.gather(*(one(scope, body) for scope, body in requests))
    return time.perf_counter() - started


async def _measure(buyers: int, rounds: int) -> dict[str, float]:
    from apps.orders import door, gate

    # As the server's start does (livemall.lifespan).
    door.prepare()
    await gate.door_prepare()
    gc.freeze()
    gate.open_gate(VARIANT_ID, 0)
    front = door.CheckoutDoor(_never_django)
    times: dict[str, list[float]] = {"door": [], "harness": []}
    try:
        # Two rounds to warm up (connections, caches), not counted.
        for round_ in range(rounds + 2):
            for name, app in (("door", front), ("harness", _answer_at_once)):
                spent = await _burst(app, _requests(buyers))
                if round_ >= 2:
                    times[name].append(spent)
                await asyncio.sleep(0.05)
    finally:
        gate.close_gate(VARIANT_ID)
    per_buyer = {name: statistics.median(spent) / buyers * 1e6 for name, spent in times.items()}
    return {
        "buyers": buyers,
        "rounds": rounds,
        "door_burst_ms_median": round(statistics.median(times["door"]) * 1000, 2),
        "door_us_per_buyer": round(per_buyer["door"] - per_buyer["harness"], 1),
        "harness_us_per_buyer": round(per_buyer["harness"], 1),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_door")
    parser.add_argument("--buyers", type=int, default=500, help="sold-out buyers in one turn of the loop")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    _setup_django()
    import uvloop

    report = uvloop.run(_measure(args.buyers, args.rounds))
    print(json.dumps(report, indent=2))
    return 0
