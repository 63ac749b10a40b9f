"""An ended show's recording really plays in the browser from the region's file:// store.

The recording is a real (tiny) MP4 written by the test, stored where a Mux master copied
home lies; the site serves it (the embedded default's CDN) with Range requests, which the
browser uses to read an MP4, and the video element gets as far as its metadata.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from apps.accounts import services as accounts
from apps.live import services as live
from tests.browser.conftest import script_errors, show_started
from tests.live.tiny_mp4 import tiny_mp4

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STARTED = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def test_the_recording_copied_home_plays_on_the_replay_page(chromium, asgi_url, make_user, region, settings, tmp_path):
    store = tmp_path / "recordings"
    settings.LIVE_RECORDING_STORAGE = store.as_uri() + "/"
    settings.LIVE_RECORDING_PUBLIC_URL = None
    merchant = accounts.merchant_create(name="Shop D", country="US", owner=make_user(email="owner@shop-d.test"))
    room = show_started(
        region=region, merchant=merchant, slug="recorded-show", title="Recorded show", starts_at=STARTED, now=STARTED
    )
    room = live.live_room_end(room=room, region=region)
    recording = tiny_mp4(seconds=3)
    folder = Path(store / room.slug)
    folder.mkdir(parents=True)
    (folder / "a1B2c3D4.mp4").write_bytes(recording)
    address = f"/live/{room.slug}/replay/recording/a1B2c3D4.mp4"

    context = chromium.new_context(locale="en-US")
    page = context.new_page()
    answers: list[tuple[int, str | None, str | None]] = []
    page.on(
        "response",
        lambda response: (
            answers.append(
                (response.status, response.request.headers.get("range"), response.headers.get("content-range"))
            )
            if response.url.endswith(address)
            else None
        ),
    )
    errors = script_errors(page)
    try:
        page.goto(f"{asgi_url}/live/{room.slug}/replay/")
        video = page.locator("video[data-testid=replay-player]")
        assert video.get_attribute("data-playback-url") == address
        page.wait_for_function(
            "document.querySelector('video[data-testid=replay-player]').readyState >= 1", timeout=15000
        )
        assert page.evaluate("document.querySelector('video[data-testid=replay-player]').dataset.player") == "file"
        assert page.evaluate("Math.round(document.querySelector('video[data-testid=replay-player]').duration)") == 3
        assert page.evaluate("document.querySelector('video[data-testid=replay-player]').error") is None
        # The browser read the file by ranges, and each was answered with just those bytes.
        ranged = [answer for answer in answers if answer[1]]
        assert ranged, answers
        for status, _asked, content_range in ranged:
            assert status == 206 and content_range and content_range.endswith(f"/{len(recording)}"), answers
        assert errors == []
    finally:
        context.close()
