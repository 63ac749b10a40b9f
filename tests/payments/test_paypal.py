"""PayPal Orders v2 (create, capture) and capture refunds through the real SDK against the local fake."""

from __future__ import annotations

import base64

import pytest

from apps.errors import ApplicationError
from apps.payments import selectors, services
from apps.payments.models import Payment, Refund
from apps.payments.providers.base import NextAction, PaymentStatus, RefundStatus
from tests.payments.conftest import at_once, paypal_captured

UNAVAILABLE = "This payment method is not answering right now; please try another method."


def _create(reference="R-1", amount=1999, currency="USD", **extra):
    return services.payment_create(
        order_reference=reference, provider="paypal", method="paypal", amount_minor=amount, currency=currency, **extra
    )


def _orders(paypal_fake):
    return paypal_fake.requests_to("/v2/checkout/orders")


def _created(paypal_fake):
    return [r for r in _orders(paypal_fake) if r.path.rstrip("/") == "/v2/checkout/orders"]


def _captures(paypal_fake, order_id="ORDER-FAKE1"):
    return paypal_fake.requests_to(f"/v2/checkout/orders/{order_id}/capture")


def _refunds(paypal_fake, capture_id="CAP-FAKE1"):
    return paypal_fake.requests_to(f"/v2/payments/captures/{capture_id}/refund")


def _prime_token(paypal_fake):
    """Make the OAuth call happen now, so a test's ``fail_next`` hits the call it is about.

    Call it after changing timeout or retry settings: a provider is built (and gets its
    token) per settings.
    """
    _create(reference="R-prime", amount=100)
    assert len(paypal_fake.requests_to("/v1/oauth2/token")) == 1


def _captured(paypal_fake, committed=None, reference="R-1", amount=1999) -> Payment:
    payment = paypal_captured(paypal_fake, reference, amount, committed=committed)
    assert payment.status == PaymentStatus.SUCCEEDED
    return payment


# --- create -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_order_carries_our_request_id_and_the_amount(paypal_fake):
    payment = _create(return_url="https://shop.example/return", cancel_url="https://shop.example/cancel")

    (token,) = paypal_fake.requests_to("/v1/oauth2/token")
    assert (
        token.headers["authorization"] == "Basic " + base64.b64encode(b"paypal-client-id:paypal-client-secret").decode()
    )
    (request,) = _created(paypal_fake)
    assert request.headers["paypal-request-id"] == "order:R-1:intent"
    assert request.headers["authorization"] == "Bearer fake-token"
    assert request.headers["prefer"] == "return=representation"
    body = request.json
    assert body["intent"] == "CAPTURE"
    (unit,) = body["purchase_units"]
    assert unit["reference_id"] == "R-1"
    assert unit["custom_id"] == "order:R-1:intent"
    assert unit["amount"] == {"currency_code": "USD", "value": "19.99"}
    context = body["payment_source"]["paypal"]["experience_context"]
    assert context["return_url"] == "https://shop.example/return"
    assert context["cancel_url"] == "https://shop.example/cancel"

    assert payment.provider_payment_id == "ORDER-FAKE1"
    assert payment.status == PaymentStatus.PENDING
    assert payment.next_action == NextAction.REDIRECT
    assert payment.approval_url == "https://paypal.example/checkoutnow?token=ORDER-FAKE1"
    assert payment.idempotency_key == "order:R-1:intent"


@pytest.mark.django_db
@pytest.mark.parametrize(("amount", "value"), [(5, "0.05"), (100, "1.00"), (123456, "1234.56")])
def test_amounts_are_sent_as_paypal_decimal_strings(paypal_fake, amount, value):
    _create(amount=amount)
    (request,) = _created(paypal_fake)
    assert request.json["purchase_units"][0]["amount"]["value"] == value


