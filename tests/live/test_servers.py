"""The live room on the real server: uvicorn with LiveMall's WebSocket protocol, over TCP.

Two server processes share Redis and PostgreSQL as a region's web processes do: a message
posted on one reaches viewers on both. In one process (uvicorn in a thread, as in the
browser tests) a socket whose transport stops draining gets its frames the plain ASGI way
and, once it drains again, every frame in order; the prepared-frame writer never writes
where the plain path would have to wait or refuse.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection
from websockets.asyncio.client import connect

from apps.live import services
from apps.live.realtime.wire import PREPARED_FRAMES, text_frame
from tests.servers import PROTOCOL, uvicorn_in_thread

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 15


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _database_url() -> str:
    """The test database this process uses, as a URL for a server process."""
    db = connection.settings_dict
    auth = db["USER"] or "postgres"
    if db.get("PASSWORD"):
        auth += f":{db['PASSWORD']}"
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def two_servers(live_settings) -> Iterator[list[int]]:
    """Two uvicorn processes, as production starts them, on the test database and Redis."""
    env = {
        **os.environ,
        "DJANGO_ENV": "test",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": django_settings.REDIS_URL,
        "LIVE_REDIS_PREFIX": live_settings.LIVE_REDIS_PREFIX,
    }
    ports = [_free_port(), _free_port()]
    servers = [
        subprocess.Popen(
            [
                *(sys.executable, "-m", "uvicorn", "livemall.asgi:application", "--host", "127.0.0.1"),
                *("--port", str(port), "--ws", PROTOCOL, "--lifespan", "on", "--log-level", "warning"),
            ],
            cwd=ROOT,
            env=env,
        )
        for port in ports
    ]
    try:
        for port, server in zip(ports, servers, strict=True):
            deadline = time.monotonic() + 60
            while True:
                assert server.poll() is None, "a server process exited at start"
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, "a server process did not start"
                    time.sleep(0.2)
        yield ports
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()


class Viewer:
    """A browser-like client socket: origin and (optionally) a signed-in session cookie."""

    def __init__(self, port: int, slug: str, *, session_key: str | None = None, **options: Any) -> None:
        headers = {"Origin": f"http://127.0.0.1:{port}"}
        if session_key:
            headers["Cookie"] = f"sessionid={session_key}"
        self.connecting = connect(
            f"ws://127.0.0.1:{port}/ws/live/{slug}/", additional_headers=headers, compression=None, **options
        )
        self.events: list[dict[str, Any]] = []

    async def __aenter__(self) -> Viewer:
        self.ws = await self.connecting
        await self.wait_for("snapshot")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.close()

    async def send(self, data: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(data))

    async def wait_for(self, kind: str, **fields: Any) -> dict[str, Any]:
        while True:
            for index, event in enumerate(self.events):
                if event["type"] == kind and all(event.get(k) == v for k, v in fields.items()):
                    del self.events[: index + 1]
                    return event
            self.events.extend(self.unpack(await asyncio.wait_for(self.ws.recv(), TIMEOUT)))

    @staticmethod
    def unpack(frame: str) -> list[dict[str, Any]]:
        data = json.loads(frame)
        return data["events"] if data["type"] == "batch" else [data]


def test_a_message_posted_on_one_server_reaches_viewers_on_both(two_servers, room, shoppers):
    [(_, sender_key)] = shoppers(1, display_name="Lina")
    first, second = two_servers

    async def scenario() -> None:
        async with (
            Viewer(first, room.slug, session_key=sender_key) as sender,
            Viewer(first, room.slug) as near,
            Viewer(second, room.slug) as far,
        ):
            for text in ("one", "two", "three"):
                await sender.send({"type": "danmaku", "text": text})
            for viewer in (sender, near, far):
                received = [(await viewer.wait_for("danmaku"))["text"] for _ in range(3)]
                assert received == ["one", "two", "three"]
            await sender.send({"type": "like", "count": 5})
            for viewer in (near, far):
                assert (await viewer.wait_for("likes", total=5))["total"] == 5
            # An event published by the console (another process again) reaches both too.
            product = {"id": 7, "name": {"en": "Silk scarf"}, "prices": {"USD": "$49.00"}}
            await asyncio.to_thread(
                services.room_publish_event, room=room, event={"type": "pinned", "product": product}
            )
            for viewer in (near, far):
                assert (await viewer.wait_for("pinned"))["product"] == product

    asyncio.run(scenario())


@pytest.fixture
def server_in_thread(transactional_db, live_settings) -> Iterator[Any]:
    """uvicorn serving the project's ASGI application in a thread of this process."""
    with uvicorn_in_thread() as server:
        yield server


