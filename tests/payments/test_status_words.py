"""Payment and refund statuses are said in the reader's words: every label goes through gettext with
a context of its own (a payment's "Refunded" is not an order's "refunded"), a refused refund names
the payment's status by its label rather than its stored value, and the payments' other refusals
(an unknown payment, a malformed order reference) are translated too.

Real PostgreSQL; cash on delivery makes a payment without a provider to fake.
"""

from __future__ import annotations

import pytest
from django.utils import translation
from django.utils.translation import trans_real

from apps.errors import ApplicationError
from apps.payments import services
from apps.payments.models import Payment, Refund
from apps.payments.providers.base import NextAction, PaymentStatus, RefundStatus

pytestmark = pytest.mark.django_db

NOT_REFUNDABLE = "This payment cannot be refunded: its status is “%(status)s”. Only a captured payment can be."
NO_SUCH_PAYMENT = "No such payment."
BAD_REFERENCE = "1 to 64 letters, digits, '.', '_' or '-'."
CONTEXTS = ("payment status", "refund status", "payment next step")


@pytest.fixture(autouse=True)
def me_south(use_region):
    return use_region("me-south")


@pytest.fixture
def marked_german(monkeypatch):
    """Our msgids given a marked German translation (no .po may be edited here): a text that comes
    out marked went through gettext, and one with a context shows it (``[de:payment status]``)."""
    catalog = trans_real.translation("de")
    real = catalog.gettext
    ours = {NOT_REFUNDABLE, NO_SUCH_PAYMENT, BAD_REFERENCE}

    def marked(message: str) -> str:
        context, _, text = message.rpartition("\x04")
        if context in CONTEXTS:
            return f"[de:{context}] {text}"
        return f"[de] {message}" if message in ours else real(message)

    monkeypatch.setattr(catalog, "gettext", marked)


def _pending(reference: str = "R-STATUS-WORDS") -> Payment:
    return services.payment_create(
        order_reference=reference,
        provider="cash_on_delivery",
        method="cash_on_delivery",
        amount_minor=25000,
        currency="AED",
    )


def test_every_status_label_is_translated_with_its_own_context(marked_german):
    with translation.override("de"):
        payment_labels = {value: str(label) for value, label in PaymentStatus.choices}
        refund_labels = {value: str(label) for value, label in RefundStatus.choices}
        next_steps = {value: str(label) for value, label in NextAction.choices}
        shown = Payment(status=PaymentStatus.PARTIALLY_REFUNDED).get_status_display()
        refund_shown = Refund(status=RefundStatus.FAILED).get_status_display()

    assert payment_labels["processing"] == "[de:payment status] Processing"
    assert payment_labels["partially_refunded"] == "[de:payment status] Partially refunded"
    assert all(label.startswith("[de:payment status] ") for label in payment_labels.values())
    assert refund_labels == {
        "pending": "[de:refund status] Pending",
        "succeeded": "[de:refund status] Succeeded",
        "failed": "[de:refund status] Failed",
    }
    assert all(label.startswith("[de:payment next step] ") for label in next_steps.values())
    assert (shown, refund_shown) == ("[de:payment status] Partially refunded", "[de:refund status] Failed")


def test_the_english_labels_are_unchanged():
    # The stored values and the English words are what staff and existing migrations know.
    with translation.override("en"):
        assert PaymentStatus.PARTIALLY_REFUNDED.label == "Partially refunded"
        assert RefundStatus.PENDING.label == "Pending"
    assert PaymentStatus.PARTIALLY_REFUNDED == "partially_refunded"


def test_a_refund_refused_for_the_payments_status_names_it_by_its_label(marked_german):
    payment = _pending()

    with translation.override("en"), pytest.raises(ApplicationError) as english:
        services.payment_refund(payment_id=payment.pk, amount_minor=1000)
    with translation.override("de"), pytest.raises(ApplicationError) as german:
        services.payment_refund(payment_id=payment.pk, amount_minor=1000)

    assert (english.value.code, english.value.message) == (
        "not_refundable",
        "This payment cannot be refunded: its status is “Pending”. Only a captured payment can be.",
    )
    assert german.value.message == (
        "[de] This payment cannot be refunded: its status is “[de:payment status] Pending”."
        " Only a captured payment can be."
    )
    assert not Refund.objects.filter(payment=payment).exists()


def test_an_unknown_payment_is_refused_in_words_by_void_and_refresh(marked_german):
    missing = _pending().pk + 1000

    with translation.override("de"):
        with pytest.raises(ApplicationError) as void:
            services.payment_void_request(payment_id=missing)
        with pytest.raises(ApplicationError) as refresh:
            services.payment_refresh(payment_id=missing)

    assert (void.value.code, void.value.status, void.value.message) == ("not_found", 404, "[de] No such payment.")
    assert (refresh.value.code, refresh.value.status, refresh.value.message) == (
        "not_found",
        404,
        "[de] No such payment.",
    )


def test_a_malformed_order_reference_is_refused_in_words(marked_german):
    with translation.override("de"), pytest.raises(ApplicationError) as err:
        _pending(reference="not a reference!")

    assert err.value.fields == {"order_reference": [f"[de] {BAD_REFERENCE}"]}
    assert not Payment.objects.exists()
