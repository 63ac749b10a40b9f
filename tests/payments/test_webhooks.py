"""Provider webhooks: verified, stored once by the provider's event id, applied in any order.

Stripe deliveries are signed here exactly as Stripe signs them (HMAC-SHA256 of
``"<t>.<body>"`` with the endpoint's secret) and checked by ``stripe.Webhook.construct_event``;
PayPal deliveries are checked through the verify-webhook-signature call, answered by
:class:`tests.payments.fakes.FakePayPal`, which really compares what it signed with what
it is asked about. Most tests go through the HTTP endpoint; a few call the service.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time

import pytest
from django.test import Client
from django.urls import reverse

from apps.errors import ApplicationError
from apps.payments import selectors, services
from apps.payments.models import Payment, Refund, WebhookEvent
from apps.payments.providers.base import PaymentStatus, RefundStatus
from tests.payments.conftest import at_once
from tests.payments.fakes import PAYPAL_WEBHOOK_ID, STRIPE_WEBHOOK_SECRET, stripe_signature

STRIPE_URL = reverse("payments:webhook-stripe")
PAYPAL_URL = reverse("payments:webhook-paypal")


# --- Stripe -------------------------------------------------------------------------------


def _stripe_payment(reference: str = "R-1", amount: int = 1999) -> Payment:
    return services.payment_create(
        order_reference=reference, provider="stripe", method="card", amount_minor=amount, currency="USD"
    )


def _intent_event(event_id: str, event_type: str, intent: dict, **changes: object) -> dict:
    obj = {**intent, **changes}
    return {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": obj},
    }


def _refund_event(event_id: str, event_type: str, refund: dict) -> dict:
    return {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "data": {"object": refund},
    }


def _post_stripe(client, event=None, *, body=None, secret=STRIPE_WEBHOOK_SECRET, timestamp=None, header=None):
    body = json.dumps(event).encode() if body is None else body
    signature = stripe_signature(body, secret, timestamp) if header is None else header
    headers = {"Stripe-Signature": signature} if signature else {}
    return client.post(STRIPE_URL, data=body, content_type="application/json", headers=headers)


def _succeeded(stripe_fake, payment: Payment, event_id: str = "evt_succeeded") -> dict:
    intent = stripe_fake.succeed(payment.provider_payment_id)
    return _intent_event(event_id, "payment_intent.succeeded", intent)


@pytest.mark.django_db
def test_stripe_signed_event_is_accepted_and_applied(stripe_fake, client, committed, signals):
    payment = _stripe_payment()
    event = _succeeded(stripe_fake, payment)

    response = committed(_post_stripe, client, event)

    assert response.status_code == 200, response.content
    assert response.json() == {"received": True, "event_id": "evt_succeeded", "duplicate": False}
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.captured_minor == 1999
    stored = WebhookEvent.objects.get()
    assert (stored.provider, stored.event_id, stored.event_type) == ("stripe", "evt_succeeded", event["type"])
    assert stored.payload == event
    assert stored.processed_at is not None
    assert stored.result == "pending -> succeeded"
    assert [s["payment_id"] for s in signals.named("succeeded")] == [payment.pk]


@pytest.mark.django_db
def test_stripe_same_event_ten_times_changes_state_once(stripe_fake, client, committed, signals):
    payment = _stripe_payment()
    event = _succeeded(stripe_fake, payment)

    answers = [committed(_post_stripe, client, event) for _ in range(10)]

    assert [a.status_code for a in answers] == [200] * 10
    assert [a.json()["duplicate"] for a in answers] == [False] + [True] * 9
    assert WebhookEvent.objects.count() == 1
    assert len(signals.named("succeeded")) == 1
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED


def _tamper(body: bytes) -> bytes:
    return body.replace(b'"succeeded"', b'"canceled"', 1)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "how",
    ["unsigned", "wrong secret", "tampered body", "garbage header", "other scheme", "re-dated", "empty body"],
)
def test_stripe_bad_signature_is_refused_and_nothing_changes(stripe_fake, client, committed, signals, how):
    payment = _stripe_payment()
    event = _succeeded(stripe_fake, payment)
    body = json.dumps(event).encode()
    good = stripe_signature(body, STRIPE_WEBHOOK_SECRET)
    now = int(time.time())
    cases = {
        "unsigned": {"body": body, "header": ""},
        "wrong secret": {"body": body, "secret": "whsec_somebody_else"},
        "tampered body": {"body": body, "header": stripe_signature(_tamper(body), STRIPE_WEBHOOK_SECRET)},
        "garbage header": {"body": body, "header": "t=yesterday,v1=abc"},
        "other scheme": {"body": body, "header": good.replace("v1=", "v0=")},
        # The signature of this body at another time does not sign it now.
        "re-dated": {"body": body, "header": f"t={now - 5}," + good.split(",", 1)[1]},
        "empty body": {"body": b"", "header": good},
    }

    response = committed(_post_stripe, client, **cases[how])

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "webhook_rejected"
    assert WebhookEvent.objects.count() == 0
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert payment.captured_minor == 0
    assert list(signals) == []


@pytest.mark.django_db
@pytest.mark.parametrize(("offset", "accepted"), [(-400, False), (400, False), (-200, True), (60, True)])
def test_stripe_timestamp_too_old_or_too_far_ahead_is_refused(stripe_fake, client, offset, accepted):
    """Tolerance is 300 s both ways: the SDK bounds the past, our code the future."""
    payment = _stripe_payment()
    event = _succeeded(stripe_fake, payment)

    response = _post_stripe(client, event, timestamp=int(time.time()) + offset)

    payment.refresh_from_db()
    if accepted:
        assert response.status_code == 200, response.content
        assert WebhookEvent.objects.count() == 1
        assert payment.status == PaymentStatus.SUCCEEDED
    else:
        assert response.status_code == 400, response.content
        assert response.json()["error"]["code"] == "webhook_rejected"
        assert WebhookEvent.objects.count() == 0
        assert payment.status == PaymentStatus.PENDING


@pytest.mark.django_db
def test_stripe_correctly_signed_body_that_is_not_json_is_refused(stripe_fake, client):
    response = _post_stripe(client, body=b"{not json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "webhook_rejected"
    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "odd",
    [
        "a list",
        "data is a string",
        "object is a list",
        "metadata is a list",
        "amount is text",
        "amount is a fraction",
    ],
)
def test_stripe_signed_event_of_an_odd_shape_is_refused_and_nothing_changes(stripe_fake, client, odd):
    payment = _stripe_payment()
    event = _succeeded(stripe_fake, payment)
    intent = event["data"]["object"]
    if odd == "a list":
        event = [event]
    elif odd == "data is a string":
        event["data"] = "payment_intent"
    elif odd == "object is a list":
        event["data"]["object"] = [intent]
    elif odd == "metadata is a list":
        intent["metadata"] = ["payment_key"]
    elif odd == "amount is text":
        intent["amount_received"] = "lots"
    else:
        intent["amount_received"] = 19.99
    response = _post_stripe(client, event)
    if odd == "metadata is a list":
        # Without our metadata the event is still found by the intent's id, and applied.
        assert response.status_code == 200
        payment.refresh_from_db()
        assert payment.status == PaymentStatus.SUCCEEDED
        return
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "webhook_rejected"
    assert WebhookEvent.objects.count() == 0
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING


@pytest.mark.django_db
def test_stripe_event_without_id_is_refused(stripe_fake, client):
    payment = _stripe_payment()
    event = _succeeded(stripe_fake, payment)
    del event["id"]
    response = _post_stripe(client, event)
    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING


@pytest.mark.django_db
def test_stripe_webhooks_without_secret_are_refused(stripe_fake, client, settings):
    payment = _stripe_payment()
    event = _succeeded(stripe_fake, payment)
    settings.STRIPE_WEBHOOK_SECRET = None

    response = _post_stripe(client, event)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "webhook_rejected"
    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db
def test_stripe_webhooks_without_stripe_keys_are_not_accepted(client):
    response = _post_stripe(client, {"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": {}}})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "webhook_not_configured"
    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("late_type", "late_status"),
    [
        ("payment_intent.processing", "processing"),
        ("payment_intent.created", "requires_payment_method"),
        ("payment_intent.requires_action", "requires_action"),
        ("payment_intent.payment_failed", "requires_payment_method"),
        ("payment_intent.canceled", "canceled"),
    ],
)
def test_stripe_late_event_after_succeeded_changes_nothing(
    stripe_fake, client, committed, signals, late_type, late_status
):
    payment = _stripe_payment()
    intent = dict(stripe_fake.intents[payment.provider_payment_id])
    committed(_post_stripe, client, _succeeded(stripe_fake, payment))

    late = _intent_event("evt_late", late_type, intent, status=late_status)
    response = committed(_post_stripe, client, late)

    assert response.status_code == 200
    assert response.json()["duplicate"] is False
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.captured_minor == 1999
    assert WebhookEvent.objects.get(event_id="evt_late").result == "no change: succeeded stays"
    assert len(signals.named("succeeded")) == 1
    assert signals.named("failed") == []


@pytest.mark.django_db
def test_stripe_declined_then_retried_in_the_element_succeeds(stripe_fake, client, committed, signals):
    payment = _stripe_payment()
    intent = dict(stripe_fake.intents[payment.provider_payment_id])
    failed = _intent_event(
        "evt_failed",
        "payment_intent.payment_failed",
        intent,
        last_payment_error={"message": "Your card was declined."},
    )

    committed(_post_stripe, client, failed)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    assert payment.failure_reason == "Your card was declined."

    committed(_post_stripe, client, _succeeded(stripe_fake, payment))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.failure_reason == ""
    assert [s["reason"] for s in signals.named("failed")] == ["Your card was declined."]
    assert len(signals.named("succeeded")) == 1


def _stripe_siblings(stripe_fake, payment: Payment) -> list[dict]:
    """The events of one payment: a decline, a retry that succeeds, a partial refund from the dashboard."""
    pi = payment.provider_payment_id
    base = dict(stripe_fake.intents[pi])
    done = stripe_fake.succeed(pi)
    refund = {
        "id": f"re_dash_{pi}",
        "object": "refund",
        "amount": 500,
        "currency": "usd",
        "payment_intent": pi,
        "metadata": {},
    }
    return [
        _intent_event(f"evt_created_{pi}", "payment_intent.created", base),
        _intent_event(
            f"evt_failed_{pi}",
            "payment_intent.payment_failed",
            base,
            last_payment_error={"message": "Your card was declined."},
        ),
        _intent_event(f"evt_processing_{pi}", "payment_intent.processing", base, status="processing"),
        _intent_event(f"evt_succeeded_{pi}", "payment_intent.succeeded", done),
        _refund_event(f"evt_refund_created_{pi}", "refund.created", {**refund, "status": "pending"}),
        _refund_event(f"evt_refund_updated_{pi}", "refund.updated", {**refund, "status": "succeeded"}),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("seed", range(12))
def test_stripe_siblings_in_any_order_and_replayed_end_the_same(stripe_fake, client, committed, signals, seed):
    payment = _stripe_payment()
    events = _stripe_siblings(stripe_fake, payment)
    order = events * 2  # every event delivered twice
    if seed == 0:
        order = order[::-1]
    else:
        random.Random(seed).shuffle(order)

    answers = [committed(_post_stripe, client, event) for event in order]

    assert all(a.status_code == 200 for a in answers)
    assert sum(not a.json()["duplicate"] for a in answers) == len(events)
    assert WebhookEvent.objects.count() == len(events)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PARTIALLY_REFUNDED
    assert payment.captured_minor == 1999
    (refund,) = Refund.objects.all()
    assert (refund.payment_id, refund.amount_minor, refund.status) == (payment.pk, 500, RefundStatus.SUCCEEDED)
    assert refund.provider_refund_id == f"re_dash_{payment.provider_payment_id}"
    assert len(signals.named("succeeded")) == 1
    assert [s["refund_id"] for s in signals.named("refunded")] == [refund.pk]
    assert len(signals.named("failed")) <= 1


@pytest.mark.django_db(transaction=True)
def test_stripe_concurrent_deliveries_of_one_event_store_it_once(stripe_fake, signals):
    payment = _stripe_payment()
    event = _succeeded(stripe_fake, payment)

    statuses, errors = at_once(lambda: _post_stripe(Client(), event).json(), 8)

    assert errors == []
    assert sorted(s["duplicate"] for s in statuses) == [False] + [True] * 7
    assert WebhookEvent.objects.count() == 1
    assert len(signals.named("succeeded")) == 1
    assert Payment.objects.get().status == PaymentStatus.SUCCEEDED


@pytest.mark.django_db
def test_stripe_event_overtaking_our_own_record_finds_the_payment_by_key(stripe_fake, client, settings):
    """The intent was created but its answer lost; its webhook still finds our payment by key."""
    settings.PAYMENT_PROVIDER_TIMEOUT = 0.3
    stripe_fake.delay = 1.0
    with pytest.raises(ApplicationError):
        _stripe_payment()
    stripe_fake.delay = 0
    payment = Payment.objects.get()
    assert payment.provider_payment_id == ""

    response = _post_stripe(client, _intent_event("evt_1", "payment_intent.succeeded", stripe_fake.succeed("pi_fake1")))

    assert response.status_code == 200
    payment.refresh_from_db()
    assert payment.provider_payment_id == "pi_fake1"
    assert payment.status == PaymentStatus.SUCCEEDED
    with pytest.raises(ApplicationError) as err:
        _stripe_payment()
    assert err.value.code == "already_paid"
    assert len(stripe_fake.intents) == 1


@pytest.mark.django_db
def test_stripe_events_about_nothing_we_know_are_stored_and_ignored(stripe_fake, client):
    stranger = {
        "id": "pi_elsewhere",
        "object": "payment_intent",
        "amount": 100,
        "amount_received": 100,
        "status": "succeeded",
        "metadata": {},
    }
    customer = {"id": "evt_customer", "object": "event", "type": "customer.created", "data": {"object": {}}}

    assert _post_stripe(client, _intent_event("evt_stranger", "payment_intent.succeeded", stranger)).status_code == 200
    assert _post_stripe(client, customer).status_code == 200

    results = dict(WebhookEvent.objects.values_list("event_id", "result"))
    # An event about a payment we do not know may be early: it waits (see the PayPal refund below).
    assert results == {"evt_stranger": "waiting: unknown payment", "evt_customer": "ignored: not about a payment"}
    assert Payment.objects.count() == 0
    stranger = WebhookEvent.objects.get(event_id="evt_stranger")
    assert stranger.processed_at is None

    # Nothing turns up for it: after the wait limit it is given up, logged and never applied.
    later = stranger.received_at + services.WEBHOOK_WAIT_LIMIT - dt.timedelta(seconds=1)
    assert services.webhook_events_retry(now=later) == 0
    assert WebhookEvent.objects.get(event_id="evt_stranger").processed_at is None
    assert services.webhook_events_retry(now=later + dt.timedelta(seconds=1)) == 0
    stranger.refresh_from_db()
    assert (stranger.result, stranger.processed_at) == ("ignored: unknown payment", later + dt.timedelta(seconds=1))
    assert Payment.objects.count() == 0


def _paid_by_webhook(stripe_fake, client, committed) -> Payment:
    payment = _stripe_payment()
    committed(_post_stripe, client, _succeeded(stripe_fake, payment))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    return payment


@pytest.mark.django_db
def test_stripe_refund_event_for_our_refund_does_not_count_twice(stripe_fake, client, committed, signals):
    payment = _paid_by_webhook(stripe_fake, client, committed)
    refund = committed(services.payment_refund, payment_id=payment.pk, amount_minor=700)
    assert refund.status == RefundStatus.SUCCEEDED

    stripe_refund = stripe_fake.refunds[refund.provider_refund_id]
    for event_id in ("evt_r1", "evt_r1", "evt_r2"):
        response = committed(_post_stripe, client, _refund_event(event_id, "refund.updated", stripe_refund))
        assert response.status_code == 200

    assert Refund.objects.count() == 1
    assert len(signals.named("refunded")) == 1
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PARTIALLY_REFUNDED
    assert selectors.payment_refundable_minor(payment=payment) == 1999 - 700


@pytest.mark.django_db
def test_stripe_pending_refund_settled_by_its_event(stripe_fake, client, committed, signals):
    payment = _paid_by_webhook(stripe_fake, client, committed)
    stripe_fake.refund_status = "pending"
    refund = committed(services.payment_refund, payment_id=payment.pk)
    assert refund.status == RefundStatus.PENDING
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert signals.named("refunded") == []

    stripe_refund = {**stripe_fake.refunds[refund.provider_refund_id], "status": "succeeded"}
    committed(_post_stripe, client, _refund_event("evt_refund_ok", "refund.updated", stripe_refund))
    # A late "created" (still pending) after it changes nothing.
    late = {**stripe_refund, "status": "pending"}
    committed(_post_stripe, client, _refund_event("evt_refund_created", "refund.created", late))

    refund.refresh_from_db()
    payment.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert payment.status == PaymentStatus.REFUNDED
    (sent,) = signals.named("refunded")
    assert (sent["refund_id"], sent["amount_minor"], sent["fully_refunded"]) == (refund.pk, 1999, True)


@pytest.mark.django_db
def test_stripe_failed_refund_event_frees_the_amount(stripe_fake, client, committed, signals):
    payment = _paid_by_webhook(stripe_fake, client, committed)
    stripe_fake.refund_status = "pending"
    refund = committed(services.payment_refund, payment_id=payment.pk, amount_minor=1000)
    assert selectors.payment_refundable_minor(payment=payment) == 999

    failed = {**stripe_fake.refunds[refund.provider_refund_id], "status": "failed"}
    committed(_post_stripe, client, _refund_event("evt_refund_failed", "refund.failed", failed))

    refund.refresh_from_db()
    payment.refresh_from_db()
    assert refund.status == RefundStatus.FAILED
    assert payment.status == PaymentStatus.SUCCEEDED
    assert selectors.payment_refundable_minor(payment=payment) == 1999
    assert signals.named("refunded") == []


@pytest.mark.django_db
def test_stripe_refund_event_finds_a_refund_whose_answer_was_lost(stripe_fake, client, committed, settings):
    payment = _paid_by_webhook(stripe_fake, client, committed)
    settings.PAYMENT_PROVIDER_TIMEOUT = 0.3
    stripe_fake.delay = 1.0
    with pytest.raises(ApplicationError) as err:
        services.payment_refund(payment_id=payment.pk, amount_minor=300)
    assert err.value.code == "provider_unavailable"
    stripe_fake.delay = 0
    refund = Refund.objects.get()
    assert (refund.status, refund.provider_refund_id) == (RefundStatus.PENDING, "")

    (made,) = stripe_fake.refunds.values()
    assert made["metadata"] == {"refund_key": refund.idempotency_key}
    committed(_post_stripe, client, _refund_event("evt_refund", "refund.updated", made))

    refund.refresh_from_db()
    assert Refund.objects.count() == 1
    assert (refund.status, refund.provider_refund_id) == (RefundStatus.SUCCEEDED, made["id"])
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PARTIALLY_REFUNDED


@pytest.mark.django_db
def test_stripe_service_verifies_and_dedupes_too(stripe_fake):
    payment = _stripe_payment()
    event = _succeeded(stripe_fake, payment)
    body = json.dumps(event).encode()
    headers = {"Stripe-Signature": stripe_signature(body, STRIPE_WEBHOOK_SECRET), "Content-Type": "application/json"}

    first = services.webhook_receive(provider="stripe", body=body, headers=headers)
    second = services.webhook_receive(provider="stripe", body=body, headers=headers)
    with pytest.raises(ApplicationError) as err:
        services.webhook_receive(provider="stripe", body=body, headers={"Stripe-Signature": "t=1,v1=00"})

    assert (first.duplicate, second.duplicate) == (False, True)
    assert first.event.pk == second.event.pk
    assert err.value.code == "webhook_rejected"
    assert err.value.status == 400
    assert WebhookEvent.objects.count() == 1


# --- PayPal -------------------------------------------------------------------------------


def _paypal_payment(paypal_fake, reference: str = "R-1", amount: int = 1999) -> Payment:
    payment = services.payment_create(
        order_reference=reference, provider="paypal", method="paypal", amount_minor=amount, currency="USD"
    )
    paypal_fake.approve(payment.provider_payment_id)
    return payment


def _capture_event(event_id: str, event_type: str, payment: Payment, *, capture_id="CAP-HOOK1", status="COMPLETED"):
    return {
        "id": event_id,
        "event_version": "1.0",
        "resource_type": "capture",
        "event_type": event_type,
        "create_time": dt.datetime.now(dt.UTC).isoformat(),
        "resource": {
            "id": capture_id,
            "status": status,
            "amount": {"currency_code": payment.currency, "value": f"{payment.amount_minor / 100:.2f}"},
            "custom_id": payment.idempotency_key,
            "supplementary_data": {"related_ids": {"order_id": payment.provider_payment_id}},
        },
    }


def _order_event(event_id: str, event_type: str, payment: Payment, status: str) -> dict:
    return {
        "id": event_id,
        "event_type": event_type,
        "resource_type": "checkout-order",
        "resource": {
            "id": payment.provider_payment_id,
            "status": status,
            "purchase_units": [{"custom_id": payment.idempotency_key}],
        },
    }


def _paypal_refund_event(event_id: str, *, refund_id: str, capture_id: str, value: str, custom_id: str = ""):
    resource = {
        "id": refund_id,
        "status": "COMPLETED",
        "amount": {"currency_code": "USD", "value": value},
        "links": [{"href": f"https://api.paypal.example/v2/payments/captures/{capture_id}", "rel": "up"}],
    }
    if custom_id:
        resource["custom_id"] = custom_id
    return {"id": event_id, "event_type": "PAYMENT.CAPTURE.REFUNDED", "resource_type": "refund", "resource": resource}


def _post_paypal(client, paypal_fake, event=None, *, body=None, headers=None, sent_at=None):
    headers = paypal_fake.sign(event, sent_at=sent_at) if headers is None else headers
    body = json.dumps(event).encode() if body is None else body
    return client.post(PAYPAL_URL, data=body, content_type="application/json", headers=headers)


def _verifications(paypal_fake):
    return paypal_fake.requests_to("/v1/notifications/verify-webhook-signature")


@pytest.mark.django_db
def test_paypal_verified_event_is_accepted_and_applied(paypal_fake, client, committed, signals):
    payment = _paypal_payment(paypal_fake)
    event = _capture_event("WH-1", "PAYMENT.CAPTURE.COMPLETED", payment)
    headers = paypal_fake.sign(event)

    response = committed(_post_paypal, client, paypal_fake, event, headers=headers)

    assert response.status_code == 200, response.content
    assert response.json() == {"received": True, "event_id": "WH-1", "duplicate": False}
    (verification,) = _verifications(paypal_fake)
    assert verification.headers["authorization"] == "Bearer fake-token"
    sent = verification.json
    assert sent["webhook_id"] == PAYPAL_WEBHOOK_ID
    assert sent["webhook_event"] == event
    assert sent["transmission_id"] == headers["PAYPAL-TRANSMISSION-ID"]
    assert sent["transmission_sig"] == headers["PAYPAL-TRANSMISSION-SIG"]
    assert sent["transmission_time"] == headers["PAYPAL-TRANSMISSION-TIME"]
    assert sent["cert_url"] == headers["PAYPAL-CERT-URL"]
    assert sent["auth_algo"] == "SHA256withRSA"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.captured_minor == 1999
    assert payment.provider_capture_id == "CAP-HOOK1"
    assert WebhookEvent.objects.get().event_type == "PAYMENT.CAPTURE.COMPLETED"
    assert [s["payment_id"] for s in signals.named("succeeded")] == [payment.pk]


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["paypal says FAILURE", "tampered body", "signed for another webhook", "bad sig"])
def test_paypal_unverified_event_is_refused_and_nothing_changes(paypal_fake, client, committed, signals, how):
    payment = _paypal_payment(paypal_fake)
    event = _capture_event("WH-1", "PAYMENT.CAPTURE.COMPLETED", payment)
    headers = paypal_fake.sign(event)
    body = None
    if how == "paypal says FAILURE":
        paypal_fake.verification_status = "FAILURE"
    elif how == "tampered body":
        tampered = json.loads(json.dumps(event))
        tampered["resource"]["amount"]["value"] = "0.01"
        body = json.dumps(tampered).encode()
    elif how == "signed for another webhook":
        paypal_fake.webhook_id = "WH-SOMEONE-ELSE"
        headers = paypal_fake.sign(event)
        paypal_fake.webhook_id = PAYPAL_WEBHOOK_ID
    else:
        headers["PAYPAL-TRANSMISSION-SIG"] = "0" * 64

    response = committed(_post_paypal, client, paypal_fake, event, body=body, headers=headers)

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "webhook_rejected"
    assert len(_verifications(paypal_fake)) == 1
    assert WebhookEvent.objects.count() == 0
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert payment.provider_capture_id == ""
    assert list(signals) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "how", ["no headers", "no signature", "no transmission time", "too old", "from the future", "not a time", "naive"]
)
def test_paypal_refused_before_asking_paypal(paypal_fake, client, how):
    payment = _paypal_payment(paypal_fake)
    event = _capture_event("WH-1", "PAYMENT.CAPTURE.COMPLETED", payment)
    now = dt.datetime.now(dt.UTC)
    headers = paypal_fake.sign(event)
    if how == "no headers":
        headers = {}
    elif how == "no signature":
        del headers["PAYPAL-TRANSMISSION-SIG"]
    elif how == "no transmission time":
        del headers["PAYPAL-TRANSMISSION-TIME"]
    elif how == "too old":
        headers = paypal_fake.sign(event, sent_at=now - dt.timedelta(seconds=400))
    elif how == "from the future":
        headers = paypal_fake.sign(event, sent_at=now + dt.timedelta(seconds=400))
    elif how == "not a time":
        headers["PAYPAL-TRANSMISSION-TIME"] = "yesterday"
    else:
        headers["PAYPAL-TRANSMISSION-TIME"] = now.replace(tzinfo=None).isoformat()

    response = _post_paypal(client, paypal_fake, event, headers=headers)

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "webhook_rejected"
    assert _verifications(paypal_fake) == []
    assert WebhookEvent.objects.count() == 0
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING


@pytest.mark.django_db
def test_paypal_slightly_old_delivery_is_accepted(paypal_fake, client):
    payment = _paypal_payment(paypal_fake)
    event = _capture_event("WH-1", "PAYMENT.CAPTURE.COMPLETED", payment)
    sent_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=200)
    assert _post_paypal(client, paypal_fake, event, sent_at=sent_at).status_code == 200
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED


@pytest.mark.django_db
def test_paypal_body_that_is_not_json_is_refused(paypal_fake, client):
    headers = paypal_fake.sign({"id": "WH-1"})
    response = client.post(PAYPAL_URL, data=b"[1, 2", content_type="application/json", headers=headers)
    assert response.status_code == 400
    assert _verifications(paypal_fake) == []
    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("odd", ["related ids are a list", "amount is text", "purchase units are a string"])
def test_paypal_verified_event_of_an_odd_shape_is_refused_and_nothing_changes(paypal_fake, client, odd):
    payment = _paypal_payment(paypal_fake)
    if odd == "purchase units are a string":
        event = _order_event("WH-ODD", "CHECKOUT.ORDER.APPROVED", payment, "APPROVED")
        event["resource"]["purchase_units"] = "R-1"
    else:
        event = _capture_event("WH-ODD", "PAYMENT.CAPTURE.COMPLETED", payment)
        if odd == "related ids are a list":
            event["resource"]["supplementary_data"] = {"related_ids": ["order"]}
        else:
            event["resource"]["amount"] = "19.99 USD"
    response = _post_paypal(client, paypal_fake, event)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "webhook_rejected"
    assert WebhookEvent.objects.count() == 0
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING


@pytest.mark.django_db
def test_paypal_webhooks_without_webhook_id_are_refused(paypal_fake, client, settings):
    payment = _paypal_payment(paypal_fake)
    settings.PAYPAL_WEBHOOK_ID = None
    event = _capture_event("WH-1", "PAYMENT.CAPTURE.COMPLETED", payment)
    response = _post_paypal(client, paypal_fake, event)
    assert response.status_code == 400
    assert _verifications(paypal_fake) == []
    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db
def test_paypal_verification_unreachable_is_503_and_nothing_stored(paypal_fake, client):
    payment = _paypal_payment(paypal_fake)
    event = _capture_event("WH-1", "PAYMENT.CAPTURE.COMPLETED", payment)
    paypal_fake.fail_next = [503]

    response = _post_paypal(client, paypal_fake, event)

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "provider_unavailable"
    assert WebhookEvent.objects.count() == 0
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING

    # PayPal delivers again later; now it is verified and applied.
    assert _post_paypal(client, paypal_fake, event).status_code == 200
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED


@pytest.mark.django_db
def test_paypal_verification_timeout_is_503_and_nothing_stored(paypal_fake, client, settings):
    settings.PAYMENT_PROVIDER_TIMEOUT = 0.3
    payment = _paypal_payment(paypal_fake)  # fetches the token with these settings
    event = _capture_event("WH-1", "PAYMENT.CAPTURE.COMPLETED", payment)
    paypal_fake.delay = 1.0

    response = _post_paypal(client, paypal_fake, event)

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "provider_unavailable"
    assert len(_verifications(paypal_fake)) == 1
    assert WebhookEvent.objects.count() == 0
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING


@pytest.mark.django_db
def test_paypal_redelivery_is_a_duplicate(paypal_fake, client, committed, signals):
    payment = _paypal_payment(paypal_fake)
    event = _capture_event("WH-1", "PAYMENT.CAPTURE.COMPLETED", payment)

    # PayPal redelivers with a new transmission each time; the event id stays.
    answers = [committed(_post_paypal, client, paypal_fake, event) for _ in range(5)]

    assert [a.json()["duplicate"] for a in answers] == [False, True, True, True, True]
    assert len(_verifications(paypal_fake)) == 5
    assert WebhookEvent.objects.count() == 1
    assert len(signals.named("succeeded")) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("seed", range(8))
def test_paypal_events_in_any_order_end_the_same(paypal_fake, client, committed, signals, seed):
    payment = _paypal_payment(paypal_fake)
    events = [
        _order_event("WH-approved", "CHECKOUT.ORDER.APPROVED", payment, "APPROVED"),
        _capture_event("WH-pending", "PAYMENT.CAPTURE.PENDING", payment, status="PENDING"),
        _capture_event("WH-completed", "PAYMENT.CAPTURE.COMPLETED", payment),
        _capture_event("WH-denied-late", "PAYMENT.CAPTURE.DENIED", payment, status="DECLINED"),
    ]
    order = events * 2
    random.Random(seed).shuffle(order)
    completed_at = next(i for i, e in enumerate(order) if e["id"] == "WH-completed")

    answers = [committed(_post_paypal, client, paypal_fake, event) for event in order]

    assert all(a.status_code == 200 for a in answers)
    assert WebhookEvent.objects.count() == len(events)
    payment.refresh_from_db()
    denied_first = any(e["id"] == "WH-denied-late" for e in order[:completed_at])
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.provider_capture_id == "CAP-HOOK1"
    assert payment.captured_minor == 1999
    assert len(signals.named("succeeded")) == 1
    assert len(signals.named("failed")) == (1 if denied_first else 0)


@pytest.mark.django_db
def test_paypal_refund_event_records_a_dashboard_refund_once(paypal_fake, client, committed, signals):
    payment = _paypal_payment(paypal_fake)
    payment = committed(services.payment_capture, payment_id=payment.pk)
    assert payment.provider_capture_id == "CAP-FAKE1"
    refund_event = _paypal_refund_event("WH-refund", refund_id="REF-DASH1", capture_id="CAP-FAKE1", value="5.00")

    for _ in range(3):
        assert committed(_post_paypal, client, paypal_fake, refund_event).status_code == 200

    (refund,) = Refund.objects.all()
    assert (refund.amount_minor, refund.status, refund.provider_refund_id) == (500, RefundStatus.SUCCEEDED, "REF-DASH1")
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PARTIALLY_REFUNDED
    assert len(signals.named("refunded")) == 1


@pytest.mark.django_db
def test_paypal_refund_that_overtakes_the_capture_waits_for_it(paypal_fake, client, committed, signals, settings):
    """The capture's answer was lost and the merchant refunded from the dashboard before we retried."""
    settings.PAYMENT_PROVIDER_TIMEOUT = 0.3
    payment = _paypal_payment(paypal_fake)
    paypal_fake.delay = 1.0
    with pytest.raises(ApplicationError):
        committed(services.payment_capture, payment_id=payment.pk)  # captured at PayPal, answer lost
    paypal_fake.delay = 0
    refund_event = _paypal_refund_event("WH-early-refund", refund_id="REF-DASH1", capture_id="CAP-FAKE1", value="19.99")

    assert committed(_post_paypal, client, paypal_fake, refund_event).status_code == 200
    event = WebhookEvent.objects.get(event_id="WH-early-refund")
    assert (event.result, event.processed_at) == ("waiting: unknown payment", None)
    assert not Refund.objects.exists()

    payment = committed(services.payment_capture, payment_id=payment.pk)  # the retry learns the capture

    event.refresh_from_db()
    assert event.processed_at is not None and event.result.startswith("refund ")
    (refund,) = Refund.objects.all()
    assert (refund.amount_minor, refund.provider_refund_id) == (1999, "REF-DASH1")
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED
    assert len(signals.named("refunded")) == 1
    assert services.webhook_events_retry() == 0  # applied once, never again


