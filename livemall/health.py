"""Probes: ``/healthz`` says the process answers, ``/readyz`` that it can serve."""

from __future__ import annotations

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok", "region": settings.REGION.code})


def _check_database() -> dict[str, str]:
    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        return {"database": f"unreachable: {exc.__class__.__name__}"}
    if pending:
        return {"database": "ok", "migrations": f"{len(pending)} not applied"}
    return {"database": "ok", "migrations": "ok"}


def _check_redis() -> dict[str, str]:
    if not settings.REDIS_URL:
        return {"redis": "not configured (embedded default)"}
    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
    except redis.RedisError as exc:
        return {"redis": f"unreachable: {exc.__class__.__name__}"}
    return {"redis": "ok"}


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    checks = {**_check_database(), **_check_redis()}
    ready = all(value.startswith(("ok", "not configured")) for value in checks.values())
    body = {"status": "ready" if ready else "not ready", "region": settings.REGION.code, "checks": checks}
    return JsonResponse(body, status=200 if ready else 503)
