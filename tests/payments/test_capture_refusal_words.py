"""A capture refused says why in the asker's language: the payment's status by its label, the most
that can be captured as money in the asker's locale (its minor units kept in ``fields`` for API
clients); and a currency the region does not offer is refused in words too.

Real PostgreSQL; Stripe is the local fake, its webhooks signed as the real ones are.
"""

from __future__ import annotations

import pytest
from django.utils import translation

from apps.errors import ApplicationError
from apps.money.formatting import format_money
from apps.payments import services
from apps.payments.models import Payment
from apps.payments.providers.base import PaymentStatus
from tests.payments.fakes import closed_port_url, post_stripe_event

pytestmark = pytest.mark.django_db

NOT_CAPTURABLE = "This payment cannot be captured: its status is “%(status)s”."
NOT_CREATED = "This payment was not created at the provider yet; start it again."
TOO_MUCH = "Cannot capture more than the payment's amount."
AT_MOST = "At most %(amount)s can be captured."
NOT_OFFERED = "Not offered here; valid values: %(values)s"


@pytest.fixture
def marked_german(mark_in_german):
    """Our msgids come out of German marked: a text that comes out marked went through gettext."""
    mark_in_german(NOT_CAPTURABLE, NOT_CREATED, TOO_MUCH, AT_MOST, NOT_OFFERED, "No such payment.")


def _refused(**kwargs) -> ApplicationError:
    with pytest.raises(ApplicationError) as err:
        services.payment_capture(**kwargs)
    return err.value


def _cash_on_delivery(use_region, amount: int = 25000) -> Payment:
    use_region("me-south")
    return services.payment_create(
        order_reference="R-CAPTURE-WORDS",
        provider="cash_on_delivery",
        method="cash_on_delivery",
        amount_minor=amount,
        currency="AED",
    )


def test_a_processing_payment_is_refused_by_its_status_label(use_region, stripe_fake, committed, marked_german):
    use_region("eu-west")
    payment = services.payment_create(
        order_reference="R-SEPA-WORDS", provider="stripe", method="sepa_debit", amount_minor=2500, currency="EUR"
    )
    intent = stripe_fake.intents[payment.provider_payment_id]
    intent["status"] = "processing"
    committed(post_stripe_event, "payment_intent.processing", dict(intent))
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.PROCESSING

    with translation.override("en"):
        english = _refused(payment_id=payment.pk)
    with translation.override("de"):
        german = _refused(payment_id=payment.pk)

    assert (english.code, english.message) == (
        "not_capturable",
        "This payment cannot be captured: its status is “Processing”.",
    )
    # The status in the reader's words too (its label, translated with the "payment status" context).
    with translation.override("de"):
        label = str(PaymentStatus.PROCESSING.label)
    assert german.message == f"[de] This payment cannot be captured: its status is “{label}”."
    assert "processing" not in english.message  # the label, not the stored value


def test_more_than_the_payment_is_said_in_money_in_the_askers_locale_and_in_minor_units(use_region, marked_german):
    payment = _cash_on_delivery(use_region)

    with translation.override("en"):
        english = _refused(payment_id=payment.pk, amount_minor=25001, locale="en_AE")
    with translation.override("ar"):
        arabic = _refused(payment_id=payment.pk, amount_minor=25001, locale="ar_AE")
    with translation.override("de"):
        german = _refused(payment_id=payment.pk, amount_minor=25001, locale="de_DE")

    assert (english.code, english.message) == ("invalid_amount", TOO_MUCH)
    assert english.fields == {"amount_minor": ["At most AED\xa0250.00 can be captured."], "capturable_minor": ["25000"]}
    assert format_money(25000, "AED", "ar_AE") in arabic.fields["amount_minor"][0]
    assert arabic.fields["capturable_minor"] == ["25000"]
    assert german.message == f"[de] {TOO_MUCH}"
    assert german.fields == {
        "amount_minor": [f"[de] At most {format_money(25000, 'AED', 'de_DE')} can be captured."],
        "capturable_minor": ["25000"],
    }
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.PENDING  # nothing taken


def test_a_payment_the_provider_never_created_and_an_unknown_one_are_refused_in_words(
    settings, stripe_fake, marked_german
):
    settings.STRIPE_API_BASE = closed_port_url()
    with pytest.raises(ApplicationError) as down:
        services.payment_create(
            order_reference="R-NEVER-CREATED", provider="stripe", method="card", amount_minor=1999, currency="USD"
        )
    assert down.value.code == "provider_unavailable"
    payment = Payment.objects.get(order_reference="R-NEVER-CREATED")
    assert payment.provider_payment_id == ""

    with translation.override("de"):
        never = _refused(payment_id=payment.pk)
        unknown = _refused(payment_id=payment.pk + 1000)

    assert (never.code, never.message) == ("not_capturable", f"[de] {NOT_CREATED}")
    assert (unknown.code, unknown.status, unknown.message) == ("not_found", 404, "[de] No such payment.")


def test_a_currency_the_region_does_not_offer_is_refused_in_words(marked_german):
    with translation.override("de"), pytest.raises(ApplicationError) as err:
        services.payment_create(
            order_reference="R-YEN", provider="test", method="test", amount_minor=1000, currency="JPY"
        )

    assert err.value.fields == {"currency": ["[de] Not offered here; valid values: USD, CAD, MXN, BRL"]}
