"""The ASGI app speaks WebSocket through Channels; Celery runs tasks from Redis with a beat schedule kept in code."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from channels.testing import WebsocketCommunicator
from django.core.cache import cache

from livemall.asgi import application
from livemall.celery import app as celery_app
from livemall.tasks import heartbeat

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.asyncio
async def test_websocket_round_trip_through_the_asgi_app():
    communicator = WebsocketCommunicator(application, "/ws/ping/", headers=[(b"origin", b"http://127.0.0.1")])
    connected, _ = await communicator.connect()
    assert connected
    assert await communicator.receive_json_from() == {"type": "hello", "region": "us-east"}
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from() == {"type": "pong"}
    await communicator.send_to(text_data="not json")
    assert (await communicator.receive_json_from())["type"] == "error"
    await communicator.disconnect()


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/ws/live/", "/ws/live/not a slug/", "/ws/nothing-here/", "/"])
async def test_a_socket_address_nobody_serves_gets_a_clear_close_not_a_500(path):
    communicator = WebsocketCommunicator(application, path, headers=[(b"origin", b"http://127.0.0.1")])
    connected, _ = await communicator.connect()
    assert connected
    assert await communicator.receive_json_from() == {
        "type": "error",
        "code": "not_found",
        "message": "There is no socket at this address.",
    }
    assert (await communicator.receive_output())["code"] == 4404
    await communicator.disconnect()


@pytest.mark.asyncio
async def test_websocket_from_a_foreign_origin_is_refused():
    communicator = WebsocketCommunicator(application, "/ws/ping/", headers=[(b"origin", b"https://evil.example")])
    connected, _ = await communicator.connect()
    assert not connected


def test_celery_uses_the_redis_broker_and_the_schedule_in_code(settings):
    assert celery_app.conf.broker_url == settings.REDIS_URL
    assert celery_app.conf.task_always_eager is False
    assert celery_app.conf.beat_schedule["heartbeat"]["task"] == "livemall.tasks.heartbeat"


def test_a_real_worker_runs_a_task_sent_through_redis(settings):
    queue = f"livemall-test-{uuid.uuid4().hex[:8]}"
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "livemall", "worker", "-Q", queue, "--pool", "solo", "-l", "warning"],
        cwd=ROOT,
        env={**os.environ},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        cache.delete("livemall:celery-heartbeat")
        heartbeat.apply_async(queue=queue)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and cache.get("livemall:celery-heartbeat") is None:
            assert worker.poll() is None, worker.stderr.read().decode()
            time.sleep(0.2)
        assert cache.get("livemall:celery-heartbeat") is not None
    finally:
        worker.terminate()
        worker.wait(timeout=30)