@pytest.mark.django_db
def test_double_click_creates_one_order(paypal_fake):
    first = _create()
    second = _create()

    assert first.pk == second.pk
    assert second.approval_url == first.approval_url
    assert len(paypal_fake.orders) == 1
    assert len(_created(paypal_fake)) == 1
    assert len(paypal_fake.requests_to("/v1/oauth2/token")) == 1  # the token is reused
    assert Payment.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_give_one_order(paypal_fake):
    results, errors = at_once(lambda: _create(reference="R-race").pk, 6)

    assert errors == []
    assert len(set(results)) == 1
    assert len(paypal_fake.orders) == 1
    assert {r.headers["paypal-request-id"] for r in _created(paypal_fake)} == {"order:R-race:intent"}


@pytest.mark.django_db
def test_timeout_then_retry_gets_the_same_order(paypal_fake, settings):
    """PayPal made the order but its answer never came; the retry carries the same request id."""
    settings.PAYMENT_PROVIDER_TIMEOUT = 0.3
    _prime_token(paypal_fake)
    paypal_fake.delay = 1.0

    with pytest.raises(ApplicationError) as err:
        _create()
    assert (err.value.code, err.value.status, err.value.message) == ("provider_unavailable", 503, UNAVAILABLE)
    assert Payment.objects.get(order_reference="R-1").provider_payment_id == ""

    paypal_fake.delay = 0
    payment = _create()

    assert payment.provider_payment_id == "ORDER-FAKE2"  # ORDER-FAKE1 is R-prime's
    assert len(paypal_fake.orders) == 2
    assert [r.headers["paypal-request-id"] for r in _created(paypal_fake)][1:] == ["order:R-1:intent"] * 2


@pytest.mark.django_db
def test_sdk_retries_a_server_error_with_the_same_request_id(paypal_fake, settings):
    settings.PAYMENT_PROVIDER_RETRIES = 1
    _prime_token(paypal_fake)
    paypal_fake.fail_next = [503]

    payment = _create()

    sent = [r for r in _created(paypal_fake) if r.headers["paypal-request-id"] == "order:R-1:intent"]
    assert len(sent) == 2
    assert payment.provider_payment_id == "ORDER-FAKE2"
    assert len(paypal_fake.orders) == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "code"),
    [
        (500, "provider_unavailable"),
        (503, "provider_unavailable"),
        (429, "provider_unavailable"),
        (401, "provider_unavailable"),
        (403, "provider_unavailable"),
        (400, "payment_declined"),
        (422, "payment_declined"),
    ],
)
def test_provider_errors_on_create_are_mapped(paypal_fake, status, code):
    _prime_token(paypal_fake)
    paypal_fake.fail_next = [status]

    with pytest.raises(ApplicationError) as err:
        _create()

    assert err.value.code == code
    payment = Payment.objects.get(order_reference="R-1")
    assert payment.provider_payment_id == ""
    if code == "provider_unavailable":
        assert err.value.status == 503
        assert err.value.message == UNAVAILABLE
        assert err.value.fields == {"provider": ["paypal"]}
        assert payment.status == PaymentStatus.PENDING  # the retry reuses it and its key
    else:
        assert err.value.status == 400
        assert err.value.message.startswith("PayPal refused the order creation")
        assert payment.status == PaymentStatus.CANCELLED
        # The attempt is over: the next one has a key of its own.
        assert _create().idempotency_key == "order:R-1:attempt-2:intent"


@pytest.mark.django_db
@pytest.mark.parametrize("status", [401, 500])
def test_oauth_failure_is_unavailable_not_a_crash(paypal_fake, status):
    paypal_fake.fail_next = [status]
    with pytest.raises(ApplicationError) as err:
        _create()
    assert err.value.code == "provider_unavailable"
    assert _created(paypal_fake) == []
    assert paypal_fake.orders == {}


@pytest.mark.django_db
def test_currency_paypal_does_not_take_is_refused_before_any_call(paypal_fake, use_region):
    use_region("me-south")
    with pytest.raises(ApplicationError) as err:
        _create(currency="AED")
    assert err.value.code == "currency_not_supported"
    assert paypal_fake.requests == []
    assert Payment.objects.count() == 0


