"""A second payment for an order that is already paid goes back by itself.

Each attempt to pay is a payment of its own: a shopper whose first card page was superseded by
a second attempt in another tab, and who confirmed both, paid twice. The payment that paid first pays
the order; the other is refunded in full, once, whichever order the news comes in, however
often it is delivered, and even when both succeed at the same moment. The shopper's pages
do not call the order refunded for it, and staff refunds go to the payment that paid.

Stripe is the local fake (the real SDK); real PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

import pytest
from django.db import connection
from django.test import Client
from django.utils import translation

from apps.money.formatting import format_money
from apps.orders import selectors, services
from apps.orders.models import Order, OrderEvent
from apps.payments import services as payments
from apps.payments.models import Payment, Refund
from apps.payments.providers.base import PaymentStatus, RefundStatus
from tests.orders.conftest import cart_with, checkout
from tests.payments.fakes import stripe_delivered


def _placed(stocked, slug: str) -> Order:
    """Three 40.00 units to be paid by card."""
    return checkout(
        cart_with(stocked(slug, 3, price_minor=4000), quantity=3), payment_provider="stripe", payment_method="card"
    )


def _two_tabs(stocked, slug: str) -> tuple[Order, Payment, Payment]:
    """The order's card payment, superseded by a second attempt from another tab, whose Stripe
    page the shopper can still confirm (an open payment is cancelled without a provider call)."""
    order = _placed(stocked, slug)
    first = services.order_pay(order=order)
    payments.payment_cancel(payment_id=first.pk)
    second = services.order_pay(order=Order.objects.get(pk=order.pk))
    assert second.pk != first.pk and second.amount_minor == first.amount_minor == order.total_minor
    assert second.provider_payment_id != first.provider_payment_id
    return order, first, second


def _shopper_pays(payment: Payment, stripe_fake) -> None:
    """The shopper confirms ``payment``'s Stripe page; Stripe's signed webhook tells us."""
    _stripe_says_succeeded(payment, stripe_fake.succeed(payment.provider_payment_id))


def _stripe_says_succeeded(payment: Payment, intent: dict) -> None:
    event = {
        "id": f"evt_succeeded_{payment.provider_payment_id}",
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": intent},
    }
    stripe_delivered(Client(), event)


def _deliver_again(payment: Payment) -> bool:
    """``payment_succeeded`` for ``payment`` delivered again (a replayed webhook, a second worker)."""
    payment.refresh_from_db()
    return services.order_mark_paid(
        order_reference=payment.order_reference,
        amount_minor=payment.captured_minor,
        currency=payment.currency,
        provider=payment.provider,
        payment_id=payment.pk,
    )


def _words(order: Order) -> str:
    with translation.override("en"):
        return selectors.order_status_words(Order.objects.get(pk=order.pk))


def _given_back_events(order: Order) -> list[OrderEvent]:
    return list(OrderEvent.objects.filter(order=order, note__contains="paid the order again"))


# --- the second payment goes back ---------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("first", ["first_tab", "second_tab"])
def test_the_payment_that_comes_second_is_refunded_in_full_and_the_first_pays(
    first, stocked, stripe_fake, on_commit, caplog
):
    order, first_tab, second_tab = _two_tabs(stocked, f"twice-{first.replace('_', '-')}")
    paying, other = (first_tab, second_tab) if first == "first_tab" else (second_tab, first_tab)

    with caplog.at_level(logging.WARNING, logger="apps.orders.services"):
        on_commit(_shopper_pays, paying, stripe_fake)
        on_commit(_shopper_pays, other, stripe_fake)

    order.refresh_from_db()
    assert (order.status, order.paid_by_payment_id) == (Order.Status.PAID, paying.pk)
    # All of the other payment is back at its provider; the paying one is untouched.
    (refund,) = Refund.objects.filter(payment__order_reference=order.reference)
    assert (refund.payment_id, refund.amount_minor, refund.status) == (other.pk, order.total_minor, "succeeded")
    assert Payment.objects.get(pk=other.pk).status == PaymentStatus.REFUNDED
    assert Payment.objects.get(pk=paying.pk).status == PaymentStatus.SUCCEEDED
    # Its money is what the order's payments returned, but not a refund of the order.
    assert (order.refunded_minor, order.paid_again_minor) == (order.total_minor, order.total_minor)
    assert _words(order) == "Paid"
    assert services.order_refundable_minor(order=order) == order.total_minor
    (event,) = _given_back_events(order)
    total = format_money(order.total_minor, "USD", "en")
    assert event.note == (
        f"payment {other.pk} of {total} paid the order again (paid by payment {paying.pk}): {total} refunded"
    )
    assert (event.from_status, event.to_status, event.actor_label) == ("paid", "paid", "payment:refund")
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING and "paid it again" in r.getMessage()]
    assert order.reference in warning.getMessage()


@pytest.mark.django_db
def test_news_of_either_payment_delivered_again_changes_nothing(stocked, stripe_fake, on_commit):
    order, first_tab, second_tab = _two_tabs(stocked, "twice-again")
    on_commit(_shopper_pays, first_tab, stripe_fake)
    on_commit(_shopper_pays, second_tab, stripe_fake)
    events = OrderEvent.objects.filter(order=order).count()
    refund_calls = len(stripe_fake.requests_to("/v1/refunds"))
    assert refund_calls == 1

    for payment in (second_tab, first_tab, second_tab):
        assert on_commit(_deliver_again, payment) is False

    order.refresh_from_db()
    assert Refund.objects.filter(payment__order_reference=order.reference).count() == 1
    assert (order.refunded_minor, order.paid_again_minor) == (order.total_minor, order.total_minor)
    assert OrderEvent.objects.filter(order=order).count() == events
    assert len(stripe_fake.requests_to("/v1/refunds")) == refund_calls


@pytest.mark.django_db
def test_the_second_payments_news_twice_before_either_commits_refunds_it_once(
    stocked, stripe_fake, on_commit, django_capture_on_commit_callbacks
):
    order, first_tab, second_tab = _two_tabs(stocked, "twice-same-moment")
    on_commit(_shopper_pays, first_tab, stripe_fake)
    # The second payment's signal is held back, then delivered twice (two workers), then run.
    with django_capture_on_commit_callbacks() as held:
        _shopper_pays(second_tab, stripe_fake)
    assert Payment.objects.get(pk=second_tab.pk).status == PaymentStatus.SUCCEEDED

    with django_capture_on_commit_callbacks(execute=True):
        for callback in (*held, *held):
            callback()

    order.refresh_from_db()
    (refund,) = Refund.objects.filter(payment__order_reference=order.reference)
    assert (refund.payment_id, refund.status) == (second_tab.pk, RefundStatus.SUCCEEDED)
    assert order.paid_again_minor == order.total_minor
    assert len(_given_back_events(order)) == 1


@pytest.mark.django_db(transaction=True)
def test_two_payments_succeeding_at_once_pay_the_order_once_and_the_other_goes_back(stocked, stripe_fake):
    order, first_tab, second_tab = _two_tabs(stocked, "twice-threads")
    intents = {payment.pk: stripe_fake.succeed(payment.provider_payment_id) for payment in (first_tab, second_tab)}
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def hear(payment: Payment) -> None:
        try:
            start.wait()
            _stripe_says_succeeded(payment, intents[payment.pk])
        except BaseException as exc:  # reported in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=hear, args=(payment,)) for payment in (first_tab, second_tab)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert order.paid_by_payment_id in (first_tab.pk, second_tab.pk)
    (refund,) = Refund.objects.filter(payment__order_reference=order.reference)
    assert refund.payment_id != order.paid_by_payment_id
    assert (refund.amount_minor, refund.status) == (order.total_minor, RefundStatus.SUCCEEDED)
    assert order.paid_again_minor == order.total_minor
    assert len(_given_back_events(order)) == 1
    assert _words(order) == "Paid"


# --- what the order says, and what staff refund ---------------------------------------------


@pytest.mark.django_db
def test_staff_refund_the_payment_that_paid_and_the_words_count_only_that(stocked, stripe_fake, on_commit, operator):
    # The later attempt pays first: the reference's first payment is the one that goes back.
    order, first_tab, second_tab = _two_tabs(stocked, "twice-staff")
    on_commit(_shopper_pays, second_tab, stripe_fake)
    on_commit(_shopper_pays, first_tab, stripe_fake)
    assert Payment.objects.get(pk=first_tab.pk).status == PaymentStatus.REFUNDED

    refund = on_commit(services.order_refund, order=Order.objects.get(pk=order.pk), amount_minor=1000, actor=operator)

    assert refund.payment_id == second_tab.pk
    order.refresh_from_db()
    assert order.refunded_minor == order.total_minor + 1000
    assert _words(order) == "Paid · partially refunded"
    assert services.order_refundable_minor(order=order) == order.total_minor - 1000

    on_commit(services.order_refund, order=order, actor=operator)

    order.refresh_from_db()
    assert (order.status, order.refunded_minor) == (Order.Status.REFUNDED, 2 * order.total_minor)
    assert _words(order) == "Refunded"
    assert services.order_refundable_minor(order=order) == 0


@pytest.mark.django_db
def test_an_order_paid_once_reads_as_before(stocked, stripe_paid, on_commit, operator):
    order = stripe_paid("once-words")
    assert order.paid_by_payment_id is not None and order.paid_again_minor == 0
    on_commit(services.order_refund, order=order, amount_minor=500, actor=operator)
    assert _words(order) == "Paid · partially refunded"


# --- cash on delivery ---------------------------------------------------------------------


@pytest.mark.django_db
def test_cash_collected_on_delivery_pays_the_order_and_nothing_goes_back(
    use_region, stocked, operator, shipped_country_rules, on_commit
):
    use_region("me-south")
    order = checkout(
        cart_with(stocked("twice-cod", 3, price_minor=10000), country="AE"),
        country="AE",
        payment_provider="cash_on_delivery",
        payment_method="cash_on_delivery",
    )
    cash = services.order_pay(order=order)
    (shipment,) = services.order_fulfil(order=Order.objects.get(pk=order.pk), actor=operator)
    services.shipment_ship(shipment=shipment, tracking_number="ARAMEX-TWICE", actor=operator)

    on_commit(services.order_deliver, order=Order.objects.get(pk=order.pk), actor=operator)

    order.refresh_from_db()
    assert (order.status, order.paid_by_payment_id, order.paid_again_minor) == (Order.Status.DELIVERED, cash.pk, 0)
    assert order.paid_at is not None
    # The sweep, or the capture's news again, finds the cash recorded: nothing is given back.
    assert services.cash_on_delivery_collect_missed(older_than=dt.timedelta(0)) == 0
    assert on_commit(_deliver_again, cash) is False
    assert not Refund.objects.filter(payment__order_reference=order.reference).exists()
    assert _given_back_events(order) == []
