"""The buying pages with Django's test client: cart, checkout (errors shown), confirmation, my orders."""

from __future__ import annotations

import pytest

from apps.orders.models import Order

pytestmark = pytest.mark.django_db

ADDRESS = {"name": "Ann", "line1": "1 Main St", "city": "Albany", "state": "NY", "postal_code": "12207"}


def test_cart_checkout_confirmation_my_orders(client, stocked, on_commit):
    variant = stocked("page-mug", 5, price_minor=2500)
    client.post("/cart/add", {"variant": variant.pk, "quantity": 2})
    page = client.get("/cart/")
    assert page.status_code == 200 and b"cart-line" in page.content
    page = client.get("/checkout/")
    assert page.status_code == 200
    key = page.context["idempotency_key"]
    total = page.context["quote"].total_minor
    form = {**ADDRESS, "email": "ann@example.test", "shipping_option": "standard", "payment": "test/test"}
    form |= {"idempotency_key": key, "expected_total_minor": total}
    # US sales tax depends on the state: the first submit shows the total with it, to confirm.
    review = client.post("/checkout/", form)
    assert review.status_code == 409 and Order.objects.count() == 0
    assert review.context["quote"].tax_minor == 427  # NY 8.53 % of 50.00
    form["expected_total_minor"] = review.context["quote"].total_minor
    response = on_commit(client.post, "/checkout/", form)
    assert response.status_code == 302, response.context["errors"] if response.context else response.content[:300]
    order = Order.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/orders/{order.reference}/"
    order.refresh_from_db()
    assert order.status == "paid"
    page = client.get(response["Location"])
    assert b'data-testid="confirmation"' in page.content
    page = client.get("/orders/")
    assert order.reference.encode() in page.content


def test_checkout_page_shows_errors_and_writes_nothing(client, stocked):
    variant = stocked("page-bad", 5)
    client.post("/cart/add", {"variant": variant.pk, "quantity": 1})
    form = {**ADDRESS, "postal_code": "nope", "email": "ann@example.test", "payment": "test/test"}
    form |= {"idempotency_key": "page-key-000001", "shipping_option": "standard"}
    page = client.post("/checkout/", form)
    assert page.status_code == 400
    assert "postal_code" in page.context["errors"]
    assert Order.objects.count() == 0


@pytest.mark.parametrize("quantity", ["0", "-2", "99", "x"])
def test_cart_add_bad_quantity_shows_a_message(client, stocked, quantity):
    variant = stocked("page-qty", 5)
    response = client.post("/cart/add", {"variant": variant.pk, "quantity": quantity}, follow=True)
    assert response.status_code == 200
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    assert not response.context["review"].lines


def test_someone_elses_order_page_is_404(client, stocked):
    assert client.get("/orders/LM-NOPE/").status_code == 404