def test_beat_retries_waiting_provider_events():
    from livemall.celery import app

    assert any(e["task"] == "payments.webhook_events_retry" for e in app.conf.beat_schedule.values())


@pytest.mark.django_db
def test_paypal_refund_event_for_our_refund_does_not_count_twice(paypal_fake, client, committed, signals):
    payment = _paypal_payment(paypal_fake)
    committed(services.payment_capture, payment_id=payment.pk)
    refund = committed(services.payment_refund, payment_id=payment.pk)
    assert refund.status == RefundStatus.SUCCEEDED

    event = _paypal_refund_event(
        "WH-refund", refund_id=refund.provider_refund_id, capture_id="CAP-FAKE1", value="19.99"
    )
    assert committed(_post_paypal, client, paypal_fake, event).status_code == 200

    assert Refund.objects.count() == 1
    assert len(signals.named("refunded")) == 1
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED
    assert WebhookEvent.objects.get().result == "refund no change: succeeded stays"


@pytest.mark.django_db
def test_paypal_service_verifies_through_paypal(paypal_fake):
    payment = _paypal_payment(paypal_fake)
    event = _capture_event("WH-1", "PAYMENT.CAPTURE.COMPLETED", payment)
    body = json.dumps(event).encode()

    receipt = services.webhook_receive(provider="paypal", body=body, headers=paypal_fake.sign(event))
    paypal_fake.verification_status = "FAILURE"
    with pytest.raises(ApplicationError) as err:
        services.webhook_receive(
            provider="paypal",
            body=json.dumps({**event, "id": "WH-2"}).encode(),
            headers=paypal_fake.sign({**event, "id": "WH-2"}),
        )

    assert receipt.duplicate is False
    assert receipt.event.event_id == "WH-1"
    assert err.value.code == "webhook_rejected"
    assert list(WebhookEvent.objects.values_list("event_id", flat=True)) == ["WH-1"]
    assert len(_verifications(paypal_fake)) == 2


@pytest.mark.django_db
def test_providers_not_listed_or_without_keys_have_no_webhooks(client, use_region):
    use_region("us-east")
    response = client.post(reverse("payments:webhook-stripe"), data=b"{}", content_type="application/json")
    assert response.status_code == 404
    with pytest.raises(ApplicationError) as err:
        services.webhook_receive(provider="cash_on_delivery", body=b"{}", headers={})
    assert err.value.code == "webhook_not_configured"
