"""Checkout's "try another method": after paying failed, the next submit is a new checkout attempt.

One Idempotency-Key is one attempt. When paying fails the order is cancelled and the cart
opened again, so the page must offer a new key; a submit with the old key places nothing
and says the attempt has ended. While the attempt's order is alive, its key still answers
with that order.
"""

from __future__ import annotations

import re

import pytest

from apps.orders.models import Order
from apps.orders.selectors import available_units
from tests.orders import test_api
from tests.orders.conftest import API_CHECKOUT
from tests.payments.fakes import closed_port_url

pytestmark = pytest.mark.django_db

ADDRESS = {"name": "Ann", "line1": "1 Main St", "city": "Albany", "state": "NY", "postal_code": "12207"}


@pytest.fixture(params=["anonymous", "signed in"])
def shopper_client(request, client, make_user):
    """Both ways the old key used to get stuck: a session's order (409 idempotency_key_reused) and
    a user's order (the cancelled order back, then 409 not_payable)."""
    if request.param == "signed in":
        client.force_login(make_user(email="ann@example.test"))
    return client


def _hidden(page, name: str) -> str:
    """A hidden field's value as the browser gets it (the rendered HTML, not the view's context)."""
    found = re.search(rf'name="{name}" value="([^"]*)"', page.content.decode())
    assert found, f"no {name} field on the page"
    return found.group(1)


def _form(page, payment: str = "stripe/card") -> dict[str, str]:
    return {
        **ADDRESS,
        "email": "ann@example.test",
        "shipping_option": "standard",
        "payment": payment,
        "idempotency_key": _hidden(page, "idempotency_key"),
        "expected_total_minor": _hidden(page, "expected_total_minor"),
    }


def _checkout_page(client, variant):
    client.post("/cart/add", {"variant": variant.pk, "quantity": 1})
    # With the state chosen, as the page re-quotes while it is typed: the total includes NY's tax.
    page = client.get("/checkout/", {"state": "NY"})
    assert page.status_code == 200
    return page


def _stripe_down(settings) -> None:
    settings.STRIPE_API_BASE = closed_port_url()


def test_after_stripe_was_down_the_re_rendered_form_places_a_new_order_that_is_paid(
    shopper_client, stocked, on_commit, stripe_fake, settings
):
    client = shopper_client
    variant = stocked("retry-mug", 5, price_minor=2500)
    page = _checkout_page(client, variant)
    first_key = _hidden(page, "idempotency_key")
    _stripe_down(settings)

    failed = on_commit(client.post, "/checkout/", _form(page))

    assert failed.status_code == 400
    assert [str(m) for m in failed.context["messages"]] == [
        "This payment method is not answering right now; please try another method."
    ]
    first = Order.objects.get()
    assert first.status == Order.Status.CANCELLED and first.idempotency_key == first_key
    assert available_units([variant.pk])[variant.pk] == 5
    new_key = _hidden(failed, "idempotency_key")
    assert new_key and new_key != first_key

    settings.STRIPE_API_BASE = stripe_fake.url  # Stripe is back
    placed = on_commit(client.post, "/checkout/", _form(failed))

    assert placed.status_code == 302, placed.context["message"] if placed.context else placed.content[:300]
    second = Order.objects.exclude(pk=first.pk).get()
    assert placed["Location"] == f"/orders/{second.reference}/pay"
    assert second.idempotency_key == new_key and second.status == Order.Status.CREATED
    intent = next(iter(stripe_fake.intents.values()))
    stripe_fake.succeed(intent["id"])  # the shopper confirmed in the Payment Element
    on_commit(client.get, f"/orders/{second.reference}/?payment_intent={intent['id']}&redirect_status=succeeded")
    second.refresh_from_db()
    first.refresh_from_db()
    assert second.status == Order.Status.PAID and first.status == Order.Status.CANCELLED
    assert available_units([variant.pk])[variant.pk] == 4


def test_the_old_form_of_an_ended_attempt_places_nothing_and_offers_a_new_key(
    shopper_client, stocked, on_commit, settings
):
    """The form from before the failure (the back button, another tab) says so instead of sticking."""
    client = shopper_client
    settings.STRIPE_SECRET_KEY = "sk_test_livemall"
    _stripe_down(settings)
    variant = stocked("retry-cup", 5)
    page = _checkout_page(client, variant)
    old_form = _form(page)
    on_commit(client.post, "/checkout/", old_form)
    assert Order.objects.get().status == Order.Status.CANCELLED

    again = on_commit(client.post, "/checkout/", old_form)

    assert again.status_code == 409
    assert [str(m) for m in again.context["messages"]] == [
        "This checkout attempt has ended. Please check your details and place the order again."
    ]
    assert Order.objects.count() == 1
    assert _hidden(again, "idempotency_key") not in ("", old_form["idempotency_key"])
    assert client.get("/cart/").context["review"].lines, "the cart is still open for the next attempt"


