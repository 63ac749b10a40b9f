"""Fixtures for the live room: rooms, signed-in sockets, and a private Redis namespace per test.

The socket tests drive the real ASGI application (origin check, session, routing,
consumer, hub, Redis, PostgreSQL) through Channels' WebsocketCommunicator inside one
``asyncio.run`` per test; the consumer reads the database from a worker thread, so the
tests use ``transactional_db``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import pytest
import redis
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.db import connections
from django.utils import timezone

from apps.catalog import services as catalog
from apps.catalog.models import Product
from apps.live import services
from apps.live.realtime.store import _Keys
from tests.catalog.factories import make_product
from tests.live.console_factories import schedule_room
from tests.live.mux_fake import FakeMux

ORIGIN = b"http://testserver"
TIMEOUT = 10


def session_key_for(user) -> str:
    """A signed-in session for ``user``, stored as Django stores it: the browser's cookie value."""
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    """Run one async scenario in a fresh loop; flush and close the live runtime after it."""
    from apps.live.realtime.hub import close_runtime

    async def main() -> Any:
        try:
            return await scenario()
        finally:
            await close_runtime()
            await database_sync_to_async(connections.close_all)()

    return asyncio.run(main())


class Socket:
    """A WebsocketCommunicator that reads events (batches unpacked) and remembers them."""

    def __init__(self, path: str, *, session_key: str | None = None, origin: bytes = ORIGIN) -> None:
        from livemall.asgi import application

        headers = [(b"origin", origin), (b"host", b"testserver")]
        if session_key:
            headers.append((b"cookie", f"sessionid={session_key}".encode()))
        self.comm = WebsocketCommunicator(application, path, headers=headers)
        self.seen: list[dict[str, Any]] = []
        self._unread: list[dict[str, Any]] = []
        self.close_code: int | None = None

    async def connect(self) -> bool:
        connected, _ = await self.comm.connect(timeout=TIMEOUT)
        return connected

    async def send(self, data: Any) -> None:
        await self.comm.send_json_to(data)

    async def send_text(self, text: str) -> None:
        await self.comm.send_to(text_data=text)

    async def _read(self) -> None:
        output = await self.comm.receive_output(timeout=TIMEOUT)
        if output["type"] == "websocket.close":
            self.close_code = output.get("code", 1000)
            raise ConnectionClosed(self.close_code)
        import json

        frame = json.loads(output["text"])
        batch = frame["events"] if frame.get("type") == "batch" else [frame]
        self.seen.extend(batch)
        self._unread.extend(batch)

    async def wait_for(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The next unread event matching ``predicate``; events before it are skipped."""
        while True:
            while self._unread:
                event = self._unread.pop(0)
                if predicate(event):
                    return event
            await self._read()

    async def event(self, kind: str, **fields: Any) -> dict[str, Any]:
        return await self.wait_for(lambda e: e["type"] == kind and all(e.get(k) == v for k, v in fields.items()))

    async def closed(self) -> int:
        """Read until the server closes the socket; return the close code."""
        try:
            while True:
                self._unread.clear()
                await self._read()
        except ConnectionClosed as exc:
            return exc.code

    async def quiet(self, seconds: float = 0.3) -> list[dict[str, Any]]:
        """Whatever arrives within ``seconds`` (without the communicator cancelling the app)."""
        got = []
        while not await self.comm.receive_nothing(timeout=seconds):
            await self._read()
            got.extend(self._unread)
            self._unread.clear()
        return got

    async def disconnect(self) -> None:
        await self.comm.disconnect(timeout=TIMEOUT)


def room_path(room) -> str:
    """The room's socket address, as its page gives it to the browser."""
    return f"/ws/live/{room.slug}/"


async def joined(*sockets: Socket) -> None:
    """Connect each socket in turn and read past the snapshot every connection starts with."""
    for socket in sockets:
        assert await socket.connect()
        await socket.event("snapshot")


def room_sockets(room, *session_keys: str | None) -> list[Socket]:
    """One socket to ``room`` per session key, not yet connected: ``None`` for an anonymous viewer."""
    return [Socket(room_path(room), session_key=key) for key in session_keys]


async def sender_and_viewer(room, session_key: str) -> tuple[Socket, Socket]:
    """A signed-in shopper's socket (``session_key``) and an anonymous viewer's, both in ``room``."""
    sender, viewer = room_sockets(room, session_key, None)
    await joined(sender, viewer)
    return sender, viewer


async def disconnected(*sockets: Socket) -> None:
    for socket in sockets:
        await socket.disconnect()


class ConnectionClosed(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(f"closed with {code}")
        self.code = code


def danmaku_texts(events: Iterable[dict[str, Any]]) -> list[str]:
    return [e["text"] for e in events if e["type"] == "danmaku"]


@pytest.fixture
def fake_mux(settings):
    """The real mux-python SDK pointed at a local fake of the Mux Video API."""
    fake = FakeMux()
    settings.MUX_TOKEN_ID = "token-id"
    settings.MUX_TOKEN_SECRET = "token-secret"
    settings.MUX_API_BASE = fake.url
    yield fake
    fake.stop()


@pytest.fixture
def live_settings(settings, tmp_path):
    """A private key/channel prefix (pub/sub ignores the Redis db number), quick housekeeping,
    and recordings kept in the test's own directory."""
    settings.LIVE_REDIS_PREFIX = f"test-live-{uuid.uuid4().hex[:12]}"
    settings.LIVE_RECORDING_STORAGE = (tmp_path / "recordings").as_uri() + "/"
    settings.LIVE_TICK_INTERVAL = 0.05
    settings.LIVE_VIEWERS_INTERVAL = 0.2
    settings.LIVE_STORE_FLUSH_INTERVAL = 0.2
    yield settings
    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
        keys = list(client.scan_iter(f"{settings.LIVE_REDIS_PREFIX}:*"))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
def make_room(transactional_db, merchant, region):
    counter = iter(range(1, 1000))

    def make(status: str = "live", **fields: Any):
        starts = timezone.now() - dt.timedelta(minutes=5)
        room = services.live_room_schedule(
            region=region,
            merchant=merchant,
            slug=f"show-{next(counter)}",
            titles={region.default_language: "Evening show"},
            language=region.default_language,
            starts_at=starts,
            ends_at=starts + dt.timedelta(hours=1),
            **fields,
        )
        if status != room.status:
            room.status = status
            room.save(update_fields=["status"])
        return room

    return make


@pytest.fixture
def room(make_room, live_settings):
    return make_room()


@pytest.fixture
def shoppers(transactional_db, make_user):
    """Signed-in shoppers as (user, session key); display names are public, e-mails are not."""

    def make(count: int, **fields: Any) -> list[tuple[Any, str]]:
        out = []
        for _ in range(count):
            user = make_user(**fields)
            out.append((user, session_key_for(user)))
        return out

    return make


# --- Shared by the console, price-lock and stats tests ------------------------------------


@pytest.fixture
def commit(on_commit):
    """Run what services queue with ``transaction.on_commit`` (events, Redis) inside the test transaction."""
    return on_commit


@pytest.fixture
def payments_by_test_provider(settings):
    """Payments through the clearly labelled test provider, whatever keys the environment has."""
    settings.STRIPE_SECRET_KEY = None
    settings.PAYPAL_CLIENT_ID = None
    settings.PAYMENT_TEST_PROVIDER = True


@pytest.fixture
def live_room(db, merchant, region, live_settings, commit):
    room = schedule_room(merchant=merchant, region=region)
    return commit(services.live_room_start, room=room, provider="manual")


@pytest.fixture
def scarf(merchant):
    product = make_product(merchant, "silk-scarf", price_minor=4900, names={"en": "Silk scarf"})
    warehouse = catalog.warehouse_create(merchant=merchant, code="main", name="Main", country="US")
    catalog.stock_set(variant=product.variants.get(), warehouse=warehouse, quantity=20)
    return product


def two_colour_scarf(*, merchant, region) -> Product:
    """The demo's Silk scarf: navy and ivory, the same price, both in stock."""
    product = catalog.product_create(region=region, merchant=merchant, slug="silk-scarf", names={"en": "Silk scarf"})
    warehouse = catalog.warehouse_create(merchant=merchant, code="main", name="Main", country="US")
    for position, colour in enumerate(("navy", "ivory")):
        variant = catalog.variant_create(
            region=region,
            product=product,
            sku=f"SCARF-{colour.upper()}",
            price_minor=4900,
            attributes={"colour": colour},
            position=position,
        )
        catalog.stock_set(variant=variant, warehouse=warehouse, quantity=20)
    return product


@pytest.fixture
def bus(live_settings):
    """What the room's viewers receive: the region's pub/sub channel every socket process listens to.

    ``subscribe(room)`` starts listening; ``events()`` the events published since, in order.
    """
    client = redis.Redis.from_url(live_settings.REDIS_URL)
    pubsub = client.pubsub()

    def subscribe(room):
        pubsub.subscribe(_Keys(live_settings.LIVE_REDIS_PREFIX).room(room.pk, "bus"))
        pubsub.get_message(timeout=1)

    def events():
        out = []
        while (message := pubsub.get_message(timeout=0.5)) is not None:
            if message["type"] == "message":
                out.append(json.loads(message["data"]))
        return out

    yield subscribe, events
    pubsub.close()
    client.close()
