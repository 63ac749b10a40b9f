"""In a real browser: "Buy now" on a pinned product with two colours asks which one, and a
refused chat message's error goes once a later message is accepted."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from apps.accounts import services as accounts
from apps.live import services as live
from apps.orders.models import CartLine
from tests.browser.conftest import script_errors, show_on_air, show_scheduled, wait_socket_open
from tests.live.conftest import session_key_for, two_colour_scarf

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_viewer_chooses_the_colour_and_a_later_message_clears_the_error(
    chromium, asgi_url, make_user, region, artifacts_dir
):
    owner = make_user(email="owner@shop-a.test")
    merchant = accounts.merchant_create(name="Shop A", country="US", owner=owner)
    product = two_colour_scarf(merchant=merchant, region=region)
    room = show_on_air(region=region, merchant=merchant, slug="friday-scarves", title="Friday scarves")
    shopper = make_user(email="amira@example.test", display_name="Amira")

    context = chromium.new_context(locale="en-US", viewport={"width": 390, "height": 844})
    context.add_cookies([{"name": "sessionid", "value": session_key_for(shopper), "url": asgi_url}])
    page = context.new_page()
    errors = script_errors(page)
    try:
        page.goto(f"{asgi_url}/live/{room.slug}/")
        wait_socket_open(page)
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
        assert CartLine.objects.get().variant_id == product.variants.get(attributes__colour="ivory").pk
        page.go_back()
        wait_socket_open(page)

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
    room = show_scheduled(
        region=region,
        merchant=merchant,
        slug="atelier-nova-last-night",
        title="Last night",
        starts_at=timezone.now() - dt.timedelta(hours=2),
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
