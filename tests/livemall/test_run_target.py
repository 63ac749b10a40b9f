"""`make run` is how people first try the shop: an unknown address must show the shop's own
translated 404 page, not Django's technical one listing every URL pattern (DEBUG). The settings
come from the target itself (`make -n` prints its commands without running them), so a change
to the Makefile is what the test sees; starting the server is left to the walk-through."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

NOT_FOUND_SCRIPT = """
import json
from django.conf import settings
from django.test import Client
response = Client().get('/no-such-page/', HTTP_HOST='localhost', HTTP_ACCEPT_LANGUAGE='en')
print(json.dumps({
    'debug': settings.DEBUG,
    'site_url': settings.SITE_URL,
    'allowed_hosts': settings.ALLOWED_HOSTS,
    'status': response.status_code,
    'body': response.content.decode(),
}))
"""


def _run_target_commands(port: str) -> str:
    result = subprocess.run(["make", "-n", "run", f"PORT={port}"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _run_target_environment(commands: str) -> dict[str, str]:
    """The variables the run target exports before starting the server."""
    exported: dict[str, str] = {}
    for match in re.finditer(r"^export (.+?);", commands, flags=re.MULTILINE):
        for assignment in shlex.split(match.group(1)):
            name, _, value = assignment.partition("=")
            exported[name] = value
    return exported


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_the_run_target_serves_on_the_port_asked_for():
    commands = _run_target_commands("8123")
    assert "--port 8123" in commands
    assert "http://127.0.0.1:8123" in commands
    assert "--port 8000" in _run_target_commands("8000")


def test_the_run_target_shows_the_shops_own_404_page(tmp_path):
    exported = _run_target_environment(_run_target_commands("8123"))
    assert exported.get("DEBUG") == "false"
    ambient = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}}
    env = {
        **ambient,
        "DJANGO_ENV": "development",
        "DJANGO_SETTINGS_MODULE": "livemall.settings",
        "REGION": "us-east",
        "SQLITE_PATH": str(tmp_path / "us-east.sqlite3"),
        **exported,
    }
    # As the target does before serving: the shop's page reads the database (the cart, the rates).
    _manage(env, "migrate", "--noinput", "-v0")
    result = _manage(env, "shell", "-c", NOT_FOUND_SCRIPT)
    page = json.loads(result.stdout.strip().splitlines()[-1])

    assert page["debug"] is False
    assert page["site_url"] == "http://127.0.0.1:8123"
    assert {"127.0.0.1", "localhost"} <= set(page["allowed_hosts"])
    assert page["status"] == 404
    assert 'data-testid="not-found"' in page["body"]
    assert "Page not found" in page["body"]
    assert "URLconf" not in page["body"]