# --- capture ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_capture_after_approval(paypal_fake, committed, signals):
    payment = _create()
    paypal_fake.approve(payment.provider_payment_id)

    payment = committed(services.payment_capture, payment_id=payment.pk)

    (request,) = _captures(paypal_fake)
    assert request.headers["paypal-request-id"] == "order:R-1:capture"
    assert request.headers["authorization"] == "Bearer fake-token"
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.captured_minor == 1999
    assert payment.provider_capture_id == "CAP-FAKE1"
    payment.refresh_from_db()
    assert (payment.status, payment.provider_capture_id) == (PaymentStatus.SUCCEEDED, "CAP-FAKE1")
    assert signals.named("succeeded") == [
        {
            "payment_id": payment.pk,
            "order_reference": "R-1",
            "provider": "paypal",
            "method": "paypal",
            "amount_minor": 1999,
            "currency": "USD",
        }
    ]


@pytest.mark.django_db
def test_capturing_a_captured_payment_calls_paypal_once(paypal_fake, committed, signals):
    payment = _captured(paypal_fake, committed)

    again = committed(services.payment_capture, payment_id=payment.pk)

    assert again.pk == payment.pk
    assert again.status == PaymentStatus.SUCCEEDED
    assert len(_captures(paypal_fake)) == 1
    assert len(paypal_fake.captures) == 1
    assert len(signals.named("succeeded")) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_captures_capture_once(paypal_fake):
    payment = _create()
    paypal_fake.approve(payment.provider_payment_id)

    statuses, errors = at_once(lambda: services.payment_capture(payment_id=payment.pk).status, 5)

    assert errors == []
    assert statuses == [PaymentStatus.SUCCEEDED] * 5
    assert len(_captures(paypal_fake)) == 1
    assert len(paypal_fake.captures) == 1


@pytest.mark.django_db
def test_capture_with_a_lost_answer_is_retried_with_the_same_request_id(paypal_fake, settings):
    settings.PAYMENT_PROVIDER_TIMEOUT = 0.3
    payment = _create()
    paypal_fake.approve(payment.provider_payment_id)
    paypal_fake.delay = 1.0

    with pytest.raises(ApplicationError) as err:
        services.payment_capture(payment_id=payment.pk)
    assert err.value.code == "provider_unavailable"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert len(paypal_fake.captures) == 1  # it did happen at PayPal

    paypal_fake.delay = 0
    payment = services.payment_capture(payment_id=payment.pk)

    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.provider_capture_id == "CAP-FAKE1"
    assert len(paypal_fake.captures) == 1
    assert [r.headers["paypal-request-id"] for r in _captures(paypal_fake)] == ["order:R-1:capture"] * 2


@pytest.mark.django_db
def test_capture_before_approval_is_a_clear_decline(paypal_fake, committed, signals):
    payment = _create()

    with pytest.raises(ApplicationError) as err:
        committed(services.payment_capture, payment_id=payment.pk)

    assert err.value.code == "payment_declined"
    assert err.value.status == 400
    assert err.value.message.startswith("PayPal refused the capture")
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    assert payment.captured_minor == 0
    assert paypal_fake.captures == {}
    assert [s["payment_id"] for s in signals.named("failed")] == [payment.pk]
    assert signals.named("succeeded") == []


@pytest.mark.django_db
def test_a_capture_after_a_refusal_is_a_new_request(paypal_fake, committed):
    """PayPal replays its recorded answer to a repeated PayPal-Request-Id: the same key would refuse forever."""
    payment = _create()
    with pytest.raises(ApplicationError):
        committed(services.payment_capture, payment_id=payment.pk)  # not approved yet: refused
    paypal_fake.approve(payment.provider_payment_id)

    payment = committed(services.payment_capture, payment_id=payment.pk)

    assert payment.status == PaymentStatus.SUCCEEDED and payment.captured_minor == 1999
    assert [r.headers["paypal-request-id"] for r in _captures(paypal_fake)] == [
        "order:R-1:capture",
        "order:R-1:capture-2",
    ]
    assert len(paypal_fake.captures) == 1


