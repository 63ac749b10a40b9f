"""Looking at the cart opens no cart; only a write (a line added) does.

A read that opened a new empty cart for a shopper whose cart was checked out pointed their
session at it: when the unpaid order then expired and its cart opened again with its lines,
the shopper never saw them. A read with no open cart answers as an empty cart does and leaves
the session's cart id as it is, so the cart that opens again is the one the session finds.

Real PostgreSQL and Redis; the order expires through the sweep.
"""

from __future__ import annotations

import pytest
from django.test import Client

from apps.orders import services
from apps.orders.models import Cart, Order
from apps.orders.receivers import SESSION_CART_KEY
from tests.orders.conftest import ADDRESSES, api_checkout, api_place, expired, reservation_ran_out

pytestmark = pytest.mark.django_db

CHECKOUT_FORM = {
    **ADDRESSES["US"],
    "email": "buyer@example.test",
    "shipping_option": "standard",
    "payment": "test/test",
    "idempotency_key": "no-cart-form-0001",
    "expected_total_minor": 2500,
}


def _with_an_empty_cart() -> Client:
    """A new anonymous session whose cart is open and holds nothing: what every read is compared with."""
    client = Client()
    session = client.session
    session[SESSION_CART_KEY] = services.cart_for().pk
    session.save()
    return client


def _answer(response) -> tuple[int, str, object]:
    """What a read of the cart answers: status, where it sends the shopper, and the cart shown."""
    if response.status_code == 302:
        return 302, response["Location"], None
    if response["Content-Type"].startswith("application/json"):
        return response.status_code, "", response.json()
    review = response.context["review"]
    return response.status_code, "", (review.currency, review.lines, review.subtotal_minor)


def _cart_lines_shown(client: Client) -> list[tuple[int, int]]:
    page = client.get("/cart/")
    assert page.status_code == 200
    return [(line.variant_id, line.quantity) for line in page.context["review"].lines]


def _placed_unpaid(client: Client, stocked, slug: str) -> tuple[Order, int]:
    """Through the API: one unit of a new product ``slug`` ordered, not paid; the order and its variant."""
    placed = api_checkout(client, stocked, slug, ADDRESSES["US"], key=f"reads-{slug}")
    assert placed.status_code == 201, placed.json()
    order = Order.objects.get(reference=placed.json()["reference"])
    assert order.status == Order.Status.CREATED
    return order, order.lines.get().variant_id


@pytest.mark.parametrize("url", ["/cart/", "/checkout/", "/api/v1/cart"])
@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
def test_a_look_at_the_cart_opens_none_and_answers_as_an_empty_cart(client, make_user, url, signed_in):
    empty = _answer(_with_an_empty_cart().get(url))
    assert Cart.objects.count() == 1
    if signed_in:
        client.force_login(make_user())

    answer = _answer(client.get(url))

    assert answer == empty
    assert Cart.objects.count() == 1  # only the one made for the comparison
    assert SESSION_CART_KEY not in client.session
    if url == "/cart/":
        assert "Your cart is empty." in client.get(url).content.decode()


def test_the_cart_looked_at_after_checkout_comes_back_when_the_order_expires(client, stocked, on_commit):
    order, variant_id = _placed_unpaid(client, stocked, "reads-expiry")
    ordered_cart = Cart.objects.get(order=order)
    assert client.session[SESSION_CART_KEY] == ordered_cart.pk

    # Ordered: every look shows an empty cart, and none opens one.
    assert _cart_lines_shown(client) == []
    assert client.get("/checkout/")["Location"] == "/cart/"
    assert client.get("/api/v1/cart").json()["lines"] == []
    assert list(Cart.objects.values_list("pk", flat=True)) == [ordered_cart.pk]
    assert client.session[SESSION_CART_KEY] == ordered_cart.pk

    reservation_ran_out(order)
    assert on_commit(services.reservations_expire) == 1
    expired(order)

    assert _cart_lines_shown(client) == [(variant_id, 1)]
    assert client.get("/api/v1/cart").json()["lines"][0]["variant_id"] == variant_id
    assert client.session[SESSION_CART_KEY] == ordered_cart.pk


def test_adding_a_line_after_checkout_opens_a_new_cart(client, stocked):
    order, _variant_id = _placed_unpaid(client, stocked, "reads-add-first")
    ordered_cart = Cart.objects.get(order=order)
    assert _cart_lines_shown(client) == []
    assert Cart.objects.count() == 1
    newer = stocked("reads-add-newer", 5)

    added = client.post("/cart/add", {"variant": newer.pk, "quantity": 2})

    assert added.status_code == 302 and added["Location"] == "/cart/"
    new_cart = Cart.objects.exclude(pk=ordered_cart.pk).get()
    assert new_cart.status == Cart.Status.OPEN
    assert client.session[SESSION_CART_KEY] == new_cart.pk
    assert _cart_lines_shown(client) == [(newer.pk, 2)]


def test_checking_out_without_a_cart_is_told_the_cart_is_empty(client):
    empty = _with_an_empty_cart()
    page_of_empty = empty.post("/checkout/", CHECKOUT_FORM)
    api_of_empty = api_place(empty, key="no-cart-api-0001")
    assert Cart.objects.count() == 1

    page = client.post("/checkout/", CHECKOUT_FORM)
    answered = api_place(client, key="no-cart-api-0002")

    assert (page_of_empty.status_code, page_of_empty["Location"]) == (302, "/cart/")
    assert (page.status_code, page["Location"]) == (302, "/cart/")
    assert (answered.status_code, answered.json()) == (api_of_empty.status_code, api_of_empty.json())
    assert answered.status_code == 400
    assert answered.json() == {"error": {"code": "cart_empty", "message": "Your cart is empty.", "fields": {}}}
    assert Cart.objects.count() == 1 and not Order.objects.exists()
    assert SESSION_CART_KEY not in client.session


def test_checking_out_again_after_an_order_opens_no_cart(client, stocked):
    order, _variant_id = _placed_unpaid(client, stocked, "reads-again")
    ordered_cart = Cart.objects.get(order=order)

    again = api_place(client, key="reads-again-second")

    assert again.status_code == 400 and again.json()["error"]["code"] == "cart_empty"
    assert list(Cart.objects.values_list("pk", flat=True)) == [ordered_cart.pk]
    assert client.session[SESSION_CART_KEY] == ordered_cart.pk


# --- removing from no cart ------------------------------------------------------------------


def test_removing_a_line_with_no_open_cart_makes_no_cart(client):
    """A tab left open since the checkout removes a line: nothing to remove, and no empty cart made
    that would hide the order's own cart should its payment fail (the session keeps pointing at it)."""
    assert client.delete("/api/v1/cart/lines/12345").status_code == 200
    assert client.put("/api/v1/cart/lines/12345", {"quantity": 0}, content_type="application/json").status_code == 200
    assert client.post("/cart/update", {"variant": "12345", "quantity": "0"}).status_code == 302
    assert Cart.objects.count() == 0


def test_a_negative_quantity_with_no_open_cart_is_still_refused(client):
    response = client.put("/api/v1/cart/lines/12345", {"quantity": -1}, content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"]
