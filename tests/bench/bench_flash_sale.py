"""Flash sale through the real checkout path: 1,000 buyers, 100 units, HTTP API on uvicorn.

What it does:

1. Migrates the database named by ``DATABASE_URL`` (use a scratch one: the benchmark adds
   rows) and seeds a merchant, one product with ``--units`` units and ``--buyers`` carts
   (each through ``POST /api/v1/cart/lines``, so every buyer has a real session).
2. Opens the flash-sale gate (Redis) for the variant, as pinning it in a live room does.
3. Releases every buyer at once: ``POST /api/v1/checkout`` with its own Idempotency-Key,
   naming its line (``expected_lines``, what an API client's page showed), so sold-out buyers
   are answered at the checkout's door (``--no-door``: without, as before the door).
4. Sends the same burst to a bare ASGI app on the same uvicorn that answers "sold out" at
   once (``tests/bench/bare_sold_out.py``): the floor this machine and client allow.
5. Counts: orders created, units reserved (oversold = reserved - units, must be 0), buyers
   answered (201 or a clean 409 ``sold_out``), time until sold out, p50/p99 latency of
   winners and of losers, and the gate's counters after the sale.

Run: ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/livemall_bench REDIS_URL=redis://127.0.0.1:6379/4
.venv/bin/python -m tests.bench flash_sale -- --buyers 1000 --units 100 --workers 2``.

``--sustained`` measures instead how many orders per second the checkout commits while
stock lasts (10,000 units): 10 and then 200 buyers checking out back to back, each with a
cart of its own, through the Redis gate and, as the naive baseline, without it (the
checkout then locks the stock row with ``SELECT ... FOR UPDATE`` for the whole order
transaction, which is what a naive checkout does); and, in the same run, ``pgbench`` with
the one-row ``UPDATE stock SET qty = qty - 1 WHERE id = 1 AND qty > 0`` at 8 clients on
the same PostgreSQL server, as the ceiling of a single hot row. Last, the largest crowd
asks for as long for Django's ``/healthz`` (a view that reads nothing) and for the bare app:
the answers per second this machine and client allow through Django at all, and for any
server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_ENV", "test")
    os.environ.setdefault("REGION", "us-east")
    os.environ["DJANGO_SETTINGS_MODULE"] = "livemall.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


async def request(
    port: int,
    method: str,
    path: str,
    body: dict | None = None,
    headers: dict | None = None,
):
    """One HTTP/1.1 request on its own connection: (status, json body, set-cookie values)."""
    reader, writer = await asyncio.open_connection(HOST, port)
    payload = json.dumps(body).encode() if body is not None else b""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}", "Connection: close"]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, content = raw.partition(b"\r\n\r\n")
    head_lines = head.decode("latin-1").split("\r\n")
    status = int(head_lines[0].split()[1])
    cookies = [h.split(":", 1)[1].strip().split(";")[0] for h in head_lines[1:] if h.lower().startswith("set-cookie:")]
    try:
        data = json.loads(content) if content else None
    except ValueError:
        data = {"raw": content[:200].decode("latin-1")}
    return status, data, cookies


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def seed(units: int) -> int:
    from django.conf import settings

    from apps.accounts import services as accounts
    from apps.accounts.models import User
    from apps.catalog import services as catalog

    region = settings.REGION
    tag = uuid.uuid4().hex[:8]
    owner = User.objects.create_user(email=f"bench-{tag}@example.test", password=uuid.uuid4().hex)
    merchant = accounts.merchant_create(name=f"Bench {tag}", country="US", owner=owner)
    product = catalog.product_create(
        region=region, merchant=merchant, slug=f"flash-{tag}", names={region.default_language: "Flash sale item"}
    )
    variant = catalog.variant_create(region=region, product=product, sku=f"FLASH-{tag}".upper(), price_minor=1999)
    warehouse = catalog.warehouse_create(merchant=merchant, code=f"w{tag}", name="Bench", country="US")
    catalog.stock_set(variant=variant, warehouse=warehouse, quantity=units)
    return variant.pk


# A buyer as the checkout sees them: their Cookie header and the checkout pass their cart gave.
Buyer = tuple[str, str]


async def fill_carts(port: int, variant_id: int, buyers: int, concurrency: int = 50) -> list[Buyer]:
    sem = asyncio.Semaphore(concurrency)

    async def one() -> Buyer:
        async with sem:
            status, data, cookies = await request(
                port, "POST", "/api/v1/cart/lines", {"variant": variant_id, "quantity": 1}
            )
            if status != 201:
                raise RuntimeError(f"cart add answered {status}: {data}")
            return "; ".join(cookies), data["checkout_pass"]

    return await asyncio.gather(*(one() for _ in range(buyers)))


CHECKOUT_BODY = {
    "email": "buyer@example.test",
    "address": {
        "name": "Bench Buyer",
        "line1": "1 Main St",
        "city": "Albany",
        "state": "NY",
        "postal_code": "12207",
        "country": "US",
    },
    "shipping_option": "standard",
    "payment_provider": "test",
    "payment_method": "test",
}


def checkout_body(variant_id: int | None, checkout_pass: str = "") -> dict:
    """A buyer's checkout; with ``variant_id`` it names its line (``expected_lines``) and sends
    its cart's pass, so the checkout's door can admit or refuse it before Django."""
    if variant_id is None:
        return CHECKOUT_BODY
    return {
        **CHECKOUT_BODY,
        "expected_lines": [{"variant": variant_id, "quantity": 1}],
        "checkout_pass": checkout_pass,
    }


async def checkout(port: int, buyer: Buyer, variant_id: int | None = None) -> tuple[int, str]:
    """One buyer's ``POST /api/v1/checkout`` with a fresh Idempotency-Key: (status, error code or "")."""
    cookie, checkout_pass = buyer
    headers = {"Cookie": cookie, "Idempotency-Key": f"bench-{uuid.uuid4().hex}"}
    status, data, _ = await request(port, "POST", "/api/v1/checkout", checkout_body(variant_id, checkout_pass), headers)
    code = (data or {}).get("error", {}).get("code", "") if isinstance(data, dict) else ""
    return status, code