@pytest.mark.django_db
def test_capture_of_an_order_already_captured_elsewhere_records_that_capture(paypal_fake, committed, signals):
    """PayPal refuses a second capture; we read the one that happened and never capture twice."""
    payment = _create()
    capture_id = paypal_fake.capture_elsewhere(payment.provider_payment_id)

    payment = committed(services.payment_capture, payment_id=payment.pk)

    assert payment.status == PaymentStatus.SUCCEEDED
    assert (payment.provider_capture_id, payment.captured_minor) == (capture_id, 1999)
    assert len(paypal_fake.captures) == 1
    assert len(_captures(paypal_fake)) == 1
    lookups = [r for r in paypal_fake.requests if r.method == "GET" and r.path.endswith(payment.provider_payment_id)]
    assert len(lookups) == 1
    assert [s["payment_id"] for s in signals.named("succeeded")] == [payment.pk]


@pytest.mark.django_db
def test_declined_capture_is_recorded_as_failed(paypal_fake, committed, signals):
    payment = _create()
    paypal_fake.approve(payment.provider_payment_id)
    paypal_fake.decline_captures = True

    payment = committed(services.payment_capture, payment_id=payment.pk)

    assert payment.status == PaymentStatus.FAILED
    assert payment.captured_minor == 0
    assert payment.provider_capture_id == "CAP-FAKE1"
    assert len(signals.named("failed")) == 1
    assert signals.named("succeeded") == []


@pytest.mark.django_db
def test_capture_while_paypal_is_down_leaves_the_payment_as_it_was(paypal_fake):
    payment = _create()
    paypal_fake.approve(payment.provider_payment_id)
    paypal_fake.fail_next = [500]

    with pytest.raises(ApplicationError) as err:
        services.payment_capture(payment_id=payment.pk)

    assert (err.value.code, err.value.status) == ("provider_unavailable", 503)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert paypal_fake.captures == {}


@pytest.mark.django_db
@pytest.mark.parametrize("amount", [0, 2000])
def test_capture_amount_is_checked_before_any_call(paypal_fake, amount):
    payment = _create()
    with pytest.raises(ApplicationError) as err:
        services.payment_capture(payment_id=payment.pk, amount_minor=amount)
    assert err.value.code == "invalid_amount"
    assert _captures(paypal_fake) == []


# --- refunds ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_partial_then_full_refund(paypal_fake, committed, signals):
    payment = _captured(paypal_fake, committed)

    first = committed(services.payment_refund, payment_id=payment.pk, amount_minor=500, reason="one broken")
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PARTIALLY_REFUNDED
    rest = committed(services.payment_refund, payment_id=payment.pk)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED

    sent = _refunds(paypal_fake)
    assert [r.headers["paypal-request-id"] for r in sent] == ["order:R-1:refund:1", "order:R-1:refund:2"]
    assert [r.json["amount"] for r in sent] == [
        {"currency_code": "USD", "value": "5.00"},
        {"currency_code": "USD", "value": "14.99"},
    ]
    assert [r.json["custom_id"] for r in sent] == ["order:R-1:refund:1", "order:R-1:refund:2"]
    assert [(r.amount_minor, r.status, r.provider_refund_id) for r in (first, rest)] == [
        (500, RefundStatus.SUCCEEDED, "REF-FAKE1"),
        (1499, RefundStatus.SUCCEEDED, "REF-FAKE2"),
    ]
    assert first.reason == "one broken"
    assert [(s["amount_minor"], s["refunded_minor"], s["fully_refunded"]) for s in signals.named("refunded")] == [
        (500, 500, False),
        (1499, 1999, True),
    ]

    with pytest.raises(ApplicationError) as err:
        services.payment_refund(payment_id=payment.pk, amount_minor=1)
    assert err.value.code == "not_refundable"
    assert len(_refunds(paypal_fake)) == 2


