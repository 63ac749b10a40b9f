"""The shopper comes back from the provider: the payment is read (Stripe) or taken (PayPal) at once.

Against the local fakes through the real SDKs. PayPal's "order approved" event queues the
same capture, so a shopper who approves and closes the tab still pays.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from apps.errors import ApplicationError
from apps.payments import services, tasks
from apps.payments.models import Payment, WebhookEvent
from apps.payments.providers.base import PaymentStatus
from tests.payments.fakes import closed_port_url

pytestmark = pytest.mark.django_db


def _stripe_payment(reference: str = "R-1", amount: int = 1999) -> Payment:
    return services.payment_create(
        order_reference=reference, provider="stripe", method="card", amount_minor=amount, currency="USD"
    )


def _paypal_payment(reference: str = "R-1", amount: int = 1999) -> Payment:
    return services.payment_create(
        order_reference=reference, provider="paypal", method="paypal", amount_minor=amount, currency="USD"
    )


def test_stripe_return_reads_the_intent_and_records_the_payment(stripe_fake, committed, signals):
    payment = _stripe_payment()
    stripe_fake.succeed(payment.provider_payment_id)

    returned = committed(
        services.payment_return, order_reference="R-1", provider_payment_id=payment.provider_payment_id
    )

    assert returned.pk == payment.pk
    assert returned.status == PaymentStatus.SUCCEEDED
    assert returned.captured_minor == 1999
    assert len(stripe_fake.requests_to(f"/v1/payment_intents/{payment.provider_payment_id}", method="GET")) == 1
    assert [s["payment_id"] for s in signals.named("succeeded")] == [payment.pk]

    # Coming back twice (a reload, the back button) asks nobody and announces nothing again.
    again = committed(services.payment_return, order_reference="R-1", provider_payment_id=payment.provider_payment_id)
    assert again.status == PaymentStatus.SUCCEEDED
    assert len(stripe_fake.requests_to("/v1/payment_intents/", method="GET")) == 1
    assert len(signals.named("succeeded")) == 1


def test_stripe_return_before_the_shopper_paid_leaves_it_pending(stripe_fake, committed, signals):
    payment = _stripe_payment()

    returned = committed(
        services.payment_return, order_reference="R-1", provider_payment_id=payment.provider_payment_id
    )

    assert returned.status == PaymentStatus.PENDING
    assert signals == []


def test_return_with_an_id_of_another_order_changes_nothing(stripe_fake, committed, signals):
    mine = _stripe_payment("R-1")
    theirs = _stripe_payment("R-2")
    stripe_fake.succeed(theirs.provider_payment_id)

    for forged in (theirs.provider_payment_id, "pi_nobody", "x" * 300, ""):
        assert committed(services.payment_return, order_reference="R-1", provider_payment_id=forged) is None

    assert stripe_fake.requests_to("/v1/payment_intents/", method="GET") == []
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.status, theirs.status) == (PaymentStatus.PENDING, PaymentStatus.PENDING)
    assert signals == []


def test_return_while_stripe_is_unreachable_is_a_clean_error(stripe_fake, settings, signals):
    payment = _stripe_payment()
    settings.STRIPE_API_BASE = closed_port_url()

    with pytest.raises(ApplicationError) as caught:
        services.payment_return(order_reference="R-1", provider_payment_id=payment.provider_payment_id)

    assert caught.value.code == "provider_unavailable"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING


def test_paypal_return_after_approval_captures_once(paypal_fake, committed, signals):
    payment = _paypal_payment()
    paypal_fake.approve(payment.provider_payment_id)

    returned = committed(
        services.payment_return, order_reference="R-1", provider_payment_id=payment.provider_payment_id
    )
    committed(services.payment_return, order_reference="R-1", provider_payment_id=payment.provider_payment_id)

    assert returned.status == PaymentStatus.SUCCEEDED
    assert returned.provider_capture_id == "CAP-FAKE1"
    (capture,) = paypal_fake.requests_to(f"/v2/checkout/orders/{payment.provider_payment_id}/capture")
    assert capture.headers["paypal-request-id"] == services.capture_key("R-1")
    assert len(signals.named("succeeded")) == 1


def test_paypal_return_without_approval_captures_nothing(paypal_fake, committed, signals):
    payment = _paypal_payment()  # the shopper left PayPal's page without approving

    returned = committed(
        services.payment_return, order_reference="R-1", provider_payment_id=payment.provider_payment_id
    )

    assert returned.status == PaymentStatus.PENDING
    assert paypal_fake.requests_to(f"/v2/checkout/orders/{payment.provider_payment_id}/capture") == []
    assert signals == []


def test_paypal_approved_event_alone_gets_the_money_taken(paypal_fake, committed, signals, celery_inline):
    """The shopper approved and closed the tab: PayPal's event queues the capture."""
    payment = _paypal_payment()
    paypal_fake.approve(payment.provider_payment_id)
    event = {
        "id": "WH-APPROVED",
        "event_type": "CHECKOUT.ORDER.APPROVED",
        "resource_type": "checkout-order",
        "resource": {
            "id": payment.provider_payment_id,
            "status": "APPROVED",
            "purchase_units": [{"custom_id": payment.idempotency_key}],
        },
    }

    response = committed(
        Client().post,
        reverse("payments:webhook-paypal"),
        data=json.dumps(event),
        content_type="application/json",
        headers=paypal_fake.sign(event),
    )

    assert response.status_code == 200, response.content
    assert WebhookEvent.objects.get().result == "pending: approved, capture queued"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    # A redelivery of the event, and the shopper coming back after all, take nothing twice.
    committed(
        Client().post,
        reverse("payments:webhook-paypal"),
        data=json.dumps(event),
        content_type="application/json",
        headers=paypal_fake.sign(event),
    )
    committed(services.payment_return, order_reference="R-1", provider_payment_id=payment.provider_payment_id)
    committed(tasks.payment_refresh.run, payment.pk)
    assert len(paypal_fake.requests_to(f"/v2/checkout/orders/{payment.provider_payment_id}/capture")) == 1
    assert len(signals.named("succeeded")) == 1


def test_refresh_task_retries_while_paypal_is_down(paypal_fake, settings, monkeypatch):
    payment = _paypal_payment()
    paypal_fake.approve(payment.provider_payment_id)
    settings.PAYPAL_API_BASE = closed_port_url()
    retried: list[dict] = []

    def retry(**kwargs):
        retried.append(kwargs)
        return RuntimeError("retry")

    monkeypatch.setattr(tasks.payment_refresh, "retry", retry)
    with pytest.raises(RuntimeError):
        tasks.payment_refresh.run(payment.pk)

    assert len(retried) == 1 and retried[0]["countdown"] == 30
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING


def test_refresh_task_gives_up_quietly_on_a_refusal(paypal_fake):
    payment = _paypal_payment()
    paypal_fake.approve(payment.provider_payment_id)
    paypal_fake.decline_captures = True

    tasks.payment_refresh.run(payment.pk)  # a refusal is recorded, not retried

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
