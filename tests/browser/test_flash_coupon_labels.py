"""In a real browser: the live room's flash coupon says what each of its numbers is (the code,
what is left, the time to its end), each value set apart for right-to-left pages."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from apps.accounts import services as accounts
from apps.live import services as live
from tests.browser.conftest import show_on_air

if TYPE_CHECKING:
    from playwright.sync_api import Locator

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _coupon_strip(page, room_url: str) -> Locator:
    """The room page's flash coupon strip, once shown with its countdown running."""
    page.goto(room_url)
    strip = page.locator("[data-testid=coupon]")
    strip.wait_for(state="visible")
    page.wait_for_function("() => document.querySelector('[data-testid=coupon-countdown]').textContent !== ''")
    return strip


def test_the_flash_coupon_labels_its_code_what_is_left_and_the_countdown(
    chromium, asgi_url, make_user, region, artifacts_dir
):
    merchant = accounts.merchant_create(name="Shop A", country="US", owner=make_user(email="owner@shop-a.test"))
    room = show_on_air(region=region, merchant=merchant, slug="coupon-labels", title="Coupon labels")
    coupon = live.flash_coupon_push(room=room, discount_percent=15, quantity=50, minutes=60, region=region)

    context = chromium.new_context(locale="en-US", viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        strip = _coupon_strip(page, f"{asgi_url}/live/{room.slug}/")
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


def test_a_saudi_page_counts_the_coupon_down_in_the_digits_of_its_prices(
    chromium, asgi_url, use_region, settings, make_user, artifacts_dir
):
    region = use_region("me-south")
    settings.TRUSTED_COUNTRY_HEADER = "CF-IPCountry"
    merchant = accounts.merchant_create(name="Shop A", country="AE", owner=make_user(email="owner@shop-a.test"))
    room = show_on_air(region=region, merchant=merchant, slug="coupon-digits", title="Coupon digits")
    live.flash_coupon_push(room=room, discount_percent=15, quantity=50, minutes=60, region=region)

    context = chromium.new_context(
        locale="ar-SA", extra_http_headers={"CF-IPCountry": "SA"}, viewport={"width": 390, "height": 844}
    )
    page = context.new_page()
    try:
        _coupon_strip(page, f"{asgi_url}/live/{room.slug}/")
        # ar_SA writes its prices in Arabic-Indic digits (U+0660 to U+0669): the coupon's numbers follow.
        assert page.locator("[data-testid=coupon-remaining]").inner_text() == "\u0665\u0660"  # 50
        clock = page.locator("[data-testid=coupon-countdown]").inner_text()
        assert re.fullmatch("(\u0665\u0669|\u0666\u0660):[\u0660-\u0665][\u0660-\u0669]", clock), clock
        page.screenshot(path=str(artifacts_dir / "live-coupon-digits-ar-SA.png"))
    finally:
        context.close()
