"""The buying pages with Django's test client: cart, checkout (errors shown), confirmation, my orders."""

from __future__ import annotations

import pytest

from apps.orders.models import Order
from tests.payments.fakes import STRIPE_PUBLISHABLE_KEY, closed_port_url

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
    # US sales tax depends on the state: a total shown without it is refused and the page shows
    # the total with it, to confirm (the page re-quotes as the state is typed; see the next test).
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


def test_the_checkout_page_re_quotes_for_the_state_chosen(client, stocked):
    variant = stocked("page-requote", 5, price_minor=2500)
    client.post("/cart/add", {"variant": variant.pk, "quantity": 2})
    assert client.get("/checkout/").context["quote"].tax_minor == 0  # no state yet: no sales tax
    page = client.get("/checkout/", {"state": "ny", "shipping_option": "standard", "idempotency_key": "mine-000001"})
    assert page.status_code == 200 and page.context["quote"].tax_minor == 427  # NY 8.53 % of 50.00
    assert f'name="expected_total_minor" value="{page.context["quote"].total_minor}"' in page.content.decode()
    assert page.context["idempotency_key"] != "mine-000001"  # only the quote's fields come from the query
    page = client.get("/checkout/", {"state": "NY", "coupon": "NO-SUCH-COUPON"})
    assert page.status_code == 200 and page.context["quote"].discount_minor == 0
    assert not list(page.context["messages"])  # the submit shows a coupon error, not a re-quote


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


# --- back from the provider's page --------------------------------------------------------


def _place(client, on_commit, variant, payment: str):
    client.post("/cart/add", {"variant": variant.pk, "quantity": 1})
    page = client.get("/checkout/")
    form = {**ADDRESS, "email": "ann@example.test", "shipping_option": "standard", "payment": payment}
    form |= {"idempotency_key": page.context["idempotency_key"]}
    # The first submit shows the total with New York's sales tax, to confirm.
    review = client.post("/checkout/", {**form, "expected_total_minor": page.context["quote"].total_minor})
    assert review.status_code == 409
    form["expected_total_minor"] = review.context["quote"].total_minor
    response = on_commit(client.post, "/checkout/", form)
    assert response.status_code == 302, response.context["errors"] if response.context else response.content[:300]
    return Order.objects.get(), response


def test_back_from_stripe_the_order_is_paid_at_once(client, stocked, on_commit, stripe_fake):
    order, response = _place(client, on_commit, stocked("stripe-mug", 5), "stripe/card")
    assert response["Location"] == f"/orders/{order.reference}/pay"
    page = client.get(response["Location"])
    intent = next(iter(stripe_fake.intents.values()))
    assert intent["client_secret"].encode() in page.content and STRIPE_PUBLISHABLE_KEY.encode() in page.content
    unpaid = client.get(f"/orders/{order.reference}/")
    assert unpaid.context["pay_url"] == f"/orders/{order.reference}/pay"
    stripe_fake.succeed(intent["id"])  # the shopper confirmed in the Payment Element

    query = f"payment_intent={intent['id']}&payment_intent_client_secret={intent['client_secret']}"
    back = on_commit(client.get, f"/orders/{order.reference}/?{query}&redirect_status=succeeded")

    assert back.status_code == 302 and back["Location"] == f"/orders/{order.reference}/"
    order.refresh_from_db()
    assert order.status == "paid"
    page = client.get(back["Location"])
    assert b'data-testid="confirmation"' in page.content and not page.context["pay_url"]


def test_back_from_stripe_declined_the_order_waits_with_a_pay_link(client, stocked, on_commit, stripe_fake):
    order, _response = _place(client, on_commit, stocked("stripe-cup", 5), "stripe/card")
    intent = next(iter(stripe_fake.intents.values()))

    page = on_commit(
        client.get, f"/orders/{order.reference}/?payment_intent={intent['id']}&redirect_status=failed", follow=True
    )

    order.refresh_from_db()
    assert order.status == "created"
    assert [m.level_tag for m in page.context["messages"]] == ["error"]
    assert page.context["pay_url"] == f"/orders/{order.reference}/pay"


def test_back_with_a_forged_payment_id_changes_nothing(client, stocked, on_commit, stripe_fake):
    order, _response = _place(client, on_commit, stocked("stripe-bowl", 5), "stripe/card")
    stranger = stripe_fake.intents["pi_fake1"]
    stripe_fake.succeed(stranger["id"])
    stripe_fake.intents["pi_other"] = {**stranger, "id": "pi_other"}

    page = on_commit(client.get, f"/orders/{order.reference}/?payment_intent=pi_other", follow=True)

    assert page.status_code == 200
    order.refresh_from_db()
    assert order.status == "created"
    assert stripe_fake.requests_to("/v1/payment_intents/pi_other", method="GET") == []


def test_back_from_paypal_the_approval_is_captured(client, stocked, on_commit, paypal_fake):
    order, response = _place(client, on_commit, stocked("paypal-mug", 5), "paypal/paypal")
    paypal_order = next(iter(paypal_fake.orders))
    assert response["Location"] == f"https://paypal.example/checkoutnow?token={paypal_order}"
    paypal_fake.approve(paypal_order)

    back = on_commit(client.get, f"/orders/{order.reference}/?token={paypal_order}&PayerID=PAYER1")

    assert back.status_code == 302
    order.refresh_from_db()
    assert order.status == "paid"
    assert len(paypal_fake.requests_to(f"/v2/checkout/orders/{paypal_order}/capture")) == 1


def test_back_from_paypal_while_it_is_down_shows_a_message(client, stocked, on_commit, paypal_fake, settings):
    order, _response = _place(client, on_commit, stocked("paypal-cup", 5), "paypal/paypal")
    paypal_order = next(iter(paypal_fake.orders))
    paypal_fake.approve(paypal_order)
    settings.PAYPAL_API_BASE = closed_port_url()

    page = on_commit(client.get, f"/orders/{order.reference}/?token={paypal_order}", follow=True)

    assert page.status_code == 200
    assert [m.level_tag for m in page.context["messages"]] == ["error"]
    order.refresh_from_db()
    assert order.status == "created"
