"""Stripe PaymentIntents through the real SDK against the local fake."""

from __future__ import annotations

import pytest

from apps.errors import ApplicationError
from apps.payments import services
from apps.payments.models import Payment
from apps.payments.providers.base import NextAction, PaymentStatus
from tests.payments.conftest import at_once, reaching


def _create(reference="R-1", amount=1999, currency="USD", method="card"):
    return services.payment_create(
        order_reference=reference, provider="stripe", method=method, amount_minor=amount, currency=currency
    )


@pytest.mark.django_db
def test_create_sends_our_idempotency_key_and_region_methods(stripe_fake, use_region):
    use_region("us-east")
    payment = _create()

    (request,) = stripe_fake.requests_to("/v1/payment_intents")
    assert request.headers["idempotency-key"] == "order:R-1:intent"
    assert request.headers["authorization"] == "Bearer sk_test_livemall_fake"
    assert request.form["amount"] == "1999"
    assert request.form["currency"] == "usd"
    # Apple Pay and Google Pay ride on "card".
    assert [v for k, v in request.form.items() if k.startswith("payment_method_types")] == ["card"]
    assert request.form["metadata[order_reference]"] == "R-1"
    assert payment.provider_payment_id == "pi_fake1"
    assert payment.client_secret == "pi_fake1_secret_fake1"
    assert payment.next_action == NextAction.CONFIRM_IN_BROWSER
    assert payment.status == PaymentStatus.PENDING


@pytest.mark.django_db
def test_eu_intent_lists_the_eu_methods(stripe_fake, use_region):
    region = use_region("eu-west")
    _create(currency="EUR", method="ideal")
    (request,) = stripe_fake.requests_to("/v1/payment_intents")
    sent = [v for k, v in request.form.items() if k.startswith("payment_method_types")]
    listed = next(p.methods for p in region.payment_methods if p.provider == "stripe")
    # Every listed method takes euros; the shopper's choice leads.
    assert sent == ["ideal", *(m for m in listed if m != "ideal")]
    assert "sepa_debit" in sent


@pytest.mark.django_db
def test_double_create_gives_one_intent(stripe_fake):
    first = _create()
    second = _create()
    assert first.pk == second.pk
    assert second.client_secret == first.client_secret
    assert len(stripe_fake.intents) == 1
    assert len(stripe_fake.requests_to("/v1/payment_intents")) == 1
    assert Payment.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_give_one_payment_and_one_intent(stripe_fake):
    results, errors = at_once(lambda: _create(reference="R-race").pk, 6)

    assert errors == []
    assert len(set(results)) == 1
    assert Payment.objects.filter(order_reference="R-race").count() == 1
    assert len(stripe_fake.intents) == 1
    assert {r.headers["idempotency-key"] for r in stripe_fake.requests_to("/v1/payment_intents")} == {
        "order:R-race:intent"
    }


@pytest.mark.django_db
def test_lost_answer_then_retry_gets_the_same_intent(stripe_fake, settings):
    """The provider created the intent but its answer never reached us; the retry must not make a second."""
    settings.PAYMENT_PROVIDER_TIMEOUT = 0.3
    stripe_fake.delay = 1.0
    with pytest.raises(ApplicationError) as err:
        _create()
    assert err.value.code == "provider_unavailable"
    assert len(stripe_fake.intents) == 1
    assert Payment.objects.get().provider_payment_id == ""

    stripe_fake.delay = 0
    payment = _create()

    assert payment.provider_payment_id == "pi_fake1"
    assert len(stripe_fake.intents) == 1
    assert [r.headers["idempotency-key"] for r in stripe_fake.requests_to("/v1/payment_intents")] == [
        "order:R-1:intent",
        "order:R-1:intent",
    ]


@pytest.mark.django_db
def test_sdk_retries_a_server_error_with_the_same_key(stripe_fake, settings):
    settings.PAYMENT_PROVIDER_RETRIES = 1
    stripe_fake.fail_next = [500]

    payment = _create()

    sent = stripe_fake.requests_to("/v1/payment_intents")
    assert len(sent) == 2
    assert {r.headers["idempotency-key"] for r in sent} == {"order:R-1:intent"}
    assert payment.provider_payment_id == "pi_fake1"
    assert len(stripe_fake.intents) == 1


