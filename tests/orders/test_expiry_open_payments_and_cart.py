"""An unpaid order whose reservation runs out calls off its open intent and gives the cart back.

1. A Stripe intent the shopper has not completed (3-D Secure under way: ``requires_action``)
   could still be completed after the order is gone, and charge the shopper for nothing. The
   expiry, and a cancel, cancel it at Stripe as they void an authorization: after the commit,
   with the key ``order:<ref>:void``; a Stripe that is down leaves it to the retry sweep. Money
   that arrives regardless is refunded, as before.
2. The shopper finds their cart again, as when a payment fails; a signed-in shopper who has
   started another cart meanwhile keeps that one.

Real PostgreSQL and Redis; Stripe is the local fake, its webhooks signed and posted to our endpoint.
"""

from __future__ import annotations

import datetime as dt

import pytest
import requests
from django.test import Client

from apps.orders import services
from apps.orders.models import Cart, Order
from apps.orders.selectors import available_units
from apps.payments import breaker
from apps.payments import services as payments
from apps.payments.models import Payment, Refund
from apps.payments.providers.base import PaymentStatus, RefundStatus
from tests.orders.conftest import (
    ADDRESSES,
    api_checkout,
    cart_with,
    checkout,
    expired,
    reservation_ran_out,
    voids_asked,
)
from tests.payments.fakes import (
    STRIPE_PUBLISHABLE_KEY,
    Answer,
    FakeStripe,
    Recorded,
    post_stripe_event,
    stripe_served_by,
)

pytestmark = pytest.mark.django_db


class StripeThatCannotCancel(FakeStripe):
    """The fake Stripe, answering 503 to an intent's cancel while ``cancel_down`` (reads still work);
    as for ``fail_next``, nothing is done and the key's answer is not kept."""

    cancel_down = False

    def handle(self, recorded: Recorded) -> Answer:
        if self.cancel_down and recorded.path.endswith("/cancel"):
            return Answer(503, self.error_body(503))
        return super().handle(recorded)


@pytest.fixture
def stripe_fake(settings):
    yield from stripe_served_by(StripeThatCannotCancel(), settings)


def _in_3d_secure(stocked, stripe_fake, slug: str) -> tuple[Order, Payment]:
    """An order paid by card whose shopper confirmed in the browser and is at their bank's 3-D Secure page."""
    order = checkout(cart_with(stocked(slug, 3, price_minor=4000)), payment_provider="stripe", payment_method="card")
    payment = services.order_pay(order=order)
    answer = _from_browser(stripe_fake, payment, "confirm", payment_method="pm_card_authenticationRequired")
    assert answer.status_code == 200 and answer.json()["status"] == "requires_action"
    return order, payment


def _from_browser(stripe_fake, payment: Payment, action: str, **params: str) -> requests.Response:
    """What Stripe.js sends with the publishable key and the client secret."""
    return requests.post(
        f"{stripe_fake.url}/v1/payment_intents/{payment.provider_payment_id}/{action}",
        data={"key": STRIPE_PUBLISHABLE_KEY, "client_secret": payment.client_secret, **params},
        timeout=5,
    )


def _refunded_in_full(order: Order, payment: Payment) -> None:
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED
    [refund] = Refund.objects.filter(payment=payment)
    assert (refund.status, refund.amount_minor) == (RefundStatus.SUCCEEDED, order.total_minor)
    assert Order.objects.get(pk=order.pk).status == Order.Status.CANCELLED


# --- 1. an intent still open at Stripe ---------------------------------------------------------


