"""Refunds a provider could not take are sent again by the sweep until it takes them, once.

Outages are real: a port nothing listens on (connection refused) or a fake too slow for
the timeout; the provider comes back by pointing the SDK at the local fake again.
"""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from apps.catalog import services as catalog
from apps.errors import ApplicationError
from apps.orders import services as orders
from apps.orders.models import Order
from apps.payments import breaker, services, tasks
from apps.payments.models import Payment, Refund
from apps.payments.providers.base import PaymentStatus, RefundStatus
from tests.catalog.factories import make_product
from tests.orders.conftest import cart_with, checkout
from tests.payments.conftest import paypal_captured
from tests.payments.fakes import closed_port_url

pytestmark = pytest.mark.django_db


def _age(refund: Refund, by: dt.timedelta) -> None:
    """The refund was recorded ``by`` ago (older than the sweep's grace, or long overdue)."""
    Refund.objects.filter(pk=refund.pk).update(created_at=refund.created_at - by)


PAST_GRACE = services.REFUND_RETRY_GRACE + dt.timedelta(minutes=1)


def _stripe_paid(stripe_fake, reference: str, amount: int = 1999) -> Payment:
    payment = services.payment_create(
        order_reference=reference, provider="stripe", method="card", amount_minor=amount, currency="USD"
    )
    stripe_fake.succeed(payment.provider_payment_id)
    Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.SUCCEEDED, captured_minor=amount)
    return Payment.objects.get(pk=payment.pk)


def _refund_while_down(payment: Payment, settings, setting: str, amount: int | None = None) -> Refund:
    """Refund ``payment`` while its provider's API (``setting``) refuses connections; back after."""
    good = getattr(settings, setting)
    setattr(settings, setting, closed_port_url())
    with pytest.raises(ApplicationError) as err:
        services.payment_refund(payment_id=payment.pk, amount_minor=amount)
    assert err.value.code == "provider_unavailable"
    setattr(settings, setting, good)
    refund = Refund.objects.get(payment=payment)
    assert (refund.status, refund.provider_refund_id) == (RefundStatus.PENDING, "")
    return refund


@pytest.fixture
def variant(merchant, celery_inline):
    warehouse = catalog.warehouse_create(merchant=merchant, code="main", name="Main", country="US")
    product = make_product(merchant, "retry-mug", price_minor=2500)
    variant = product.variants.get()
    catalog.stock_set(variant=variant, warehouse=warehouse, quantity=5)
    return variant


def test_order_cancelled_while_stripe_was_down_is_refunded_once_by_the_sweep(
    variant, stripe_fake, settings, committed, signals
):
    order = checkout(cart_with(variant), payment_provider="stripe", payment_method="card")
    payment = orders.order_pay(order=order)
    stripe_fake.succeed(payment.provider_payment_id)
    committed(services.payment_refresh, payment_id=payment.pk)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID

    settings.STRIPE_API_BASE = closed_port_url()
    # The cancel stands; its refund waits, pending, for the sweep (the operator is told it is owed).
    orders.order_cancel(order=order)
    order.refresh_from_db()
    assert (order.status, order.refunded_minor) == (Order.Status.CANCELLED, 0)
    refund = Refund.objects.get()
    assert (refund.status, refund.provider_refund_id, refund.amount_minor) == (
        RefundStatus.PENDING,
        "",
        order.total_minor,
    )

    settings.STRIPE_API_BASE = stripe_fake.url
    _age(refund, PAST_GRACE)
    assert committed(services.refunds_retry_unsettled) == 1

    (sent,) = stripe_fake.requests_to("/v1/refunds")
    assert sent.headers["idempotency-key"] == f"order:{order.reference}:refund:1"
    assert sent.form["amount"] == str(order.total_minor)
    refund.refresh_from_db()
    assert (refund.status, refund.provider_refund_id) == (RefundStatus.SUCCEEDED, "re_fake1")
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.REFUNDED
    order.refresh_from_db()
    assert order.refunded_minor == order.total_minor  # the order heard of it (payment_refunded)
    assert len(signals.named("refunded")) == 1

    # Settled: the next runs find nothing to send.
    assert committed(services.refunds_retry_unsettled) == 0
    assert len(stripe_fake.requests_to("/v1/refunds")) == 1
    assert len(stripe_fake.refunds) == 1
    assert Refund.objects.count() == 1


def test_a_refund_stripe_made_but_whose_answer_was_lost_comes_back_the_same(stripe_fake, settings):
    payment = _stripe_paid(stripe_fake, "R-lost")
    settings.PAYMENT_PROVIDER_TIMEOUT = 0.3
    stripe_fake.delay = 1.0
    with pytest.raises(ApplicationError):
        services.payment_refund(payment_id=payment.pk, amount_minor=700)
    assert len(stripe_fake.refunds) == 1  # made at Stripe; we never heard
    stripe_fake.delay = 0
    settings.PAYMENT_PROVIDER_TIMEOUT = 2
    refund = Refund.objects.get()
    _age(refund, PAST_GRACE)

    assert services.refunds_retry_unsettled() == 1

    assert [r.headers["idempotency-key"] for r in stripe_fake.requests_to("/v1/refunds")] == [
        "order:R-lost:refund:1",
        "order:R-lost:refund:1",
    ]
    assert len(stripe_fake.refunds) == 1
    refund.refresh_from_db()
    assert (refund.status, refund.provider_refund_id, refund.amount_minor) == (RefundStatus.SUCCEEDED, "re_fake1", 700)
    assert Refund.objects.count() == 1


