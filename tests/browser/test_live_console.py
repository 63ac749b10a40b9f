"""Merchant staff run a live show from the admin console in a real browser."""

from __future__ import annotations

import pytest

from apps.accounts import services as accounts
from apps.accounts.services import MERCHANT_STAFF_GROUP
from apps.live.models import FlashCoupon, LiveRoom, PinnedProduct
from tests.catalog.factories import make_product

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-test-password"


@pytest.fixture
def live_settings(settings):
    """A private Redis key/channel prefix for this test's room events."""
    import uuid

    settings.LIVE_REDIS_PREFIX = f"test-live-{uuid.uuid4().hex[:12]}"
    return settings


def _staff_permissions() -> None:
    # Transactional tests flush what migrations seeded; give the group its live rights back.
    from django.contrib.auth.models import Group, Permission

    group, _ = Group.objects.get_or_create(name=MERCHANT_STAFF_GROUP)
    group.permissions.add(
        *Permission.objects.filter(
            content_type__app_label="live", codename__in=["add_liveroom", "change_liveroom", "view_liveroom"]
        )
    )


def _shop_a_and_its_staff(make_user) -> tuple:
    """Shop A and a staff member of theirs who may run its shows from the admin: (the merchant, the staff user)."""
    merchant = accounts.merchant_create(name="Shop A", country="US", owner=make_user(email="owner@shop-a.test"))
    staff = make_user(email="staff@shop-a.test", password=PASSWORD)
    accounts.merchant_staff_add(merchant=merchant, user=staff)
    _staff_permissions()
    return merchant, staff


def _admin_sign_in(page, base_url: str, user) -> None:
    """Sign ``user`` in on the admin's login page, as staff do."""
    page.goto(base_url + "/admin/login/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(base_url + "/admin/")


def test_staff_create_start_pin_and_push_a_coupon(chromium, live_server, make_user, live_settings, artifacts_dir):
    merchant, staff = _shop_a_and_its_staff(make_user)
    product = make_product(merchant, "silk-scarf", price_minor=4900, names={"en": "Silk scarf"})
    other = accounts.merchant_create(name="Shop B", country="US", owner=make_user(email="b@shop-b.test"))
    make_product(other, "their-hat", names={"en": "Their hat"})

    page = chromium.new_page(locale="en-US", viewport={"width": 1280, "height": 900})
    _admin_sign_in(page, live_server.url, staff)

    page.goto(live_server.url + "/admin/live/liveroom/add/")
    page.fill("#id_slug", "friday-scarves")
    page.fill("#id_title_en", "Friday scarves")
    page.fill("#id_language", "en")
    page.fill("#id_scheduled_start_0", "2030-01-10")
    page.fill("#id_scheduled_start_1", "20:00:00")
    page.fill("#id_scheduled_end_0", "2030-01-10")
    page.fill("#id_scheduled_end_1", "21:00:00")
    page.fill("#id_playback_url", "https://cdn.example/friday.m3u8")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    room = LiveRoom.objects.get(slug="friday-scarves")
    assert room.merchant == merchant

    page.click("text=Open console")
    page.wait_for_selector("text=Start the show")
    page.click("button[value=start]")
    page.wait_for_selector(".messagelist .success")
    assert page.locator("#live-status").inner_text() == "Live"

    # Only the shop's own products are offered.
    options = page.locator("#id_product option").all_inner_texts()
    assert options == ["Silk scarf"]
    page.select_option("#id_product", str(product.pk))
    page.click("button[value=pin]")
    page.wait_for_selector("#live-pinned:has-text('Silk scarf')")
    assert "$49.00" in page.locator("#live-pinned").inner_text()

    page.fill("#id_discount", "15")
    page.fill("#id_quantity", "40")
    page.fill("#id_minutes", "5")
    page.click("button[value=coupon]")
    page.wait_for_selector("#live-coupon:has-text('40 left')")

    # A bad coupon that slips past the browser's own checks gives a message, not an error page.
    page.eval_on_selector("#id_quantity", "input => { input.form.noValidate = true; }")
    page.fill("#id_quantity", "0")
    page.click("button[value=coupon]")
    page.wait_for_selector(".messagelist .error")
    page.screenshot(path=str(artifacts_dir / "live-console.png"), full_page=True)

    assert PinnedProduct.objects.filter(room=room, product=product, unpinned_at__isnull=True).exists()
    coupon = FlashCoupon.objects.get(room=room)
    assert (coupon.discount_percent, coupon.quantity, coupon.remaining) == (15, 40, 40)
    page.close()


def test_staff_read_a_shows_stats(chromium, live_server, make_user, live_settings, region, artifacts_dir):
    import datetime as dt

    from django.utils import timezone

    from apps.live import services
    from apps.live.models import RoomVisit
    from apps.live.realtime.writer import insert_watch_sessions
    from tests.live.console_factories import report_viewers, schedule_room

    merchant, staff = _shop_a_and_its_staff(make_user)
    room = services.live_room_start(room=schedule_room(merchant=merchant, region=region), provider="manual")
    for minute, viewers in enumerate([40, 120, 90], start=1):
        report_viewers(room.pk, viewers)
        services.viewer_counts_sample(now=timezone.now() + dt.timedelta(minutes=minute))

    page = chromium.new_page(locale="en-US", viewport={"width": 1280, "height": 900})
    page.goto(live_server.url + f"/live/{room.slug}/?utm_source=newsletter&utm_medium=email")
    # The visitor has had the show open since before it started (live_server has no socket:
    # stored as the socket processes store it).
    insert_watch_sessions(
        [
            {
                "id": 1,
                "room_id": room.pk,
                "visitor_key": RoomVisit.objects.get(room=room).visitor_key,
                "connected_at": room.started_at - dt.timedelta(minutes=3),
                "last_seen_at": timezone.now(),
            }
        ]
    )
    _admin_sign_in(page, live_server.url, staff)

    page.goto(live_server.url + "/admin/live/liveroom/")
    page.click("text=Stats")
    page.wait_for_selector("[data-testid=show-stats]")
    assert page.locator("[data-testid=peak-viewers]").inner_text() == "120"
    assert page.locator("[data-testid=unique-viewers]").inner_text() == "1"
    assert "newsletter" in page.locator("[data-testid=sources]").inner_text()
    chart = page.locator("[data-testid=viewer-chart]").bounding_box()
    assert chart and chart["width"] > 200 and chart["height"] > 20
    bars = page.locator("[data-testid=sources-chart]").bounding_box()
    assert bars and bars["width"] > 200
    page.screenshot(path=str(artifacts_dir / "live-stats.png"), full_page=True)
    page.close()
