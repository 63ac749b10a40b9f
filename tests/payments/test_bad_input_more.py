"""Webhook deliveries that used to answer 500 are refused (400 ``webhook_rejected``), nothing stored or changed.

- A NUL character or a lone surrogate anywhere in a correctly signed event: PostgreSQL stores
  neither (text and jsonb refuse NUL; a lone surrogate is not UTF-8).
- An amount no payment or refund can record: negative, past the bigint columns, or PayPal's
  ``"Infinity"`` (a Decimal that ``int()`` refuses).
- A body nested deeper than Python's JSON parser goes (a ``RecursionError``): for PayPal it is
  read before anyone verified it, so anyone could send it.

Stripe deliveries are signed as Stripe signs them; PayPal's are verified by the local fake.
"""

from __future__ import annotations

import time

import pytest

from apps.payments.models import Payment, Refund, WebhookEvent
from apps.payments.providers.base import PaymentStatus
from tests.payments.test_webhooks import (
    _capture_event,
    _paypal_payment,
    _post_paypal,
    _post_stripe,
    _refund_event,
    _stripe_payment,
    _succeeded,
)

pytestmark = pytest.mark.django_db

TOO_DEEP = b"[" * 100_000 + b"]" * 100_000


def rejected(response) -> None:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "webhook_rejected" and error["message"]
    assert set(error) == {"code", "message", "fields"}
    assert WebhookEvent.objects.count() == 0


def unchanged(payment: Payment) -> None:
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING and payment.captured_minor == 0
    assert not Refund.objects.exists()


@pytest.mark.parametrize(
    "odd",
    ["NUL in the event id", "NUL in the event type", "NUL in the metadata", "NUL in a key", "lone surrogate"],
)
def test_stripe_signed_event_with_text_postgresql_cannot_store_is_refused(stripe_fake, client, odd):
    payment = _stripe_payment()
    event = _succeeded(stripe_fake, payment)
    intent = event["data"]["object"]
    if odd == "NUL in the event id":
        event["id"] = "evt_\x00"
    elif odd == "NUL in the event type":
        event["type"] = "payment_intent.succeeded\x00"
    elif odd == "NUL in the metadata":
        intent["metadata"] = {**intent.get("metadata", {}), "note": "a\x00b"}
    elif odd == "NUL in a key":
        intent["metadata"] = {**intent.get("metadata", {}), "no\x00te": "x"}
    else:
        intent["description"] = "\ud800"
    # json.dumps writes both as \u escapes: valid JSON, correctly signed.
    rejected(_post_stripe(client, event))
    unchanged(payment)


@pytest.mark.parametrize("amount", [-5, 2**63, 10**30])
def test_stripe_amount_received_that_cannot_be_recorded_is_refused(stripe_fake, client, amount):
    payment = _stripe_payment()
    event = _succeeded(stripe_fake, payment)
    event["data"]["object"]["amount_received"] = amount

    rejected(_post_stripe(client, event))
    unchanged(payment)


@pytest.mark.parametrize("amount", [2**63, 10**30])
def test_stripe_refund_of_an_amount_that_cannot_be_recorded_is_refused(stripe_fake, client, amount):
    payment = _stripe_payment()
    refund = {
        "id": "re_huge",
        "object": "refund",
        "amount": amount,
        "payment_intent": payment.provider_payment_id,
        "status": "succeeded",
        "created": int(time.time()),
    }

    rejected(_post_stripe(client, _refund_event("evt_huge_refund", "refund.updated", refund)))
    unchanged(payment)


def test_stripe_signed_body_nested_too_deeply_is_refused(stripe_fake, client):
    payment = _stripe_payment()
    rejected(_post_stripe(client, body=TOO_DEEP))
    unchanged(payment)


@pytest.mark.parametrize(
    "odd", ["NUL in the event id", "NUL in the custom id", "NUL in the capture id", "lone surrogate"]
)
def test_paypal_verified_event_with_text_postgresql_cannot_store_is_refused(paypal_fake, client, odd):
    payment = _paypal_payment(paypal_fake)
    event = _capture_event("WH-ODD-TEXT", "PAYMENT.CAPTURE.COMPLETED", payment)
    if odd == "NUL in the event id":
        event["id"] = "WH-\x00"
    elif odd == "NUL in the custom id":
        event["resource"]["custom_id"] += "\x00"
    elif odd == "NUL in the capture id":
        event["resource"]["id"] = "CAP-\x00"
    else:
        event["resource"]["note_to_payer"] = "\ud800"

    rejected(_post_paypal(client, paypal_fake, event))
    unchanged(payment)


@pytest.mark.parametrize("value", ["Infinity", "-Infinity", "-5.00", "1e30"])
def test_paypal_amount_that_cannot_be_recorded_is_refused(paypal_fake, client, value):
    payment = _paypal_payment(paypal_fake)
    event = _capture_event("WH-ODD-AMOUNT", "PAYMENT.CAPTURE.COMPLETED", payment)
    event["resource"]["amount"]["value"] = value

    rejected(_post_paypal(client, paypal_fake, event))
    unchanged(payment)


def test_paypal_body_nested_too_deeply_is_refused_before_asking_paypal(paypal_fake, client):
    payment = _paypal_payment(paypal_fake)
    # Headers that pass the checks made before the body is read: anyone can send them.
    headers = paypal_fake.sign({"id": "WH-DEEP"})

    rejected(_post_paypal(client, paypal_fake, body=TOO_DEEP, headers=headers))
    assert paypal_fake.requests_to("/v1/notifications/verify-webhook-signature") == []
    unchanged(payment)


@pytest.mark.parametrize("depth", [65, 500, 900, 950])
def test_paypal_body_parsed_but_nested_deeper_than_an_event_is_refused_before_asking_paypal(paypal_fake, client, depth):
    """Python parses it, but encoding it again for PayPal's verification call, deeper in the stack, would
    raise RecursionError (a 500 near 900 levels, before anyone verified the delivery)."""
    payment = _paypal_payment(paypal_fake)
    headers = paypal_fake.sign({"id": "WH-DEEP"})
    body = '{"id": "WH-DEEP", "event_type": "PAYMENT.CAPTURE.COMPLETED", "deep": ' + "[" * depth + "]" * depth + "}"

    rejected(_post_paypal(client, paypal_fake, body=body.encode(), headers=headers))
    assert paypal_fake.requests_to("/v1/notifications/verify-webhook-signature") == []
    unchanged(payment)
