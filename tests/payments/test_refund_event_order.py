"""Refund events out of order: the provider's own event times decide, as they do for payments.

Stripe and PayPal do not deliver events in the order they happened. A "refund succeeded" sent
before the "refund failed" already applied, if it moved the refund back, would count money
as returned to a customer who never got it (and the sweep would never send it again). An
event older than the newest one applied to the refund changes nothing and is stored like
any other; a newer one still applies, through the refund's transitions.

Deliveries are signed as the providers sign them and posted to our endpoints; Stripe and
PayPal are the local fakes.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time

import pytest

from apps.payments import selectors, services
from apps.payments.models import Payment, Refund, WebhookEvent
from apps.payments.providers.base import PaymentStatus, RefundStatus
from tests.payments.conftest import paypal_captured
from tests.payments.fakes import paypal_delivered, stripe_delivered, stripe_event

STALE_FAILED = "refund no change: failed stays (older than an event already applied)"

pytestmark = pytest.mark.django_db


# --- Stripe -------------------------------------------------------------------------------


def _pending_refund(stripe_fake, committed, amount: int = 1000) -> tuple[Payment, Refund, dict]:
    """A captured Stripe payment and a refund of ``amount`` Stripe took but has not settled."""
    payment = services.payment_create(
        order_reference="R-REFUND-ORDER", provider="stripe", method="card", amount_minor=1999, currency="USD"
    )
    stripe_fake.succeed(payment.provider_payment_id)
    payment = committed(services.payment_refresh, payment_id=payment.pk)
    assert payment.status == PaymentStatus.SUCCEEDED
    stripe_fake.refund_status = "pending"
    refund = committed(services.payment_refund, payment_id=payment.pk, amount_minor=amount)
    assert (refund.status, refund.status_event_at) == (RefundStatus.PENDING, None)
    return payment, refund, dict(stripe_fake.refunds[refund.provider_refund_id])


def _failed(stripe_refund: dict, created: int) -> dict:
    return stripe_event("evt_refund_failed", "refund.failed", stripe_refund, created, status="failed")


def _succeeded(stripe_refund: dict, created: int) -> dict:
    return stripe_event("evt_refund_succeeded", "refund.updated", stripe_refund, created, status="succeeded")


def test_a_stale_succeeded_after_failed_leaves_the_refund_failed(stripe_fake, client, committed, signals):
    payment, refund, stripe_refund = _pending_refund(stripe_fake, committed)
    now = int(time.time())

    committed(stripe_delivered, client, _failed(stripe_refund, now))
    answer = committed(stripe_delivered, client, _succeeded(stripe_refund, now - 5))

    assert answer.json()["duplicate"] is False
    refund.refresh_from_db()
    assert refund.status == RefundStatus.FAILED
    assert refund.status_event_at == dt.datetime.fromtimestamp(now, tz=dt.UTC)
    stale = WebhookEvent.objects.get(event_id="evt_refund_succeeded")
    assert stale.processed_at is not None
    assert stale.result == STALE_FAILED
    # Nothing counted as returned: the payment is whole, its amount refundable again.
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert selectors.payment_refundable_minor(payment=payment) == 1999
    assert signals.named("refunded") == []

    # Delivered again, it is a replay of a stored event and still changes nothing.
    again = committed(stripe_delivered, client, _succeeded(stripe_refund, now - 5))
    assert again.json()["duplicate"] is True
    refund.refresh_from_db()
    assert refund.status == RefundStatus.FAILED


def test_a_newer_succeeded_after_failed_settles_the_refund(stripe_fake, client, committed, signals):
    payment, refund, stripe_refund = _pending_refund(stripe_fake, committed)
    now = int(time.time())

    committed(stripe_delivered, client, _failed(stripe_refund, now - 60))
    committed(stripe_delivered, client, _succeeded(stripe_refund, now))

    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert refund.status_event_at == dt.datetime.fromtimestamp(now, tz=dt.UTC)
    assert WebhookEvent.objects.get(event_id="evt_refund_succeeded").result == "refund failed -> succeeded"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PARTIALLY_REFUNDED
    assert [s["refund_id"] for s in signals.named("refunded")] == [refund.pk]


def test_a_stale_failed_after_succeeded_leaves_the_refund_succeeded(stripe_fake, client, committed, signals):
    payment, refund, stripe_refund = _pending_refund(stripe_fake, committed)
    now = int(time.time())

    committed(stripe_delivered, client, _succeeded(stripe_refund, now))
    committed(stripe_delivered, client, _failed(stripe_refund, now - 5))

    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert refund.status_event_at == dt.datetime.fromtimestamp(now, tz=dt.UTC)
    payment.refresh_from_db()
    assert selectors.payment_refundable_minor(payment=payment) == 999
    assert len(signals.named("refunded")) == 1


def _failed_then_retried(stripe_refund: dict, now: int) -> list[dict]:
    """Created pending, failed, then succeeded (Stripe retried it): the refund ends succeeded."""
    return [
        stripe_event("evt_refund_created", "refund.created", stripe_refund, now - 20, status="pending"),
        _failed(stripe_refund, now - 10),
        _succeeded(stripe_refund, now),
    ]


def _failed_after_a_stale_success(stripe_refund: dict, now: int) -> list[dict]:
    """Created pending, a "succeeded" already outdated, and the failure after it: the refund ends failed
    whenever the failure arrives first."""
    return [
        stripe_event("evt_refund_created", "refund.created", stripe_refund, now - 20, status="pending"),
        _failed(stripe_refund, now),
        _succeeded(stripe_refund, now - 10),
    ]


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_shuffled_refund_events_end_where_the_latest_one_says(stripe_fake, client, committed, signals, order):
    _payment, refund, stripe_refund = _pending_refund(stripe_fake, committed)
    events = _failed_then_retried(stripe_refund, int(time.time()))
    delivered = [events[i] for i in order] * 2  # and every event delivered twice

    answers = [committed(stripe_delivered, client, event) for event in delivered]

    assert sum(not a.json()["duplicate"] for a in answers) == 3
    assert WebhookEvent.objects.filter(processed_at__isnull=False).count() == 3
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert Refund.objects.count() == 1
    assert len(signals.named("refunded")) == 1


@pytest.mark.parametrize("order", [o for o in itertools.permutations(range(3)) if o.index(1) < o.index(2)])
def test_shuffled_events_with_the_failure_first_never_count_the_stale_success(
    stripe_fake, client, committed, signals, order
):
    payment, refund, stripe_refund = _pending_refund(stripe_fake, committed)
    events = _failed_after_a_stale_success(stripe_refund, int(time.time()))

    for event in [events[i] for i in order] * 2:
        committed(stripe_delivered, client, event)

    refund.refresh_from_db()
    assert refund.status == RefundStatus.FAILED
    payment.refresh_from_db()
    assert selectors.payment_refundable_minor(payment=payment) == 1999
    assert signals.named("refunded") == []


def test_a_stale_refund_event_waiting_for_its_payment_is_judged_by_its_own_time(
    stripe_fake, client, committed, signals
):
    """Applied later by the retry of waiting events, an event keeps the time the provider gave it."""
    payment, refund, stripe_refund = _pending_refund(stripe_fake, committed)
    now = int(time.time())
    committed(stripe_delivered, client, _failed(stripe_refund, now))
    stale = _succeeded(stripe_refund, now - 5)
    # Stored as if it had come before its payment was known, then retried.
    Payment.objects.filter(pk=payment.pk).update(provider_payment_id="pi_not_yet")
    committed(stripe_delivered, client, stale)
    assert WebhookEvent.objects.get(event_id=stale["id"]).result == services.WAITING_FOR_PAYMENT
    Payment.objects.filter(pk=payment.pk).update(provider_payment_id=stripe_refund["payment_intent"])

    committed(services.webhook_events_retry, provider="stripe")

    assert WebhookEvent.objects.get(event_id=stale["id"]).result == STALE_FAILED
    refund.refresh_from_db()
    assert refund.status == RefundStatus.FAILED
    assert signals.named("refunded") == []


# --- PayPal: the same with create_time ----------------------------------------------------


def _paypal_refund_event(event_id: str, status: str, at: dt.datetime) -> dict:
    return {
        "id": event_id,
        "event_version": "1.0",
        "event_type": "PAYMENT.CAPTURE.REFUNDED",
        "resource_type": "refund",
        "create_time": at.isoformat().replace("+00:00", "Z"),
        "resource": {
            "id": "REF-DASH-ORDER",
            "status": status,
            "amount": {"currency_code": "USD", "value": "5.00"},
            "links": [{"href": "https://api.paypal.example/v2/payments/captures/CAP-FAKE1", "rel": "up"}],
        },
    }


@pytest.mark.parametrize(("completed_offset", "final"), [(-5, RefundStatus.FAILED), (5, RefundStatus.SUCCEEDED)])
def test_paypal_refund_completed_after_cancelled_follows_create_time(
    paypal_fake, client, committed, signals, completed_offset, final
):
    paypal_captured(paypal_fake, "R-REFUND-ORDER-PP", committed=committed)
    now = dt.datetime.now(dt.UTC)

    committed(paypal_delivered, client, paypal_fake, _paypal_refund_event("WH-ref-cancelled", "CANCELLED", now))
    completed = now + dt.timedelta(seconds=completed_offset)
    committed(paypal_delivered, client, paypal_fake, _paypal_refund_event("WH-ref-completed", "COMPLETED", completed))

    (refund,) = Refund.objects.all()
    assert (refund.amount_minor, refund.status) == (500, final)
    assert WebhookEvent.objects.get(event_id="WH-ref-completed").processed_at is not None
    assert len(signals.named("refunded")) == (final == RefundStatus.SUCCEEDED)
