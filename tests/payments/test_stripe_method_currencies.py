"""Stripe is asked only for payment method types that take the order's currency.

Stripe refuses a whole PaymentIntent that lists a type with a currency it does not take
(iDEAL in pounds, PayNow in baht), so the intent, the checkout's offers and the choice a
shopper may make all follow the currencies each type takes.
"""

from __future__ import annotations

import pytest
from django.conf import settings

from apps.errors import ApplicationError
from apps.money.services import fx_rates_update
from apps.payments import registry, services
from apps.payments.models import Payment
from apps.payments.providers.stripe import METHOD_CURRENCIES, stripe_type
from apps.payments.selectors import payment_methods_offered
from regions import available_region_codes, load_region
from tests.money.factories import todays_provider

EURO_ONLY = {"sepa_debit", "ideal", "bancontact"}


def _pay(currency: str, method: str = "card", reference: str = "R-1") -> Payment:
    return services.payment_create(
        order_reference=reference, provider="stripe", method=method, amount_minor=2500, currency=currency
    )


def _sent_types(stripe_fake) -> list[str]:
    (request,) = stripe_fake.requests_to("/v1/payment_intents")
    return [v for k, v in request.form.items() if k.startswith("payment_method_types")]


def _takes(kind: str, currency: str) -> bool:
    currencies = METHOD_CURRENCIES[kind]
    return currencies is None or currency in currencies


@pytest.mark.parametrize("code", available_region_codes())
def test_every_stripe_method_a_region_lists_has_its_currencies(code):
    """A region may not list a Stripe method whose currencies nobody wrote down: it would never be sent."""
    region = load_region(code)
    for entry in region.payment_methods:
        if entry.provider == "stripe":
            assert {stripe_type(m) for m in entry.methods} <= METHOD_CURRENCIES.keys()


@pytest.mark.django_db
@pytest.mark.parametrize("currency", ["GBP", "CHF"])
def test_a_pound_or_franc_intent_in_eu_west_lists_no_euro_only_method(stripe_fake, use_region, currency):
    use_region("eu-west")
    payment = _pay(currency)

    sent = _sent_types(stripe_fake)
    assert sent == ["card", "klarna"]
    assert all(_takes(kind, currency) for kind in sent)
    assert not EURO_ONLY & set(sent)
    assert stripe_fake.intents[payment.provider_payment_id]["currency"] == currency.lower()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("currency", "expected"),
    [
        ("THB", ["card"]),  # no GrabPay, Alipay or PayNow in baht
        ("IDR", ["card"]),
        ("MYR", ["card", "grabpay", "alipay"]),  # PayNow is SGD only
        ("SGD", ["card", "grabpay", "alipay", "paynow"]),
    ],
)
def test_an_ap_southeast_intent_lists_only_methods_taking_its_currency(stripe_fake, use_region, currency, expected):
    use_region("ap-southeast")
    _pay(currency)

    sent = _sent_types(stripe_fake)
    assert sent == expected
    assert all(_takes(kind, currency) for kind in sent)


@pytest.mark.django_db
def test_a_euro_intent_still_gets_the_euro_methods_led_by_the_choice(stripe_fake, use_region):
    use_region("eu-west")
    payment = _pay("EUR", method="ideal")

    sent = _sent_types(stripe_fake)
    # The Payment Element opens on what the shopper chose at checkout.
    assert sent == ["ideal", "card", "sepa_debit", "bancontact", "klarna"]
    assert stripe_fake.intents[payment.provider_payment_id]["payment_method_types"] == sent
    assert payment.method == "ideal"


@pytest.mark.django_db
def test_the_chosen_method_leads_in_another_currency_too(stripe_fake, use_region):
    use_region("ap-southeast")
    _pay("SGD", method="paynow")
    assert _sent_types(stripe_fake) == ["paynow", "card", "grabpay", "alipay"]


@pytest.mark.django_db
def test_a_wallet_choice_leads_with_card(stripe_fake, use_region):
    use_region("us-east")
    _pay("USD", method="apple_pay")
    assert _sent_types(stripe_fake) == ["card"]


@pytest.mark.django_db
def test_checkout_offers_a_pound_shopper_no_euro_only_method(use_region, settings):
    use_region("eu-west")
    settings.STRIPE_SECRET_KEY = "sk_test_x"

    pounds = {o.method for o in payment_methods_offered(currency="GBP") if o.provider == "stripe"}
    euros = {o.method for o in payment_methods_offered(currency="EUR") if o.provider == "stripe"}

    assert pounds == {"card", "klarna"}
    assert "ideal" not in pounds
    assert euros >= EURO_ONLY
    assert registry.provider_methods("stripe", currency="GBP") == ("card", "klarna")


@pytest.mark.django_db
def test_checkout_options_api_follows_the_shoppers_currency(client, use_region, stripe_fake, tmp_path):
    use_region("eu-west")
    # GBP is offered (and so used) only while its rate is fresh: apps.money.middleware.
    fx_rates_update(provider=todays_provider(tmp_path / "rates.xml"))
    client.cookies[settings.CURRENCY_COOKIE_NAME] = "GBP"

    r = client.get("/api/v1/checkout/options")

    assert r.status_code == 200, r.json()
    offered = {(m["provider"], m["method"]) for m in r.json()["payment_methods"]}
    assert ("stripe", "card") in offered
    assert ("stripe", "ideal") not in offered
    assert not {("stripe", m) for m in EURO_ONLY} & offered


@pytest.mark.django_db
def test_choosing_ideal_with_pounds_is_refused_and_nothing_written(stripe_fake, use_region):
    use_region("eu-west")

    with pytest.raises(ApplicationError) as err:
        _pay("GBP", method="ideal")

    assert err.value.code == "currency_not_supported"
    assert "GBP" in err.value.message
    assert "stripe/card" in err.value.fields["currency"][0]
    assert Payment.objects.count() == 0
    assert stripe_fake.requests == []


@pytest.mark.django_db
def test_choosing_paynow_with_baht_is_refused_and_nothing_written(stripe_fake, use_region):
    use_region("ap-southeast")

    with pytest.raises(ApplicationError) as err:
        _pay("THB", method="paynow")

    assert err.value.code == "currency_not_supported"
    assert Payment.objects.count() == 0
    assert stripe_fake.requests == []
