"""Shoppers watch a live show in real browsers: danmaku, likes and the pinned product arrive
over the socket, served by the same ASGI application and server (uvicorn) as production.

pytest-django's ``live_server`` speaks only WSGI, so these tests run uvicorn in a thread of
the test process: it reaches the test database and the test Redis exactly as a deployed
web process would reach its own.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.utils import timezone

from apps.accounts import services as accounts
from apps.live import services as live
from apps.live.models import Danmaku
from tests.browser.conftest import (
    LIVE_PLAYLIST,
    script_errors,
    show_on_air,
    show_started,
    stream_host,
    wait_socket_open,
)
from tests.catalog.factories import make_product
from tests.live.conftest import session_key_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_viewers_see_danmaku_likes_and_the_pinned_product(chromium, asgi_url, make_user, region, artifacts_dir):
    owner = make_user(email="owner@shop-a.test")
    merchant = accounts.merchant_create(name="Shop A", country="US", owner=owner)
    product = make_product(merchant, "silk-scarf", price_minor=4900, names={"en": "Silk scarf"})
    room = show_on_air(region=region, merchant=merchant, slug="friday-scarves", title="Friday scarves")
    shopper = make_user(email="amira@example.test", display_name="Amira")

    chatter = chromium.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    chatter.add_cookies([{"name": "sessionid", "value": session_key_for(shopper), "url": asgi_url}])
    chatting = chatter.new_page()
    watcher = chromium.new_context(locale="en-US", viewport={"width": 390, "height": 844})
    watching = watcher.new_page()
    try:
        chatting.goto(f"{asgi_url}/live/{room.slug}/")
        watching.goto(f"{asgi_url}/live/{room.slug}/")
        wait_socket_open(chatting)
        wait_socket_open(watching)
        assert chatting.get_attribute("[data-testid=room-status]", "data-status") == "live"
        # Only the signed-in shopper has a chat box and a like button; anyone may watch.
        assert watching.locator("[data-testid=chat-form]").count() == 0
        assert watching.locator("[data-testid=like]").count() == 0

        chatting.fill("[data-testid=chat-input]", "<b>so soft</b>")
        chatting.press("[data-testid=chat-input]", "Enter")
        for page in (chatting, watching):
            line = page.locator("[data-testid=chat-log] li", has_text="<b>so soft</b>")
            line.wait_for()
            assert "Amira" in line.inner_text()
            assert page.locator("[data-testid=chat-log] b").count() == 0  # shown as text, never as HTML
        # Each message finds its own direction (mixed Arabic and Latin), in the log and in flight.
        assert watching.get_attribute("[data-testid=chat-log] li span", "dir") == "auto"
        assert watching.locator(".danmaku-layer .flying[dir=auto]").count() >= 1

        # Danmaku over the video can be switched off, and stays off after a reload.
        watching.click("[data-testid=danmaku-toggle]")
        assert watching.get_attribute("[data-testid=danmaku-toggle]", "aria-pressed") == "false"
        assert watching.locator("[data-testid=danmaku-layer]").is_hidden()
        watching.reload()
        wait_socket_open(watching)
        assert watching.locator("[data-testid=danmaku-layer]").is_hidden()
        watching.click("[data-testid=danmaku-toggle]")
        assert watching.locator("[data-testid=danmaku-layer]").is_visible()

        for _ in range(3):
            chatting.click("[data-testid=like]")
        assert chatting.locator("[data-testid=like] .heart").count() >= 1  # each tap shows a heart
        for page in (chatting, watching):
            page.wait_for_function("document.querySelector('[data-testid=likes]').textContent === '3'")

        live.product_pin(room=room, product=product, region=region, by=owner)
        for page in (chatting, watching):
            pinned = page.locator("[data-testid=pinned]")
            pinned.wait_for(state="visible")
            assert pinned.locator(".pinned-name").inner_text() == "Silk scarf"
            assert pinned.locator(".pinned-price").inner_text() == "$49.00"
            assert pinned.locator("[data-testid=not-sold]").is_hidden()
        watching.screenshot(path=str(artifacts_dir / "live-room-phone.png"))

        # "Buy now" goes straight to checkout with the show's price kept on the line.
        chatting.click("[data-testid=pinned-buy] button")
        chatting.wait_for_selector("[data-testid=checkout]")
        assert "Silk scarf" in chatting.inner_text("[data-testid=totals]")
        assert chatting.locator("[data-testid=price-lock]").count() == 1
        chatting.go_back()
        wait_socket_open(chatting)

        # A fresh connection (a reload, or a dropped socket) is whole again from its snapshot.
        watching.reload()
        wait_socket_open(watching)
        watching.locator("[data-testid=chat-log] li", has_text="<b>so soft</b>").wait_for()
        watching.locator("[data-testid=pinned]").wait_for(state="visible")
        assert watching.inner_text("[data-testid=likes]") == "3"

        live.live_room_end(room=room, region=region)
        for page in (chatting, watching):
            page.wait_for_selector("[data-testid=room-status][data-status=ended]")
            page.locator("[data-testid=pinned]").wait_for(state="hidden")
        chatting.screenshot(path=str(artifacts_dir / "live-room-ended.png"))
    finally:
        chatter.close()
        watcher.close()

    # What was said is kept for moderation review and the replay.
    deadline = time.monotonic() + 10
    while not Danmaku.objects.filter(room=room, text="<b>so soft</b>").exists():
        assert time.monotonic() < deadline, "the danmaku was never stored"
        time.sleep(0.1)


def test_the_player_loads_the_show_s_hls_stream(chromium, asgi_url, make_user, region):
    owner = make_user(email="owner@shop-b.test")
    merchant = accounts.merchant_create(name="Shop B", country="US", owner=owner)
    # The stream's host is never reached: the browser's requests to it are answered below.
    room = show_started(
        region=region,
        merchant=merchant,
        slug="hls-show",
        title="HLS show",
        starts_at=timezone.now() - dt.timedelta(minutes=1),
        playback_url="https://stream.livemall.test/hls-show/index.m3u8",
    )

    context = chromium.new_context(locale="en-US")
    requested = stream_host(context, "https://stream.livemall.test/**", LIVE_PLAYLIST)
    page = context.new_page()
    errors = script_errors(page)
    try:
        page.goto(f"{asgi_url}/live/{room.slug}/")
        page.wait_for_selector("video[data-player]")
        player = page.get_attribute("video", "data-player")
        assert player in {"hls.js", "native"}, player
        deadline = time.monotonic() + 10
        while "https://stream.livemall.test/hls-show/index.m3u8" not in requested:
            assert time.monotonic() < deadline, f"the playlist was never requested ({player})"
            page.wait_for_timeout(100)
        if player == "hls.js":
            # hls.js read the playlist and went on to fetch its segment.
            deadline = time.monotonic() + 10
            while not any(url.endswith("/segment1.ts") for url in requested):
                assert time.monotonic() < deadline, f"no segment was requested: {requested}"
                page.wait_for_timeout(100)
        assert errors == []
    finally:
        context.close()


def test_an_arabic_viewer_gets_the_room_right_to_left_in_arabic(
    chromium, asgi_url, make_user, use_region, artifacts_dir
):
    region = use_region("me-south")
    merchant = accounts.merchant_create(name="متجر الخليج", country="AE", owner=make_user(email="owner@gulf.test"))
    product = make_product(merchant, "silk-scarf", price_minor=18900, names={"ar": "وشاح حرير", "en": "Silk scarf"})
    room = show_started(region=region, merchant=merchant, slug="ramadan-night", title="ليلة رمضان", language="ar")
    live.product_pin(room=room, product=product, region=region)

    context = chromium.new_context(locale="ar-AE", viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        page.goto(f"{asgi_url}/live/{room.slug}/")
        wait_socket_open(page)
        assert page.get_attribute("html", "dir") == "rtl" and page.get_attribute("html", "lang") == "ar"
        assert page.inner_text("h1") == "ليلة رمضان"
        assert page.inner_text("[data-testid=danmaku-toggle]") == "التعليقات فوق الفيديو"
        pinned = page.locator("[data-testid=pinned]")
        pinned.wait_for(state="visible")
        assert pinned.locator(".pinned-name").inner_text() == "وشاح حرير"
        assert pinned.locator("[data-testid=pinned-buy] button").inner_text() == "اشترِ الآن"
        price = pinned.locator(".pinned-price").inner_text()
        assert price and "$" not in price
        page.screenshot(path=str(artifacts_dir / "live-room-ar.png"))
    finally:
        context.close()
