"""A payment marked to be voided, or voided, is never captured.

Its order was cancelled: the money is on its way back to the shopper (or will be once the
provider takes the void). A capture now (a stale task, PayPal's late "approved", a second
tab) would take money only to refund it: refused with ``payment_cancelled``, nothing changed
and nothing asked of the provider.

Stripe and PayPal are the local fakes.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from apps.errors import ApplicationError
from apps.payments import services
from apps.payments.models import Payment
from apps.payments.providers.base import PaymentStatus
from tests.orders.test_refunds_after_cancel import ManualCaptureStripe
from tests.payments.fakes import stripe_served_by

pytestmark = pytest.mark.django_db


@pytest.fixture
def stripe_fake(settings):
    """Stripe with manual capture and the intent's cancel (the void)."""
    yield from stripe_served_by(ManualCaptureStripe(), settings)


def _authorized(stripe_fake, committed, reference: str = "R-VOID") -> Payment:
    payment = services.payment_create(
        order_reference=reference, provider="stripe", method="card", amount_minor=1999, currency="USD"
    )
    stripe_fake.authorize(payment.provider_payment_id)
    payment = committed(services.payment_refresh, payment_id=payment.pk)
    assert payment.status == PaymentStatus.AUTHORIZED
    return payment


def _row(payment: Payment) -> tuple:
    payment = Payment.objects.get(pk=payment.pk)
    return (
        payment.status,
        payment.captured_minor,
        payment.capture_declines,
        payment.void_requested_at,
        payment.provider_capture_id,
    )


def _refused_capture(payment: Payment) -> ApplicationError:
    with pytest.raises(ApplicationError) as err:
        services.payment_capture(payment_id=payment.pk)
    return err.value


def test_an_authorization_marked_to_be_voided_is_not_captured(stripe_fake, committed, signals):
    payment = _authorized(stripe_fake, committed)
    # The order's cancel marked it; the void itself waits (the provider was down).
    services.payment_void_request(payment_id=payment.pk)
    before = _row(payment)
    assert before[3] is not None

    refused = _refused_capture(payment)

    assert (refused.code, refused.status) == ("payment_cancelled", 409)
    assert refused.message == "This payment is cancelled: its money cannot be taken any more."
    assert refused.fields == {"payment_id": [str(payment.pk)]}
    assert _row(payment) == before
    assert stripe_fake.requests_to(f"/v1/payment_intents/{payment.provider_payment_id}/capture") == []
    assert stripe_fake.intents[payment.provider_payment_id]["status"] == "requires_capture"
    assert signals == []
    # The sweep's void still goes through afterwards.
    assert committed(services.payment_cancel, payment_id=payment.pk).status == PaymentStatus.CANCELLED


def test_a_voided_authorization_is_not_captured(stripe_fake, committed, signals):
    payment = _authorized(stripe_fake, committed)
    assert committed(services.payment_cancel, payment_id=payment.pk).status == PaymentStatus.CANCELLED
    before = _row(payment)
    asked = len(stripe_fake.requests)

    refused = _refused_capture(payment)

    assert (refused.code, refused.status) == ("payment_cancelled", 409)
    assert _row(payment) == before
    assert len(stripe_fake.requests) == asked
    assert signals.named("succeeded") == []


def test_a_paypal_approval_after_the_cancel_is_not_captured(paypal_fake, committed, signals):
    payment = services.payment_create(
        order_reference="R-VOID-PP", provider="paypal", method="paypal", amount_minor=1999, currency="USD"
    )
    # Cancelled before the shopper approved in another tab: nothing was taken, nothing will be.
    assert services.payment_void_request(payment_id=payment.pk).status == PaymentStatus.CANCELLED
    paypal_fake.approve(payment.provider_payment_id)
    before = _row(payment)

    refused = _refused_capture(payment)

    assert (refused.code, refused.status) == ("payment_cancelled", 409)
    assert _row(payment) == before
    assert paypal_fake.requests_to(f"/v2/checkout/orders/{payment.provider_payment_id}/capture") == []
    assert signals == []


def test_a_payment_captured_before_its_void_was_asked_is_returned_as_it_is(stripe_fake, committed):
    """Idempotent as before: the capture won the race, and the order's cancel refunds it."""
    payment = _authorized(stripe_fake, committed)
    captured = committed(services.payment_capture, payment_id=payment.pk)
    assert captured.status == PaymentStatus.SUCCEEDED
    Payment.objects.filter(pk=payment.pk).update(void_requested_at=timezone.now())
    asked = len(stripe_fake.requests)

    again = services.payment_capture(payment_id=payment.pk)

    assert (again.pk, again.status) == (payment.pk, PaymentStatus.SUCCEEDED)
    assert len(stripe_fake.requests) == asked