@pytest.mark.django_db
def test_over_refund_is_refused_before_any_call(paypal_fake):
    payment = _captured(paypal_fake)
    services.payment_refund(payment_id=payment.pk, amount_minor=1500)

    with pytest.raises(ApplicationError) as err:
        services.payment_refund(payment_id=payment.pk, amount_minor=500)

    assert err.value.code == "over_refund"
    assert err.value.fields == {"amount_minor": ["At most $4.99 can be refunded."], "refundable_minor": ["499"]}
    assert len(_refunds(paypal_fake)) == 1
    assert Refund.objects.count() == 1


@pytest.mark.django_db
def test_refund_with_a_lost_answer_is_retried_with_the_same_request_id(paypal_fake, settings):
    settings.PAYMENT_PROVIDER_TIMEOUT = 0.3
    payment = _captured(paypal_fake)
    paypal_fake.delay = 1.0

    with pytest.raises(ApplicationError) as err:
        services.payment_refund(payment_id=payment.pk, amount_minor=700)
    assert err.value.code == "provider_unavailable"
    assert Refund.objects.get().status == RefundStatus.PENDING
    paypal_fake.delay = 0

    with pytest.raises(ApplicationError) as err:
        services.payment_refund(payment_id=payment.pk, amount_minor=800)
    assert (err.value.code, err.value.status) == ("refund_in_progress", 409)

    refund = services.payment_refund(payment_id=payment.pk)

    assert (refund.amount_minor, refund.status, refund.provider_refund_id) == (700, RefundStatus.SUCCEEDED, "REF-FAKE1")
    assert len(paypal_fake.refunds) == 1
    assert [r.headers["paypal-request-id"] for r in _refunds(paypal_fake)] == ["order:R-1:refund:1"] * 2
    assert Refund.objects.count() == 1


@pytest.mark.django_db
def test_refund_paypal_refuses_is_failed_and_frees_the_amount(paypal_fake, committed, signals):
    payment = _captured(paypal_fake)
    paypal_fake.fail_next = [422]

    with pytest.raises(ApplicationError) as err:
        committed(services.payment_refund, payment_id=payment.pk, amount_minor=1000)

    assert err.value.code == "refund_declined"
    assert err.value.message.startswith("PayPal refused the refund")
    assert Refund.objects.get().status == RefundStatus.FAILED
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert selectors.payment_refundable_minor(payment=payment) == 1999
    assert signals.named("refunded") == []

    refund = services.payment_refund(payment_id=payment.pk, amount_minor=1000)
    assert refund.status == RefundStatus.SUCCEEDED
    assert refund.idempotency_key == "order:R-1:refund:2"


@pytest.mark.django_db
def test_paypal_itself_refuses_more_than_was_captured(paypal_fake):
    """Our books and PayPal's disagree (a refund made in PayPal's dashboard we never heard of)."""
    payment = _captured(paypal_fake)
    paypal_fake.refunds["REF-DASH"] = {
        "id": "REF-DASH",
        "status": "COMPLETED",
        "amount": {"currency_code": "USD", "value": "19.00"},
        "links": [{"href": "https://api.paypal.example/v2/payments/captures/CAP-FAKE1", "rel": "up"}],
    }

    with pytest.raises(ApplicationError) as err:
        services.payment_refund(payment_id=payment.pk, amount_minor=1000)

    assert err.value.code == "refund_declined"
    assert Refund.objects.get().status == RefundStatus.FAILED


@pytest.mark.django_db
def test_refund_of_an_uncaptured_payment_is_refused(paypal_fake):
    payment = _create()
    with pytest.raises(ApplicationError) as err:
        services.payment_refund(payment_id=payment.pk)
    assert err.value.code == "not_refundable"
    assert paypal_fake.requests_to("/v2/payments") == []
    assert Refund.objects.count() == 0