@pytest.mark.django_db
def test_already_paid_reference_is_refused(stripe_fake, committed):
    payment = _create()
    stripe_fake.succeed(payment.provider_payment_id)
    Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.SUCCEEDED, captured_minor=1999)

    with pytest.raises(ApplicationError) as err:
        _create()
    assert err.value.code == "already_paid"
    assert err.value.status == 409
    with pytest.raises(ApplicationError):
        services.payment_create(
            order_reference="R-1", provider="test", method="test", amount_minor=1999, currency="USD"
        )
    assert len(stripe_fake.intents) == 1


@pytest.mark.django_db
def test_a_new_amount_is_a_new_attempt_with_its_own_key(stripe_fake):
    first = _create(amount=1000)
    second = _create(amount=1200)
    assert second.pk != first.pk
    assert second.idempotency_key == "order:R-1:attempt-2:intent"
    assert len(stripe_fake.intents) == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"amount_minor": 0}, "invalid_amount"),
        ({"amount_minor": -5}, "invalid_amount"),
        ({"amount_minor": True}, "invalid_amount"),
        ({"amount_minor": "12"}, "invalid_amount"),
        ({"currency": "JPY"}, "invalid"),
        ({"order_reference": "a:b"}, "invalid"),
        ({"order_reference": ""}, "invalid"),
        ({"method": "ideal"}, "payment_method_not_offered"),
        ({"provider": "cash_on_delivery", "method": "cash_on_delivery"}, "payment_method_not_offered"),
    ],
)
def test_bad_input_is_refused_before_any_call(stripe_fake, use_region, fields, code):
    use_region("us-east")
    kwargs = {"order_reference": "R-1", "provider": "stripe", "method": "card", "amount_minor": 100, "currency": "USD"}
    kwargs.update(fields)
    with pytest.raises(ApplicationError) as err:
        services.payment_create(**kwargs)
    assert err.value.code == code
    assert stripe_fake.requests == []
    assert Payment.objects.count() == 0


@pytest.mark.django_db
def test_stripe_refusing_to_create_ends_the_attempt(stripe_fake):
    stripe_fake.fail_next = [400]
    with pytest.raises(ApplicationError) as err:
        _create()
    assert err.value.code == "payment_declined"
    assert Payment.objects.get().status == PaymentStatus.CANCELLED
    payment = _create()
    assert payment.attempt == 2
    assert payment.provider_payment_id == "pi_fake1"


@pytest.mark.django_db
def test_capture_of_an_authorized_intent(stripe_fake, committed, signals):
    payment = _create()
    stripe_fake.intents[payment.provider_payment_id]["status"] = "requires_capture"
    Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.AUTHORIZED)

    payment = committed(services.payment_capture, payment_id=payment.pk)

    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.captured_minor == 1999
    (request,) = stripe_fake.requests_to("/v1/payment_intents/pi_fake1/capture")
    assert request.headers["idempotency-key"] == "order:R-1:capture"
    assert signals.named("succeeded") == [
        {
            "payment_id": payment.pk,
            "order_reference": "R-1",
            "provider": "stripe",
            "method": "card",
            "amount_minor": 1999,
            "currency": "USD",
        }
    ]


@pytest.mark.django_db(transaction=True)
def test_double_click_while_stripe_is_still_working_keeps_the_attempt(stripe_fake):
    """Stripe answers 409 to a request whose key is still in use; that is no decline."""
    stripe_fake.work = 0.5
    thread, first = reaching(stripe_fake, _create)  # the first click

    with pytest.raises(ApplicationError) as err:
        _create()  # the second click, while Stripe still works on the first
    thread.join()

    assert err.value.code == "provider_unavailable"  # retry later, not "declined"
    assert "error" not in first
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.PENDING
    assert payment.provider_payment_id == "pi_fake1"
    assert first["result"].client_secret == "pi_fake1_secret_fake1"
    assert [r.headers["idempotency-key"] for r in stripe_fake.requests] == ["order:R-1:intent"] * 2
    assert _create().pk == payment.pk  # a later retry finds the same intent
    assert len(stripe_fake.intents) == 1
