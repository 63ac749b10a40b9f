"""In a real browser: the live room's flash coupon says what each of its numbers is (the code,
what is left, the time to its end), each value set apart for right-to-left pages."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from apps.accounts import services as accounts
from apps.live import services as live

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_flash_coupon_labels_its_code_what_is_left_and_the_countdown(
    chromium, asgi_url, make_user, region, artifacts_dir
):
    merchant = accounts.merchant_create(name="Shop A", country="US", owner=make_user(email="owner@shop-a.test"))
    starts = timezone.now() - dt.timedelta(minutes=5)
    room = live.live_room_schedule(
        region=region,
        merchant=merchant,
        slug="coupon-labels",
        titles={region.default_language: "Coupon labels"},
        language=region.default_language,
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=1),
    )
    room = live.live_room_start(room=room, provider="manual", playback_url="http://127.0.0.1:9/show.m3u8")
    room.refresh_from_db()
    room.status = room.Status.LIVE
    room.save(update_fields=["status"])
    coupon = live.flash_coupon_push(room=room, discount_percent=15, quantity=50, minutes=60, region=region)

    context = chromium.new_context(locale="en-US", viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        page.goto(f"{asgi_url}/live/{room.slug}/")
        strip = page.locator("[data-testid=coupon]")
        strip.wait_for(state="visible")
        page.wait_for_function("() => document.querySelector('[data-testid=coupon-countdown]').textContent !== ''")
        said = " ".join(strip.inner_text().split())
        assert f"Coupon code: {coupon.code}" in said
        assert "Left: 50" in said
        assert re.search(r"Ends in: (59|60):\d\d", said), said
        # Each value in its own <bdi>, so a right-to-left page keeps "LIVE-…" and "59:13" whole.
        for value in ("coupon-code", "coupon-remaining", "coupon-countdown"):
            assert strip.locator(f"bdi:has([data-testid={value}]), bdi[data-testid={value}]").count() == 1, value
        page.screenshot(path=str(artifacts_dir / "live-coupon-labels.png"))
    finally:
        context.close()
