"""In a real browser: the checkout's button says what pressing it does with the method chosen, and
follows the choice: "Place order" for cash on delivery (nothing is paid now), "Place order and pay"
for a method paid now. The words are the page's own (translated by the server), not the script's."""

from __future__ import annotations

import pytest

from apps.orders.models import Order
from tests.browser.test_checkout import _shop_selling, _to_checkout

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _button_says(page, words: str) -> None:
    page.wait_for_function(
        "words => document.querySelector('[data-testid=place-order]').textContent.trim() === words", arg=words
    )


def test_the_button_follows_the_payment_method_chosen(
    chromium, live_server, use_region, settings, make_user, payment_settings
):
    use_region("me-south")
    settings.TRUSTED_COUNTRY_HEADER = "CF-IPCountry"
    [lamp] = _shop_selling(make_user, "AE", ("words-lamp", 4500, {"en": "Lamp", "ar": "مصباح"}), units=5)
    context = chromium.new_context(
        locale="en-AE", viewport={"width": 1280, "height": 900}, extra_http_headers={"CF-IPCountry": "AE"}
    )
    page = context.new_page()
    try:
        _to_checkout(page, live_server.url, lamp.product_id)
        page.wait_for_selector("[data-testid=checkout]")

        page.check("[data-testid=pay-test]")
        _button_says(page, "Place order and pay")
        page.check("[data-testid=pay-cash_on_delivery]")
        _button_says(page, "Place order")
        page.check("[data-testid=pay-test]")
        _button_says(page, "Place order and pay")

        # Cash on delivery chosen again: the button, relabelled, still places the order.
        page.check("[data-testid=pay-cash_on_delivery]")
        _button_says(page, "Place order")
        for name, value in {
            "email": "amal@example.test",
            "name": "Amal",
            "line1": "Sheikh Zayed Rd 1",
            "city": "Dubai",
            "phone": "050 123 4567",
        }.items():
            page.fill(f"[data-testid={name}]", value)
        page.click("[data-testid=place-order]")
        page.wait_for_selector("[data-testid=cash-on-delivery]")
        order = Order.objects.get()
        assert (order.payment_provider, order.status) == ("cash_on_delivery", Order.Status.CONFIRMED)
    finally:
        context.close()
