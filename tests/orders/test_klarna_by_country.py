"""Checkout and paying follow Klarna's (country, currency) rule, not the currency alone.

eu-west prices a Swedish shopper in euros, and Klarna takes euros, but not from Sweden
(SEK only): the order may not choose it, and a card intent for that order does not list it.
"""

from __future__ import annotations

import pytest

from apps.errors import ApplicationError
from apps.orders import services
from apps.orders.models import Order
from tests.orders.conftest import ADDRESSES, cart_with, checkout

pytestmark = pytest.mark.django_db

SWEDISH = {
    "name": "Sara Köpare",
    "line1": "Drottninggatan 1",
    "city": "Stockholm",
    "postal_code": "111 51",
    "country": "SE",
}


def _sent_types(stripe_fake) -> list[str]:
    (request,) = stripe_fake.requests_to("/v1/payment_intents")
    return [v for k, v in request.form.items() if k.startswith("payment_method_types")]


def _order(stocked, country: str, method: str) -> Order:
    variant = stocked(f"klarna-{country.lower()}-{method}", 5)
    address = ADDRESSES.get(country) or SWEDISH
    return checkout(
        cart_with(variant, 1, country=country),
        country=country,
        address=address,
        payment_provider="stripe",
        payment_method=method,
    )


def test_a_german_shopper_pays_with_klarna_in_euros(use_region, stocked, stripe_fake, on_commit):
    use_region("eu-west")
    order = _order(stocked, "DE", "klarna")

    payment = on_commit(services.order_pay, order=order)

    assert (payment.method, payment.currency) == ("klarna", "EUR")
    assert _sent_types(stripe_fake) == ["klarna", "card", "sepa_debit", "ideal", "bancontact"]


def test_a_swedish_shopper_in_euros_is_not_offered_klarna(use_region, stocked, stripe_fake):
    use_region("eu-west")

    with pytest.raises(ApplicationError) as err:
        _order(stocked, "SE", "klarna")

    assert err.value.code == "payment_method_not_offered"
    assert Order.objects.count() == 0


def test_a_swedish_card_intent_in_euros_leaves_klarna_out(use_region, stocked, stripe_fake, on_commit):
    use_region("eu-west")
    order = _order(stocked, "SE", "card")

    on_commit(services.order_pay, order=order)

    assert _sent_types(stripe_fake) == ["card", "sepa_debit", "ideal", "bancontact"]
