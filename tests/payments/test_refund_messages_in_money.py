"""Refund refusals say amounts as money in the asker's language (not minor units: 11341 for $113.41),
keep the minor units in ``fields`` for API clients, and every refund message goes through gettext."""

from __future__ import annotations

import pytest
from django.utils import translation

from apps.errors import ApplicationError
from apps.money.formatting import format_money
from apps.payments import services
from apps.payments.models import Payment

pytestmark = pytest.mark.django_db

AT_MOST = "At most %(amount)s can be refunded."
UNCONFIRMED = "An earlier refund of %(amount)s is still unconfirmed; retry it first."
NOT_AN_AMOUNT = "The amount must be a whole positive number of minor units."
RECEIVED = "Received %(value)s."


@pytest.fixture(autouse=True)
def me_south(use_region):
    # Cash on delivery: a payment captured without any provider to fake.
    return use_region("me-south")


@pytest.fixture
def marked_german(mark_in_german):
    """Our msgids come out of German marked: a message that comes out marked went through gettext."""
    mark_in_german(AT_MOST, UNCONFIRMED, NOT_AN_AMOUNT, RECEIVED, "No such payment.", "No such refund of this payment.")


def _captured(amount: int = 25000) -> Payment:
    payment = services.payment_create(
        order_reference="R-WORDS",
        provider="cash_on_delivery",
        method="cash_on_delivery",
        amount_minor=amount,
        currency="AED",
    )
    return services.payment_capture(payment_id=payment.pk)


def _refused(**kwargs) -> ApplicationError:
    with pytest.raises(ApplicationError) as err:
        services.payment_refund(**kwargs)
    return err.value


def test_more_than_can_be_refunded_says_the_most_in_money_and_keeps_minor_units_for_api_clients():
    payment = _captured()
    services.payment_refund(payment_id=payment.pk, amount_minor=24000)

    with translation.override("en"):
        error = _refused(payment_id=payment.pk, amount_minor=1001)

    assert error.code == "over_refund"
    assert error.fields == {"amount_minor": ["At most AED\xa010.00 can be refunded."], "refundable_minor": ["1000"]}


def test_more_than_can_be_refunded_in_german(marked_german):
    payment = _captured()
    services.payment_refund(payment_id=payment.pk, amount_minor=24000)

    with translation.override("de"):
        error = _refused(payment_id=payment.pk, amount_minor=1001)

    assert format_money(1000, "AED", "de") == "10,00\xa0AED"
    assert error.fields == {
        "amount_minor": ["[de] At most 10,00\xa0AED can be refunded."],
        "refundable_minor": ["1000"],
    }


def test_an_unconfirmed_refund_is_named_in_money_and_its_minor_units_are_in_the_fields(marked_german):
    payment = _captured()
    # Written, not sent: as a cancel leaves it until the provider takes it.
    services.payment_refund_remaining(payment_id=payment.pk)

    with translation.override("en"):
        english = _refused(payment_id=payment.pk, amount_minor=500)
    with translation.override("de"):
        german = _refused(payment_id=payment.pk, amount_minor=500)

    assert (english.code, english.status) == ("refund_in_progress", 409)
    assert english.message == "An earlier refund of AED\xa0250.00 is still unconfirmed; retry it first."
    assert german.message == "[de] An earlier refund of 250,00\xa0AED is still unconfirmed; retry it first."
    assert english.fields == german.fields == {"unconfirmed_minor": ["25000"]}


@pytest.mark.parametrize(("amount", "shown"), [(0, "0"), (-5, "-5"), (12.5, "12.5"), ("10", "'10'"), (True, "True")])
def test_an_amount_that_is_not_whole_and_positive_is_refused_in_the_askers_language(marked_german, amount, shown):
    payment = _captured()

    with translation.override("en"):
        english = _refused(payment_id=payment.pk, amount_minor=amount)
    with translation.override("de"):
        german = _refused(payment_id=payment.pk, amount_minor=amount)

    assert english.code == german.code == "invalid_amount"
    assert english.message == NOT_AN_AMOUNT
    assert english.fields == {"amount_minor": [f"Received {shown}."]}
    assert german.message == f"[de] {NOT_AN_AMOUNT}"
    assert german.fields == {"amount_minor": [f"[de] Received {shown}."]}


def test_no_such_payment_or_refund_is_said_in_the_askers_language(marked_german):
    payment = _captured()

    with translation.override("de"):
        no_payment = _refused(payment_id=payment.pk + 1000)
        no_refund = _refused(payment_id=payment.pk, refund_id=10**9)

    assert (no_payment.code, no_payment.status, no_payment.message) == ("not_found", 404, "[de] No such payment.")
    assert (no_refund.code, no_refund.status, no_refund.message) == (
        "not_found",
        404,
        "[de] No such refund of this payment.",
    )