def test_a_submit_refused_before_anything_was_placed_keeps_its_key(client, stocked, on_commit, stripe_fake):
    """A field to correct or a total to confirm ends nothing: the same attempt goes on with its key."""
    variant = stocked("retry-bowl", 5)
    client.post("/cart/add", {"variant": variant.pk, "quantity": 1})
    page = client.get("/checkout/")  # no state yet: the total shown has no NY tax
    form = _form(page)

    review = on_commit(client.post, "/checkout/", form)

    assert review.status_code == 409 and Order.objects.count() == 0
    assert _hidden(review, "idempotency_key") == form["idempotency_key"]
    placed = on_commit(client.post, "/checkout/", _form(review))
    order = Order.objects.get()
    assert placed.status_code == 302 and placed["Location"] == f"/orders/{order.reference}/pay"
    assert order.idempotency_key == form["idempotency_key"] and order.status == Order.Status.CREATED


# --- the API, as static/js/checkout.js uses it -------------------------------------------------

CHECKOUT = {**API_CHECKOUT, "payment_provider": "stripe", "payment_method": "card"}
post = test_api.post


def test_api_an_ended_attempts_key_is_refused_and_a_new_key_places_a_new_order(
    shopper_client, stocked, on_commit, stripe_fake, settings
):
    client = shopper_client
    variant = stocked("retry-api", 5)
    post(client, "/api/v1/cart/lines", {"variant": variant.pk, "quantity": 1})
    _stripe_down(settings)
    placed = post(client, "/api/v1/checkout", CHECKOUT, **{"Idempotency-Key": "retry-api-0001"})
    assert placed.status_code == 201, placed.json()
    first = placed.json()["reference"]
    paid = on_commit(post, client, f"/api/v1/orders/{first}/pay", {})
    assert paid.status_code == 503 and paid.json()["error"]["code"] == "provider_unavailable"

    again = post(client, "/api/v1/checkout", CHECKOUT, **{"Idempotency-Key": "retry-api-0001"})

    assert again.status_code == 409, again.json()
    assert again.json()["error"] == {
        "code": "checkout_attempt_ended",
        "message": "This checkout attempt has ended. Please check your details and place the order again.",
        "fields": {},
    }
    assert Order.objects.count() == 1 and Order.objects.get().status == Order.Status.CANCELLED

    settings.STRIPE_API_BASE = stripe_fake.url  # Stripe is back
    fresh = post(client, "/api/v1/checkout", CHECKOUT, **{"Idempotency-Key": "retry-api-0002"})
    assert fresh.status_code == 201, fresh.json()
    second = fresh.json()["reference"]
    assert second != first and fresh.json()["status"] == "created"
    # The new attempt's key, retried while its order is alive, is still that order.
    retried = post(client, "/api/v1/checkout", CHECKOUT, **{"Idempotency-Key": "retry-api-0002"})
    assert retried.status_code == 200 and retried.json()["reference"] == second
    paid = on_commit(post, client, f"/api/v1/orders/{second}/pay", {})
    assert paid.status_code == 200, paid.json()
    assert paid.json()["client_secret"] and paid.json()["order_status"] == "created"
    assert Order.objects.count() == 2


def test_the_form_sent_twice_shows_the_order_the_first_press_placed(shopper_client, stocked, on_commit, stripe_fake):
    """A double click without JavaScript: the second press finds the cart ordered and empty; it is
    shown the order, not sent to an empty cart."""
    client = shopper_client
    variant = stocked("twice-mug", 5, price_minor=2500)
    page = _checkout_page(client, variant)
    form = _form(page)

    first = on_commit(client.post, "/checkout/", form)
    order = Order.objects.get()
    assert first.status_code == 302 and order.reference in first["Location"]

    second = client.post("/checkout/", form)
    assert second.status_code == 302 and second["Location"] == f"/orders/{order.reference}/"
    assert Order.objects.count() == 1
    # Someone else's key, or none, still goes to the (empty) cart.
    assert client.post("/checkout/", {**form, "idempotency_key": "not-this-shoppers-key"})["Location"] == "/cart/"
