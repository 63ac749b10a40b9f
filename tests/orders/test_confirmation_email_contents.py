"""The confirmation e-mail says what was bought (each line's variant options, "Größe: 500 g")
and how it is paid (the payment method's label), in the order's language and as the order page
writes them, whatever language the worker sending it runs in.

Real PostgreSQL; Stripe is the local fake; tasks run in the test's process, mails land in
Django's locmem outbox. The expected texts are what gettext and Babel return for the order's
language and country (the German and Arabic catalogues translate these msgids already).
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core import mail
from django.utils import translation

from apps.accounts import services as accounts
from apps.catalog.selectors import variant_options_text
from apps.orders import services
from apps.orders.models import Order
from apps.payments import services as payments
from apps.payments.method_labels import method_label
from tests.orders import test_labels_and_dates
from tests.orders.conftest import ADDRESSES, cart_with, checkout, page_text

pytestmark = pytest.mark.django_db

# A product with one variant of the given size, as the order page tests make it.
sized = test_labels_and_dates.sized

# Between a line's quantity and its product, as the order page writes it.
TIMES = "\u00d7"


def _shopper(country: str, language: str):
    return accounts.user_create(
        region=settings.REGION,
        email=f"mail-{country.lower()}@example.test",
        password="a-long-test-password",
        country=country,
        language=language,
    )


def _confirmation(order: Order) -> str:
    (sent,) = [m for m in mail.outbox if order.reference in m.subject]
    assert sent.to == [order.email]
    assert not sent.alternatives  # text only: nothing else to say it in
    return sent.body


def _expected(language: str, locale: str, attributes: dict, method: str) -> tuple[str, str]:
    """The line's options and the payment line as gettext and Babel write them for the shopper."""
    with translation.override(language):
        return variant_options_text(
            attributes, locale=locale
        ), f"{translation.gettext('Payment:')} {method_label(method)}"


def test_a_german_confirmation_names_the_variant_and_the_card(client, use_region, sized, stripe_fake, on_commit):
    use_region("eu-west")
    user = _shopper("DE", "de")
    order = checkout(
        cart_with(sized("mail-de-dates", "500 g"), user=user, country="DE"),
        user=user,
        country="DE",
        payment_provider="stripe",
        payment_method="card",
    )
    payment = services.order_pay(order=order)
    stripe_fake.succeed(payment.provider_payment_id)
    with translation.override("en"):  # the worker's language is not the shopper's
        on_commit(payments.payment_refresh, payment_id=payment.pk)
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID

    body = _confirmation(order)

    options, paid_with = _expected("de", "de_DE", {"size": "500 g"}, "card")
    assert (options, paid_with) == ("Größe: 500 g", "Zahlung: Karte")
    assert f"1 {TIMES} {order.lines.get().product_name} ({options})\n" in body
    assert f"{paid_with}\n" in body
    # The same words as on the order page.
    client.force_login(user)
    page = client.get(f"/orders/{order.reference}/")
    assert page_text(page.content, "line-options") == options
    assert f"Zahlung: {page_text(page.content, 'payment-method')}" == paid_with


def test_an_arabic_cash_on_delivery_confirmation_names_the_variant_and_the_method(client, use_region, sized, on_commit):
    use_region("me-south")
    user = _shopper("AE", "ar")
    order = checkout(
        cart_with(sized("mail-ae-dates", "1.5 kg"), user=user, country="AE"),
        user=user,
        country="AE",
        address=ADDRESSES["AE"],
        payment_provider="cash_on_delivery",
        payment_method="cash_on_delivery",
    )
    with translation.override("en"):
        on_commit(services.order_pay, order=order)
    assert Order.objects.get(pk=order.pk).status == Order.Status.CONFIRMED

    body = _confirmation(order)

    options, paid_with = _expected("ar", "ar_AE", {"size": "1.5 kg"}, "cash_on_delivery")
    assert f"1 {TIMES} {order.lines.get().product_name} ({options})\n" in body
    assert f"{paid_with}\n" in body and "الدفع عند الاستلام" in paid_with
    client.force_login(user)
    page = client.get(f"/orders/{order.reference}/")
    assert page_text(page.content, "line-options") == options
    assert paid_with.endswith(page_text(page.content, "payment-method"))


def test_the_text_mail_writes_what_the_merchant_wrote_unescaped(sized, on_commit):
    order = checkout(cart_with(sized("mail-us-socks", "S & M'")))
    on_commit(services.order_pay, order=order)

    body = _confirmation(order)

    assert f"1 {TIMES} Dates (Size: S & M')\n" in body
    assert "Payment: Test payment (no money is taken)\n" in body
    assert "&amp;" not in body and "&#x27;" not in body