def _protocol_of(server: Any, viewer: Viewer) -> Any:
    """The server's protocol object for the client's socket (matched by its port)."""
    local_port = viewer.ws.transport.get_extra_info("sockname")[1]
    [protocol] = [p for p in server.server_state.connections if p.client and p.client[1] == local_port]
    return protocol


def test_a_socket_that_stops_draining_gets_every_frame_in_order_afterwards(server_in_thread, room, shoppers):
    [(_, sender_key)] = shoppers(1, display_name="Kai")
    port = server_in_thread.port

    async def scenario() -> None:
        async with Viewer(port, room.slug, session_key=sender_key) as sender, Viewer(port, room.slug) as viewer:
            protocol = _protocol_of(server_in_thread, viewer)
            assert PREPARED_FRAMES in protocol.scope["extensions"]
            loop = protocol.loop

            # The transport says its buffer is full (what asyncio calls when the peer does
            # not read): the prepared writer refuses, and the plain send waits for it.
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(_pause(protocol), loop))
            assert protocol.write_prepared(text_frame('{"type":"probe"}')) is False
            texts = [f"m{n}" for n in range(3)]
            for text in texts:
                await sender.send({"type": "danmaku", "text": text})
            for text in texts:
                await sender.wait_for("danmaku", text=text)
            arrived: list[dict[str, Any]] = []
            with pytest.raises(TimeoutError):
                while True:  # frames written before the pause may still come; no danmaku
                    arrived.extend(viewer.unpack(await asyncio.wait_for(viewer.ws.recv(), 0.5)))
            assert [e for e in viewer.events + arrived if e["type"] == "danmaku"] == []

            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(_resume(protocol), loop))
            got = [(await viewer.wait_for("danmaku"))["text"] for _ in texts]
            assert got == texts
            # Draining again, later frames take the prepared path and still arrive in order.
            await sender.send({"type": "like", "count": 2})
            assert (await viewer.wait_for("likes", total=2))["total"] == 2

        # Closed: nothing may be written any more.
        deadline = time.monotonic() + 5
        while not protocol.disconnected and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert protocol.write_prepared(text_frame('{"type":"probe"}')) is False

    asyncio.run(scenario())


async def _pause(protocol: Any) -> None:
    protocol.pause_writing()


async def _resume(protocol: Any) -> None:
    protocol.resume_writing()


def test_text_frame_is_the_frame_a_websocket_peer_reads_back():
    from websockets.frames import Frame, Opcode
    from websockets.streams import StreamReader

    text = '{"type":"danmaku","text":"مرحبا hello ' + "x" * 300 + '"}'
    reader = StreamReader()
    reader.feed_data(text_frame(text))
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        frame = done.value
    assert frame.opcode is Opcode.TEXT and frame.fin and not frame.rsv1
    assert frame.data.decode() == text


def test_a_server_without_the_extension_gets_plain_sends():
    from apps.live.realtime.wire import prepared_writer

    assert prepared_writer({"type": "websocket", "extensions": {"websocket.http.response": {}}}) is None
    assert prepared_writer({"type": "websocket"}) is None
    assert prepared_writer({"extensions": {PREPARED_FRAMES: {"write": "not callable"}}}) is None
    write = uuid.uuid4  # any callable stands for the server's writer here
    assert prepared_writer({"extensions": {PREPARED_FRAMES: {"write": write}}}) is write
