from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

READYZ_SCRIPT = """
import json
from django.test import Client
response = Client().get('/readyz')
print(json.dumps({'status': response.status_code, 'body': response.json()}))
"""


def _readyz_in_subprocess(tmp_path: Path, **env: str) -> dict:
    """/readyz from a fresh process whose settings point at the given servers."""
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", READYZ_SCRIPT],
        cwd=ROOT,
        env={**os.environ, "SQLITE_PATH": str(tmp_path / "db.sqlite3"), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_healthz_answers_while_the_process_lives(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "region": "us-east"}


@pytest.mark.django_db
def test_readyz_on_postgres_and_redis(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "migrations": "ok", "redis": "ok"}


def test_readyz_fails_when_the_database_is_unreachable(tmp_path):
    result = _readyz_in_subprocess(tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1:1/livemall")
    assert result["status"] == 503
    assert result["body"]["status"] == "not ready"
    assert result["body"]["checks"]["database"].startswith("unreachable")


def test_readyz_fails_when_redis_is_unreachable(tmp_path):
    result = _readyz_in_subprocess(tmp_path, REDIS_URL="redis://127.0.0.1:1/0")
    assert result["status"] == 503
    assert result["body"]["checks"]["redis"].startswith("unreachable")


def test_readyz_on_the_embedded_default_waits_for_migrations(tmp_path):
    """The embedded default (SQLite, no Redis): not ready until `migrate` has run."""
    env = {"DATABASE_URL": "", "REDIS_URL": "", "DJANGO_ENV": "development"}
    before = _readyz_in_subprocess(tmp_path, **env)
    assert before["status"] == 503
    assert "not applied" in before["body"]["checks"]["migrations"]
    assert before["body"]["checks"]["redis"] == "not configured (embedded default)"

    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env={**os.environ, "SQLITE_PATH": str(tmp_path / "db.sqlite3"), **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert migrate.returncode == 0, migrate.stderr
    after = _readyz_in_subprocess(tmp_path, **env)
    assert after["status"] == 200
    assert after["body"]["checks"]["migrations"] == "ok"
