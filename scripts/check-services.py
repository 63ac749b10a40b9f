"""Before the suite: are PostgreSQL and Redis there? Say which is not, and how to start it."""

from __future__ import annotations

import os
import sys

import psycopg
import redis

HOW_TO_START = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "Redis": "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no",
}


def main() -> int:
    problems = []
    database_url = os.environ["DATABASE_URL"]
    try:
        # The maintenance database: the test database itself is created by the suite.
        with psycopg.connect(database_url.rsplit("/", 1)[0] + "/postgres", connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        problems.append(("PostgreSQL", database_url, exc))
    redis_url = os.environ["REDIS_URL"]
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        problems.append(("Redis", redis_url, exc))
    for name, url, exc in problems:
        print(f"make test: {name} is not reachable at {url}: {str(exc).strip()}", file=sys.stderr)
        print(f"  start it with: {HOW_TO_START[name]}", file=sys.stderr)
        print("  or point DATABASE_URL / REDIS_URL at a running server.", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