def test_an_expired_order_cancels_its_intent_in_3d_secure(stocked, stripe_fake, on_commit):
    order, payment = _in_3d_secure(stocked, stripe_fake, "expiry-3ds")
    reservation_ran_out(order)

    assert on_commit(services.reservations_expire) == 1

    expired(order)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED
    assert stripe_fake.intents[payment.provider_payment_id]["status"] == "canceled"
    assert voids_asked(stripe_fake) == [f"order:{order.reference}:void"]
    # The shopper finishing 3-D Secure now is refused by Stripe: nothing is charged.
    assert _from_browser(stripe_fake, payment, "authenticate", outcome="complete").status_code == 400
    assert not Refund.objects.exists() and stripe_fake.refunds == {}
    # Nothing left for the sweep.
    assert on_commit(payments.refunds_retry_unsettled, older_than=dt.timedelta(0)) == 0
    assert len(voids_asked(stripe_fake)) == 1

    # Stripe had the shopper's 3-D Secure finish before our cancel after all: its "succeeded"
    # arrives late, and the money goes back as any payment of a cancelled order does.
    on_commit(post_stripe_event, "payment_intent.succeeded", stripe_fake.succeed(payment.provider_payment_id))

    _refunded_in_full(order, payment)


def test_a_cancelled_order_cancels_its_intent_in_3d_secure(stocked, stripe_fake, on_commit):
    order, payment = _in_3d_secure(stocked, stripe_fake, "cancel-3ds")

    on_commit(services.order_cancel, order=order)

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED
    assert stripe_fake.intents[payment.provider_payment_id]["status"] == "canceled"
    assert voids_asked(stripe_fake) == [f"order:{order.reference}:void"]


def test_an_intent_stripe_cannot_cancel_at_expiry_is_left_to_the_sweep(stocked, stripe_fake, on_commit):
    order, payment = _in_3d_secure(stocked, stripe_fake, "expiry-3ds-down")
    reservation_ran_out(order)
    stripe_fake.cancel_down = True

    # The order expires all the same: its units go back on sale while the cancel waits.
    assert on_commit(services.reservations_expire) == 1

    expired(order)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING and payment.void_requested_at is not None
    assert stripe_fake.intents[payment.provider_payment_id]["status"] == "requires_action"
    # Marked, it is not captured, and a second expiry run finds no order.
    assert on_commit(services.reservations_expire) == 0

    stripe_fake.cancel_down = False
    breaker.reset("stripe")
    assert on_commit(payments.refunds_retry_unsettled, older_than=dt.timedelta(0)) == 1
    assert on_commit(payments.refunds_retry_unsettled, older_than=dt.timedelta(0)) == 0
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED
    assert stripe_fake.intents[payment.provider_payment_id]["status"] == "canceled"
    # The sweep asked again with the same key.
    assert voids_asked(stripe_fake) == [f"order:{order.reference}:void"] * 2


def test_an_intent_completed_while_its_cancel_waits_is_refunded_not_cancelled(stocked, stripe_fake, on_commit):
    order, payment = _in_3d_secure(stocked, stripe_fake, "expiry-3ds-finished")
    reservation_ran_out(order)
    stripe_fake.cancel_down = True
    on_commit(services.reservations_expire)
    stripe_fake.cancel_down = False
    breaker.reset("stripe")
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING and payment.void_requested_at is not None
    assert voids_asked(stripe_fake) == [f"order:{order.reference}:void"]

    # Stripe answers again, but before the sweep the shopper finishes 3-D Secure.
    assert _from_browser(stripe_fake, payment, "authenticate", outcome="complete").json()["status"] == "succeeded"
    on_commit(post_stripe_event, "payment_intent.succeeded", dict(stripe_fake.intents[payment.provider_payment_id]))

    _refunded_in_full(order, payment)
    # Paid, it is no longer the sweep's to cancel.
    asked = len(voids_asked(stripe_fake))
    assert on_commit(payments.refunds_retry_unsettled, older_than=dt.timedelta(0)) == 0
    assert len(voids_asked(stripe_fake)) == asked


# --- 2. the shopper's cart ------------------------------------------------------------------------


def _cart_lines(client: Client) -> list[tuple[int, int]]:
    """The shopper's cart as the API shows it (none open: an empty one, and none is made)."""
    return [(line["variant_id"], line["quantity"]) for line in client.get("/api/v1/cart").json()["lines"]]


def _placed(client: Client, stocked, slug: str) -> tuple[Order, int]:
    """Through the API: one unit of a new product ``slug`` (5 in stock) ordered; the order and its variant."""
    placed = api_checkout(client, stocked, slug, ADDRESSES["US"], key=f"expiry-cart-{slug}")
    assert placed.status_code == 201, placed.json()
    order = Order.objects.get(reference=placed.json()["reference"])
    variant_id = order.lines.get().variant_id
    assert Cart.objects.get(order=order).status == Cart.Status.ORDERED
    assert available_units([variant_id])[variant_id] == 4
    return order, variant_id


