"""Cash on delivery, the test provider, and refunds through the one interface (``payment_refund``).

PayPal refunds are in ``test_paypal.py``; refund webhooks in ``test_webhooks.py``.
"""

from __future__ import annotations

import pytest

from apps.errors import ApplicationError
from apps.payments import selectors, services
from apps.payments.models import Payment, Refund
from apps.payments.providers.base import NextAction, PaymentStatus, RefundStatus
from tests.payments.conftest import at_once

# --- cash on delivery ---------------------------------------------------------------------


@pytest.fixture
def me_south(use_region):
    return use_region("me-south")


def _cod(reference="R-1", amount=25000, currency="AED") -> Payment:
    return services.payment_create(
        order_reference=reference,
        provider="cash_on_delivery",
        method="cash_on_delivery",
        amount_minor=amount,
        currency=currency,
    )


@pytest.mark.django_db
def test_cash_on_delivery_waits_for_the_courier(me_south, committed, signals):
    payment = committed(_cod)

    assert payment.status == PaymentStatus.PENDING
    assert payment.next_action == NextAction.COLLECT_ON_DELIVERY
    assert payment.provider_payment_id == "cod:order:R-1:intent"
    assert payment.captured_minor == 0
    assert not payment.is_paid
    assert list(signals) == []
    assert _cod().pk == payment.pk
    assert Payment.objects.count() == 1


@pytest.mark.django_db
def test_cash_collected_is_captured_once(me_south, committed, signals):
    payment = _cod()

    captured = committed(services.payment_capture, payment_id=payment.pk)
    again = committed(services.payment_capture, payment_id=payment.pk)

    assert captured.status == again.status == PaymentStatus.SUCCEEDED
    assert captured.captured_minor == 25000
    assert captured.provider_capture_id == "cod:order:R-1:capture"
    payment.refresh_from_db()
    assert (payment.status, payment.captured_minor) == (PaymentStatus.SUCCEEDED, 25000)
    assert signals.named("succeeded") == [
        {
            "payment_id": payment.pk,
            "order_reference": "R-1",
            "provider": "cash_on_delivery",
            "method": "cash_on_delivery",
            "amount_minor": 25000,
            "currency": "AED",
        }
    ]
    with pytest.raises(ApplicationError) as err:
        _cod()
    assert err.value.code == "already_paid"


@pytest.mark.django_db
def test_courier_collecting_less_captures_less(me_south):
    payment = _cod()
    payment = services.payment_capture(payment_id=payment.pk, amount_minor=20000)
    assert payment.captured_minor == 20000

    refund = services.payment_refund(payment_id=payment.pk)

    assert refund.amount_minor == 20000
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED


@pytest.mark.django_db
def test_cash_on_delivery_refunds_partial_then_full(me_south, committed, signals):
    payment = _cod()
    services.payment_capture(payment_id=payment.pk)

    first = committed(services.payment_refund, payment_id=payment.pk, amount_minor=5000, reason="damaged box")
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PARTIALLY_REFUNDED
    assert selectors.payment_refundable_minor(payment=payment) == 20000

    rest = committed(services.payment_refund, payment_id=payment.pk)
    payment.refresh_from_db()

    assert payment.status == PaymentStatus.REFUNDED
    assert [(r.amount_minor, r.currency, r.status) for r in (first, rest)] == [
        (5000, "AED", RefundStatus.SUCCEEDED),
        (20000, "AED", RefundStatus.SUCCEEDED),
    ]
    assert [r.idempotency_key for r in (first, rest)] == ["order:R-1:refund:1", "order:R-1:refund:2"]
    assert first.provider_refund_id == "cod:order:R-1:refund:1"
    assert [(s["refund_id"], s["refunded_minor"], s["fully_refunded"]) for s in signals.named("refunded")] == [
        (first.pk, 5000, False),
        (rest.pk, 25000, True),
    ]
    with pytest.raises(ApplicationError) as err:
        services.payment_refund(payment_id=payment.pk, amount_minor=1)
    assert err.value.code == "not_refundable"
    assert Refund.objects.count() == 2


@pytest.mark.django_db
def test_cash_not_yet_collected_cannot_be_refunded(me_south):
    payment = _cod()
    with pytest.raises(ApplicationError) as err:
        services.payment_refund(payment_id=payment.pk)
    assert err.value.code == "not_refundable"
    assert Refund.objects.count() == 0


@pytest.mark.django_db
def test_cash_on_delivery_in_saudi_riyal(me_south):
    payment = _cod(amount=9900, currency="sar")
    assert (payment.currency, payment.amount_minor) == ("SAR", 9900)


# --- the test provider --------------------------------------------------------------------


@pytest.mark.django_db
def test_test_provider_pays_at_once_and_refunds(committed, signals):
    payment = committed(
        services.payment_create,
        order_reference="R-1",
        provider="test",
        method="test",
        amount_minor=1000,
        currency="USD",
    )
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.captured_minor == 1000
    assert len(signals.named("succeeded")) == 1

    refund = committed(services.payment_refund, payment_id=payment.pk, amount_minor=400)

    assert refund.status == RefundStatus.SUCCEEDED
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PARTIALLY_REFUNDED
    assert signals.named("refunded")[0]["refunded_minor"] == 400


