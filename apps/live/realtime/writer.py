"""Chat messages and watch sessions to PostgreSQL in batches: one multi-row statement per flush.

Each process buffers the messages it accepted (and the viewers' stays it saw end) and
flushes every ``store_flush_interval`` seconds, or as soon as ``store_batch_size`` are
waiting, or when its last room closes (which is what happens on shutdown: the server
closes every socket first). What is still buffered when the interpreter exits is written
by an ``atexit`` hook. A flush that fails (database restarting) keeps the rows and tries
again; past a hard cap the oldest are dropped and logged rather than growing without bound.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import datetime as dt
import logging
import weakref
from typing import Any

from channels.db import database_sync_to_async
from django.db import DatabaseError, IntegrityError

logger = logging.getLogger(__name__)

MAX_BUFFERED = 50_000

_writers: weakref.WeakSet[_BatchWriter] = weakref.WeakSet()


def insert_danmaku(rows: list[dict[str, Any]]) -> None:
    """Store a batch of danmaku rows in one statement (the writer's flush, and demo data)."""
    from apps.accounts.models import User
    from apps.live.models import Danmaku, LiveRoom

    try:
        Danmaku.objects.bulk_create([Danmaku(**row) for row in rows], batch_size=1000, ignore_conflicts=True)
    except IntegrityError:
        # A room or an account was deleted while its messages waited here: keep what
        # still has a room, without the deleted accounts, rather than retry forever.
        rooms = set(LiveRoom.objects.filter(id__in={r["room_id"] for r in rows}).values_list("id", flat=True))
        users = set(User.objects.filter(id__in={r["user_id"] for r in rows}).values_list("id", flat=True))
        kept = [
            {**r, "user_id": r["user_id"] if r["user_id"] in users else None} for r in rows if r["room_id"] in rooms
        ]
        if len(kept) < len(rows):
            logger.warning("chat store: %d messages of deleted rooms not stored", len(rows) - len(kept))
        Danmaku.objects.bulk_create([Danmaku(**row) for row in kept], batch_size=1000, ignore_conflicts=True)


def insert_watch_sessions(rows: list[dict[str, Any]]) -> None:
    """Store a batch of watch sessions in one statement; a session seen before gets its later end."""
    from apps.live.models import LiveRoom, WatchSession

    def upsert(batch: list[dict[str, Any]]) -> None:
        WatchSession.objects.bulk_create(
            [WatchSession(**row) for row in batch],
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["id"],
            update_fields=["last_seen_at"],
        )

    try:
        upsert(rows)
    except IntegrityError:
        # The room was deleted while its viewers' sessions waited here.
        rooms = set(LiveRoom.objects.filter(id__in={r["room_id"] for r in rows}).values_list("id", flat=True))
        kept = [r for r in rows if r["room_id"] in rooms]
        logger.warning("watch store: %d sessions of deleted rooms not stored", len(rows) - len(kept))
        upsert(kept)


class _BatchWriter:
    """Rows buffered in memory and written by one background task, a batch per statement."""

    what = "rows"

    def __init__(self, *, batch_size: int, interval: float) -> None:
        self.batch_size = batch_size
        self.interval = interval
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        _writers.add(self)

    # What a kind of row does differently: how rows are held, taken, put back and stored.
    def __len__(self) -> int:
        raise NotImplementedError

    def _take(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _put_back(self, rows: list[dict[str, Any]]) -> None:
        raise NotImplementedError

    def _drop_oldest(self, count: int) -> None:
        raise NotImplementedError

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        raise NotImplementedError

    def _added(self) -> None:
        if len(self) > MAX_BUFFERED:
            dropped = len(self) - MAX_BUFFERED
            self._drop_oldest(dropped)
            logger.error("%s store: database unreachable for long; %d oldest not stored", self.what, dropped)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"live-{self.what}-writer")
        if len(self) >= self.batch_size:
            self._wake.set()

    async def _run(self) -> None:
        while len(self):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            if not len(self):
                return
            rows = self._take()
            try:
                await database_sync_to_async(self._insert)(rows)
            except DatabaseError as exc:
                logger.warning("%s store: %d not written yet (%s); will retry", self.what, len(rows), exc)
                self._put_back(rows)
                await asyncio.sleep(self.interval)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self.flush()

    def flush_at_exit(self) -> None:
        if len(self):
            rows = self._take()
            try:
                self._insert(rows)
            except Exception:
                logger.exception("%s store: %d lost at exit", self.what, len(rows))


class DanmakuWriter(_BatchWriter):
    what = "chat"

    def __init__(self, *, batch_size: int, interval: float) -> None:
        super().__init__(batch_size=batch_size, interval=interval)
        self.rows: list[dict[str, Any]] = []

    def __len__(self) -> int:
        return len(self.rows)

    def _take(self) -> list[dict[str, Any]]:
        rows, self.rows = self.rows, []
        return rows

    def _put_back(self, rows: list[dict[str, Any]]) -> None:
        self.rows[:0] = rows

    def _drop_oldest(self, count: int) -> None:
        del self.rows[:count]

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        insert_danmaku(rows)

    def add(
        self,
        *,
        message_id: int,
        room_id: int,
        user_id: int | None,
        display_name: str,
        text: str,
        original_text: str,
        verdict: str,
        matched_words: list[str],
        posted_at: dt.datetime,
    ) -> None:
        self.rows.append(
            {
                "id": message_id,
                "room_id": room_id,
                "user_id": user_id,
                "display_name": display_name,
                "text": text,
                "original_text": original_text,
                "verdict": verdict,
                "matched_words": matched_words,
                "posted_at": posted_at,
            }
        )
        self._added()

    def mark_removed(self, message_id: int, at: dt.datetime) -> None:
        """A moderator removed a message that may not be stored yet: store it as removed."""
        for row in self.rows:
            if row["id"] == message_id:
                row["removed_at"] = at


class WatchWriter(_BatchWriter):
    """Viewers' stays in rooms (``WatchSession``), one row per socket, updated in place.

    Held by session id: a session reported again before its flush (left after a
    checkpoint) is one row with the later end, as one upsert must never touch a row twice.
    """

    what = "watch"

    def __init__(self, *, batch_size: int, interval: float) -> None:
        super().__init__(batch_size=batch_size, interval=interval)
        self.rows: dict[int, dict[str, Any]] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def _take(self) -> list[dict[str, Any]]:
        rows, self.rows = self.rows, {}
        return list(rows.values())

    def _put_back(self, rows: list[dict[str, Any]]) -> None:
        newer, self.rows = self.rows, {row["id"]: row for row in rows}
        for row in newer.values():
            self._merge(row)

    def _drop_oldest(self, count: int) -> None:
        for session_id in list(self.rows)[:count]:
            del self.rows[session_id]

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        insert_watch_sessions(rows)

    def _merge(self, row: dict[str, Any]) -> None:
        held = self.rows.get(row["id"])
        if held is None or held["last_seen_at"] < row["last_seen_at"]:
            self.rows[row["id"]] = row

    def add(
        self, *, session_id: int, room_id: int, visitor_key: str, connected_at: dt.datetime, last_seen_at: dt.datetime
    ) -> None:
        self._merge(
            {
                "id": session_id,
                "room_id": room_id,
                "visitor_key": visitor_key,
                "connected_at": connected_at,
                "last_seen_at": last_seen_at,
            }
        )
        self._added()


@atexit.register
def _flush_all_at_exit() -> None:
    for writer in list(_writers):
        writer.flush_at_exit()
