"""A partial refund as the shopper sees it in the browser: on the order page and in "My orders",
in Arabic, right to left (me-south), as the checkout browser tests see the order pages."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.utils import translation
from django.utils.text import capfirst
from django.utils.translation import pgettext

from apps.accounts import services as accounts
from apps.catalog import services as catalog
from apps.money.formatting import format_money
from apps.orders import services
from apps.orders.models import Order
from apps.orders.selectors import Shopper
from tests.catalog.factories import make_product
from tests.live.conftest import session_key_for
from tests.orders.conftest import ADDRESSES

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _paid_order(shopper) -> Order:
    """One 40.00 AED lamp, bought by ``shopper`` in the UAE and paid with the test provider."""
    region = django_settings.REGION
    owner = accounts.user_create(region=region, email="owner@ae-shop.test", password=None)
    merchant = accounts.merchant_create(name="AE Shop", country="AE", owner=owner)
    warehouse = catalog.warehouse_create(merchant=merchant, code="ae", name="Main", country="AE")
    variant = make_product(merchant, "refund-lamp", price_minor=4000).variants.get()
    catalog.stock_set(variant=variant, warehouse=warehouse, quantity=3)
    cart = services.cart_for(user=shopper)
    services.cart_line_add(cart=cart, variant_id=variant.pk, quantity=1, country="AE")
    shopper_context = Shopper(country="AE", currency="AED", language="ar", time_zone=region.time_zone)
    order = services.checkout_place(
        cart=cart,
        idempotency_key="browser-refund-000001",
        shopper=shopper_context,
        email=shopper.email,
        address=ADDRESSES["AE"],
        shipping_option="standard",
        payment_provider="test",
        payment_method="test",
        user=shopper,
    )
    services.order_pay(order=order)
    return Order.objects.get(pk=order.pk)


def test_an_arabic_shopper_sees_the_partial_refund_right_to_left(
    chromium, live_server, use_region, settings, artifacts_dir, payment_settings
):
    region = use_region("me-south")
    shopper = accounts.user_create(
        region=region, email="huda@example.test", password=None, country="AE", language="ar", currency="AED"
    )
    operator = accounts.user_create(region=region, email="operator@example.test", password=None)
    order = _paid_order(shopper)
    assert order.status == Order.Status.PAID
    services.order_refund(order=order, amount_minor=1000, actor=operator)
    order.refresh_from_db()
    assert order.refunded_minor == 1000

    page = chromium.new_page(locale="ar-AE", viewport={"width": 1280, "height": 900})
    page.context.add_cookies([{"name": "sessionid", "value": session_key_for(shopper), "url": live_server.url}])
    page.goto(live_server.url + f"/orders/{order.reference}/")
    assert page.get_attribute("html", "dir") == "rtl"
    row = page.locator("[data-testid=refunded]")
    assert row.count() == 1
    label, amount = row.locator("td").nth(0), row.locator("td").nth(1)
    assert " ".join(amount.inner_text().split()) == " ".join(format_money(1000, "AED", "ar_AE").split())
    # Right to left, the label comes first from the right, as in every other row of the totals.
    assert label.bounding_box()["x"] > amount.bounding_box()["x"]
    page.screenshot(path=str(artifacts_dir / "order-partly-refunded-ar.png"), full_page=True)

    page.goto(live_server.url + "/orders/")
    status = page.locator("[data-testid=order-row] [data-testid=status]")
    with translation.override("ar"):
        words = pgettext("order status", "%(status)s · partially refunded") % {"status": Order.Status.PAID.label}
    assert status.is_visible() and " ".join(status.inner_text().split()) == capfirst(words)
    page.screenshot(path=str(artifacts_dir / "my-orders-partly-refunded-ar.png"), full_page=True)
    page.close()