def test_a_refund_inside_the_grace_window_is_left_to_the_normal_path(stripe_fake, settings):
    payment = _stripe_paid(stripe_fake, "R-fresh")
    refund = _refund_while_down(payment, settings, "STRIPE_API_BASE")

    assert services.refunds_retry_unsettled() == 0

    assert stripe_fake.requests_to("/v1/refunds") == []
    refund.refresh_from_db()
    assert (refund.status, refund.provider_refund_id) == (RefundStatus.PENDING, "")

    # Past the grace it is the sweep's.
    assert services.refunds_retry_unsettled(older_than=dt.timedelta(0)) == 1
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED


def test_a_provider_still_down_does_not_stop_the_others(stripe_fake, paypal_fake, settings, committed, signals):
    stripe_payment = _stripe_paid(stripe_fake, "R-stripe")
    stuck = _refund_while_down(stripe_payment, settings, "STRIPE_API_BASE", amount=900)
    paypal_payment = paypal_captured(paypal_fake, "R-paypal", 1500)
    owed = _refund_while_down(paypal_payment, settings, "PAYPAL_API_BASE")
    _age(stuck, PAST_GRACE)
    _age(owed, PAST_GRACE)
    assert stuck.pk < owed.pk  # the one that fails is tried first

    settings.STRIPE_API_BASE = closed_port_url()  # Stripe is still down; PayPal is back
    assert committed(services.refunds_retry_unsettled) == 1

    stuck.refresh_from_db()
    owed.refresh_from_db()
    assert (stuck.status, stuck.provider_refund_id) == (RefundStatus.PENDING, "")
    assert (owed.status, owed.provider_refund_id) == (RefundStatus.SUCCEEDED, "REF-FAKE1")
    (sent,) = paypal_fake.requests_to("/v2/payments/captures/CAP-FAKE1/refund")
    assert sent.headers["paypal-request-id"] == "order:R-paypal:refund:1"
    assert [s["order_reference"] for s in signals.named("refunded")] == ["R-paypal"]

    # Once Stripe's breaker lets a call through again, the stuck one is refunded too.
    breaker.reset("stripe")
    settings.STRIPE_API_BASE = stripe_fake.url
    assert committed(services.refunds_retry_unsettled) == 1
    stuck.refresh_from_db()
    assert (stuck.status, stuck.amount_minor) == (RefundStatus.SUCCEEDED, 900)
    assert len(paypal_fake.requests_to("/v2/payments/captures/CAP-FAKE1/refund")) == 1


def test_the_breaker_open_refuses_fast_and_every_refund_stays_for_the_next_run(stripe_fake, settings):
    refunds = []
    for n in range(3):  # PAYMENT_BREAKER_FAILURES in the payments conftest
        refunds.append(_refund_while_down(_stripe_paid(stripe_fake, f"R-{n}"), settings, "STRIPE_API_BASE"))
    assert breaker.state("stripe") == "open"
    for refund in refunds:
        _age(refund, PAST_GRACE)

    assert services.refunds_retry_unsettled() == 0

    assert stripe_fake.requests_to("/v1/refunds") == []  # the open breaker sent nothing
    assert set(Refund.objects.values_list("status", "provider_refund_id")) == {(RefundStatus.PENDING, "")}


def test_a_refund_unsettled_for_a_day_is_logged_as_an_error(stripe_fake, settings, caplog):
    overdue = _refund_while_down(_stripe_paid(stripe_fake, "R-old", amount=4200), settings, "STRIPE_API_BASE")
    recent = _refund_while_down(_stripe_paid(stripe_fake, "R-new"), settings, "STRIPE_API_BASE")
    _age(overdue, services.REFUND_OVERDUE_AFTER + dt.timedelta(hours=1))
    _age(recent, PAST_GRACE)
    settings.STRIPE_API_BASE = closed_port_url()

    with caplog.at_level(logging.WARNING, logger="apps.payments.services"):
        assert services.refunds_retry_unsettled() == 0

    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "R-old" in errors[0] and "4200 USD" in errors[0]
    assert not any("R-new" in message for message in errors)


def test_the_sweep_runs_every_15_minutes_from_beat(stripe_fake, settings):
    from livemall.celery import app

    entry = app.conf.beat_schedule["payments-refunds-retry-unsettled"]
    assert entry["task"] == tasks.refunds_retry_unsettled.name == "payments.refunds_retry_unsettled"
    assert entry["schedule"] == 15 * 60

    refund = _refund_while_down(_stripe_paid(stripe_fake, "R-beat"), settings, "STRIPE_API_BASE")
    _age(refund, PAST_GRACE)
    assert tasks.refunds_retry_unsettled() == 1
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED


def test_a_refund_settled_meanwhile_is_not_sent_again_nor_made_anew(stripe_fake, settings):
    """The sweep read it unsettled, then the normal path settled it: the sweep's call sends nothing."""
    payment = _stripe_paid(stripe_fake, "R-race")
    refund = _refund_while_down(payment, settings, "STRIPE_API_BASE", amount=500)
    services.payment_refund(payment_id=payment.pk, amount_minor=500)  # the staff's own retry
    assert len(stripe_fake.requests_to("/v1/refunds")) == 1

    again = services.payment_refund(payment_id=payment.pk, refund_id=refund.pk)

    assert (again.pk, again.status) == (refund.pk, RefundStatus.SUCCEEDED)
    assert len(stripe_fake.requests_to("/v1/refunds")) == 1
    assert Refund.objects.count() == 1  # not a second refund of the 1499 left
