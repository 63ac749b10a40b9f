"""A Malaysian shopper picks their state at checkout: the delivery date follows Kedah's Friday-Saturday weekend."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from apps.accounts import services as accounts
from apps.catalog import services as catalog
from apps.money.formatting import format_day
from apps.orders.models import Order
from tests.browser.test_checkout import _fill_delivery
from tests.catalog.factories import make_product

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_kedah_shopper_chooses_the_state_and_sees_the_date_move(
    chromium, live_server, use_region, settings, artifacts_dir, make_user, monkeypatch, payment_settings
):
    use_region("ap-southeast")
    settings.TRUSTED_COUNTRY_HEADER = "CF-IPCountry"
    # Wednesday 25 Nov 2026, 10:00 in Malaysia, for the server thread too (Django's clock only).
    now = dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.UTC)
    monkeypatch.setattr(timezone, "now", lambda: now)
    owner = make_user(email="owner@my-shop.test")
    merchant = accounts.merchant_create(name="MY Shop", country="MY", owner=owner)
    warehouse = catalog.warehouse_create(merchant=merchant, code="my", name="Main", country="MY")
    variant = make_product(merchant, "songket", price_minor=4500, names={"en": "Songket"}).variants.get()
    catalog.stock_set(variant=variant, warehouse=warehouse, quantity=3)

    page = chromium.new_page(locale="en-MY", viewport={"width": 1280, "height": 900})
    page.route(
        live_server.url + "/**",
        lambda route: route.continue_(headers={**route.request.headers, "cf-ipcountry": "MY"}),
    )
    # Paying in the settlement currency: no exchange rates are needed.
    page.context.add_cookies([{"name": settings.CURRENCY_COOKIE_NAME, "value": "SGD", "url": live_server.url}])
    try:
        page.goto(live_server.url + f"/products/{variant.product_id}/")
        page.click("[data-testid=add-to-cart] button")
        page.wait_for_selector("[data-testid=cart]")
        page.click("[data-testid=to-checkout]")

        state = page.locator("select[data-testid=state]")
        assert state.locator("option").count() == 17  # "choose" and Malaysia's 16 states and territories
        page.check("input[name=shipping_option][value=express]")
        # No state yet: the country's Saturday-Sunday weekend, Thu 26 and Fri 27.
        page.wait_for_function(
            "expected => document.querySelector('[data-testid=eta]').textContent.trim() === expected",
            arg=format_day(dt.date(2026, 11, 27), "en_MY"),
        )
        state.select_option(label="Kedah")
        # Kedah rests Friday-Saturday: Thu 26, Sun 29. The page re-quotes as the state changes.
        kedah_eta = format_day(dt.date(2026, 11, 29), "en_MY")
        page.wait_for_function(
            "expected => document.querySelector('[data-testid=eta]').textContent.trim() === expected",
            arg=kedah_eta,
        )
        # The option's own "arrives by" date moves with it, so the page never shows two dates.
        page.wait_for_function(
            "expected => document.querySelector('#option-eta-express').textContent.includes(expected)",
            arg=kedah_eta,
        )
        assert state.input_value() == "02"
        _fill_delivery(
            page,
            email="aminah@example.test",
            name="Siti Aminah",
            line1="12 Jalan Tunku Ibrahim",
            city="Alor Setar",
            postal_code="05000",
        )
        page.check("[data-testid=pay-test]")
        page.screenshot(path=str(artifacts_dir / "checkout-my-kedah.png"), full_page=True)
        page.click("[data-testid=place-order]")
        page.wait_for_selector("[data-testid=confirmation]")
        order = Order.objects.get()
        assert order.address["state"] == "02"
        assert order.eta == dt.date(2026, 11, 29)
        assert page.inner_text("[data-testid=eta]") == kedah_eta
    finally:
        page.close()
