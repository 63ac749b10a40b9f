"""Chat messages to PostgreSQL in batches: one multi-row INSERT per flush, not one per message.

Each process buffers the messages it accepted and flushes every ``store_flush_interval``
seconds, or as soon as ``store_batch_size`` are waiting, or when its last room closes
(which is what happens on shutdown: the server closes every socket first). What is
still buffered when the interpreter exits is written by an ``atexit`` hook. A flush
that fails (database restarting) keeps the rows and tries again; past a hard cap the
oldest are dropped and logged rather than growing without bound.
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

_writers: weakref.WeakSet[DanmakuWriter] = weakref.WeakSet()


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


class DanmakuWriter:
    def __init__(self, *, batch_size: int, interval: float) -> None:
        self.batch_size = batch_size
        self.interval = interval
        self.rows: list[dict[str, Any]] = []
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        _writers.add(self)

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
        if len(self.rows) > MAX_BUFFERED:
            dropped = len(self.rows) - MAX_BUFFERED
            del self.rows[:dropped]
            logger.error("chat store: database unreachable for long; %d oldest messages not stored", dropped)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="live-danmaku-writer")
        if len(self.rows) >= self.batch_size:
            self._wake.set()

    def mark_removed(self, message_id: int, at: dt.datetime) -> None:
        """A moderator removed a message that may not be stored yet: store it as removed."""
        for row in self.rows:
            if row["id"] == message_id:
                row["removed_at"] = at

    async def _run(self) -> None:
        while self.rows:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            if not self.rows:
                return
            rows, self.rows = self.rows, []
            try:
                await database_sync_to_async(insert_danmaku)(rows)
            except DatabaseError as exc:
                logger.warning("chat store: %d messages not written yet (%s); will retry", len(rows), exc)
                self.rows[:0] = rows
                await asyncio.sleep(self.interval)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self.flush()

    def flush_at_exit(self) -> None:
        if self.rows:
            rows, self.rows = self.rows, []
            try:
                insert_danmaku(rows)
            except Exception:
                logger.exception("chat store: %d messages lost at exit", len(rows))


@atexit.register
def _flush_all_at_exit() -> None:
    for writer in list(_writers):
        writer.flush_at_exit()
