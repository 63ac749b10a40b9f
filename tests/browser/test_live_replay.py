"""The replay of an ended show in a real browser: the chat beside the recording follows the
playback time, loads its next pages as the video nears them, and stays plain text.

The browser's requests for the recording are answered by the test (a playlist whose
segment is refused), so no video really plays: the playback time is set on the video
element and its ``timeupdate`` / ``seeked`` events dispatched, as a playing video would.
"""

from __future__ import annotations

import datetime as dt

import pytest

from apps.accounts import services as accounts
from apps.live import services as live
from apps.live.models import Danmaku, LiveRoom
from apps.live.realtime.ids import message_id
from tests.browser.conftest import script_errors, show_started, stream_host

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STARTED = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
RECORDING = "https://recordings.livemall.test/friday-replay/index.m3u8"
PLAYLIST = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:10
#EXT-X-PLAYLIST-TYPE:VOD
#EXTINF:10.0,
segment1.ts
#EXT-X-ENDLIST
"""


def _message(room, seconds: int, text: str, name: str = "Fan") -> Danmaku:
    at = STARTED + dt.timedelta(seconds=seconds)
    return Danmaku(
        id=message_id(at_ms=int(at.timestamp() * 1000), node=2),
        room=room,
        display_name=name,
        text=text,
        posted_at=at,
    )


def _play_to(page, seconds: float, event: str = "timeupdate") -> None:
    page.evaluate(
        """([seconds, event]) => {
            const video = document.querySelector("video[data-testid=replay-player]");
            Object.defineProperty(video, "currentTime", {configurable: true, get: () => seconds});
            video.dispatchEvent(new Event(event));
        }""",
        [seconds, event],
    )


def test_the_chat_follows_the_recording(chromium, asgi_url, make_user, region, artifacts_dir):
    merchant = accounts.merchant_create(name="Shop A", country="US", owner=make_user(email="owner@shop-a.test"))
    room = show_started(
        region=region,
        merchant=merchant,
        slug="friday-replay",
        title="Friday scarves",
        starts_at=STARTED,
        hours=2,
        now=STARTED,
    )
    live.live_room_end(room=room, region=region, now=STARTED + dt.timedelta(hours=2))
    LiveRoom.objects.filter(pk=room.pk).update(recording_url=RECORDING)
    Danmaku.objects.bulk_create(
        [
            _message(room, 5, "<img src=x onerror=alert(1)> so soft", name="Amira"),
            _message(room, 65, "جميل جداً، كم السعر؟", name="ليلى"),
            # A busy stretch: more than a page (500) of messages, one a second.
            *(_message(room, 100 + i, f"message {i}") for i in range(520)),
            _message(room, 3661, "still here after an hour"),
        ]
    )

    context = chromium.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    stream_host(context, "https://recordings.livemall.test/**", PLAYLIST)
    page = context.new_page()
    errors = script_errors(page)
    try:
        page.goto(f"{asgi_url}/live/{room.slug}/replay/")
        page.wait_for_selector("video[data-testid=replay-player][data-player]")
        log = page.locator("[data-testid=replay-chat]")
        lines = log.locator("li")
        assert lines.count() == 500
        first = lines.nth(0)
        assert first.locator("time").inner_text() == "00:05"
        assert first.locator(".text").inner_text() == "<img src=x onerror=alert(1)> so soft"
        assert log.locator("img").count() == 0  # text, never markup
        arabic = lines.nth(1)
        assert arabic.locator(".text").get_attribute("dir") == "auto"
        assert arabic.locator("strong").get_attribute("dir") == "auto"
        assert arabic.locator(".text").inner_text() == "جميل جداً، كم السعر؟"
        assert arabic.locator("time").inner_text() == "01:05"

        # The playback reaches 1:10: the two messages said by then are marked, the latest current.
        _play_to(page, 70)
        assert log.locator("li[data-said]").count() == 2
        assert log.locator("li[aria-current=true] .text").inner_text() == "جميل جداً، كم السعر؟"
        page.screenshot(path=str(artifacts_dir / "live-replay.png"))

        # Nearing the last message loaded, the next page comes from the JSON endpoint.
        _play_to(page, 560)
        page.wait_for_function("document.querySelectorAll('[data-testid=replay-chat] li').length === 523")
        _play_to(page, 560.5)
        assert log.locator("li[data-said]").count() == 2 + 461
        assert log.locator("li[aria-current=true] .text").inner_text() == "message 460"
        assert page.locator("[data-testid=replay-more]").is_hidden()  # nothing later to load
        # The current message is scrolled into the list's view.
        assert page.evaluate(
            """() => {
                const log = document.querySelector("[data-testid=replay-chat]");
                const li = log.querySelector("li[aria-current=true]");
                return li.offsetTop >= log.scrollTop && li.offsetTop + li.offsetHeight <= log.scrollTop + log.clientHeight + 1;
            }"""
        )

        # Back to the start: nothing said yet.
        _play_to(page, 0, "seeked")
        assert log.locator("li[data-said]").count() == 0

        # A fresh page, and a jump far past what is loaded: the chat loads from where it landed.
        page.reload()
        page.wait_for_selector("video[data-testid=replay-player][data-player]")
        _play_to(page, 3670, "seeked")
        page.wait_for_function("document.querySelectorAll('[data-testid=replay-chat] li').length === 1")
        assert log.locator("li[aria-current=true] .text").inner_text() == "still here after an hour"
        assert log.locator("li time").inner_text() == "1:01:01"
        assert errors == []
    finally:
        context.close()


def test_without_a_recording_the_chat_pages_on_request(chromium, asgi_url, make_user, region):
    merchant = accounts.merchant_create(name="Shop B", country="US", owner=make_user(email="owner@shop-b.test"))
    room = show_started(
        region=region, merchant=merchant, slug="quiet-replay", title="Quiet show", starts_at=STARTED, now=STARTED
    )
    live.live_room_end(room=room, region=region, now=STARTED + dt.timedelta(hours=1))
    Danmaku.objects.bulk_create([_message(room, i, f"message {i}") for i in range(501)])

    context = chromium.new_context(locale="en-US")
    page = context.new_page()
    errors = script_errors(page)
    try:
        page.goto(f"{asgi_url}/live/{room.slug}/")
        page.click("[data-testid=replay-link]")
        page.wait_for_selector("[data-testid=live-replay]")
        assert page.inner_text("[data-testid=replay-player]") == "The recording is not available."
        assert page.locator("[data-testid=replay-chat] li").count() == 500
        page.click("[data-testid=replay-more]")
        page.wait_for_function("document.querySelectorAll('[data-testid=replay-chat] li').length === 501")
        assert page.locator("[data-testid=replay-more]").is_hidden()
        assert page.url.endswith("/replay/")  # appended in place, no page change
        assert page.locator("[data-testid=replay-chat] li").last.locator(".text").get_attribute("dir") == "auto"
        assert errors == []
    finally:
        context.close()
