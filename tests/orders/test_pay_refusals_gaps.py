"""Paying an order refuses cleanly where a cash-on-delivery attempt meets another payment.

- A cash-on-delivery attempt cancelled by an online payment of the same order while it was
  being started (it still says "collect on delivery") does not confirm the order for delivery:
  the order is paid online, its units sold once, and ``order_pay`` answers ``already_paid``.
  The online payment is put in that moment by Django's ``post_save`` of the new attempt.
- A capture refused because the reference is already paid names it in ``fields``, as
  ``payment_create``'s refusal does.
- The pay API documents ``cash_on_delivery_pending`` among its conflicts.

Real PostgreSQL; Stripe and PayPal are the local fakes, cash on delivery needs no network.
"""

from __future__ import annotations

import pytest
from django.db.models.signals import post_save

from apps.catalog.models import Stock
from apps.errors import ApplicationError
from apps.orders import services as orders
from apps.orders.models import Order
from apps.payments import services
from apps.payments.models import Payment
from apps.payments.providers.base import NextAction, PaymentStatus
from tests.orders.conftest import cart_with, checkout

pytestmark = pytest.mark.django_db

UNITS = 3


@pytest.fixture
def cod_order(use_region, stocked, shipped_country_rules, celery_inline):
    """A Gulf order of three 100.00 units, to be paid in cash on delivery, not paid yet."""
    use_region("me-south")
    order = checkout(
        cart_with(stocked("cod-gap-lamp", 5, price_minor=10000), quantity=UNITS, country="AE"),
        country="AE",
        payment_provider="cash_on_delivery",
        payment_method="cash_on_delivery",
    )
    assert order.status == Order.Status.CREATED
    return order


def _card_for(order: Order) -> Payment:
    """A card intent for ``order`` started before the shopper chose cash (a stale tab keeps it)."""
    return services.payment_create(
        order_reference=order.reference,
        provider="stripe",
        method="card",
        amount_minor=order.total_minor,
        currency=order.currency,
    )


def _refused(func, **kwargs) -> ApplicationError:
    with pytest.raises(ApplicationError) as err:
        func(**kwargs)
    return err.value


def _stock_left(order: Order) -> int:
    return Stock.objects.get(variant_id=order.lines.get().variant_id).quantity


def test_a_cash_attempt_cancelled_while_it_was_started_does_not_confirm_the_order(cod_order, stripe_fake, on_commit):
    order = cod_order
    card = _card_for(order)
    stock_before = _stock_left(order)

    def card_paid_meanwhile(sender, instance, created, **kwargs):
        # The cash attempt has just been written; before its provider answers, the stale card
        # page is completed and Stripe's news cancels the cash attempt, as any online success does.
        if created and instance.provider == "cash_on_delivery":
            post_save.disconnect(card_paid_meanwhile, sender=Payment)
            stripe_fake.succeed(card.provider_payment_id)
            assert services.payment_refresh(payment_id=card.pk).status == PaymentStatus.SUCCEEDED

    post_save.connect(card_paid_meanwhile, sender=Payment, weak=False)
    try:
        # The card's "paid" news reaches the order only on commit, after order_pay is done.
        with pytest.raises(ApplicationError) as err:
            on_commit(orders.order_pay, order=order)
    finally:
        post_save.disconnect(card_paid_meanwhile, sender=Payment)

    assert (err.value.code, err.value.status) == ("already_paid", 409)
    assert err.value.message == "This order is already paid."
    cash = Payment.objects.get(order_reference=order.reference, provider="cash_on_delivery")
    assert (cash.status, cash.next_action) == (PaymentStatus.CANCELLED, NextAction.COLLECT_ON_DELIVERY)
    order.refresh_from_db()
    # Paid by card, never confirmed for the courier, and its units sold once.
    assert order.status == Order.Status.PAID
    assert order.paid_by_payment_id == card.pk
    assert not order.events.filter(to_status=Order.Status.CONFIRMED).exists()
    assert _stock_left(order) == stock_before - UNITS


def test_the_capture_refused_for_a_paid_order_names_its_reference(stripe_fake, paypal_fake, on_commit):
    """A PayPal order approved in a stale tab after the card paid: its capture is refused as
    ``payment_create`` refuses a paid reference, with the same ``fields``."""
    reference = "R-PAID-CAPTURE"
    approved = services.payment_create(
        order_reference=reference, provider="paypal", method="paypal", amount_minor=2500, currency="USD"
    )
    card = services.payment_create(
        order_reference=reference, provider="stripe", method="card", amount_minor=2500, currency="USD"
    )
    stripe_fake.succeed(card.provider_payment_id)
    assert on_commit(services.payment_refresh, payment_id=card.pk).status == PaymentStatus.SUCCEEDED
    created = _refused(
        services.payment_create,
        order_reference=reference,
        provider="paypal",
        method="paypal",
        amount_minor=2500,
        currency="USD",
    )
    paypal_fake.approve(approved.provider_payment_id)

    captured = _refused(services.payment_capture, payment_id=approved.pk)

    assert (captured.code, captured.status, captured.message) == ("already_paid", 409, "This order is already paid.")
    assert captured.fields == {"order_reference": [reference]}
    assert (captured.code, captured.status, captured.message, captured.fields) == (
        created.code,
        created.status,
        created.message,
        created.fields,
    )
    # Nothing asked of PayPal: the approved money stays untaken.
    assert paypal_fake.orders[approved.provider_payment_id]["status"] == "APPROVED"


def test_the_pay_api_documents_the_cash_on_delivery_conflict(client):
    schema = client.get("/api/schema/?format=json").json()
    conflicts = schema["paths"]["/api/v1/orders/{reference}/pay"]["post"]["responses"]["409"]["description"]
    assert "`cash_on_delivery_pending`" in conflicts
