"""A cash-on-delivery order is paid once: by the courier's cash or online, never both.

While a cash-on-delivery attempt awaits the courier, another way of paying the same
reference (the test provider, a card, another amount) is refused with
``cash_on_delivery_pending`` (409) and nothing is written: the courier is going to collect,
and money taken online as well would have to be given back. Should an online payment
succeed all the same (an intent started before the shopper chose cash, completed in a
stale tab), the cash-on-delivery attempt is cancelled in the same transaction, so the
courier's collection is refused afterwards and nothing is taken twice.

Stripe is the local fake; the test provider and cash on delivery need no network.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from apps.errors import ApplicationError
from apps.payments import services
from apps.payments.models import Payment
from apps.payments.providers.base import NextAction, PaymentStatus

REFERENCE = "R-COD-ONCE"
TOTAL = 25000  # 250.00 AED


@pytest.fixture
def gulf(use_region):
    """Cash on delivery is offered in me-south (AED, SAR)."""
    return use_region("me-south")


def _cash(reference: str = REFERENCE, amount_minor: int = TOTAL) -> Payment:
    return services.payment_create(
        order_reference=reference,
        provider="cash_on_delivery",
        method="cash_on_delivery",
        amount_minor=amount_minor,
        currency="AED",
    )


def _rows(reference: str = REFERENCE) -> list[tuple]:
    return list(
        Payment.objects.filter(order_reference=reference)
        .order_by("pk")
        .values_list("provider", "status", "captured_minor", "next_action")
    )


def _refused(func, **kwargs) -> ApplicationError:
    with pytest.raises(ApplicationError) as err:
        func(**kwargs)
    return err.value


# --- the normal path ------------------------------------------------------------------------


@pytest.mark.django_db
def test_cash_on_delivery_is_collected_once_by_the_courier(gulf, committed, signals):
    payment = _cash()
    assert (payment.status, payment.next_action) == (PaymentStatus.PENDING, NextAction.COLLECT_ON_DELIVERY)
    # The checkout page asking again gets the same attempt, not a second collection.
    assert _cash().pk == payment.pk

    collected = committed(services.payment_capture, payment_id=payment.pk)

    assert (collected.status, collected.captured_minor) == (PaymentStatus.SUCCEEDED, TOTAL)
    assert [(s["provider"], s["amount_minor"]) for s in signals.named("succeeded")] == [("cash_on_delivery", TOTAL)]
    # The courier's app sending it twice records nothing more.
    assert committed(services.payment_capture, payment_id=payment.pk).pk == payment.pk
    assert len(signals.named("succeeded")) == 1
    assert _rows() == [("cash_on_delivery", PaymentStatus.SUCCEEDED, TOTAL, NextAction.COLLECT_ON_DELIVERY)]


# --- a second payment while the courier is to collect ---------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("provider", "method", "amount_minor"),
    [
        ("test", "test", TOTAL),  # another provider: money taken at once
        ("cash_on_delivery", "cash_on_delivery", TOTAL + 100),  # a second collection of another amount
    ],
)
def test_another_payment_is_refused_while_the_courier_is_to_collect(
    gulf, committed, signals, provider, method, amount_minor
):
    cash = _cash()
    before = _rows()

    refused = _refused(
        services.payment_create,
        order_reference=REFERENCE,
        provider=provider,
        method=method,
        amount_minor=amount_minor,
        currency="AED",
    )

    assert (refused.code, refused.status) == ("cash_on_delivery_pending", 409)
    assert refused.message == (
        "This order is paid in cash on delivery: the courier collects the money, so it cannot be paid another way."
    )
    assert refused.fields == {"order_reference": [REFERENCE]}
    # Nothing written, nothing taken, and the courier still collects once.
    assert _rows() == before
    assert signals == []
    assert committed(services.payment_capture, payment_id=cash.pk).status == PaymentStatus.SUCCEEDED
    assert Payment.objects.filter(order_reference=REFERENCE, status=PaymentStatus.SUCCEEDED).count() == 1


@pytest.mark.django_db
def test_a_card_payment_is_refused_while_the_courier_is_to_collect(gulf, stripe_fake, signals):
    _cash()
    before = _rows()

    refused = _refused(
        services.payment_create,
        order_reference=REFERENCE,
        provider="stripe",
        method="card",
        amount_minor=TOTAL,
        currency="AED",
    )

    assert (refused.code, refused.status) == ("cash_on_delivery_pending", 409)
    assert _rows() == before
    # Stripe never heard of it: no intent the shopper could complete.
    assert stripe_fake.requests_to("/v1/payment_intents") == []
    assert signals == []


@pytest.mark.django_db
def test_paying_online_is_possible_once_the_cash_attempt_is_cancelled(gulf, committed):
    """A cancelled cash-on-delivery attempt (its order was cancelled) holds nothing back."""
    cash = _cash()
    services.payment_void_request(payment_id=cash.pk)

    paid = committed(
        services.payment_create,
        order_reference=REFERENCE,
        provider="test",
        method="test",
        amount_minor=TOTAL,
        currency="AED",
    )

    assert paid.status == PaymentStatus.SUCCEEDED


# --- an online payment that succeeds all the same --------------------------------------------


def _card_then_cash(stripe_fake) -> tuple[Payment, Payment]:
    """A card intent started first (the shopper then chose cash) and the cash attempt after it."""
    card = services.payment_create(
        order_reference=REFERENCE, provider="stripe", method="card", amount_minor=TOTAL, currency="AED"
    )
    assert card.status == PaymentStatus.PENDING
    cash = _cash()
    assert cash.status == PaymentStatus.PENDING
    return card, cash


@pytest.mark.django_db
def test_the_collection_after_an_online_payment_is_refused(gulf, stripe_fake, committed, signals):
    card, cash = _card_then_cash(stripe_fake)
    # The stale card page is completed after all: Stripe took the money.
    stripe_fake.succeed(card.provider_payment_id)
    assert committed(services.payment_refresh, payment_id=card.pk).status == PaymentStatus.SUCCEEDED

    # The cash attempt was cancelled with it: the courier has nothing to collect.
    cash.refresh_from_db()
    assert cash.status == PaymentStatus.CANCELLED
    refused = _refused(services.payment_capture, payment_id=cash.pk)

    assert (refused.code, refused.status) == ("payment_cancelled", 409)
    assert refused.fields == {"payment_id": [str(cash.pk)]}
    cash.refresh_from_db()
    assert (cash.status, cash.captured_minor) == (PaymentStatus.CANCELLED, 0)
    assert [(s["provider"], s["amount_minor"]) for s in signals.named("succeeded")] == [("stripe", TOTAL)]


@pytest.mark.django_db
def test_an_online_payment_after_the_collection_leaves_the_collection_alone(gulf, stripe_fake, committed, signals):
    """The courier collected first: that payment stands; the late card payment is the one paid twice
    (orders gives it back), and the cash attempt is not touched."""
    card, cash = _card_then_cash(stripe_fake)
    assert committed(services.payment_capture, payment_id=cash.pk).status == PaymentStatus.SUCCEEDED

    stripe_fake.succeed(card.provider_payment_id)
    committed(services.payment_refresh, payment_id=card.pk)

    cash.refresh_from_db()
    assert (cash.status, cash.captured_minor) == (PaymentStatus.SUCCEEDED, TOTAL)


# --- at the same time -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_cash_and_test_payments_leave_one_way_of_paying(gulf):
    """The cash attempt and an online one started at the same moment: the reference's rows are
    locked and its attempt numbers unique, so whichever comes second sees the first."""
    results: list[object] = []
    start = threading.Barrier(2)

    def pay(provider: str) -> None:
        try:
            start.wait()
            results.append(
                services.payment_create(
                    order_reference=REFERENCE, provider=provider, method=provider, amount_minor=TOTAL, currency="AED"
                )
            )
        except ApplicationError as exc:
            results.append(exc)
        finally:
            connection.close()  # this thread's own connection

    for _round in range(5):
        Payment.objects.filter(order_reference=REFERENCE).delete()
        results.clear()
        threads = [threading.Thread(target=pay, args=(name,)) for name in ("cash_on_delivery", "test")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        rows = {provider: status for provider, status, *_rest in _rows()}
        # Either one way of paying was refused, or the test payment (its row first) took the
        # money and the cash attempt beside it was cancelled: never the courier still to
        # collect from a shopper who has paid.
        assert rows in (
            {"cash_on_delivery": PaymentStatus.PENDING},
            {"test": PaymentStatus.SUCCEEDED},
            {"test": PaymentStatus.SUCCEEDED, "cash_on_delivery": PaymentStatus.CANCELLED},
        ), rows
        codes = [r.code for r in results if isinstance(r, ApplicationError)]
        if len(rows) == 2:
            assert codes == [], codes
        else:
            assert codes in (["already_paid"], ["cash_on_delivery_pending"]), codes
