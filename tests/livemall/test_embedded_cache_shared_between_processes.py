"""The embedded default's cache is one every process on the machine shares: rates loaded with
`manage.py fx_rates_update` in a second terminal reach the running `make run` server without a
restart (a per-process LocMemCache kept serving the rates it had cached)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from apps.money.selectors import utc_today
from tests.money.factories import SHIPPED_DATA, SHIPPED_DATE, todays_provider

ROOT = Path(__file__).resolve().parents[2]

# Stands in for the `make run` server: started once, asked again and again, never restarted.
SERVER = """
import sys
import django
django.setup()
from apps.money.selectors import rate_snapshot_current
for _ in sys.stdin:
    print(rate_snapshot_current().rate_date.isoformat(), flush=True)
"""


def _embedded_env(sqlite_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}}
    return {
        **env,
        "DJANGO_ENV": "development",
        "DJANGO_SETTINGS_MODULE": "livemall.settings",
        "REGION": "us-east",
        "SQLITE_PATH": str(sqlite_path),
    }


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _ask(server: subprocess.Popen) -> str:
    server.stdin.write("\n")
    server.stdin.flush()
    answer = server.stdout.readline().strip()
    if not answer:  # the process ended: say why
        server.stdin.close()
        raise AssertionError(server.stderr.read())
    return answer


def test_rates_loaded_by_a_command_reach_a_running_process_without_a_restart(tmp_path):
    env = _embedded_env(tmp_path / "us-east.sqlite3")
    _manage(env, "migrate", "--noinput", "-v0")
    _manage(env, "fx_rates_update", "--file", str(SHIPPED_DATA / "eurofxref-daily.xml"))

    server = subprocess.Popen(
        [sys.executable, "-c", SERVER],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert _ask(server) == SHIPPED_DATE.isoformat()  # now cached by the server
        todays_file = tmp_path / "rates.xml"
        todays_provider(todays_file)
        _manage(env, "fx_rates_update", "--file", str(todays_file))  # the second terminal
        assert _ask(server) == utc_today().isoformat()
    finally:
        server.stdin.close()
        server.wait(timeout=60)

    # The cache lives beside the database it caches, not in the process.
    assert (tmp_path / "us-east.cache").is_dir()
