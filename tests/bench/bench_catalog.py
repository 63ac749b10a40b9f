"""Catalog pages under a crowd: list (48 per page) and detail, HTML and API, on PostgreSQL.

A catalog of ``--products`` (default 50,000) products with names and descriptions in every
us-east language is loaded once into the benchmark database (bulk inserts; a second run
reuses it). The production ASGI server (uvicorn, as in ``deploy/entrypoints/web.sh``)
serves the app against that PostgreSQL and Redis. Each URL gets ``--connections`` (32)
keep-alive clients for ``--seconds``; ``/healthz``, a bare JSON view on the same server in
the same run, is the reference every page's throughput is divided by. Because this machine's
speed drifts from one second to the next, each page is measured in ``--rounds`` short bursts
alternating with bursts of the bare view, and divided by the bare bursts around it (p50 is the
mean of the bursts' medians, p99 the worst burst's). The issue's goal:
list pages reach at least half the bare view's requests/s, thanks to the listing cache.

The list page is measured twice: as first visits (no cookies, like the crowd a live show
sends) and for signed-in shoppers, each of the clients with a session of its own made
beforehand in this process (``--shoppers`` accounts signed in through Django's auth), sending
its session cookie. Both get the same cached page with their own parts filled in per request.

Run: ``make bench BENCH_ARGS=catalog`` (``python -m tests.bench catalog``). Results: a table
on stdout and ``tests/artifacts/bench_catalog.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from importlib import import_module
from pathlib import Path

from tests.bench.bench_asgi_servers import ARTIFACTS, HOST, SERVERS, RunningServer, cpu_seconds, migrate

BENCH_DB = "postgres://postgres@127.0.0.1:5432/livemall_bench"
LANGUAGES = ("en", "es", "pt")
WORDS = [
    "silk",
    "linen",
    "cotton",
    "wool",
    "denim",
    "leather",
    "cedar",
    "amber",
    "citrus",
    "mint",
    "ember",
    "river",
    "stone",
    "cloud",
]


@dataclass
class Result:
    name: str
    path: str
    requests: int
    errors: int
    requests_per_second: float
    latency_p50_ms: float
    latency_p99_ms: float
    server_cpu_ms_per_request: float
    ratio_to_bare: float = 0.0
    signed_in: bool = False


def seed(count: int) -> dict[str, str]:
    """Load ``count`` products (idempotent); return sample paths for the detail pages."""
    import django

    django.setup()
    from django.db import transaction

    from apps.accounts import services as accounts
    from apps.accounts.models import Merchant, User
    from apps.catalog.models import Category, Product, Variant
    from regions import current_region

    region = current_region()
    merchant = Merchant.objects.filter(slug="bench-shop").first()
    if merchant is None:
        owner = User.objects.filter(email="bench-owner@livemall.example").first() or accounts.user_create(
            region=region, email="bench-owner@livemall.example", password=None
        )
        merchant = accounts.merchant_create(name="Bench Shop", country="US", owner=owner)
    have = Product.objects.filter(merchant=merchant).count()
    if have < count:
        categories = []
        for number in range(20):
            category, _ = Category.objects.get_or_create(
                slug=f"bench-{number}", defaults={f"name_{lang}": f"Category {number} {lang}" for lang in LANGUAGES}
            )
            categories.append(category)
        batch = 5_000
        for start in range(have, count, batch):
            with transaction.atomic():
                products = []
                for number in range(start, min(count, start + batch)):
                    words = " ".join(WORDS[(number + k) % len(WORDS)] for k in range(3))
                    names = {f"name_{lang}": f"{words} {number} ({lang})" for lang in LANGUAGES}
                    descriptions = {f"description_{lang}": f"{words} — item {number}, {lang}." for lang in LANGUAGES}
                    products.append(
                        Product(
                            merchant=merchant,
                            category=categories[number % len(categories)],
                            slug=f"bench-{number}",
                            name=names["name_en"],
                            description=descriptions["description_en"],
                            **names,
                            **descriptions,
                        )
                    )
                Product.objects.bulk_create(products)
                Variant.objects.bulk_create(
                    Variant(
                        product=product,
                        merchant=merchant,
                        sku=f"BENCH-{product.slug.split('-')[1]}",
                        price_minor=500 + int(product.slug.split("-")[1]) % 20_000,
                        currency=region.settlement_currency,
                    )
                    for product in products
                )
            print(f"  loaded {min(count, start + batch):,} / {count:,} products", flush=True)
    sample = Product.objects.filter(merchant=merchant).order_by("-id").first()
    return {"detail_html": sample.get_absolute_url(), "detail_api": f"/api/v1/products/{sample.pk}/"}


def signed_in_sessions(count: int) -> list[str]:
    """``count`` shoppers, each signed in with a session of its own: their ``Cookie`` header values.

    The accounts are made once (a second run reuses them); the sessions are new every run,
    made by ``django.contrib.auth.login`` as the sign-in form does, and saved where the
    server reads them (the database).
    """
    from django.conf import settings
    from django.contrib.auth import login
    from django.http import HttpRequest

    from apps.accounts import services as accounts
    from apps.accounts.models import User
    from regions import current_region

    region = current_region()
    cookies = []
    for number in range(count):
        email = f"bench-shopper-{number:03d}@livemall.example"
        user = User.objects.filter(email=email).first() or accounts.user_create(
            region=region, email=email, password=None, display_name=f"Bench shopper {number}"
        )
        request = HttpRequest()
        request.session = import_module(settings.SESSION_ENGINE).SessionStore()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        request.session.save()
        cookies.append(f"{settings.SESSION_COOKIE_NAME}={request.session.session_key}")
    return cookies


def check_signed_in(port: int, path: str, cookie: str) -> None:
    """Refuse to measure the signed-in page if the server does not see the shopper as signed in."""
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n".encode()
        )
        answer = b"".join(iter(lambda: sock.recv(65536), b""))
    if b'data-testid="account-name">Bench shopper' not in answer:
        raise RuntimeError(f"{path} with a bench shopper's session cookie does not show the shopper as signed in")


async def _client(
    port: int, path: str, deadline: float, latencies: list[float], errors: list[int], cookie: str = ""
) -> None:
    cookie_line = f"Cookie: {cookie}\r\n" if cookie else ""
    request = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nAccept-Language: en\r\n{cookie_line}\r\n".encode()
    reader, writer = await asyncio.open_connection(HOST, port, limit=2**22)
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 200"):
                errors.append(1)
    finally:
        writer.close()


def load(
    running: RunningServer,
    name: str,
    path: str,
    connections: int,
    seconds: float,
    warmup: float,
    cookies: list[str] | None = None,
) -> Result:
    """Requests/s, latency and server CPU of ``path`` at ``connections`` keep-alive clients;
    with ``cookies``, client ``i`` sends ``cookies[i]`` (one signed-in shopper each)."""

    def burst(duration: float) -> tuple[list[float], list[int], float]:
        latencies: list[float] = []
        errors: list[int] = []

        async def run() -> float:
            started = time.perf_counter()
            deadline = started + duration
            await asyncio.gather(
                *(
                    _client(
                        running.port, path, deadline, latencies, errors, cookies[i % len(cookies)] if cookies else ""
                    )
                    for i in range(connections)
                )
            )
            return time.perf_counter() - started

        return latencies, errors, asyncio.run(run())

    burst(warmup)
    cpu_before = cpu_seconds(running.pid)
    latencies, errors, elapsed = burst(seconds)
    cpu = cpu_seconds(running.pid) - cpu_before
    ordered = sorted(latencies)
    return Result(
        name=name,
        path=path,
        requests=len(ordered),
        errors=len(errors),
        requests_per_second=round(len(ordered) / elapsed, 1),
        latency_p50_ms=round(statistics.median(ordered) * 1000, 2),
        latency_p99_ms=round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
        server_cpu_ms_per_request=round(cpu / max(1, len(ordered)) * 1000, 2),
        signed_in=bool(cookies),
    )


def combine(bursts: list[Result]) -> Result:
    """Several bursts of one URL as one result (latency percentiles weighted by their counts)."""
    requests = sum(b.requests for b in bursts)
    seconds = sum(b.requests / b.requests_per_second for b in bursts if b.requests_per_second)
    weight = max(1, requests)
    return Result(
        name=bursts[0].name,
        path=bursts[0].path,
        requests=requests,
        errors=sum(b.errors for b in bursts),
        requests_per_second=round(requests / seconds, 1) if seconds else 0.0,
        latency_p50_ms=round(sum(b.latency_p50_ms * b.requests for b in bursts) / weight, 2),
        latency_p99_ms=round(max(b.latency_p99_ms for b in bursts), 2),
        server_cpu_ms_per_request=round(sum(b.server_cpu_ms_per_request * b.requests for b in bursts) / weight, 2),
        signed_in=bursts[0].signed_in,
    )


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench catalog", description=__doc__.split("\n")[0])
    parser.add_argument("--products", type=int, default=50_000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=4, help="alternating bare/page bursts per page")
    parser.add_argument(
        "--shoppers", type=int, default=0, help="signed-in shoppers for the signed-in list (default: --connections)"
    )
    parser.add_argument("--output", type=Path, default=ARTIFACTS / "bench_catalog.json")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    options = parse(argv)
    # Its own database, so the 50,000 products never meet the test suite's.
    os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", BENCH_DB)
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/2")
    os.environ.setdefault("DJANGO_ENV", "test")
    os.environ.setdefault("REGION", "us-east")
    os.environ["DJANGO_SETTINGS_MODULE"] = "livemall.settings"
    # The database settings of deploy/env/<region>.env: a psycopg pool per process. Without
    # it each request's thread opens its own connection, which at 32 clients measured
    # connection set-up and then ran PostgreSQL out of connections (500s on detail pages).
    os.environ.setdefault("DB_CONN_MAX_AGE", "0")
    os.environ.setdefault("DB_POOL_MAX_SIZE", "10")
    migrate()
    samples = seed(options.products)
    sessions = signed_in_sessions(options.shoppers or options.connections)
    # (name, path, cookies): cookies None for first visits, else one signed-in session per client.
    urls: list[tuple[str, str, list[str] | None]] = [
        ("bare /healthz", "/healthz", None),
        ("list HTML", "/products/", None),
        ("list HTML, signed in", "/products/", sessions),
        ("list HTML, page 500, by price", "/products/?sort=price_asc&page=500", None),
        ("list API", "/api/v1/products/", None),
        ("detail HTML", samples["detail_html"], None),
        ("detail API", samples["detail_api"], None),
    ]
    ARTIFACTS.mkdir(exist_ok=True)
    results: list[Result] = []
    bare_bursts: list[Result] = []
    # The machine's speed drifts between seconds (a shared host): bare and page are measured
    # in alternating short bursts, and each page is divided by the bare bursts around it.
    burst = options.seconds / options.rounds
    with RunningServer(SERVERS["uvicorn"], ARTIFACTS / "bench_catalog_server.log") as running:
        load(running, "warm-up", urls[0][1], options.connections, options.warmup, 0)
        check_signed_in(running.port, "/products/", sessions[0])
        for name, path, cookies in urls[1:]:
            print(f"  {name}: {path}", flush=True)
            pages, bares = [], []
            for _ in range(options.rounds):
                bares.append(load(running, urls[0][0], urls[0][1], options.connections, burst, options.warmup / 4))
                pages.append(load(running, name, path, options.connections, burst, options.warmup / 4, cookies))
            bares.append(load(running, urls[0][0], urls[0][1], options.connections, burst, options.warmup / 4))
            page, paired_bare = combine(pages), combine(bares)
            page.ratio_to_bare = round(page.requests_per_second / (paired_bare.requests_per_second or 1.0), 2)
            results.append(page)
            bare_bursts.extend(bares)
    bare = combine(bare_bursts)
    bare.ratio_to_bare = 1.0
    results.insert(0, bare)
    print(f"\n{'page':32} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'cpu ms/req':>10} {'/ bare':>7} {'err':>4}")
    for r in results:
        print(
            f"{r.name:32} {r.requests_per_second:8.1f} {r.latency_p50_ms:8.2f} {r.latency_p99_ms:8.2f}"
            f" {r.server_cpu_ms_per_request:10.2f} {r.ratio_to_bare:7.2f} {r.errors:4d}"
        )
    options.output.write_text(
        json.dumps(
            {
                "products": options.products,
                "connections": options.connections,
                "signed_in_shoppers": len(sessions),
                "results": [asdict(r) for r in results],
            },
            indent=2,
        )
    )
    print(f"\nwrote {options.output}")
    failed = [r.name for r in results if r.errors]
    if failed:
        print(f"errors (non-200 answers) on: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