class _Buyer(asyncio.Protocol):
    """One buyer's connection in the burst: notes the moment its whole answer has arrived.

    The burst's 1,000 buyers share one client process on the server's two cores. Through
    asyncio's streams each answer waited for the client's own loop to parse the others (and,
    before that, to write every other buyer's request), which the latency then counted as the
    server's; here the answer's arrival is noted as it is read, and parsed after the sale.
    """

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.buffer = bytearray()
        self.started = self.ended = 0.0
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self) -> None:
        self.started = time.perf_counter()
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.ended and self._complete():
            self.ended = time.perf_counter()
            self.transport.close()
            self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.ended = time.perf_counter()
            self.done.set_result(None)

    def _complete(self) -> bool:
        head, found, body = bytes(self.buffer).partition(b"\r\n\r\n")
        if not found:
            return False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                return len(body) >= int(value)
        return False

    def answer(self) -> tuple[int, str]:
        """(status, error code or "") of the answer received."""
        head, _, body = bytes(self.buffer).partition(b"\r\n\r\n")
        if not head:
            return 0, "no answer"
        status = int(head.split(b"\r\n", 1)[0].split()[1])
        try:
            data = json.loads(body)
        except ValueError:
            return status, ""
        error = data.get("error") if isinstance(data, dict) else None
        return status, error.get("code", "") if isinstance(error, dict) else ""


