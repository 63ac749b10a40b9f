"""An unpaid order whose reservation runs out gives back an authorization nobody captured.

A Stripe intent the shopper confirmed with manual capture (``requires_capture``) holds their
money on the card. When the order expires unpaid, the expiry voids it exactly as a cancel
does: after the commit, with the key ``order:<ref>:void``; a provider that is down leaves the
void to the retry sweep, which asks again with the same key.

Real PostgreSQL and Redis; Stripe is the local fake with manual capture, and "down" is a port
nothing listens on.
"""

from __future__ import annotations

import datetime as dt

import pytest

from apps.errors import ApplicationError
from apps.orders import services
from apps.orders.models import Order
from apps.payments import breaker
from apps.payments import services as payments
from apps.payments.models import Payment, Refund
from apps.payments.providers.base import PaymentStatus
from tests.orders.conftest import cart_with, checkout, expired, reservation_ran_out, voids_asked
from tests.orders.test_refunds_after_cancel import ManualCaptureStripe
from tests.payments.fakes import closed_port_url, stripe_served_by

pytestmark = pytest.mark.django_db


@pytest.fixture
def stripe_fake(settings):
    yield from stripe_served_by(ManualCaptureStripe(), settings)


def _placed_and_confirmed(stocked, stripe_fake, slug: str) -> tuple[Order, Payment]:
    """An order paid by card whose intent the shopper confirmed: authorized at Stripe, not captured."""
    order = checkout(cart_with(stocked(slug, 3, price_minor=4000)), payment_provider="stripe", payment_method="card")
    payment = services.order_pay(order=order)
    stripe_fake.authorize(payment.provider_payment_id)
    return order, payment


def test_an_expired_order_voids_its_known_authorization(stocked, stripe_fake, on_commit):
    order, payment = _placed_and_confirmed(stocked, stripe_fake, "expiry-auth")
    on_commit(payments.payment_refresh, payment_id=payment.pk)
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.AUTHORIZED
    reservation_ran_out(order)

    assert on_commit(services.reservations_expire) == 1

    expired(order)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED
    assert stripe_fake.intents[payment.provider_payment_id]["status"] == "canceled"
    assert voids_asked(stripe_fake) == [f"order:{order.reference}:void"]
    assert not Refund.objects.exists() and stripe_fake.refunds == {}
    # Nothing left for the sweep, and a second expiry run finds no order.
    assert on_commit(payments.refunds_retry_unsettled, older_than=dt.timedelta(0)) == 0
    assert on_commit(services.reservations_expire) == 0
    assert len(voids_asked(stripe_fake)) == 1


def test_an_authorization_we_had_not_heard_of_is_learnt_then_voided(stocked, stripe_fake, on_commit):
    """Its webhook was lost: the expiry asks Stripe, learns the money is held, and voids it."""
    order, payment = _placed_and_confirmed(stocked, stripe_fake, "expiry-auth-unheard")
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.PENDING
    reservation_ran_out(order)

    assert on_commit(services.order_release_expired, order_id=order.pk) is True

    expired(order)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED
    assert stripe_fake.intents[payment.provider_payment_id]["status"] == "canceled"
    assert voids_asked(stripe_fake) == [f"order:{order.reference}:void"]


def test_a_void_stripe_cannot_take_at_expiry_is_left_to_the_sweep(stocked, stripe_fake, on_commit, settings):
    order, payment = _placed_and_confirmed(stocked, stripe_fake, "expiry-auth-down")
    on_commit(payments.payment_refresh, payment_id=payment.pk)
    reservation_ran_out(order)
    settings.STRIPE_API_BASE = closed_port_url()

    # The order expires all the same: its units go back on sale while the void waits.
    assert on_commit(services.reservations_expire) == 1

    expired(order)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.AUTHORIZED and payment.void_requested_at is not None
    assert voids_asked(stripe_fake) == []

    settings.STRIPE_API_BASE = stripe_fake.url
    breaker.reset("stripe")
    assert on_commit(payments.refunds_retry_unsettled, older_than=dt.timedelta(0)) == 1
    assert on_commit(payments.refunds_retry_unsettled, older_than=dt.timedelta(0)) == 0
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED
    assert voids_asked(stripe_fake) == [f"order:{order.reference}:void"]


def test_an_authorization_cannot_be_captured_once_its_order_expired(stocked, stripe_fake, on_commit, settings):
    order, payment = _placed_and_confirmed(stocked, stripe_fake, "expiry-auth-capture")
    on_commit(payments.payment_refresh, payment_id=payment.pk)
    reservation_ran_out(order)
    settings.STRIPE_API_BASE = closed_port_url()
    on_commit(services.reservations_expire)
    settings.STRIPE_API_BASE = stripe_fake.url
    breaker.reset("stripe")
    asked = len(stripe_fake.requests)

    with pytest.raises(ApplicationError) as err:
        payments.payment_capture(payment_id=payment.pk)

    assert (err.value.code, err.value.status) == ("payment_cancelled", 409)
    assert len(stripe_fake.requests) == asked
    assert stripe_fake.intents[payment.provider_payment_id]["status"] == "requires_capture"