# --- refund input -------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("amount", [0, -1, True, "5", 2.5])
def test_refund_amount_must_be_whole_positive_minor_units(me_south, amount):
    payment = _cod()
    services.payment_capture(payment_id=payment.pk)
    with pytest.raises(ApplicationError) as err:
        services.payment_refund(payment_id=payment.pk, amount_minor=amount)
    assert err.value.code == "invalid_amount"
    assert Refund.objects.count() == 0


@pytest.mark.django_db
def test_refund_of_an_unknown_payment(me_south):
    with pytest.raises(ApplicationError) as err:
        services.payment_refund(payment_id=999_999)
    assert (err.value.code, err.value.status) == ("not_found", 404)


@pytest.mark.django_db
def test_refund_more_than_left_is_refused(me_south):
    payment = _cod()
    services.payment_capture(payment_id=payment.pk)
    services.payment_refund(payment_id=payment.pk, amount_minor=24000)

    with pytest.raises(ApplicationError) as err:
        services.payment_refund(payment_id=payment.pk, amount_minor=1001)

    assert err.value.code == "over_refund"
    assert err.value.fields == {"amount_minor": ["At most AED\xa010.00 can be refunded."], "refundable_minor": ["1000"]}
    assert Refund.objects.count() == 1


# --- Stripe refunds -----------------------------------------------------------------------


def _stripe_paid(stripe_fake, reference="R-1", amount=1999) -> Payment:
    payment = services.payment_create(
        order_reference=reference, provider="stripe", method="card", amount_minor=amount, currency="USD"
    )
    stripe_fake.succeed(payment.provider_payment_id)
    Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.SUCCEEDED, captured_minor=amount)
    return Payment.objects.get(pk=payment.pk)


@pytest.mark.django_db
def test_stripe_partial_and_full_refund(stripe_fake, committed, signals):
    payment = _stripe_paid(stripe_fake)

    first = committed(services.payment_refund, payment_id=payment.pk, amount_minor=999)
    rest = committed(services.payment_refund, payment_id=payment.pk)

    sent = stripe_fake.requests_to("/v1/refunds")
    assert [r.headers["idempotency-key"] for r in sent] == ["order:R-1:refund:1", "order:R-1:refund:2"]
    assert [r.form["amount"] for r in sent] == ["999", "1000"]
    assert {r.form["payment_intent"] for r in sent} == {"pi_fake1"}
    assert [r.form["metadata[refund_key]"] for r in sent] == ["order:R-1:refund:1", "order:R-1:refund:2"]
    assert [(r.provider_refund_id, r.status) for r in (first, rest)] == [
        ("re_fake1", RefundStatus.SUCCEEDED),
        ("re_fake2", RefundStatus.SUCCEEDED),
    ]
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED
    assert [s["fully_refunded"] for s in signals.named("refunded")] == [False, True]


@pytest.mark.django_db
def test_stripe_refund_timeout_then_retry_refunds_once(stripe_fake, settings):
    payment = _stripe_paid(stripe_fake)
    settings.PAYMENT_PROVIDER_TIMEOUT = 0.3
    stripe_fake.delay = 1.0

    with pytest.raises(ApplicationError) as err:
        services.payment_refund(payment_id=payment.pk, amount_minor=500)
    assert err.value.code == "provider_unavailable"
    assert len(stripe_fake.refunds) == 1  # it happened at Stripe; the answer was lost
    assert Refund.objects.get().status == RefundStatus.PENDING

    stripe_fake.delay = 0
    refund = services.payment_refund(payment_id=payment.pk, amount_minor=500)

    assert (refund.status, refund.provider_refund_id) == (RefundStatus.SUCCEEDED, "re_fake1")
    assert len(stripe_fake.refunds) == 1
    assert Refund.objects.count() == 1


@pytest.mark.django_db
def test_stripe_refusing_a_refund_frees_its_amount(stripe_fake, committed, signals):
    payment = _stripe_paid(stripe_fake)
    stripe_fake.fail_next = [400]

    with pytest.raises(ApplicationError) as err:
        committed(services.payment_refund, payment_id=payment.pk)

    assert err.value.code == "refund_declined"
    assert Refund.objects.get().status == RefundStatus.FAILED
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert selectors.payment_refundable_minor(payment=payment) == 1999
    assert signals.named("refunded") == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_refund_clicks_refund_once(stripe_fake):
    payment = _stripe_paid(stripe_fake)
    stripe_fake.work = 0.3

    refunds, errors = at_once(lambda: services.payment_refund(payment_id=payment.pk).pk, 5)

    # Losers are told to retry or that nothing is left; none is told "declined" (nor fails otherwise).
    told = {getattr(error, "code", error) for error in errors}
    assert told <= {"provider_unavailable", "over_refund", "not_refundable"}
    assert len(stripe_fake.refunds) == 1
    (refund,) = Refund.objects.all()
    assert set(refunds) <= {refund.pk}
    assert (refund.amount_minor, refund.status) == (1999, RefundStatus.SUCCEEDED)
    assert Payment.objects.get().status == PaymentStatus.REFUNDED
