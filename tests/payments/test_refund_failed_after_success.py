"""A card refund Stripe said succeeded can fail later (the card was closed): the money is owed again.

Stripe then sends ``refund.failed`` (and ``charge.refund.updated``) with the refund's status
``failed`` and a ``failure_reason``. The refund becomes failed, the payment's refunded total
and status go back, and orders hear of it through ``payment_refunded``: the order's refunded
total drops and, for a refunded order (no step leads back from refunded), the amount shows as
owed, as a refund the provider declined does, until staff return it another way. Only a newer
event does that, once, and only for a provider that documents it: PayPal's refunds stay.

Deliveries are signed as the providers sign them and posted to our endpoints; Stripe and
PayPal are the local fakes; real PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.utils import translation

from apps.catalog import services as catalog
from apps.money.formatting import format_money
from apps.orders import selectors as order_selectors
from apps.orders import services as orders
from apps.orders.models import Order, OrderEvent, RefundEmail
from apps.payments import selectors, services
from apps.payments.models import Payment, Refund, WebhookEvent
from apps.payments.providers.base import PaymentStatus, RefundStatus
from tests.catalog.factories import make_product
from tests.orders.conftest import cart_with, checkout
from tests.payments.conftest import paypal_captured
from tests.payments.fakes import paypal_delivered, stripe_delivered, stripe_event
from tests.payments.test_refund_event_order import _paypal_refund_event

pytestmark = pytest.mark.django_db

FAILED_NOTE = "failed after it succeeded"


@pytest.fixture
def operator(db):
    from apps.accounts.models import User

    return User.objects.create_superuser(email="operator@livemall.test", password="a-long-test-password")


@pytest.fixture
def variant(merchant, celery_inline):
    warehouse = catalog.warehouse_create(merchant=merchant, code="main", name="Main", country="US")
    product = make_product(merchant, "closed-card-mug", price_minor=4000)
    variant = product.variants.get()
    catalog.stock_set(variant=variant, warehouse=warehouse, quantity=5)
    return variant


def _paid_order(variant, stripe_fake, committed) -> tuple[Order, Payment]:
    order = checkout(cart_with(variant, quantity=3), payment_provider="stripe", payment_method="card")
    payment = orders.order_pay(order=order)
    stripe_fake.succeed(payment.provider_payment_id)
    committed(services.payment_refresh, payment_id=payment.pk)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    return order, Payment.objects.get(pk=payment.pk)


def _failed(stripe_fake, refund: Refund, event_id: str, created: int, event_type: str = "refund.failed") -> dict:
    stripe_refund = {**stripe_fake.refunds[refund.provider_refund_id], "failure_reason": "expired_or_canceled_card"}
    return stripe_event(event_id, event_type, stripe_refund, created, status="failed")


def test_a_refund_failed_after_it_succeeded_is_owed_again(variant, stripe_fake, client, committed, signals, operator):
    order, payment = _paid_order(variant, stripe_fake, committed)
    refund = committed(orders.order_refund, order=order, actor=operator)
    order.refresh_from_db()
    assert (refund.status, order.status, order.refunded_minor) == (
        RefundStatus.SUCCEEDED,
        Order.Status.REFUNDED,
        order.total_minor,
    )
    assert order_selectors.order_refunds_owed(order=order).held_minor == 0

    answer = committed(stripe_delivered, client, _failed(stripe_fake, refund, "evt_refund_failed", int(time.time())))

    assert WebhookEvent.objects.get(event_id="evt_refund_failed").result == "refund succeeded -> failed"
    assert answer.json()["duplicate"] is False
    refund.refresh_from_db()
    assert refund.status == RefundStatus.FAILED
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert selectors.payment_refundable_minor(payment=payment) == order.total_minor
    (told,) = [s for s in signals.named("refunded") if s.get("failed")]
    assert (told["refund_id"], told["refunded_minor"], told["reason"]) == (refund.pk, 0, "expired_or_canceled_card")

    # The order's total goes back; refunded is final, so the status stays and the money shows owed.
    order.refresh_from_db()
    assert (order.status, order.refunded_minor) == (Order.Status.REFUNDED, 0)
    owed = order_selectors.order_refunds_owed(order=order)
    assert (owed.held_minor, owed.provider, owed.waiting_minor) == (order.total_minor, "stripe", 0)
    with translation.override("en"):
        (notice,) = owed.notices(currency=order.currency, locale="en_US")
    total = format_money(order.total_minor, "USD", "en_US")
    assert notice.startswith(f"Refund owed: the refund of {total} for this order failed after stripe had taken it")
    (event,) = OrderEvent.objects.filter(order=order, note__contains=FAILED_NOTE)
    amount = format_money(order.total_minor, order.currency, "en")
    assert event.note == (
        f"refund {refund.pk} of {amount} {FAILED_NOTE} (expired_or_canceled_card): "
        f"{format_money(0, order.currency, 'en')} refunded in all"
    )
    assert (event.from_status, event.to_status, event.actor_label) == ("refunded", "refunded", "payment:refund")
    # The mail of the refund stays the one sent; no second one for its failure.
    assert RefundEmail.objects.filter(order=order).count() == 1

    # Staff return it another way, by the declined refunds' path: the order is whole again.
    committed(
        orders.order_refund_settle_outside,
        order=order,
        amount_minor=order.total_minor,
        note="bank transfer 42",
        actor=operator,
    )
    order.refresh_from_db()
    assert (order.status, order.refunded_minor) == (Order.Status.REFUNDED, order.total_minor)
    assert order_selectors.order_refunds_owed(order=order).held_minor == 0
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.REFUNDED


def test_the_same_failure_delivered_again_changes_nothing_more(variant, stripe_fake, client, committed, signals):
    order, payment = _paid_order(variant, stripe_fake, committed)
    refund = committed(services.payment_refund, payment_id=payment.pk, amount_minor=5000)
    now = int(time.time())

    failed = _failed(stripe_fake, refund, "evt_refund_failed", now)
    committed(stripe_delivered, client, failed)
    again = committed(stripe_delivered, client, failed)
    # Stripe tells the same failure by a second event type, under its own id.
    other = committed(
        stripe_delivered,
        client,
        _failed(stripe_fake, refund, "evt_charge_refund_updated", now, "charge.refund.updated"),
    )

    assert again.json()["duplicate"] is True
    assert other.json()["duplicate"] is False
    assert WebhookEvent.objects.get(event_id="evt_charge_refund_updated").result == "refund no change: failed stays"
    assert len([s for s in signals.named("refunded") if s.get("failed")]) == 1
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert selectors.payment_refundable_minor(payment=payment) == payment.captured_minor
    # A partly refunded order: its total goes back once, its status stays paid.
    order.refresh_from_db()
    assert (order.status, order.refunded_minor) == (Order.Status.PAID, 0)
    assert OrderEvent.objects.filter(order=order, note__contains=FAILED_NOTE).count() == 1
    assert Refund.objects.count() == 1


def test_one_of_two_refunds_failing_leaves_the_payment_partly_refunded(
    variant, stripe_fake, client, committed, signals
):
    order, payment = _paid_order(variant, stripe_fake, committed)
    first = committed(services.payment_refund, payment_id=payment.pk, amount_minor=1000)
    second = committed(services.payment_refund, payment_id=payment.pk, amount_minor=2000)
    order.refresh_from_db()
    assert order.refunded_minor == 3000

    committed(stripe_delivered, client, _failed(stripe_fake, second, "evt_refund_failed", int(time.time())))

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PARTIALLY_REFUNDED
    assert Refund.objects.get(pk=first.pk).status == RefundStatus.SUCCEEDED
    order.refresh_from_db()
    assert (order.status, order.refunded_minor) == (Order.Status.PAID, 1000)


def test_a_failure_older_than_the_success_applied_is_ignored(variant, stripe_fake, client, committed, signals):
    order, payment = _paid_order(variant, stripe_fake, committed)
    stripe_fake.refund_status = "pending"
    refund = committed(services.payment_refund, payment_id=payment.pk)
    now = int(time.time())
    stripe_refund = stripe_fake.refunds[refund.provider_refund_id]
    committed(
        stripe_delivered,
        client,
        stripe_event("evt_refund_succeeded", "refund.updated", stripe_refund, now, status="succeeded"),
    )
    order.refresh_from_db()
    assert (order.status, order.refunded_minor) == (Order.Status.REFUNDED, order.total_minor)

    committed(stripe_delivered, client, _failed(stripe_fake, refund, "evt_refund_failed", now - 5))

    assert WebhookEvent.objects.get(event_id="evt_refund_failed").result == (
        "refund no change: succeeded stays (older than an event already applied)"
    )
    refund.refresh_from_db()
    assert (refund.status, refund.status_event_at) == (
        RefundStatus.SUCCEEDED,
        dt.datetime.fromtimestamp(now, tz=dt.UTC),
    )
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.REFUNDED
    order.refresh_from_db()
    assert (order.status, order.refunded_minor) == (Order.Status.REFUNDED, order.total_minor)
    assert order_selectors.order_refunds_owed(order=order).held_minor == 0
    assert [s for s in signals.named("refunded") if s.get("failed")] == []


def test_a_paypal_refund_that_completed_stays_refunded(paypal_fake, client, committed, signals):
    payment = paypal_captured(paypal_fake, "R-CLOSED-CARD-PP", committed=committed)
    now = dt.datetime.now(dt.UTC)
    committed(paypal_delivered, client, paypal_fake, _paypal_refund_event("WH-ref-completed", "COMPLETED", now))
    later = now + dt.timedelta(seconds=5)

    committed(paypal_delivered, client, paypal_fake, _paypal_refund_event("WH-ref-cancelled", "CANCELLED", later))

    assert WebhookEvent.objects.get(event_id="WH-ref-cancelled").result == "refund no change: succeeded stays"
    (refund,) = Refund.objects.all()
    assert (refund.amount_minor, refund.status) == (500, RefundStatus.SUCCEEDED)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PARTIALLY_REFUNDED
    assert [s for s in signals.named("refunded") if s.get("failed")] == []
    assert len(signals.named("refunded")) == 1
