"""The entrypoints the containers run, run here on the host against the real servers.

Each process gets the production settings of the current region's deploy/env file, with
the addresses of the local PostgreSQL and Redis put in, and is started from a scratch
directory: the scripts must find the project on their own.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from django.conf import settings
from psycopg import sql

from tests.deploy.conftest import ENTRYPOINTS, ROOT, region_env
from tests.deploy.test_dockerfile import instructions
from tests.deploy.test_env_example import documented

# Bounds on waiting for a process, not measurements: a healthy one is far quicker.
START_TIMEOUT = 45
STOP_TIMEOUT = 30


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    """A fresh database of its own beside the suite's (test_<name>_entrypoints)."""
    base = urlsplit(os.environ["DATABASE_URL"])
    name = f"test_{base.path.lstrip('/')}_entrypoints"
    maintenance = urlunsplit(base._replace(path="/postgres"))

    def recreate(create: bool) -> None:
        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            if create:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    recreate(create=True)
    yield urlunsplit(base._replace(path=f"/{name}"))
    recreate(create=False)


def production_env(database_url: str, scratch: Path, **overrides: str) -> dict[str, str]:
    """The region's deploy/env file, pointed at the local servers, with a fresh secret."""
    # Nothing of the test run's own configuration (DJANGO_ENV=test, ...) leaks in.
    configuration = set(documented())
    env = {name: value for name, value in os.environ.items() if name not in configuration}
    env.update(region_env(settings.REGION.code))
    env.update(
        {
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DATABASE_URL": database_url,
            "REDIS_URL": os.environ["REDIS_URL"],
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "true",
            "MEDIA_ROOT": str(scratch / "media"),
            "STATIC_ROOT": str(scratch / "static"),
            "CELERY_BEAT_SCHEDULE": str(scratch / "beat" / "celerybeat-schedule"),
            "WAIT_FOR_SERVICES_TIMEOUT": "20",
        }
    )
    env.update(overrides)
    return env


class Running:
    """A started entrypoint, its output in a log file, stopped by its own process group."""

    def __init__(self, process: subprocess.Popen, log: Path) -> None:
        self.process = process
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, condition: Callable[[], object], what: str, timeout: float = START_TIMEOUT) -> object:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = condition()
            if result:
                return result
            if self.process.poll() is not None:
                pytest.fail(f"exited ({self.process.returncode}) before {what}:\n{self.output()}")
            time.sleep(0.2)
        pytest.fail(f"no {what} within {timeout}s:\n{self.output()}")

    def stop(self) -> int:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(STOP_TIMEOUT)
        return self.process.returncode


