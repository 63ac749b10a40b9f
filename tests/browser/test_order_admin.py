"""An operator takes a cash-on-delivery order in Dubai from confirmed to delivered in the admin."""

from __future__ import annotations

import pytest

from apps.accounts import services as accounts
from apps.accounts.models import User
from apps.catalog import services as catalog
from apps.orders import services as orders
from apps.orders.models import Order
from apps.payments.models import Payment
from tests.catalog.factories import make_product
from tests.orders.conftest import cart_with, checkout

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-test-password"


def test_operator_delivers_a_cash_on_delivery_order(chromium, live_server, use_region, artifacts_dir, make_user):
    use_region("me-south")
    merchant = accounts.merchant_create(name="Dubai Shop", country="AE", owner=make_user(email="owner@dubai.test"))
    warehouse = catalog.warehouse_create(merchant=merchant, code="dxb", name="Jebel Ali", country="AE")
    product = make_product(
        merchant, "brass-lantern", price_minor=18500, names={"en": "Brass lantern", "ar": "فانوس نحاسي"}
    )
    catalog.stock_set(variant=product.variants.get(), warehouse=warehouse, quantity=4)
    order = checkout(
        cart_with(product.variants.get(), country="AE"),
        country="AE",
        payment_provider="cash_on_delivery",
        payment_method="cash_on_delivery",
    )
    orders.order_pay(order=order)
    User.objects.create_superuser(email="operator@livemall.test", password=PASSWORD)

    page = chromium.new_page(locale="en-US", viewport={"width": 1280, "height": 1000})
    try:
        page.goto(live_server.url + "/admin/login/")
        page.fill("#id_username", "operator@livemall.test")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(live_server.url + "/admin/")

        page.goto(live_server.url + f"/admin/orders/order/{order.pk}/change/")
        assert page.locator("[data-testid=step-refund]").count() == 0  # no money yet
        page.click("[data-testid=step-fulfil]")
        page.wait_for_selector("[data-testid=tracking-1]")
        page.fill("[data-testid=tracking-1]", "ARAMEX-55501")
        page.click("[data-testid=step-ship]")
        page.wait_for_selector("[data-testid=step-deliver]")
        page.screenshot(path=str(artifacts_dir / "admin-order-shipped.png"), full_page=True)
        page.click("[data-testid=step-deliver]")
        page.wait_for_selector(".messagelist .success")
        assert "delivered" in page.inner_text(".messagelist")
        assert page.locator("[data-testid=step-refund]").count() == 1  # the courier's cash can be refunded

        order.refresh_from_db()
        assert order.status == Order.Status.DELIVERED and order.paid_at is not None
        assert order.shipments.get().tracking_number == "ARAMEX-55501"
        assert Payment.objects.get().captured_minor == order.total_minor
    finally:
        page.close()
