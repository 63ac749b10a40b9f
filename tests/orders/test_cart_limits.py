"""The per-order unit limit in the cart: a cart merged at sign-in past it says which lines to
lower (page and API) and checkout refuses it as before; the header's cart count."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.compliance.models import ProductAttribute as A
from apps.compliance.models import ProductRule
from apps.orders import services
from apps.orders.models import Cart, CartLine
from apps.orders.selectors import cart_review
from tests.orders.conftest import API_CHECKOUT, checkout, shopper_for

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password"
PAGE_ADDRESS = {"name": "Ann", "line1": "1 Main St", "city": "Albany", "state": "NY", "postal_code": "12207"}


@pytest.fixture
def limits(settings):
    settings.ORDERS_MAX_QUANTITY_PER_LINE = 10
    settings.ORDERS_MAX_UNITS_PER_ORDER = 12
    return settings


def _add(client: Client, variant, quantity: int) -> None:
    response = client.post(
        "/api/v1/cart/lines", {"variant": variant.pk, "quantity": quantity}, content_type="application/json"
    )
    assert response.status_code == 201, response.content


def _signed_in_with_saved(make_user, email: str, *lines: tuple[object, int]):
    """A user whose saved cart (filled earlier, on another visit) holds ``lines``."""
    user = make_user(email=email, password=PASSWORD)
    saved = services.cart_for(user=user)
    for variant, quantity in lines:
        services.cart_line_add(cart=saved, variant_id=variant.pk, quantity=quantity, country="US")
    return user


def _api_lines(client: Client) -> dict[int, dict]:
    return {line["variant_id"]: line for line in client.get("/api/v1/cart").json()["lines"]}


def test_a_merge_past_the_limit_keeps_every_line_and_the_cart_says_which_to_lower(
    client, stocked, make_user, limits, on_commit
):
    saved_mug, fresh_tee = stocked("saved-mug", 20), stocked("fresh-tee", 20)
    user = _signed_in_with_saved(make_user, "ann@example.test", (saved_mug, 8))
    _add(client, fresh_tee, 6)  # anonymous, just now

    assert client.login(email="ann@example.test", password=PASSWORD)

    cart = Cart.objects.get(user=user, status=Cart.Status.OPEN)
    # Nothing the shopper chose is dropped.
    assert dict(cart.lines.values_list("variant_id", "quantity")) == {saved_mug.pk: 8, fresh_tee.pk: 6}
    # The API: the latest choice fits, the older line is told how far to lower it.
    lines = _api_lines(client)
    assert lines[fresh_tee.pk]["available"] is True and lines[fresh_tee.pk]["reason"] == ""
    assert lines[saved_mug.pk]["available"] is False
    assert lines[saved_mug.pk]["reason"] == "One order holds at most 12 items: lower this to 6."
    # The cart page shows the same reason on that line.
    page = client.get("/cart/").content.decode()
    assert re.findall(r'data-testid="line-reason">([^<]*)<', page) == [
        "One order holds at most 12 items: lower this to 6."
    ]

    # Checkout (API and page) refuses it with today's code and message.
    refusal = services.order_limit_error(14)
    response = client.post(
        "/api/v1/checkout", API_CHECKOUT, content_type="application/json", headers={"Idempotency-Key": "limit-key-0001"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "order_limit"
    assert response.json()["error"]["message"] == refusal.message
    form = {**PAGE_ADDRESS, "email": "ann@example.test", "shipping_option": "standard", "payment": "test/test"}
    # The total the page showed, as its form posts it.
    shown = client.get("/checkout/").context["quote"].total_minor
    page = client.post("/checkout/", {**form, "idempotency_key": "limit-page-0001", "expected_total_minor": shown})
    assert page.context["message"] == refusal.message

    # Doing what the line says makes a cart that checks out.
    assert (
        client.put(f"/api/v1/cart/lines/{saved_mug.pk}", {"quantity": 6}, content_type="application/json").status_code
        == 200
    )
    assert all(line["available"] and not line["reason"] for line in _api_lines(client).values())
    response = on_commit(
        client.post,
        "/api/v1/checkout",
        API_CHECKOUT,
        content_type="application/json",
        headers={"Idempotency-Key": "limit-key-0002"},
    )
    assert response.status_code == 201, response.content


def test_the_same_variant_in_both_carts_is_one_line_added_up_and_capped_per_line(client, stocked, make_user, limits):
    mug, tee, cap = stocked("dup-mug", 20), stocked("dup-tee", 20), stocked("dup-cap", 20)
    user = _signed_in_with_saved(make_user, "bo@example.test", (mug, 4), (cap, 3))
    _add(client, mug, 5)
    _add(client, tee, 2)
    _add(client, mug, 3)  # 8 of the mug now in the anonymous cart

    assert client.login(email="bo@example.test", password=PASSWORD)

    cart = Cart.objects.get(user=user, status=Cart.Status.OPEN)
    assert dict(cart.lines.values_list("variant_id", "quantity")) == {cap.pk: 3, mug.pk: 10, tee.pk: 2}
    assert CartLine.objects.filter(cart=cart, variant=mug).count() == 1
    # 15 units: the tee (added last) and the mug (chosen again just now) are kept; the cap,
    # the oldest choice, has no room left.
    review = cart_review(cart=cart, shopper=shopper_for())
    reasons = {line.variant_id: (line.available, line.reason) for line in review.lines}
    assert reasons == {
        tee.pk: (True, ""),
        mug.pk: (True, ""),
        cap.pk: (False, "One order holds at most 12 items: remove this or lower other items."),
    }
    assert review.subtotal_minor == 12 * 1000


def test_a_line_hidden_in_the_country_comes_along_with_its_reason_and_leaves_the_room_to_the_others(
    client, stocked, make_user, limits
):
    mug, whisky = stocked("saved-mug", 20), stocked("saved-whisky", 20, attributes=(A.CONTAINS_ALCOHOL,))
    tee = stocked("fresh-tee", 20)
    limits.ORDERS_MAX_UNITS_PER_ORDER = 50  # saved when the limit was higher
    user = _signed_in_with_saved(make_user, "cy@example.test", (mug, 10), (whisky, 5))
    limits.ORDERS_MAX_UNITS_PER_ORDER = 12
    _add(client, tee, 4)
    ProductRule.objects.create(
        name="No alcohol in US (test)", country="US", kind="hide", attribute=A.CONTAINS_ALCOHOL, message_en="No."
    )

    assert client.login(email="cy@example.test", password=PASSWORD)

    cart = Cart.objects.get(user=user, status=Cart.Status.OPEN)
    assert dict(cart.lines.values_list("variant_id", "quantity")) == {mug.pk: 10, whisky.pk: 5, tee.pk: 4}
    lines = _api_lines(client)
    assert lines[whisky.pk]["available"] is False
    assert lines[whisky.pk]["reason"] == "This product cannot be sold to shoppers in United States. No."
    # The whisky cannot be bought anyway (the shopper removes it before checkout): the room
    # goes to what can be, the tee first (the latest choice), then the mug.
    assert lines[tee.pk]["available"] is True and lines[tee.pk]["reason"] == ""
    assert lines[mug.pk]["available"] is False
    assert lines[mug.pk]["reason"] == "One order holds at most 12 items: lower this to 8."


def test_a_lowered_limit_marks_the_cart_and_nothing_when_it_fits(stocked, settings):
    settings.ORDERS_MAX_QUANTITY_PER_LINE = 10
    settings.ORDERS_MAX_UNITS_PER_ORDER = 20
    first, second, third = stocked("low-1", 20), stocked("low-2", 20), stocked("low-3", 20)
    cart = services.cart_for()
    for variant, quantity in ((first, 4), (second, 7), (third, 9)):
        services.cart_line_add(cart=cart, variant_id=variant.pk, quantity=quantity, country="US")
    assert all(line.available for line in cart_review(cart=cart, shopper=shopper_for()).lines)

    settings.ORDERS_MAX_UNITS_PER_ORDER = 10

    review = cart_review(cart=cart, shopper=shopper_for())
    assert [(line.variant_id, line.available, line.reason) for line in review.lines] == [
        (first.pk, False, "One order holds at most 10 items: remove this or lower other items."),
        (second.pk, False, "One order holds at most 10 items: lower this to 1."),
        (third.pk, True, ""),
    ]
    assert review.subtotal_minor == 9 * 1000


# --- the header's cart count --------------------------------------------------------------


def _count_label(html: str) -> str | None:
    found = re.search(r'data-testid="cart-link">(.*?)</a>', html, re.S)
    assert found, "no cart link in the header"
    label = re.search(r'class="visually-hidden">([^<]*)<', found.group(1))
    return label.group(1) if label else None


def _cart_queries(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if "orders_cart" in q["sql"]]


def test_the_header_counts_units_for_each_shopper_without_making_carts(client, stocked, make_user):
    mug, tee = stocked("count-mug", 20), stocked("count-tee", 20)
    assert _count_label(Client().get("/cart/").content.decode()) is None  # an empty cart: just "Cart"
    # Looking at the cart makes no cart; a page elsewhere does not either, and does not look.
    visitor = Client()
    with CaptureQueriesContext(connection) as captured:
        html = visitor.get("/").content.decode()
    assert _count_label(html) is None and not _cart_queries(captured)
    assert Cart.objects.count() == 0

    _add(client, mug, 1)
    with CaptureQueriesContext(connection) as captured:
        html = client.get("/").content.decode()
    assert _count_label(html) == "Cart, 1 item"
    assert len(_cart_queries(captured)) == 1
    with CaptureQueriesContext(connection) as captured:
        html = client.get("/products/").content.decode()
    assert _count_label(html) == "Cart, 1 item" and not _cart_queries(captured)  # kept in the cache
    _add(client, tee, 2)
    html = client.get("/cart/").content.decode()
    assert _count_label(html) == "Cart, 3 items"
    assert 'data-testid="cart-count">3<' in html

    user = make_user(email="dee@example.test", password=PASSWORD)
    services.cart_line_add(cart=services.cart_for(user=user), variant_id=tee.pk, quantity=4, country="US")
    signed_in = Client()
    signed_in.force_login(user)
    assert _count_label(signed_in.get("/").content.decode()) == "Cart, 4 items"
    # Signing in brings the anonymous cart along, and the count with it.
    assert client.login(email="dee@example.test", password=PASSWORD)
    assert _count_label(client.get("/").content.decode()) == "Cart, 7 items"


def test_a_listing_shared_through_the_cache_shows_each_visitor_their_own_count(client, stocked):
    mug = stocked("shared-mug", 20)
    _add(client, mug, 3)
    edge = {"CF-IPCountry": "US", "Accept-Language": "en"}
    # This shopper renders the page the cache keeps; a stranger is served the same page,
    # and then another shopper with a cart of their own.
    first = client.get("/products/", headers=edge).content.decode()
    stranger = Client().get("/products/", headers=edge).content.decode()
    other = Client()
    _add(other, mug, 1)
    second = other.get("/products/", headers=edge).content.decode()
    assert _count_label(first) == "Cart, 3 items"
    assert _count_label(stranger) is None and 'data-testid="cart-count"' not in stranger
    assert _count_label(second) == "Cart, 1 item"
    assert _count_label(client.get("/products/", headers=edge).content.decode()) == "Cart, 3 items"


def test_the_count_follows_every_change_to_the_cart_though_it_is_cached(client, stocked):
    mug = stocked("cached-count-mug", 20)
    _add(client, mug, 2)
    assert _count_label(client.get("/products/").content.decode()) == "Cart, 2 items"
    cart = Cart.objects.get(lines__variant=mug)
    services.cart_line_set(cart=cart, variant_id=mug.pk, quantity=5, country="US")
    assert _count_label(client.get("/products/").content.decode()) == "Cart, 5 items"
    order = checkout(cart)
    assert _count_label(client.get("/products/").content.decode()) is None  # ordered: the cart is gone
    # Paying failed and the order was cancelled: the cart is open again, with its units.
    services.order_cancel(order=order, reopen_cart=True)
    assert _count_label(client.get("/products/").content.decode()) == "Cart, 5 items"
    services.cart_line_set(cart=cart, variant_id=mug.pk, quantity=0, country="US")
    assert _count_label(client.get("/products/").content.decode()) is None
