"""A shopper in Singapore adds two products, checks out with the test provider and sees the order."""

from __future__ import annotations

import pytest

from apps.accounts import services as accounts
from apps.catalog import services as catalog
from apps.money.formatting import format_day
from apps.orders.models import Order
from tests.catalog.factories import make_product

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sg_shopper_checks_out_with_the_test_provider(
    chromium, live_server, use_region, settings, artifacts_dir, make_user
):
    use_region("ap-southeast")
    settings.STRIPE_SECRET_KEY = None
    settings.PAYPAL_CLIENT_ID = None
    settings.PAYMENT_TEST_PROVIDER = True
    owner = make_user(email="owner@sg-shop.test")
    merchant = accounts.merchant_create(name="SG Shop", country="SG", owner=owner)
    warehouse = catalog.warehouse_create(merchant=merchant, code="sg", name="Jurong", country="SG")
    variants = []
    for slug, price in (("kaya-jar", 1290), ("batik-scarf", 4590)):
        product = make_product(merchant, slug, price_minor=price, names={"en": slug.replace("-", " ").title()})
        variant = product.variants.get()
        catalog.stock_set(variant=variant, warehouse=warehouse, quantity=5)
        variants.append(variant)

    page = chromium.new_page(locale="en-SG", viewport={"width": 1280, "height": 900})
    # The product page's own "add to cart" for the first; the cart API, in the same session, for the second.
    page.goto(live_server.url + f"/products/{variants[0].product_id}/")
    page.fill("[data-testid=add-quantity]", "2")
    page.click("[data-testid=add-to-cart] button")
    page.wait_for_selector("[data-testid=cart]")
    status = page.evaluate(
        """async ([variant, quantity]) => (await fetch('/api/v1/cart/lines', {method: 'POST',
             headers: {'Content-Type': 'application/json', 'X-CSRFToken': document.cookie.match(/csrftoken=([^;]+)/)?.[1] || ''},
             body: JSON.stringify({variant, quantity})})).status""",
        [variants[1].pk, 1],
    )
    assert status == 201

    page.click("[data-testid=cart-link]")
    assert page.locator("[data-testid=cart-line]").count() == 2
    page.click("[data-testid=to-checkout]")
    page.fill("[data-testid=email]", "tan@example.test")
    page.fill("[data-testid=name]", "Tan Wei")
    page.fill("[data-testid=line1]", "1 Orchard Road")
    page.fill("[data-testid=city]", "Singapore")
    page.fill("[data-testid=postal_code]", "238823")
    page.check("[data-testid=pay-test]")
    page.screenshot(path=str(artifacts_dir / "checkout-sg.png"), full_page=True)
    page.click("[data-testid=place-order]")

    page.wait_for_selector("[data-testid=confirmation]")
    order = Order.objects.get()
    assert order.status == Order.Status.PAID
    assert order.total_minor == 2 * 1290 + 4590  # GST included, free standard shipping from 50.00
    eta = format_day(order.eta, "en_SG")
    assert page.inner_text("[data-testid=eta]") == eta
    page.screenshot(path=str(artifacts_dir / "order-confirmation-sg.png"), full_page=True)

    page.goto(live_server.url + "/orders/")
    row = page.locator("[data-testid=order-row]")
    assert row.count() == 1
    assert row.locator("[data-testid=eta]").inner_text() == eta
    assert row.locator("[data-testid=status]").inner_text() == "paid"
    page.close()
