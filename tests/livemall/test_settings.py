"""Production refuses to start without its secrets; with them, `check --deploy` is clean."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _production_env(**overrides: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "shop.example.test",
        "DATABASE_URL": os.environ["DATABASE_URL"],
        "REDIS_URL": os.environ["REDIS_URL"],
        "DEBUG": "",
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v != ""}


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_reports_no_issues_in_production():
    result = _manage(_production_env(), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS"])
def test_production_refuses_to_start_without_a_secret(missing):
    result = _manage(_production_env(**{missing: ""}), "check")
    assert result.returncode != 0
    assert f"DJANGO_ENV=production needs {missing}" in result.stderr


def test_an_unknown_environment_name_is_refused():
    result = _manage({**os.environ, "DJANGO_ENV": "staging"}, "check")
    assert result.returncode != 0
    assert "DJANGO_ENV='staging'; valid values: development, test, production" in result.stderr


@pytest.mark.parametrize("storage", ["ftp://old-server/recordings/", "recordings", "s3://"])
def test_a_recording_storage_we_cannot_delete_from_is_refused(storage):
    result = _manage({**os.environ, "LIVE_RECORDING_STORAGE": storage}, "check")
    assert result.returncode != 0
    assert (
        f"LIVE_RECORDING_STORAGE={storage!r}; expected s3://bucket/prefix/ or file:///absolute/path/" in result.stderr
    )


def test_recordings_stay_in_the_regions_own_bucket_in_production():
    script = "from django.conf import settings as s; print(s.LIVE_RECORDING_STORAGE)"
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {script}"],
        cwd=ROOT,
        env={**_production_env(REGION="eu-west"), "DJANGO_SETTINGS_MODULE": "livemall.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "s3://livemall-eu-west-recordings/", result.stderr


def test_embedded_default_without_servers(settings):
    """Read in a fresh process: no DATABASE_URL/REDIS_URL means SQLite, in-memory layer, a file
    cache every process shares, inline tasks."""
    script = (
        "from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.CHANNEL_LAYERS['default']['BACKEND'], "
        "s.CACHES['default']['BACKEND'], s.CELERY_TASK_ALWAYS_EAGER)"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}}
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {script}"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "livemall.settings", "DJANGO_ENV": "development"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "channels.layers.InMemoryChannelLayer",
        "django.core.cache.backends.filebased.FileBasedCache",
        "True",
    ]
    # And the suite itself runs on the real servers.
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert settings.CACHES["default"]["BACKEND"] == "livemall.cache.PooledRedisCache"
