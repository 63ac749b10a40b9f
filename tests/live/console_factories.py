"""Builders for the console tests: rooms through the services, FX rates from the shipped file."""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from django.utils import timezone

from apps.live import services
from apps.live.realtime.config import live_config
from apps.live.realtime.store import RedisRoomStore
from apps.money import services as money_services
from tests.money.factories import todays_provider


def schedule_room(*, merchant, region, slug: str = "evening-show", playback_url: str = "https://cdn.example/live.m3u8"):
    starts = timezone.now() + dt.timedelta(hours=1)
    return services.live_room_schedule(
        region=region,
        merchant=merchant,
        slug=slug,
        titles={region.default_language: "Evening show"},
        language=region.default_language,
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=1),
        playback_url=playback_url,
    )


def load_fx_rates() -> None:
    """The shipped rates dated today: a pin or a checkout refuses rates a few days old."""
    with tempfile.TemporaryDirectory() as folder:
        money_services.fx_rates_update(provider=todays_provider(Path(folder) / "rates.xml"))


def report_viewers(room_id: int, *per_process: int) -> None:
    """What the socket processes do every few seconds: each reports to Redis how many it serves."""

    async def report() -> None:
        store = RedisRoomStore(live_config())
        try:
            for node, count in enumerate(per_process, start=1):
                await store.viewers_report(room_id=room_id, node=node, count=count, ttl=60)
        finally:
            await store.aclose()

    # In a thread of its own: the browser tests' Playwright already runs an event loop here.
    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(asyncio.run, report()).result()
