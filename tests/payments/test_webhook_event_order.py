"""Provider events out of order, and Klarna by the shopper's country.

Stripe (and PayPal) do not deliver events in the order they happened. A "processing" sent
before a "failed" may arrive after it; moved back to processing, the payment would hold its
order (and its stock) for days. The events' own times decide: one older than an event
already applied to the payment changes nothing, and is still stored like a replay. A
processing that is really newer (the shopper retried the declined intent) still applies.

Klarna takes a currency only from the customer country it belongs to (EUR from DE, not
from US; SEK only from SE), so what is offered and what the intent lists follow
(country, currency), not the currency alone.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time

import pytest

from apps.errors import ApplicationError
from apps.money.services import fx_rates_update
from apps.payments import registry, selectors, services
from apps.payments.models import Payment, WebhookEvent
from apps.payments.providers.base import PaymentStatus
from apps.payments.providers.stripe import METHOD_COUNTRY_CURRENCIES, METHOD_CURRENCIES, method_takes_currency
from tests.money.factories import todays_provider
from tests.payments.fakes import paypal_delivered, stripe_delivered, stripe_event

STALE = "no change: failed stays (older than an event already applied)"


# --- Stripe: events out of order ----------------------------------------------------------


def _stripe_payment(reference: str = "R-H5") -> Payment:
    return services.payment_create(
        order_reference=reference, provider="stripe", method="card", amount_minor=4200, currency="USD"
    )


def _failed(intent: dict, created: int, event_id: str = "evt_failed") -> dict:
    return stripe_event(
        event_id,
        "payment_intent.payment_failed",
        intent,
        created,
        status="requires_payment_method",
        last_payment_error={"message": "Your card was declined."},
    )


def _processing(intent: dict, created: int, event_id: str = "evt_processing") -> dict:
    return stripe_event(event_id, "payment_intent.processing", intent, created, status="processing")


@pytest.mark.django_db
def test_stale_processing_after_failed_leaves_the_payment_failed(stripe_fake, client, committed, signals):
    payment = _stripe_payment()
    intent = dict(stripe_fake.intents[payment.provider_payment_id])
    now = int(time.time())

    committed(stripe_delivered, client, _failed(intent, now))
    answer = committed(stripe_delivered, client, _processing(intent, now - 5))

    assert answer.json()["duplicate"] is False
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    assert payment.failure_reason == "Your card was declined."
    # Not in progress: the order is not held for ORDERS_PAYMENT_IN_PROGRESS_DAYS.
    assert not selectors.payments_in_progress().filter(pk=payment.pk).exists()
    stale = WebhookEvent.objects.get(event_id="evt_processing")
    assert stale.processed_at is not None
    assert stale.result == STALE
    assert len(signals.named("failed")) == 1

    # Delivered again, it is a replay of a stored event.
    again = committed(stripe_delivered, client, _processing(intent, now - 5))
    assert again.json()["duplicate"] is True
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED


@pytest.mark.django_db
def test_newer_processing_after_failed_is_the_shoppers_retry(stripe_fake, client, committed, signals):
    payment = _stripe_payment()
    intent = dict(stripe_fake.intents[payment.provider_payment_id])
    now = int(time.time())

    committed(stripe_delivered, client, _failed(intent, now - 60))
    committed(stripe_delivered, client, _processing(intent, now))

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PROCESSING
    assert payment.failure_reason == ""
    assert WebhookEvent.objects.get(event_id="evt_processing").result == "failed -> processing"


@pytest.mark.django_db
def test_stale_failed_after_a_newer_processing_leaves_it_processing(stripe_fake, client, committed, signals):
    payment = _stripe_payment()
    intent = dict(stripe_fake.intents[payment.provider_payment_id])
    now = int(time.time())

    committed(stripe_delivered, client, _processing(intent, now))
    committed(stripe_delivered, client, _failed(intent, now - 30))

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PROCESSING
    assert WebhookEvent.objects.get(event_id="evt_failed").result.startswith("no change: processing stays")
    assert signals.named("failed") == []


def _declined_then_stale(intent: dict, now: int) -> list[dict]:
    """Created, processing, then declined: the intent ends failed."""
    return [
        stripe_event("evt_created", "payment_intent.created", intent, now - 20, status="requires_payment_method"),
        _processing(intent, now - 10),
        _failed(intent, now),
    ]


def _declined_then_retried(intent: dict, now: int) -> list[dict]:
    """Created, declined, then retried with a bank debit: the intent ends processing."""
    return [
        stripe_event("evt_created", "payment_intent.created", intent, now - 20, status="requires_payment_method"),
        _failed(intent, now - 10),
        _processing(intent, now),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("story", "final"),
    [(_declined_then_stale, PaymentStatus.FAILED), (_declined_then_retried, PaymentStatus.PROCESSING)],
)
@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_shuffled_events_end_where_the_latest_one_says(stripe_fake, client, committed, story, final, order):
    payment = _stripe_payment()
    intent = dict(stripe_fake.intents[payment.provider_payment_id])
    events = story(intent, int(time.time()))
    delivered = [events[i] for i in order] * 2  # and every event delivered twice

    answers = [committed(stripe_delivered, client, event) for event in delivered]

    assert sum(not a.json()["duplicate"] for a in answers) == 3
    assert WebhookEvent.objects.filter(processed_at__isnull=False).count() == 3
    payment.refresh_from_db()
    assert payment.status == final


@pytest.mark.django_db
def test_succeeded_applies_whatever_its_time(stripe_fake, client, committed, signals):
    """The provider's word that money moved is never refused for being early."""
    payment = _stripe_payment()
    intent = dict(stripe_fake.intents[payment.provider_payment_id])
    now = int(time.time())
    done = stripe_fake.succeed(payment.provider_payment_id)

    committed(stripe_delivered, client, _failed(intent, now))
    committed(stripe_delivered, client, stripe_event("evt_ok", "payment_intent.succeeded", done, now - 5))

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert len(signals.named("succeeded")) == 1


