"""Helpers shared by the browser tests of the live room: shows set up through the services, a
stream host the browser is answered for, and the page's script errors.

The shared fixtures (``chromium``, ``asgi_url``, ``live_server``) are in ``tests/conftest.py``.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from apps.live import services as live
from apps.live.models import LiveRoom

# Where a manually started show says its stream is: nothing listens there, and the tests that use
# it are about the page around the player, not the video.
NOWHERE_STREAM = "http://127.0.0.1:9/show.m3u8"

# A two-second live playlist; its segment is refused, which a live player treats as a
# network hiccup and retries, so the test sees the player at work without a real encoder.
LIVE_PLAYLIST = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:1
#EXTINF:2.0,
segment1.ts
"""


def show_scheduled(
    *,
    region,
    merchant,
    slug: str,
    title: str,
    starts_at: dt.datetime | None = None,
    hours: int = 1,
    language: str | None = None,
) -> LiveRoom:
    """A show of ``merchant``'s scheduled through the service: from ``starts_at`` (five minutes ago
    unless told) for ``hours``, titled ``title`` in ``language`` (the region's own unless told)."""
    language = language or region.default_language
    starts_at = starts_at or timezone.now() - dt.timedelta(minutes=5)
    return live.live_room_schedule(
        region=region,
        merchant=merchant,
        slug=slug,
        titles={language: title},
        language=language,
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(hours=hours),
    )


def show_started(*, playback_url: str = NOWHERE_STREAM, now: dt.datetime | None = None, **schedule) -> LiveRoom:
    """A show scheduled (``schedule``: as :func:`show_scheduled`) and started by hand with ``playback_url``."""
    room = show_scheduled(**schedule)
    started = {"now": now} if now else {}
    live.live_room_start(room=room, provider="manual", playback_url=playback_url, **started)
    room.refresh_from_db()
    return room


def show_on_air(**schedule) -> LiveRoom:
    """A show started (``schedule``: as :func:`show_started`) and marked live, as the start's
    on-commit step would (the test runs no commit hooks)."""
    room = show_started(**schedule)
    room.status = room.Status.LIVE
    room.save(update_fields=["status"])
    return room


def stream_host(context, address: str, playlist: str) -> list[str]:
    """Answer ``context``'s requests to ``address`` (a glob) as a stream host whose segments fail:
    ``playlist`` for each ``.m3u8``, 503 for the rest. Returns the URLs asked for, as they come."""
    requested: list[str] = []

    def answer(route) -> None:
        requested.append(route.request.url)
        if route.request.url.endswith(".m3u8"):
            route.fulfill(status=200, content_type="application/vnd.apple.mpegurl", body=playlist)
        else:
            route.fulfill(status=503, body="")

    context.route(address, answer)
    return requested


def script_errors(page) -> list[str]:
    """The uncaught script errors of ``page`` from now on, filled as they happen (a test ends on ``== []``)."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def wait_socket_open(page) -> None:
    """Until the room page's socket is open (the page marks its body)."""
    page.wait_for_selector("body[data-live-socket=open]")