@contextmanager
def running(script: str, env: dict[str, str], scratch: Path, *args: str) -> Iterator[Running]:
    log = scratch / f"{script}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(ENTRYPOINTS / script), *args],
            cwd=scratch,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    started = Running(process, log)
    try:
        yield started
    finally:
        started.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port: int, path: str, **headers: str) -> tuple[int, dict[str, str], str]:
    """One plain HTTP request, redirects not followed."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode()
    finally:
        conn.close()


def readyz_answer(port: int) -> tuple[int, dict] | None:
    try:
        status, _, body = get(port, "/readyz")
    except OSError:
        return None
    return status, json.loads(body)


def run_script(script: str, env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ENTRYPOINTS / script), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


# --- migrate ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def migrated(database_url, tmp_path_factory) -> list[tuple[int, str]]:
    """Two migrate.sh started at once on the fresh database, as two deploying hosts would."""
    scratch = tmp_path_factory.mktemp("migrate")
    env = production_env(database_url, scratch)
    logs = [scratch / f"migrate-{index}.log" for index in range(2)]
    processes = []
    for log in logs:
        with log.open("wb") as sink:
            processes.append(
                subprocess.Popen(
                    [str(ENTRYPOINTS / "migrate.sh")], cwd=scratch, env=env, stdout=sink, stderr=subprocess.STDOUT
                )
            )
    return [(process.wait(timeout=120), log.read_text()) for process, log in zip(processes, logs, strict=True)]


def test_two_migrations_at_once_both_succeed_and_apply_once(migrated):
    for returncode, output in migrated:
        assert returncode == 0, output
    applied = [output for _, output in migrated if "Applying contenttypes.0001_initial" in output]
    assert len(applied) == 1, "\n----\n".join(output for _, output in migrated)
    assert sum("No migrations to apply" in output for _, output in migrated) == 1


def test_migrate_stops_the_deploy_on_a_setting_that_breaks_the_shop(database_url, tmp_path):
    # Stripe offered without the publishable key its payment form needs (apps.payments.checks).
    env = production_env(database_url, tmp_path, STRIPE_SECRET_KEY="sk_test_half", STRIPE_PUBLISHABLE_KEY="")
    result = run_script("migrate.sh", env, tmp_path)
    assert result.returncode != 0
    assert "payments.E001" in result.stderr and "STRIPE_PUBLISHABLE_KEY" in result.stderr
    assert "Running migrations" not in result.stdout + result.stderr


# --- web ----------------------------------------------------------------------------------


def test_web_serves_the_site_in_production(migrated, database_url, tmp_path, compose):
    port = free_port()
    env = production_env(database_url, tmp_path, WEB_HOST="127.0.0.1", WEB_PORT=str(port))
    collect = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert collect.returncode == 0, collect.stderr

    web_healthcheck = compose["services"]["web"]["healthcheck"]["test"]
    assert web_healthcheck[:3] == ["CMD", "python", "-c"]
    compose_probe = [sys.executable, "-c", web_healthcheck[3].replace("127.0.0.1:8000", f"127.0.0.1:{port}")]
    image_healthcheck = next(i.arguments for i in instructions() if i.keyword == "HEALTHCHECK")
    image_probe = shlex.split(image_healthcheck.split(" CMD ", 1)[1])
    assert image_probe[0] == "python"
    image_probe[0] = sys.executable

    with running("web.sh", env, tmp_path) as web:
        _, body = web.wait_for(
            lambda: (answer := readyz_answer(port)) and answer[0] == 200 and answer, "200 on /readyz"
        )
        assert body["status"] == "ready"
        assert body["checks"] == {"database": "ok", "migrations": "ok", "redis": "ok"}
        assert body["region"] == settings.REGION.code

        # Plain HTTP from outside goes to HTTPS; the probes above were exempt.
        status, headers, _ = get(port, "/")
        assert status == 301
        assert headers["location"] == f"https://127.0.0.1:{port}/"

        # Behind the TLS proxy the page renders, its static files from the manifest.
        status, headers, page = get(port, "/", **{"X-Forwarded-Proto": "https"})
        assert status == 200, page
        assert "max-age=" in headers["strict-transport-security"]
        assert re.search(r"/static/[\w/.-]+\.[0-9a-f]{12}\.(css|js)", page), "static URLs are not the manifest's"

        # The container healthchecks, run as they are written.
        for probe in (compose_probe, image_probe):
            result = subprocess.run(probe, env={**env, "WEB_PORT": str(port)}, capture_output=True, timeout=30)
            assert result.returncode == 0, result.stderr.decode()

        # uvicorn finishes its shutdown, then re-raises the SIGTERM it was sent.
        assert web.stop() in (0, -signal.SIGTERM), web.output()
        assert "Finished server process" in web.output()
        # Each request has its access log line by default.
        assert '"GET / HTTP/1.1" 301' in web.output()

    # And they notice when it is gone.
    result = subprocess.run(compose_probe, capture_output=True, timeout=30)
    assert result.returncode != 0


def test_web_writes_no_access_log_when_told_not_to(migrated, database_url, tmp_path):
    port = free_port()
    env = production_env(database_url, tmp_path, WEB_HOST="127.0.0.1", WEB_PORT=str(port), WEB_ACCESS_LOG="false")
    collect = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert collect.returncode == 0, collect.stderr
    with running("web.sh", env, tmp_path) as web:
        web.wait_for(lambda: (answer := readyz_answer(port)) and answer[0] == 200, "200 on /readyz")
        assert get(port, "/")[0] == 301
        assert web.stop() in (0, -signal.SIGTERM), web.output()
        assert "Finished server process" in web.output()
        assert "HTTP/1.1" not in web.output()


def test_web_refuses_production_without_collected_static_files(database_url, tmp_path):
    env = production_env(database_url, tmp_path, WEB_HOST="127.0.0.1", WEB_PORT=str(free_port()))
    result = run_script("web.sh", env, tmp_path)
    assert result.returncode != 0
    assert f"{tmp_path / 'static' / 'staticfiles.json'} is missing" in result.stderr
    assert "Uvicorn running" not in result.stdout + result.stderr


# --- worker and beat ------------------------------------------------------------------------


def test_worker_runs_a_task_from_the_broker(database_url, tmp_path, compose):
    from django.core.cache import cache

    from livemall.celery import app

    node = f"deploytest-{uuid.uuid4().hex[:10]}"
    # Its own queue, so no other test's task reaches this worker and no task of ours another.
    queue = f"livemall-deploy-test-{node}"
    env = production_env(database_url, tmp_path)
    args = ("--pool", "solo", "-Q", queue, "-n", f"celery@{node}", "--without-mingle", "--without-gossip")
    with running("worker.sh", env, tmp_path, *args) as worker:
        worker.wait_for(lambda: f"celery@{node} ready." in worker.output(), "worker ready")
        assert cache.get("livemall:celery-heartbeat") is None
        app.send_task("livemall.tasks.heartbeat", queue=queue)
        ran_at = worker.wait_for(lambda: cache.get("livemall:celery-heartbeat"), "heartbeat task run")
        assert "livemall.tasks.heartbeat" in worker.output() and "succeeded" in worker.output()
        assert ran_at[:4].isdigit()

        # The compose healthcheck pings the worker named after the container's host name.
        probe = compose["services"]["worker"]["healthcheck"]["test"]
        assert probe[0] == "CMD-SHELL"
        path = f"{ROOT / '.venv' / 'bin'}:{env['PATH']}"
        result = subprocess.run(
            ["sh", "-c", probe[1].replace("$$", "$")],
            cwd=ROOT,
            env={**env, "HOSTNAME": node, "PATH": path},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "pong" in result.stdout
        assert worker.stop() == 0, worker.output()


def test_beat_starts_with_its_schedule_where_it_is_told(database_url, tmp_path):
    env = production_env(database_url, tmp_path)
    schedule = Path(env["CELERY_BEAT_SCHEDULE"])
    with running("beat.sh", env, tmp_path) as beat:
        beat.wait_for(lambda: "beat: Starting..." in beat.output(), "beat start")
        beat.wait_for(lambda: list(schedule.parent.glob(f"{schedule.name}*")), "schedule file")
        assert "celery.beat" in beat.output() or "beat:" in beat.output()
        assert beat.stop() == 0, beat.output()


# --- waiting for the servers ------------------------------------------------------------------


def test_unreachable_database_is_named_without_its_password(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://postgres:hunter2-not-shown@127.0.0.1:1/livemall_deploy",
        "REDIS_URL": os.environ["REDIS_URL"],
    }
    env.pop("CELERY_BROKER_URL", None)
    result = subprocess.run(
        [sys.executable, str(ENTRYPOINTS / "wait_for_services.py"), "--timeout", "2"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert (
        "wait_for_services: PostgreSQL (DATABASE_URL) at postgres://postgres:***@127.0.0.1:1/livemall_deploy "
        "did not answer within 2s"
    ) in result.stderr
    assert "Connection refused" in result.stderr
    assert "Redis (REDIS_URL)" in result.stdout and "is ready" in result.stdout
    assert "hunter2" not in result.stdout + result.stderr


def test_unreachable_redis_is_named(database_url, tmp_path):
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": "redis://127.0.0.1:1/0"}
    env.pop("CELERY_BROKER_URL", None)
    result = subprocess.run(
        [sys.executable, str(ENTRYPOINTS / "wait_for_services.py"), "--timeout", "2"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Redis (REDIS_URL) at redis://127.0.0.1:1/0 did not answer within 2s" in result.stderr
    assert "PostgreSQL (DATABASE_URL)" in result.stdout


@pytest.mark.parametrize("script", ["web.sh", "worker.sh", "beat.sh", "migrate.sh"])
def test_entrypoint_gives_up_on_an_unreachable_database(script, database_url, tmp_path):
    env = production_env(
        database_url,
        tmp_path,
        DATABASE_URL="postgres://postgres@127.0.0.1:1/livemall_deploy",
        WAIT_FOR_SERVICES_TIMEOUT="1",
    )
    result = run_script(script, env, tmp_path)
    assert result.returncode != 0
    assert "PostgreSQL (DATABASE_URL) at postgres://postgres@127.0.0.1:1/livemall_deploy did not answer" in (
        result.stderr
    )
    for started in ("Uvicorn running", "ready.", "beat: Starting", "Running migrations"):
        assert started not in result.stdout + result.stderr


def test_embedded_default_has_nothing_to_wait_for(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}}
    # Empty is "not set" here as for every setting (a sourced .env.example leaves it so).
    env["WAIT_FOR_SERVICES_TIMEOUT"] = ""
    result = subprocess.run(
        [sys.executable, str(ENTRYPOINTS / "wait_for_services.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert "no DATABASE_URL/REDIS_URL server configured" in result.stdout