# --- PayPal: the same with create_time ----------------------------------------------------


def _paypal_payment(paypal_fake) -> Payment:
    payment = services.payment_create(
        order_reference="R-H5-PP", provider="paypal", method="paypal", amount_minor=4200, currency="USD"
    )
    paypal_fake.approve(payment.provider_payment_id)
    return payment


def _capture_event(event_id: str, event_type: str, payment: Payment, status: str, at: dt.datetime) -> dict:
    return {
        "id": event_id,
        "event_version": "1.0",
        "resource_type": "capture",
        "event_type": event_type,
        "create_time": at.isoformat().replace("+00:00", "Z"),
        "resource": {
            "id": "CAP-H5",
            "status": status,
            "amount": {"currency_code": payment.currency, "value": f"{payment.amount_minor / 100:.2f}"},
            "custom_id": payment.idempotency_key,
            "supplementary_data": {"related_ids": {"order_id": payment.provider_payment_id}},
        },
    }


@pytest.mark.django_db
@pytest.mark.parametrize(("pending_offset", "final"), [(-5, PaymentStatus.FAILED), (5, PaymentStatus.PROCESSING)])
def test_paypal_capture_pending_after_denied_follows_create_time(paypal_fake, client, committed, pending_offset, final):
    payment = _paypal_payment(paypal_fake)
    now = dt.datetime.now(dt.UTC)
    denied = _capture_event("WH-denied", "PAYMENT.CAPTURE.DENIED", payment, "DECLINED", now)
    pending = _capture_event(
        "WH-pending", "PAYMENT.CAPTURE.PENDING", payment, "PENDING", now + dt.timedelta(seconds=pending_offset)
    )

    committed(paypal_delivered, client, paypal_fake, denied)
    committed(paypal_delivered, client, paypal_fake, pending)

    payment.refresh_from_db()
    assert payment.status == final
    assert WebhookEvent.objects.get(event_id="WH-pending").processed_at is not None


# --- Klarna by (country, currency) --------------------------------------------------------


def _stripe_offers(country: str, currency: str) -> set[str]:
    return {
        o.method
        for o in selectors.payment_methods_offered(currency=currency, country=country)
        if o.provider == "stripe"
    }


