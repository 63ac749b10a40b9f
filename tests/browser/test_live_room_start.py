"""A viewer waits on the room page before the show; the merchant goes live, later ends it.

The page follows without a reload: the status label changes (in the page's language), the
player appears with the stream the show was started with, and at the end gives way to the
link to the replay.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.utils import timezone

from apps.accounts import services as accounts
from apps.live import services as live
from tests.browser.conftest import LIVE_PLAYLIST, script_errors, show_scheduled, stream_host, wait_socket_open

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STREAM = "https://stream.livemall.test/opening-night/index.m3u8"


def test_the_waiting_viewer_s_page_comes_alive_when_the_show_starts(
    chromium, asgi_url, make_user, region, artifacts_dir
):
    merchant = accounts.merchant_create(name="Shop C", country="US", owner=make_user(email="owner@shop-c.test"))
    room = show_scheduled(
        region=region,
        merchant=merchant,
        slug="opening-night",
        title="Opening night",
        starts_at=timezone.now() + dt.timedelta(hours=2),
    )
    room.description = "New season, first look."
    room.save(update_fields=["description"])

    context = chromium.new_context(locale="en-US")
    requested = stream_host(context, "https://stream.livemall.test/**", LIVE_PLAYLIST)
    page = context.new_page()
    errors = script_errors(page)
    try:
        page.goto(f"{asgi_url}/live/{room.slug}/")
        wait_socket_open(page)
        status = page.locator("[data-testid=room-status]")
        assert status.inner_text() == "Scheduled"
        schedule = page.locator("[data-testid=show-time] time")
        assert schedule.is_visible()
        assert schedule.get_attribute("datetime").endswith("Z") and "Eastern" in schedule.get_attribute("title")
        assert page.inner_text("[data-testid=room-description]") == "New season, first look."
        assert page.locator("video").count() == 0
        page.evaluate("window.stillTheSamePage = true")

        live.live_room_start(room=room, provider="manual", playback_url=STREAM)
        page.wait_for_selector("[data-testid=room-status][data-status=live]")
        assert status.inner_text() == "Live now"
        assert page.locator("[data-testid=show-time]").is_hidden()
        page.wait_for_selector("video[data-testid=player][data-player]")
        assert page.get_attribute("video", "data-playback-url") == STREAM
        deadline = time.monotonic() + 10
        while STREAM not in requested:
            assert time.monotonic() < deadline, f"the playlist was never requested ({requested})"
            page.wait_for_timeout(100)
        player = page.get_attribute("video", "data-player")
        assert player in {"hls.js", "native"}, player
        page.screenshot(path=str(artifacts_dir / "live-room-started.png"))

        room.refresh_from_db()
        live.live_room_end(room=room, region=region)
        page.wait_for_selector("[data-testid=room-status][data-status=ended]")
        assert status.inner_text() == "Ended"
        assert page.locator("video").count() == 0
        # The replay link appears as on a page loaded after the end, its URL and text from Django.
        replay = page.locator("[data-testid=player] a[data-testid=replay-link]")
        assert replay.inner_text() == "Watch the replay with its chat"
        assert replay.get_attribute("href") == f"/live/{room.slug}/replay/"
        ended_text = page.inner_text("[data-testid=player]")
        assert " ".join(ended_text.split()) == "This show has ended. Watch the replay with its chat"
        assert page.evaluate("window.stillTheSamePage") is True
        replay.click()
        page.wait_for_selector("[data-testid=live-replay]")
        assert errors == []
    finally:
        context.close()
