"""Wait, for a bounded time, until the database and Redis answer; say which did not.

In a container stack the database accepts connections some seconds after its container
starts, and on a host the services may boot in any order. Starting the web server or a
worker before then only produces a burst of connection errors and a restart loop, so
every entrypoint waits here first. The wait is bounded: a server that never comes is a
configuration error, reported by name and (password-free) address, and the process
exits non-zero instead of hanging.

Only the standard library, psycopg and redis are used, not Django: the settings may be
the very thing that is wrong, and this must say "the database is unreachable" clearly.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis

POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql", "postgis"}
REDIS_SCHEMES = {"redis", "rediss"}
# One attempt never waits longer than this, so a slow answer still leaves time to retry.
ATTEMPT_TIMEOUT_SECONDS = 3


@dataclass
class Service:
    name: str
    url: str
    probe: Callable[[], None]
    last_error: str = "no attempt made"

    @property
    def shown_url(self) -> str:
        return redact(self.url)


def redact(url: str) -> str:
    """The URL as it may appear in a log: the password, if any, replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _postgres_probe(url: str) -> Callable[[], None]:
    # libpq understands postgres:// and postgresql:// only; dj-database-url also accepts
    # the aliases, which name the same server.
    conninfo = "postgresql://" + url.split("://", 1)[1]

    def probe() -> None:
        with psycopg.connect(conninfo, connect_timeout=ATTEMPT_TIMEOUT_SECONDS) as conn:
            conn.execute("SELECT 1")

    return probe


def _redis_probe(url: str) -> Callable[[], None]:
    def probe() -> None:
        client = redis.Redis.from_url(
            url, socket_connect_timeout=ATTEMPT_TIMEOUT_SECONDS, socket_timeout=ATTEMPT_TIMEOUT_SECONDS
        )
        try:
            client.ping()
        finally:
            client.close()

    return probe


def services_from_environment(environ: dict[str, str]) -> list[Service]:
    """The servers the settings will use; none at all on the embedded default."""
    services: list[Service] = []
    database_url = environ.get("DATABASE_URL", "").strip()
    if database_url and urlsplit(database_url).scheme in POSTGRES_SCHEMES:
        services.append(Service("PostgreSQL (DATABASE_URL)", database_url, _postgres_probe(database_url)))
    seen: set[str] = set()
    for variable in ("REDIS_URL", "CELERY_BROKER_URL"):
        url = environ.get(variable, "").strip()
        if url and url not in seen and urlsplit(url).scheme in REDIS_SCHEMES:
            seen.add(url)
            services.append(Service(f"Redis ({variable})", url, _redis_probe(url)))
    return services


def wait(services: list[Service], timeout: float, interval: float) -> list[Service]:
    """Probe until every service answers or the time is up; return those that never did."""
    deadline = time.monotonic() + timeout
    pending = list(services)
    while pending:
        for service in list(pending):
            try:
                service.probe()
            except (psycopg.Error, redis.RedisError, OSError) as exc:
                service.last_error = " ".join(str(exc).split()) or exc.__class__.__name__
            else:
                pending.remove(service)
                print(f"wait_for_services: {service.name} at {service.shown_url} is ready", flush=True)
        remaining = deadline - time.monotonic()
        if not pending or remaining <= 0:
            break
        time.sleep(min(interval, remaining))
    return pending


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--timeout",
        type=float,
        # Empty means unset, as for every setting; argparse converts (and checks) the string.
        default=os.environ.get("WAIT_FOR_SERVICES_TIMEOUT", "").strip() or "60",
        help="seconds to keep trying (default: $WAIT_FOR_SERVICES_TIMEOUT or 60)",
    )
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between attempts (default: 1)")
    args = parser.parse_args(argv)

    services = services_from_environment(dict(os.environ))
    if not services:
        print("wait_for_services: no DATABASE_URL/REDIS_URL server configured (embedded default)", flush=True)
        return 0
    unreachable = wait(services, timeout=args.timeout, interval=args.interval)
    for service in unreachable:
        print(
            f"wait_for_services: {service.name} at {service.shown_url} did not answer within "
            f"{args.timeout:g}s; last error: {service.last_error}",
            file=sys.stderr,
        )
    return 1 if unreachable else 0


if __name__ == "__main__":
    sys.exit(main())
