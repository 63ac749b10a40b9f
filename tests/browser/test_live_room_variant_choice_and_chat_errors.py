"""In a real browser: "Buy now" on a pinned product with two colours asks which one, and a
refused chat message's error goes once a later message is accepted."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from apps.accounts import services as accounts
from apps.catalog import services as catalog
from apps.live import services as live
from apps.orders.models import CartLine
from tests.live.conftest import session_key_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_viewer_chooses_the_colour_and_a_later_message_clears_the_error(
    chromium, asgi_url, make_user, region, artifacts_dir
):
    owner = make_user(email="owner@shop-a.test")
    merchant = accounts.merchant_create(name="Shop A", country="US", owner=owner)
    product = catalog.product_create(region=region, merchant=merchant, slug="silk-scarf", names={"en": "Silk scarf"})
    warehouse = catalog.warehouse_create(merchant=merchant, code="main", name="Main", country="US")
    variants = {}
    for position, colour in enumerate(("navy", "ivory")):
        variants[colour] = catalog.variant_create(
            region=region,
            product=product,
            sku=f"SCARF-{colour.upper()}",
            price_minor=4900,
            attributes={"colour": colour},
            position=position,
        )
        catalog.stock_set(variant=variants[colour], warehouse=warehouse, quantity=20)
    starts = timezone.now() - dt.timedelta(minutes=5)
    room = live.live_room_schedule(
        region=region,
        merchant=merchant,
        slug="friday-scarves",
        titles={region.default_language: "Friday scarves"},
        language=region.default_language,
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=1),
    )
    live.live_room_start(room=room, provider="manual", playback_url="http://127.0.0.1:9/show.m3u8")
    room.refresh_from_db()
    room.status = room.Status.LIVE  # as the start's on-commit step would (the test runs no commit hooks)
    room.save(update_fields=["status"])
    shopper = make_user(email="amira@example.test", display_name="Amira")

    context = chromium.new_context(locale="en-US", viewport={"width": 390, "height": 844})
    context.add_cookies([{"name": "sessionid", "value": session_key_for(shopper), "url": asgi_url}])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(f"{asgi_url}/live/{room.slug}/")
        page.wait_for_selector("body[data-live-socket=open]")
        live.product_pin(room=room, product=product, region=region, by=owner)
        pinned = page.locator("[data-testid=pinned]")
        pinned.wait_for(state="visible")
        choice = page.get_by_label("Option")
        choice.wait_for(state="visible")
        assert pinned.locator(".pinned-price").inner_text() == "$49.00"  # both colours cost the same
        assert choice.locator("option").all_inner_texts() == ["Choose one…", "navy — $49.00", "ivory — $49.00"]

        # One press without a choice goes nowhere: the browser asks for the colour.
        page.click("[data-testid=pinned-buy] button")
        page.wait_for_timeout(500)
        assert "/live/" in page.url and not CartLine.objects.exists()
        assert page.evaluate("document.querySelector('#pinned-variant').validity.valueMissing")

        page.screenshot(path=str(artifacts_dir / "live-room-variant-choice.png"))
        choice.select_option(label="ivory — $49.00")
        page.click("[data-testid=pinned-buy] button")
        page.wait_for_selector("[data-testid=checkout]")
        assert CartLine.objects.get().variant_id == variants["ivory"].pk
        page.go_back()
        page.wait_for_selector("body[data-live-socket=open]")

        # A refused message says why, politely, and stays until a later message gets through.
        page.fill("[data-testid=chat-input]", "pay outside the app and save")
        page.press("[data-testid=chat-input]", "Enter")
        error = page.locator("[data-testid=socket-error]")
        error.wait_for(state="visible")
        assert error.inner_text() == "This message cannot be posted here."
        assert error.get_attribute("role") == "status"
        page.wait_for_timeout(4500)
        assert error.is_visible()
        page.fill("[data-testid=chat-input]", "lovely colours")
        page.press("[data-testid=chat-input]", "Enter")
        page.locator("[data-testid=chat-log] li", has_text="lovely colours").wait_for()
        error.wait_for(state="hidden")
        assert errors == []
    finally:
        context.close()


def test_an_ended_show_shows_its_likes_and_says_it_ended_once(chromium, asgi_url, make_user, region):
    owner = make_user(email="owner@shop-b.test")
    merchant = accounts.merchant_create(name="Shop B", country="US", owner=owner)
    starts = timezone.now() - dt.timedelta(hours=2)
    room = live.live_room_schedule(
        region=region,
        merchant=merchant,
        slug="atelier-nova-last-night",
        titles={region.default_language: "Last night"},
        language=region.default_language,
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=1),
    )
    room.status, room.likes_total = room.Status.ENDED, 2548
    room.save(update_fields=["status", "likes_total"])
    context = chromium.new_context(locale="en-US")
    context.add_cookies([{"name": "sessionid", "value": session_key_for(make_user()), "url": asgi_url}])
    page = context.new_page()
    try:
        page.goto(f"{asgi_url}/live/{room.slug}/")
        page.wait_for_timeout(1000)  # what a socket would have said by now
        assert page.inner_text("[data-testid=likes]") == "2548"
        assert page.locator("[data-testid=socket-error]").is_hidden()
        assert page.get_by_text("This show has ended.").count() == 1
        assert page.locator("[data-testid=like], [data-testid=chat-form]").count() == 0
        assert page.get_by_text("Chat and likes are closed.").is_visible()
    finally:
        context.close()
