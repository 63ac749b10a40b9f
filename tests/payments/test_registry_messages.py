"""The registry's refusals are translated: the message and every field text, "none" included."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import trans_real

from apps.errors import ApplicationError
from apps.payments import registry

OFFERED = "Offered: %(methods)s."
NONE_OFFERED = "No payment method is offered here."
NOT_ACCEPTED = "%(provider)s/%(method)s does not accept %(currency)s; %(currency)s is taken by: %(methods)s."
NOT_ACCEPTED_ANYWHERE = "%(provider)s/%(method)s does not accept %(currency)s; no payment method here takes it."
WEBHOOKS_NOT_ACCEPTED = "Webhooks from %(provider)s are not accepted here."
MSGIDS = {OFFERED, NONE_OFFERED, NOT_ACCEPTED, NOT_ACCEPTED_ANYWHERE, WEBHOOKS_NOT_ACCEPTED}


def marked(msgid: str) -> str:
    return f"[xx] {msgid}"


@pytest.fixture
def translated(monkeypatch):
    """``translated("es")``: that language with our msgids given a marked translation.

    No .po file may be edited here; a text that skipped gettext would come out unmarked.
    """

    def activate(language: str) -> None:
        catalog = trans_real.translation(language)
        real = catalog.gettext
        monkeypatch.setattr(catalog, "gettext", lambda message: marked(message) if message in MSGIDS else real(message))

    return activate


def _refusal(**kwargs) -> ApplicationError:
    with pytest.raises(ApplicationError) as err:
        registry.offered_provider(**kwargs)
    return err.value


def test_not_offered_lists_the_offered_methods_in_the_shoppers_language(translated):
    translated("de")
    with translation.override("de"):
        error = _refusal(name="cash_on_delivery", method="cash_on_delivery", currency="USD")
    assert error.code == "payment_method_not_offered"
    assert error.fields == {"method": [marked(OFFERED) % {"methods": "test/test"}]}


def test_not_offered_when_nothing_is_offered_says_so_translated(translated, settings):
    settings.PAYMENT_TEST_PROVIDER = False
    translated("de")
    with translation.override("de"):
        error = _refusal(name="stripe", method="card", currency="USD")
    assert error.code == "payment_method_not_offered"
    assert error.fields == {"method": [marked(NONE_OFFERED)]}
    assert "none" not in error.fields["method"][0]


def test_a_currency_the_method_does_not_take_names_what_does_translated(translated, settings, use_region):
    use_region("eu-west")
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    takes = ", ".join(sorted(f"{o.provider}/{o.method}" for o in registry.offered_methods(currency="GBP")))
    assert "stripe/card" in takes and "stripe/ideal" not in takes
    translated("de")
    with translation.override("de"):
        error = _refusal(name="stripe", method="ideal", currency="GBP")
    assert error.code == "currency_not_supported"
    names = {"provider": "stripe", "method": "ideal", "currency": "GBP", "methods": takes}
    assert error.fields == {"currency": [marked(NOT_ACCEPTED) % names]}


def test_a_currency_no_method_takes_is_said_in_a_translated_sentence(translated, settings, use_region):
    use_region("ap-southeast")
    settings.PAYPAL_CLIENT_ID = "id"
    settings.PAYPAL_CLIENT_SECRET = "secret"
    assert registry.offered_methods(currency="IDR") == ()
    translated("de")
    with translation.override("de"):
        error = _refusal(name="paypal", method="paypal", currency="IDR")
    assert error.code == "currency_not_supported"
    names = {"provider": "paypal", "method": "paypal", "currency": "IDR"}
    assert error.fields == {"currency": [marked(NOT_ACCEPTED_ANYWHERE) % names]}
    assert "none" not in error.fields["currency"][0]


def test_without_a_translation_the_texts_are_our_msgids(settings):
    """Until the lead translates them, a German shopper reads the msgids (never anything else)."""
    settings.PAYMENT_TEST_PROVIDER = False
    with translation.override("de"):
        error = _refusal(name="stripe", method="card", currency="USD")
        assert error.fields == {"method": [translation.gettext(NONE_OFFERED)]}
        with pytest.raises(ApplicationError) as err:
            registry.webhook_provider("stripe")
        assert err.value.message == translation.gettext(WEBHOOKS_NOT_ACCEPTED) % {"provider": "stripe"}


def test_webhook_refusal_is_translated_and_keeps_the_providers_name(translated):
    translated("de")
    with translation.override("de"), pytest.raises(ApplicationError) as err:
        registry.webhook_provider("stripe")
    assert (err.value.code, err.value.status) == ("webhook_not_configured", 404)
    assert err.value.message == marked(WEBHOOKS_NOT_ACCEPTED) % {"provider": "stripe"}


@pytest.mark.django_db
def test_the_webhook_endpoint_answers_in_the_callers_language(client, translated):
    translated("es")
    response = client.post(
        reverse("payments:webhook-stripe"),
        data=b"{}",
        content_type="application/json",
        headers={"Accept-Language": "es"},
    )
    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "webhook_not_configured",
        "message": marked(WEBHOOKS_NOT_ACCEPTED) % {"provider": "stripe"},
        "fields": {},
    }
