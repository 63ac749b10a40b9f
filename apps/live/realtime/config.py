"""Tunable numbers of the live room, read once per runtime from Django settings."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class LiveConfig:
    redis_url: str | None
    prefix: str
    danmaku_max_chars: int = 200
    danmaku_rate_per_second: float = 1.0  # per user, token bucket in Redis
    danmaku_burst: int = 3
    recent_danmaku: int = 50  # kept in Redis and in each hub for the snapshot
    like_max_per_frame: int = 50
    frame_interval: float = 0.1  # the longest an event waits to share a frame: ~10 frames/s at most
    frame_full_events: int = 4  # a frame this full does not make the next event wait for company
    tick_interval: float = 0.25  # likes pushed as a running total this often
    viewers_interval: float = 2.0  # per-process viewer counts reported and summed
    state_refresh_interval: float = 15.0  # room state re-read from the database (heals missed events)
    watch_checkpoint_interval: float = 60.0  # open viewers' watch time saved while live (what a crash loses)
    viewer_backlog_frames: int = 64  # frames kept for a viewer whose socket is not draining
    viewer_stall_seconds: float = 10.0  # a viewer blocked this long is disconnected
    client_frames_per_second: float = 10.0  # per connection, in memory: floods are cut here
    client_frames_burst: int = 20
    client_flood_close_after: int = 200  # frames over the budget before the socket is closed
    client_frame_max_chars: int = 4096
    store_batch_size: int = 200
    store_flush_interval: float = 0.5


def live_config() -> LiveConfig:
    return LiveConfig(
        redis_url=settings.REDIS_URL,
        prefix=settings.LIVE_REDIS_PREFIX,
        **{
            name: getattr(settings, f"LIVE_{name.upper()}")
            for name in LiveConfig.__dataclass_fields__
            if name not in {"redis_url", "prefix"} and hasattr(settings, f"LIVE_{name.upper()}")
        },
    )