@pytest.mark.django_db
def test_klarna_is_offered_by_country_and_currency(use_region, settings):
    use_region("eu-west")
    settings.STRIPE_SECRET_KEY = "sk_test_x"

    assert "klarna" in _stripe_offers("DE", "EUR")
    assert "klarna" in _stripe_offers("GB", "GBP")
    assert "klarna" in _stripe_offers("CH", "CHF")
    assert "klarna" not in _stripe_offers("DE", "SEK")
    assert "klarna" not in _stripe_offers("DE", "GBP")
    assert "klarna" not in _stripe_offers("US", "EUR")
    assert "klarna" not in _stripe_offers("SE", "EUR")
    # Cards do not care where the shopper is.
    assert "card" in _stripe_offers("US", "EUR")
    assert registry.provider_methods("stripe", currency="EUR", country="SE") == (
        "card",
        "sepa_debit",
        "ideal",
        "bancontact",
    )


def test_klarna_country_table_matches_its_currencies():
    """Every currency Klarna is sent in belongs to some country, and no country adds one."""
    for kind, by_country in METHOD_COUNTRY_CURRENCIES.items():
        assert frozenset().union(*by_country.values()) == METHOD_CURRENCIES[kind]
        assert all(len(code) == 2 and code.isupper() for code in by_country)
    assert method_takes_currency("klarna", "nok", "no")
    assert not method_takes_currency("klarna", "DKK", "SE")
    assert not method_takes_currency("klarna", "EUR", "JP")


def _sent_types(stripe_fake) -> list[str]:
    (request,) = stripe_fake.requests_to("/v1/payment_intents")
    return [v for k, v in request.form.items() if k.startswith("payment_method_types")]


def _pay(method: str, currency: str, country: str) -> Payment:
    return services.payment_create(
        order_reference="R-H5-K",
        provider="stripe",
        method=method,
        amount_minor=5000,
        currency=currency,
        country=country,
    )


@pytest.mark.django_db
def test_a_german_euro_intent_lists_klarna(stripe_fake, use_region):
    use_region("eu-west")
    _pay("klarna", "EUR", "DE")
    assert _sent_types(stripe_fake) == ["klarna", "card", "sepa_debit", "ideal", "bancontact"]


@pytest.mark.django_db
@pytest.mark.parametrize(("currency", "country"), [("EUR", "CH"), ("GBP", "DE"), ("CHF", "GB")])
def test_an_intent_leaves_out_klarna_where_the_country_does_not_take_the_currency(
    stripe_fake, use_region, currency, country
):
    use_region("eu-west")
    _pay("card", currency, country)
    assert "klarna" not in _sent_types(stripe_fake)


@pytest.mark.django_db
def test_choosing_klarna_from_a_country_it_does_not_serve_so_is_refused_and_nothing_written(stripe_fake, use_region):
    use_region("eu-west")

    with pytest.raises(ApplicationError) as err:
        _pay("klarna", "GBP", "DE")

    assert err.value.code == "currency_not_supported"
    assert Payment.objects.count() == 0
    assert stripe_fake.requests == []


@pytest.mark.django_db
@pytest.mark.parametrize("country", ["deu", "D", "1E", "DE\n", 49])
def test_a_malformed_country_is_a_clear_error(stripe_fake, use_region, country):
    use_region("eu-west")

    with pytest.raises(ApplicationError) as err:
        _pay("card", "EUR", country)

    assert "country" in err.value.fields
    assert Payment.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("country", "currency", "klarna"), [("DE", "EUR", True), ("DE", "GBP", False), ("SE", "EUR", False)]
)
def test_checkout_options_api_follows_the_shoppers_country(
    client, use_region, stripe_fake, settings, country, currency, klarna, tmp_path
):
    use_region("eu-west")
    # GBP is offered (and so used) only while its rate is fresh: apps.money.middleware.
    fx_rates_update(provider=todays_provider(tmp_path / "rates.xml"))
    settings.TRUSTED_COUNTRY_HEADER = "CF-IPCountry"
    client.cookies[settings.CURRENCY_COOKIE_NAME] = currency

    r = client.get("/api/v1/checkout/options", headers={"CF-IPCountry": country})

    assert r.status_code == 200, r.json()
    offered = {(m["provider"], m["method"]) for m in r.json()["payment_methods"]}
    assert ("stripe", "card") in offered
    assert (("stripe", "klarna") in offered) is klarna
