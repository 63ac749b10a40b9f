"""One hub per room per process: subscribe once, coalesce, encode once, fan out without waiting.

The costs this module avoids (see DESIGN.md, "Live room fan-out"):

- no channel-layer message and no Redis operation per viewer: the hub holds the room's
  only subscription in this process and hands frames to its viewers itself;
- danmaku are coalesced, at most one frame per ``frame_interval`` (~10 per second) and no
  event waiting longer than that. Each frame costs one write per viewer, the fan-out's
  main cost, so thin frames are what to avoid: while frames carry few events (fewer than
  ``frame_full_events``), the first event after a frame waits the whole interval for
  others to join it (20 danmaku/s make ~7 frames of 3 rather than 10 of 2); once frames
  fill up on their own, an event goes out as soon as the interval since the last frame
  allows, since waiting would only add latency;
- a frame is serialised once (events arrive as JSON text and are spliced) and encoded
  once into WebSocket bytes that are written to every viewer's socket where the server
  offers that (``wire.py``); elsewhere the same ASGI message object goes to every viewer;
- no viewer's send is awaited in turn and no task is made per viewer per frame: a
  send is stepped synchronously (:meth:`Viewer.push`), which completes at once whenever
  the socket's buffer has room, as it almost always has. Only a viewer whose socket is
  not draining gets a task, which finishes that send and then drains a bounded backlog
  (oldest frames dropped); a viewer stuck for ``viewer_stall_seconds`` is disconnected.
  Nobody else waits for it.

Likes arrive as counts from this process's viewers, are added to Redis (INCRBY) once
per tick, and the running total is pushed when it changed. Viewer counts are this
process's number, reported to Redis every few seconds and summed there.

Watch time is measured from each socket's stay, by the hub's clock: the time it joined
is kept on the viewer, and when it leaves, the stay (visitor, joined, left) goes to the
process's batch writer, as chat messages do. While the show is live the tick re-reports
every open stay about once a minute (``watch_checkpoint_interval``), one batched upsert
for all of them, so that the stats of a running show include who is watching now and a
process that dies loses at most that minute. Nothing is done per frame.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import random
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async
from django.db import DatabaseError
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from apps.live import selectors
from apps.live.models import LiveRoom
from apps.live.realtime import events
from apps.live.realtime.config import LiveConfig, live_config
from apps.live.realtime.ids import IdGenerator
from apps.live.realtime.store import Listener, RoomStore, StoreUnavailable, make_store
from apps.live.realtime.wire import WritePrepared, text_frame
from apps.live.realtime.writer import DanmakuWriter, WatchWriter

logger = logging.getLogger(__name__)

ASGISend = Callable[[dict[str, Any]], Awaitable[None]]


class RoomUnavailable(Exception):
    """The socket cannot join this room; ``close_code`` tells the client why.

    ``message`` stays lazy: the consumer says it in its viewer's language."""

    def __init__(self, code: str, message: str | Promise, close_code: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.close_code = close_code


async def _finish_send(coro: Any, waiting_on: Any) -> None:
    """Drive a send coroutine that suspended on ``waiting_on`` to its end, as a Task would."""
    try:
        while True:
            if waiting_on is None:
                await asyncio.sleep(0)
            else:
                await asyncio.wait((waiting_on,))
            waiting_on = coro.send(None)
    except StopIteration:
        return
    finally:
        coro.close()


class Viewer:
    """One socket in a room, as the hub sees it."""

    __slots__ = (
        "__weakref__",
        "backlog",
        "blocked_since",
        "closed",
        "connected_at",
        "dropped",
        "hub",
        "kicked",
        "name",
        "restriction",
        "restriction_checked",
        "send",
        "session_id",
        "task",
        "user_id",
        "visitor_key",
        "write_prepared",
    )

    def __init__(
        self,
        *,
        hub: RoomHub,
        send: ASGISend,
        kicked: asyncio.Future[None],
        user_id: int | None,
        name: str,
        write_prepared: WritePrepared | None = None,
        visitor_key: str = "",
    ) -> None:
        self.hub = hub
        self.send = send
        self.write_prepared = write_prepared
        self.kicked = kicked
        self.user_id = user_id
        self.name = name
        self.backlog: deque[dict[str, Any]] = deque(maxlen=hub.config.viewer_backlog_frames)
        self.task: asyncio.Task[None] | None = None
        self.blocked_since = 0.0
        self.closed = False
        self.dropped = 0
        # (kind, until epoch seconds or None); None = not restricted. Loaded at the first post.
        self.restriction: tuple[str, float | None] | None = None
        self.restriction_checked = 0.0
        # Who is watching, for the show's stats (RoomVisit's key), and this stay: set by
        # the hub at join, cleared once the stay is reported ended.
        self.visitor_key = visitor_key
        self.session_id = 0
        self.connected_at: dt.datetime | None = None

    def push(self, message: dict[str, Any], prepared: bytes | None = None) -> None:
        """Send ``message`` now if the socket takes it, else queue it behind the blocked send.

        ``prepared`` is the same message as frame bytes, written as they are where the
        server allows it (the common case: one write, no encoding).
        """
        if self.closed:
            return
        if self.task is None and prepared is not None and self.write_prepared is not None:
            try:
                if self.write_prepared(prepared):
                    return
            except Exception:  # the client is gone; its consumer hears the disconnect and leaves
                self.closed = True
                return
        if self.task is not None:
            if len(self.backlog) == self.backlog.maxlen:
                self.dropped += 1
            self.backlog.append(message)
            return
        coro = self.send(message)
        try:
            waiting_on = coro.send(None)
        except StopIteration:
            return
        except Exception:  # the client is gone; its consumer hears the disconnect and leaves
            self.closed = True
            return
        self.blocked_since = time.monotonic()
        self.hub.blocked.add(self)
        self.task = asyncio.get_running_loop().create_task(self._drain(coro, waiting_on))

    async def _drain(self, coro: Any, waiting_on: Any) -> None:
        try:
            await _finish_send(coro, waiting_on)
            while self.backlog and not self.closed:
                await self.send(self.backlog.popleft())
        except asyncio.CancelledError:
            raise
        except Exception:
            self.closed = True
        finally:
            self.task = None
            self.hub.blocked.discard(self)

    def kick(self) -> None:
        """Give up on this viewer: its consumer ends and the server drops the socket."""
        self.close()
        if not self.kicked.done():
            self.kicked.set_result(None)

    def close(self) -> None:
        self.closed = True
        self.backlog.clear()
        if self.task is not None:
            self.task.cancel()


class RoomHub:
    def __init__(self, runtime: Runtime, slug: str) -> None:
        self.runtime = runtime
        self.config = runtime.config
        self.store = runtime.store
        self.slug = slug
        self.loop = asyncio.get_running_loop()
        self.room: selectors.SocketRoom | None = None
        self.viewers: set[Viewer] = set()
        self.blocked: set[Viewer] = set()
        self.recent: OrderedDict[str, str] = OrderedDict()  # message id -> event JSON
        self.pending: list[str] = []
        self.flush_handle: asyncio.Handle | None = None
        self.last_flush = 0.0
        self.frames_full = False  # did the last frame carry enough events not to wait for company?
        self.likes_total = 0
        self.likes_pending = 0
        self.likes_sent: int | None = None
        self.likes_saved = 0
        self.viewers_total = 0
        self.viewers_sent: int | None = None
        self._snapshot: str | None = None
        self.listener: Listener | None = None
        self.ticker: asyncio.Task[None] | None = None
        self.starting: asyncio.Task[None] | None = None
        self.closed = False
        self.frames_sent = 0

    @property
    def room_id(self) -> int:
        assert self.room is not None
        return self.room.id

    # --- start and stop ----------------------------------------------------------------

    async def start(self) -> None:
        room = await database_sync_to_async(selectors.room_for_socket)(slug=self.slug)
        if room is None:
            raise RoomUnavailable("room_not_found", _("There is no live room at this address."), 4404)
        if room.status == LiveRoom.Status.ENDED:
            raise RoomUnavailable("room_ended", _("This live show has ended."), 4410)
        self.room = room
        self.likes_total = self.likes_saved = room.likes_total
        try:
            self.listener = await self.store.listen(
                room_id=room.id, on_message=self.on_bus_message, on_reconnect=self._on_bus_reconnect
            )
            await self._load_recent()
            self.likes_total = await self.store.likes_add(room_id=room.id, count=0, floor=self.likes_total)
        except StoreUnavailable as exc:
            if self.listener is not None:
                await self.listener.aclose()
            logger.warning("live room %s: bus unavailable (%s)", self.slug, exc)
            raise RoomUnavailable("unavailable", _("Live chat is unavailable for a moment; try again."), 1013) from exc
        self.likes_sent = self.likes_total
        self.ticker = self.loop.create_task(self._tick_loop(), name=f"live-hub {self.slug}")

    async def _load_recent(self) -> None:
        items = await self.store.recent(room_id=self.room_id)
        if not items:  # Redis lost them (or never had them): the database kept every message
            items = await database_sync_to_async(selectors.danmaku_recent_events)(
                room_id=self.room_id, limit=self.config.recent_danmaku
            )
        merged = dict(self.recent)  # what arrived on the bus while we were reading
        for item in items:
            if not events.encodable(item):
                logger.warning("live room %s: unsendable recent event dropped: %.200r", self.slug, item)
                continue
            try:
                merged.setdefault(str(json.loads(item)["id"]), item)
            except (ValueError, KeyError, TypeError):
                continue
        ordered = sorted(merged.items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else 0)
        self.recent = OrderedDict(ordered[-self.config.recent_danmaku :])
        self._snapshot = None

    def _on_bus_reconnect(self) -> None:
        # Events published while the bus was away are gone; the last messages are not.
        self.loop.create_task(self._guard(self._load_recent()))

    async def aclose(self) -> None:
        self.closed = True
        if self.flush_handle is not None:
            self.flush_handle.cancel()
            self.flush_handle = None
        if self.ticker is not None:
            self.ticker.cancel()
        now = self.runtime.clock()
        for viewer in list(self.viewers):
            self._watch_end(viewer, now)
            viewer.close()
        self.viewers.clear()
        if self.room is None:
            return
        await self._guard(self._sync_likes())
        await self._guard(self._save_likes())
        await self._guard(self.store.viewers_report(room_id=self.room_id, node=self.runtime.node, count=0, ttl=1))
        if self.listener is not None:
            await self.listener.aclose()
        await self.runtime.writer.flush()
        await self.runtime.watch_writer.flush()

    # --- viewers -----------------------------------------------------------------------

    def join(self, viewer: Viewer) -> None:
        viewer.session_id = self.runtime.ids.next_id()
        viewer.connected_at = self.runtime.clock()
        self.viewers.add(viewer)
        viewer.push({"type": "websocket.send", "text": self.snapshot()})

    async def leave(self, viewer: Viewer) -> None:
        self._watch_end(viewer, self.runtime.clock())
        viewer.close()
        self.viewers.discard(viewer)
        self.blocked.discard(viewer)
        if not self.viewers and not self.closed:
            await self.runtime.close_hub(self)

    def snapshot(self) -> str:
        if self._snapshot is None:
            assert self.room is not None
            self._snapshot = events.snapshot_event(
                status=self.room.status,
                playback_url=self.room.playback_url,
                likes=self.likes_total,
                viewers=max(self.viewers_total, len(self.viewers)),
                state=self.room.state,
                danmaku=list(self.recent.values()),
            )
        return self._snapshot

    def add_likes(self, count: int) -> None:
        self.likes_pending += count

    def _watch_report(self, viewer: Viewer, seen_at: dt.datetime) -> None:
        if viewer.connected_at is None or self.room is None:
            return
        self.runtime.watch_writer.add(
            session_id=viewer.session_id,
            room_id=self.room.id,
            visitor_key=viewer.visitor_key,
            connected_at=viewer.connected_at,
            last_seen_at=seen_at,
        )

    def _watch_end(self, viewer: Viewer, left_at: dt.datetime) -> None:
        """Report the viewer's stay as over; once only (the hub closing and the socket leaving both get here)."""
        self._watch_report(viewer, left_at)
        viewer.connected_at = None

    def _watch_checkpoint(self) -> None:
        """Bring every open stay up to now while the show is live (what a dying process would lose)."""
        if self.room is None or self.room.status != LiveRoom.Status.LIVE:
            return
        now = self.runtime.clock()
        for viewer in self.viewers:
            self._watch_report(viewer, now)

    # --- events in, frames out ---------------------------------------------------------

    def on_bus_message(self, raw: str) -> None:
        if self.closed or self.room is None:
            return
        # One event that cannot be encoded would take the whole frame down for every viewer
        # and, kept among the recent messages, every later snapshot: it goes no further.
        if not events.encodable(raw):
            logger.warning("live room %s: unsendable bus event dropped: %.200r", self.slug, raw)
            return
        try:
            event = json.loads(raw)
            kind = event["type"]
        except (ValueError, KeyError, TypeError, RecursionError):
            logger.warning("live room %s: unreadable bus event dropped: %.200r", self.slug, raw)
            return
        if not isinstance(kind, str):
            logger.warning("live room %s: bus event without a type dropped: %.200r", self.slug, raw)
            return
        if kind == "danmaku":
            message_id = str(event.get("id"))
            if message_id in self.recent:
                return
            self.recent[message_id] = raw
            while len(self.recent) > self.config.recent_danmaku:
                self.recent.popitem(last=False)
        elif kind == "removed":
            self.recent.pop(str(event.get("id")), None)
            if str(event.get("id")).isdigit():
                self.runtime.writer.mark_removed(int(event["id"]), timezone.now())
        elif kind == "status":
            self.room.status = event.get("status", self.room.status)
            self.room.playback_url = event.get("playback_url") or self.room.playback_url
        elif kind in events.STATE_EVENTS:
            self.room.state[kind] = event.get(events.STATE_EVENTS[kind])
        elif kind == events.RESTRICTION:
            self._apply_restriction(event)
            return
        elif kind.startswith("_"):
            return
        self._snapshot = None
        self.queue(raw)

    def queue(self, raw: str) -> None:
        self.pending.append(raw)
        if self.flush_handle is None and not self.closed:
            if self.frames_full:
                due = self.last_flush + self.config.frame_interval - self.loop.time()
                # call_soon even when due: events read from the bus in one go share a frame.
                self.flush_handle = (
                    self.loop.call_soon(self.flush) if due <= 0 else self.loop.call_later(due, self.flush)
                )
            else:
                self.flush_handle = self.loop.call_later(self.config.frame_interval, self.flush)

    def flush(self) -> None:
        self.flush_handle = None
        if not self.pending:
            return
        self.frames_full = len(self.pending) >= self.config.frame_full_events
        frame, self.pending = events.batch_frame(self.pending), []
        self.last_flush = self.loop.time()
        message = {"type": "websocket.send", "text": frame}
        prepared = text_frame(frame)
        for viewer in tuple(self.viewers):
            viewer.push(message, prepared)
        self.frames_sent += 1

    def _apply_restriction(self, event: dict[str, Any]) -> None:
        user_id = event.get("user")
        kind = event.get("kind")
        until = event.get("until")
        for viewer in self.viewers:
            if viewer.user_id == user_id:
                viewer.restriction = (kind, until) if kind else None
                viewer.restriction_checked = time.monotonic()

    # --- the tick: likes, viewers, stalled sockets, state -------------------------------

    async def _tick_loop(self) -> None:
        ticks = 0
        viewers_every = max(1, round(self.config.viewers_interval / self.config.tick_interval))
        state_every = max(1, round(self.config.state_refresh_interval / self.config.tick_interval))
        watch_every = max(1, round(self.config.watch_checkpoint_interval / self.config.tick_interval))
        await self._guard(self._sync_viewers())
        while not self.closed:
            await asyncio.sleep(self.config.tick_interval)
            ticks += 1
            await self._guard(self._sync_likes())
            self._drop_stalled()
            if ticks % viewers_every == 0:
                await self._guard(self._sync_viewers())
            if ticks % state_every == 0:
                await self._guard(self._save_likes())
                await self._guard(self._refresh_state())
            if ticks % watch_every == 0:
                self._watch_checkpoint()

    async def _guard(self, step: Awaitable[Any]) -> None:
        """Run one housekeeping step; a failure is logged and retried on the next tick."""
        try:
            await step
        except StoreUnavailable as exc:
            logger.warning("live room %s: bus unavailable (%s)", self.slug, exc)
        except DatabaseError as exc:
            logger.warning("live room %s: database unavailable (%s)", self.slug, exc)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("live room %s: housekeeping step failed", self.slug)

    async def _sync_likes(self) -> None:
        count, self.likes_pending = self.likes_pending, 0
        try:
            total = await self.store.likes_add(room_id=self.room_id, count=count, floor=self.likes_total)
        except StoreUnavailable:
            self.likes_pending += count
            raise
        self.likes_total = total
        if total != self.likes_sent:
            self.likes_sent = total
            self._snapshot = None
            self.queue(events.likes_event(total))

    async def _sync_viewers(self) -> None:
        total = await self.store.viewers_report(
            room_id=self.room_id, node=self.runtime.node, count=len(self.viewers), ttl=self.config.viewers_interval * 3
        )
        self.viewers_total = total
        if total != self.viewers_sent:
            self.viewers_sent = total
            self._snapshot = None
            self.queue(events.viewers_event(total))

    async def _save_likes(self) -> None:
        if self.likes_total > self.likes_saved:
            from apps.live.services import live_room_likes_save

            total = self.likes_total
            await database_sync_to_async(live_room_likes_save)(room_id=self.room_id, total=total)
            self.likes_saved = total

    async def _refresh_state(self) -> None:
        """Re-read status and state from the database: heals events missed while the bus was away."""
        room = await database_sync_to_async(selectors.room_for_socket)(room_id=self.room_id)
        if room is None or self.room is None:
            return
        if room.status != self.room.status:
            self.on_bus_message(
                events.dumps({"type": "status", "status": room.status, "playback_url": room.playback_url})
            )
        for kind, key in events.STATE_EVENTS.items():
            if room.state.get(kind) != self.room.state.get(kind):
                self.on_bus_message(events.dumps({"type": kind, key: room.state.get(kind)}))

    def _drop_stalled(self) -> None:
        if not self.blocked:
            return
        limit = time.monotonic() - self.config.viewer_stall_seconds
        for viewer in list(self.blocked):
            if viewer.blocked_since < limit:
                logger.info(
                    "live room %s: viewer not reading for %.0fs; disconnected",
                    self.slug,
                    time.monotonic() - viewer.blocked_since,
                )
                self.blocked.discard(viewer)
                self.viewers.discard(viewer)
                self._watch_end(viewer, self.runtime.clock())
                viewer.kick()


class Runtime:
    """Everything live in one event loop of one process: its hubs, its bus connection, its writer."""

    def __init__(self, config: LiveConfig) -> None:
        self.config = config
        self.store: RoomStore = make_store(config)
        self.writer = DanmakuWriter(batch_size=config.store_batch_size, interval=config.store_flush_interval)
        self.watch_writer = WatchWriter(batch_size=config.store_batch_size, interval=config.store_flush_interval)
        # The time a viewer's stay starts and ends: the same wall clock the room's
        # started_at and ended_at come from (a test may set its own).
        self.clock: Callable[[], dt.datetime] = timezone.now
        self.hubs: dict[str, RoomHub] = {}
        self.node = 0
        self.ids = IdGenerator(0)
        self._ready: asyncio.Task[None] | None = None

    async def ready(self) -> None:
        if self._ready is None:
            self._ready = asyncio.get_running_loop().create_task(self._allocate_node())
        await asyncio.shield(self._ready)

    async def _allocate_node(self) -> None:
        try:
            self.node = await self.store.allocate_node()
        except StoreUnavailable as exc:
            # Chat waits for Redis anyway; a random node keeps ids unique with high odds meanwhile.
            self.node = random.randrange(1024)  # noqa: S311  (not a secret)
            logger.warning("live: node number from Redis unavailable (%s); using %d", exc, self.node)
        self.ids = IdGenerator(self.node)

    async def hub_for(self, slug: str) -> RoomHub:
        while True:
            hub = self.hubs.get(slug)
            if hub is None:
                hub = RoomHub(self, slug)
                self.hubs[slug] = hub
                hub.starting = asyncio.get_running_loop().create_task(hub.start())
            assert hub.starting is not None
            try:
                await asyncio.shield(hub.starting)
            except BaseException:
                if self.hubs.get(slug) is hub:
                    del self.hubs[slug]
                raise
            if hub.closed:
                continue
            assert hub.room is not None
            if hub.room.status == LiveRoom.Status.ENDED:
                raise RoomUnavailable("room_ended", _("This live show has ended."), 4410)
            return hub

    async def close_hub(self, hub: RoomHub) -> None:
        if self.hubs.get(hub.slug) is hub:
            del self.hubs[hub.slug]
        await hub.aclose()

    async def aclose(self) -> None:
        for hub in list(self.hubs.values()):
            await self.close_hub(hub)
        await self.writer.aclose()
        await self.watch_writer.aclose()
        await self.store.aclose()


_runtimes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Runtime] = weakref.WeakKeyDictionary()


async def get_runtime() -> Runtime:
    """The live runtime of the running event loop (one per process under an ASGI server)."""
    loop = asyncio.get_running_loop()
    runtime = _runtimes.get(loop)
    if runtime is None:
        runtime = _runtimes[loop] = Runtime(live_config())
    await runtime.ready()
    return runtime


async def close_runtime() -> None:
    """Flush and close the running loop's runtime (tests, and servers with a lifespan hook)."""
    runtime = _runtimes.pop(asyncio.get_running_loop(), None)
    if runtime is not None:
        await runtime.aclose()