def checkout_request(buyer: Buyer, variant_id: int | None) -> bytes:
    """The bytes of one buyer's ``POST /api/v1/checkout`` with a fresh Idempotency-Key."""
    cookie, checkout_pass = buyer
    payload = json.dumps(checkout_body(variant_id, checkout_pass)).encode()
    head = [
        "POST /api/v1/checkout HTTP/1.1",
        f"Host: {HOST}",
        "Connection: close",
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
        f"Cookie: {cookie}",
        f"Idempotency-Key: bench-{uuid.uuid4().hex}",
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + payload


async def sale(
    port: int, sessions: list[Buyer], variant_id: int | None, *, connected: bool
) -> list[tuple[int, str, float, float]]:
    """Every buyer presses "Buy" at once; with ``connected``, on a connection opened beforehand
    (a viewer of the live room already has one to the site), else on a new connection each.

    Each buyer's request is made before the start, so the client's own work between "Buy" and
    the answer is one write and one read: (status, error code, latency, answered after start).
    """
    loop = asyncio.get_running_loop()
    buyers = [_Buyer(checkout_request(buyer, variant_id)) for buyer in sessions]
    connecting = asyncio.Semaphore(100)

    async def connect(buyer: _Buyer) -> None:
        async with connecting:
            await loop.create_connection(lambda: buyer, HOST, port)

    async def buy(buyer: _Buyer) -> None:
        started = time.perf_counter()
        await loop.create_connection(lambda: buyer, HOST, port)
        buyer.send()
        buyer.started = started

    if connected:
        await asyncio.gather(*(connect(buyer) for buyer in buyers))
        await asyncio.sleep(0.2)
    t0 = time.perf_counter()
    if connected:
        for buyer in buyers:
            buyer.send()
    else:
        await asyncio.gather(*(buy(buyer) for buyer in buyers))
    await asyncio.gather(*(buyer.done for buyer in buyers))
    return [(*buyer.answer(), buyer.ended - buyer.started, buyer.ended - t0) for buyer in buyers]


def run_fast(coroutine: Any) -> Any:
    """Run the burst on uvloop (the loop uvicorn serves on), whose writes and reads cost the
    client less of the two cores it shares with the server."""
    import uvloop

    return uvloop.run(coroutine)


def carts_with_sessions(variant_id: int, count: int) -> list[Buyer]:
    """``count`` anonymous shoppers, each with a session whose cart holds one unit, and its pass.

    Made in this process through the same services the cart API calls (the API would spend
    the server's time before the measured window, and it is not what is measured).
    """
    from importlib import import_module

    from django.conf import settings

    from apps.orders import checkout_pass, services
    from apps.orders.receivers import SESSION_CART_KEY

    # The site's own session store (cached in Redis as a shopper's session is when the site makes it).
    SessionStore = import_module(settings.SESSION_ENGINE).SessionStore
    cookies = []
    for _ in range(count):
        cart = services.cart_for(user=None)
        services.cart_line_add(cart=cart, variant_id=variant_id, quantity=1, country="US")
        session = SessionStore()
        session[SESSION_CART_KEY] = cart.pk
        session.create()
        cookies.append(
            (
                f"{settings.SESSION_COOKIE_NAME}={session.session_key}",
                checkout_pass.issue(session.session_key, {variant_id: 1}),
            )
        )
    return cookies


async def sustained(
    port: int, cookies: list[Buyer], *, buyers: int, seconds: float, variant_id: int | None, probe: str = ""
) -> dict:
    """``buyers`` concurrent buyers, each checking out one cart after another for ``seconds``.

    With ``probe`` (a path) each buyer sends ``GET probe`` instead of a checkout: how many
    answers per second the server gives when the view does nothing.
    """
    queue = iter(cookies)
    committed: list[float] = []
    answered = 0
    other: dict[str, int] = {}
    started = time.perf_counter()
    deadline = started + seconds

    async def buyer() -> None:
        nonlocal answered
        while time.perf_counter() < deadline:
            cookie = next(queue, None)
            if cookie is None:
                return
            t0 = time.perf_counter()
            if probe:
                status, code = (await request(port, "GET", probe))[0], "probe"
            else:
                status, code = await checkout(port, cookie, variant_id)
            answered += time.perf_counter() <= deadline
            if status == 201 and time.perf_counter() <= deadline:
                committed.append(time.perf_counter() - t0)
            elif status != 201:
                other[f"{status} {code}"] = other.get(f"{status} {code}", 0) + 1

    await asyncio.gather(*(buyer() for _ in range(buyers)))
    elapsed = min(time.perf_counter(), deadline) - started
    return {
        "buyers": buyers,
        "seconds": round(elapsed, 2),
        "orders_committed": len(committed),
        "orders_per_second": round(len(committed) / elapsed, 1),
        "answers_per_second": round(answered / elapsed, 1),
        "latency_ms": {
            "p50": round(statistics.median(committed) * 1000, 1) if committed else None,
            "p99": round(percentile(committed, 99) * 1000, 1),
        },
        "ran_out_of_carts": next(queue, None) is None,
        "other_answers": other,
    }


PGBENCH_SCRIPT = "UPDATE bench_hot_stock SET qty = qty - 1 WHERE id = 1 AND qty > 0;\n"


def pgbench(clients: int, seconds: int) -> dict:
    """The one-row UPDATE of the issue, on the same PostgreSQL server: TPS at ``clients``."""
    import re
    import shutil
    import subprocess
    import tempfile

    from django.db import connection

    if shutil.which("pgbench") is None:
        return {"skipped": "pgbench is not installed"}
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_hot_stock")
        cursor.execute("CREATE TABLE bench_hot_stock (id int PRIMARY KEY, qty int NOT NULL)")
        cursor.execute("INSERT INTO bench_hot_stock VALUES (1, 2000000000)")
    db = connection.settings_dict
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as script:
        script.write(PGBENCH_SCRIPT)
        script.flush()
        out = subprocess.run(
            [
                "pgbench",
                "--no-vacuum",
                f"--client={clients}",
                "--jobs=2",
                f"--time={seconds}",
                f"--file={script.name}",
                f"--host={db['HOST'] or '127.0.0.1'}",
                f"--port={db['PORT'] or 5432}",
                f"--username={db['USER'] or 'postgres'}",
                db["NAME"],
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_hot_stock")
    tps = re.search(r"tps = ([0-9.]+)", out)
    return {"clients": clients, "seconds": seconds, "tps": float(tps.group(1)) if tps else None}


def main_sustained(args: argparse.Namespace, running_port: int) -> dict:
    from apps.orders import services

    report: dict = {"pgbench": pgbench(8, 10)}
    for gated in (True, False):
        variant_id = seed(args.units)
        if gated:
            services.flash_sale_open(variant_id=variant_id)
        phases = []
        for buyers in args.sustained_buyers:
            cookies = carts_with_sessions(variant_id, args.carts)
            # Through the gate the checkout names its line, so the door can admit it.
            named = variant_id if gated and not args.no_door else None
            phases.append(
                asyncio.run(sustained(running_port, cookies, buyers=buyers, seconds=args.seconds, variant_id=named))
            )
        if gated:
            services.flash_sale_close(variant_id=variant_id)
        report["gate" if gated else "naive_select_for_update"] = phases
    gate, naive = report["gate"], report["naive_select_for_update"]
    tps = report["pgbench"].get("tps")
    report["ratios"] = {
        "gate_most_buyers_vs_fewest": round(gate[-1]["orders_per_second"] / gate[0]["orders_per_second"], 2),
        "gate_vs_naive_at_most_buyers": round(gate[-1]["orders_per_second"] / naive[-1]["orders_per_second"], 2),
        "gate_vs_pgbench_tps": round(gate[-1]["orders_per_second"] / tps, 3) if tps else None,
    }
    return report


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_flash_sale")
    parser.add_argument("--buyers", type=int, default=1000)
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--no-gate", action="store_true", help="checkout straight to PostgreSQL (baseline)")
    parser.add_argument(
        "--no-door", action="store_true", help="checkouts do not name their lines (the door lets them through)"
    )
    parser.add_argument(
        "--new-connections", action="store_true", help="each buyer connects when it buys (default: beforehand)"
    )
    parser.add_argument("--sustained", action="store_true", help="committed orders/s while stock lasts")
    parser.add_argument("--sustained-buyers", type=int, nargs="+", default=[10, 200])
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each sustained phase")
    parser.add_argument("--carts", type=int, default=3000, help="carts ready per sustained phase")
    args = parser.parse_args(argv)
    if args.sustained and args.units == 100:
        args.units = 10_000

    _setup_django()
    from django.core.management import call_command
    from django.db.models import Sum

    from apps.orders import gate, services
    from apps.orders.models import Order, Reservation
    from tests.bench.bench_asgi_servers import RunningServer, Server

    call_command("migrate", verbosity=0)

    def uvicorn(app: str) -> Server:
        argv = ("uvicorn", app, "--host", HOST, "--port", "{port}", "--workers", str(args.workers))
        argv += ("--log-level", "warning", "--no-access-log", "--backlog", "4096")
        return Server("uvicorn", argv, "uvicorn (production ASGI server)")

    server = uvicorn("livemall.asgi:application")
    log = ROOT / "tests" / "artifacts" / "bench_flash_sale_server.log"
    log.parent.mkdir(exist_ok=True)
    os.environ["PAYMENT_TEST_PROVIDER"] = "true"
    if args.sustained:
        with RunningServer(server, log) as running:
            report = main_sustained(args, running.port)
            # Floors under the largest crowd: Django answering a view that reads nothing
            # (/healthz, through the whole middleware stack), then a bare ASGI app answering
            # at once. No checkout through Django commits faster than the first.
            crowd = {"buyers": args.sustained_buyers[-1], "seconds": args.seconds, "variant_id": None}
            no_carts = [("sessionid=none", "")] * 1_000_000
            django_floor = asyncio.run(sustained(running.port, no_carts, probe="/healthz", **crowd))
        with RunningServer(uvicorn("tests.bench.bare_sold_out:app"), log) as running:
            bare_floor = asyncio.run(sustained(running.port, no_carts, probe="/checkout", **crowd))
        report["uvicorn_workers"] = args.workers
        report["floors_answers_per_second"] = {
            "django_view_reading_nothing": django_floor["answers_per_second"],
            "bare_asgi_app": bare_floor["answers_per_second"],
        }
        tps = report["pgbench"].get("tps")
        if tps:
            report["ratios"]["django_floor_vs_pgbench_tps"] = round(django_floor["answers_per_second"] / tps, 3)
        print(json.dumps(report, indent=2))
        out = ROOT / "tests" / "artifacts" / "bench_flash_sale_sustained.json"
        out.write_text(json.dumps(report, indent=2))
        return 0
    variant_id = seed(args.units)
    with RunningServer(server, log) as running:
        sessions = asyncio.run(fill_carts(running.port, variant_id, args.buyers))
        if not args.no_gate:
            services.flash_sale_open(variant_id=variant_id)
        results = run_fast(
            sale(running.port, sessions, None if args.no_door else variant_id, connected=not args.new_connections)
        )
    # The same burst against a server that does nothing but answer "sold out": the floor.
    with RunningServer(uvicorn("tests.bench.bare_sold_out:app"), log) as running:
        floor = run_fast(sale(running.port, sessions, None, connected=not args.new_connections))

    winners = [r for r in results if r[0] in (200, 201)]
    losers = [r for r in results if r[0] == 409 and r[1] == "sold_out"]
    other = [r for r in results if r not in winners and r not in losers]
    reserved = (
        Reservation.objects.filter(stock__variant_id=variant_id)
        .exclude(status=Reservation.Status.RELEASED)
        .aggregate(n=Sum("quantity"))["n"]
        or 0
    )
    orders = Order.objects.filter(lines__variant_id=variant_id).count()
    # Orders whose units the door took (its admissions are named after its keys): fewer than the
    # orders would mean the buyers' checkout passes were refused and the checkout admitted them.
    admitted_at_door = Order.objects.filter(
        lines__variant_id=variant_id, flash_sale_admission__contains=":door:"
    ).count()
    sold_out_at = max((r[3] for r in winners), default=float("nan"))
    gate_left, gate_inflight = gate.counts(variant_id)
    ms = 1000.0
    report = {
        "buyers": args.buyers,
        "units": args.units,
        "gate": not args.no_gate,
        "door": not args.no_door,
        "connected_beforehand": not args.new_connections,
        "uvicorn_workers": args.workers,
        "orders": orders,
        "orders_admitted_at_door": admitted_at_door,
        "units_reserved": reserved,
        "oversold": max(reserved - args.units, 0),
        "answered": len(results),
        "winners": len(winners),
        "losers_sold_out": len(losers),
        "other_answers": sorted({(r[0], r[1]) for r in other}),
        "time_until_sold_out_ms": round(sold_out_at * ms, 1),
        "winner_latency_ms": {
            "p50": round(statistics.median([r[2] for r in winners]) * ms, 1) if winners else None,
            "p99": round(percentile([r[2] for r in winners], 99) * ms, 1),
        },
        "loser_latency_ms": {
            "p50": round(statistics.median([r[2] for r in losers]) * ms, 1) if losers else None,
            "p99": round(percentile([r[2] for r in losers], 99) * ms, 1),
        },
        "gate_after": {"left": gate_left, "inflight": gate_inflight},
        "floor_bare_sold_out_latency_ms": {
            "p50": round(statistics.median([r[2] for r in floor]) * ms, 1),
            "p99": round(percentile([r[2] for r in floor], 99) * ms, 1),
        },
    }
    print(json.dumps(report, indent=2))
    services.flash_sale_close(variant_id=variant_id)
    return 0 if report["oversold"] == 0 and not other and len(results) == args.buyers else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