def _emptied_a_new_cart(client: Client, stocked) -> None:
    """After the checkout the shopper put something in a new cart and took it out again: an empty cart is open."""
    other = stocked("expiry-cart-changed-mind", 5)
    added = client.post("/api/v1/cart/lines", {"variant": other.pk, "quantity": 1}, content_type="application/json")
    assert added.status_code == 201
    assert client.delete(f"/api/v1/cart/lines/{other.pk}").status_code == 200
    assert _cart_lines(client) == []


@pytest.mark.parametrize(
    ("signed_in", "emptied_a_new_cart"),
    [(False, False), (True, False), (True, True)],
    ids=["anonymous", "signed-in", "signed-in-with-an-empty-cart-since"],
)
def test_the_shopper_finds_their_cart_again_after_the_expiry(
    client, stocked, make_user, on_commit, signed_in, emptied_a_new_cart
):
    if signed_in:
        client.force_login(make_user())
    order, variant_id = _placed(client, stocked, f"expiry-cart-{int(signed_in)}{int(emptied_a_new_cart)}")
    if emptied_a_new_cart:
        _emptied_a_new_cart(client, stocked)
    reservation_ran_out(order)

    assert on_commit(services.reservations_expire) == 1

    expired(order)
    assert available_units([variant_id])[variant_id] == 5
    assert _cart_lines(client) == [(variant_id, 1)]
    cart = Cart.objects.get(lines__variant_id=variant_id)
    assert (cart.status, cart.order_id) == (Cart.Status.OPEN, None)


def test_an_anonymous_shopper_who_started_a_new_cart_keeps_it(client, stocked, on_commit):
    order, ordered_variant = _placed(client, stocked, "expiry-cart-anon-new")
    newer = stocked("expiry-cart-anon-newer", 5)
    added = client.post("/api/v1/cart/lines", {"variant": newer.pk, "quantity": 2}, content_type="application/json")
    assert added.status_code == 201
    reservation_ran_out(order)

    assert on_commit(services.reservations_expire) == 1

    expired(order)
    assert available_units([ordered_variant])[ordered_variant] == 5
    # The session keeps the cart it has now; the expired order's opens again beside it, as on a failed payment.
    assert _cart_lines(client) == [(newer.pk, 2)]
    assert Cart.objects.get(lines__variant_id=ordered_variant).status == Cart.Status.OPEN


def test_a_signed_in_shopper_with_a_newer_cart_keeps_it(client, stocked, make_user, on_commit):
    client.force_login(make_user())
    first, first_variant = _placed(client, stocked, "expiry-cart-first")
    second, second_variant = _placed(client, stocked, "expiry-cart-second")
    reservation_ran_out(first)
    reservation_ran_out(second)

    # Both expire in one sweep, the newest first: its cart opens again, and the older order's
    # cannot too (one open cart per shopper, and that one is not empty): it stays closed.
    assert on_commit(services.reservations_expire) == 2

    for order, variant_id in ((first, first_variant), (second, second_variant)):
        expired(order)
        assert available_units([variant_id])[variant_id] == 5
    assert _cart_lines(client) == [(second_variant, 1)]
    assert Cart.objects.get(lines__variant_id=first_variant).status == Cart.Status.ORDERED


def test_a_failed_payment_gives_a_signed_in_shopper_their_cart_back_beside_an_empty_one(
    client, stocked, make_user, on_commit
):
    client.force_login(make_user())
    order, variant_id = _placed(client, stocked, "payment-failed-cart")
    _emptied_a_new_cart(client, stocked)  # one open cart per shopper: this one

    # What a payment provider that does not answer leads to (order_pay): the one way carts come back.
    on_commit(services.order_cancel, order=order, label="system:payment", note="provider_unavailable", reopen_cart=True)

    assert available_units([variant_id])[variant_id] == 5
    assert _cart_lines(client) == [(variant_id, 1)]
