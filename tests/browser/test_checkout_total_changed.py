"""In a real browser: a price that changes after the checkout page loaded is never charged unseen.
The first "Place order" is refused (409 total_changed): the page says so and shows the new totals,
no order is placed and the page is not sent again as a form; the next press, after reviewing, places it."""

from __future__ import annotations

import pytest

from apps.catalog import services as catalog
from apps.orders.models import Order
from tests.browser.test_checkout import ORCHARD_ROAD, _checkout_filled_in, _shop_selling

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_price_changed_after_the_page_loaded_is_shown_before_the_order_is_placed(
    chromium, live_server, use_region, settings, artifacts_dir, make_user, payment_settings
):
    use_region("ap-southeast")
    (scarf,) = _shop_selling(make_user, "SG", ("songket-scarf", 6000, {"en": "Songket scarf"}), units=5)

    page = chromium.new_page(locale="en-SG", viewport={"width": 1280, "height": 900})
    try:
        _checkout_filled_in(
            page,
            live_server.url,
            scarf.product_id,
            payment="[data-testid=pay-test]",
            email="tan@example.test",
            name="Tan Wei",
            **ORCHARD_ROAD,
        )
        assert page.inner_text("[data-testid=total]") == "$60.00"  # free standard shipping from SGD 60.00
        checkout_url = page.url
        page.evaluate("window.sameCheckoutPage = true")  # gone if the form were sent and the page loaded again

        catalog.variant_price_set(variant=scarf, price_minor=6450)  # the merchant, meanwhile

        with page.expect_response("**/api/v1/checkout") as answered:
            page.click("[data-testid=place-order]")
        assert answered.value.status == 409
        notice = page.locator("[data-testid=checkout-notice]")
        notice.wait_for(state="visible")
        assert notice.inner_text() == "The total has changed; please review your order."
        page.wait_for_function("document.querySelector('[data-testid=total]').textContent === '$64.50'")
        assert page.input_value("[name=expected_total_minor]") == "6450"
        assert page.evaluate("window.sameCheckoutPage") is True and page.url == checkout_url
        assert Order.objects.count() == 0
        page.screenshot(path=str(artifacts_dir / "checkout-total-changed-sg.png"), full_page=True)

        page.click("[data-testid=place-order]")
        page.wait_for_selector("[data-testid=confirmation]")
        order = Order.objects.get()
        assert order.total_minor == 6450 and order.status == Order.Status.PAID
    finally:
        page.close()
