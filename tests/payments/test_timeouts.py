"""A provider outage fails fast for the shopper; background work keeps its full retries.

The outage is real: a socket on 127.0.0.1 that takes every connection and never answers
(``SilentServer``), or a port nothing listens on. "Fails fast" and "gives up within the
budget" are shown by the attempts the fake saw, never by measuring time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from apps.errors import ApplicationError
from apps.payments import breaker, registry, services, tasks
from apps.payments.models import Payment, Refund
from apps.payments.providers.base import PaymentStatus, RefundStatus
from tests.payments.fakes import SilentServer, closed_port_url
from tests.payments.test_refunds_retry import PAST_GRACE, _age, _stripe_paid

ROOT = Path(__file__).resolve().parents[2]
UNAVAILABLE = "This payment method is not answering right now; please try another method."


@pytest.fixture
def silent():
    server = SilentServer()
    yield server
    server.stop()


@pytest.fixture
def profiles(settings):
    """A shopper gets 2 short attempts; a task 3 longer ones; 2 timeouts in a row open the breaker."""
    settings.PAYMENT_PROVIDER_CONNECT_TIMEOUT = 1
    settings.PAYMENT_PROVIDER_TIMEOUT = 0.4
    settings.PAYMENT_PROVIDER_RETRIES = 2
    settings.PAYMENT_SHOPPER_TIMEOUT = 0.2
    settings.PAYMENT_SHOPPER_RETRIES = 1
    settings.PAYMENT_BREAKER_FAILURES = 10
    settings.PAYMENT_BREAKER_TIMEOUTS = 2
    return settings


@pytest.fixture
def stripe_silent(profiles, silent):
    profiles.STRIPE_SECRET_KEY = "sk_test_livemall_fake"
    profiles.STRIPE_API_BASE = silent.url
    return silent


@pytest.fixture
def paypal_silent(profiles, silent):
    profiles.PAYPAL_CLIENT_ID = "paypal-client-id"
    profiles.PAYPAL_CLIENT_SECRET = "paypal-client-secret"
    profiles.PAYPAL_API_BASE = silent.url
    return silent


def _unavailable(reference: str, provider: str = "stripe", method: str = "card") -> None:
    with pytest.raises(ApplicationError) as err:
        services.payment_create(
            order_reference=reference, provider=provider, method=method, amount_minor=1999, currency="USD"
        )
    assert (err.value.code, err.value.status, err.value.message) == ("provider_unavailable", 503, UNAVAILABLE)
    assert err.value.fields == {"provider": [provider]}


@pytest.mark.django_db
def test_a_stripe_checkout_gives_up_after_the_shoppers_attempts_all_with_our_key(stripe_silent):
    _unavailable("R-1")

    # 1 + PAYMENT_SHOPPER_RETRIES, not the 1 + PAYMENT_PROVIDER_RETRIES a task gets.
    assert stripe_silent.connections == 2
    assert [h["idempotency-key"] for h in stripe_silent.headers()] == ["order:R-1:intent"] * 2
    assert breaker.state("stripe") == "closed"  # one timeout is not yet an outage
    # The attempt is kept, its key ready for the shopper's retry.
    (payment,) = Payment.objects.filter(order_reference="R-1")
    assert (payment.status, payment.provider_payment_id) == (PaymentStatus.PENDING, "")


@pytest.mark.django_db
def test_timeouts_in_a_row_open_the_breaker_and_the_next_shopper_fails_without_a_connection(stripe_silent):
    _unavailable("R-1")
    _unavailable("R-2")
    assert breaker.state("stripe") == "open"
    assert stripe_silent.connections == 4

    _unavailable("R-3")

    assert stripe_silent.connections == 4


@pytest.mark.django_db
def test_an_answer_between_timeouts_starts_the_count_again(stripe_silent, stripe_fake, settings):
    silent_url = stripe_silent.url
    settings.STRIPE_API_BASE = silent_url
    _unavailable("R-1")
    settings.STRIPE_API_BASE = stripe_fake.url
    services.payment_create(order_reference="R-ok", provider="stripe", method="card", amount_minor=1999, currency="USD")
    settings.STRIPE_API_BASE = silent_url
    _unavailable("R-2")
    assert breaker.state("stripe") == "closed"

    _unavailable("R-3")

    assert breaker.state("stripe") == "open"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("provider", "method", "api_base"), [("stripe", "card", "STRIPE_API_BASE"), ("paypal", "paypal", "PAYPAL_API_BASE")]
)
def test_refused_connections_fail_cleanly_and_are_not_counted_as_timeouts(
    stripe_silent, paypal_silent, settings, provider, method, api_base
):
    setattr(settings, api_base, closed_port_url())
    _unavailable("R-1", provider, method)
    _unavailable("R-2", provider, method)
    assert breaker.state(provider) == "closed"  # 2 failures of 10; no timeout

    setattr(settings, api_base, stripe_silent.url)
    _unavailable("R-3", provider, method)
    assert breaker.state(provider) == "closed"
    _unavailable("R-4", provider, method)

    assert breaker.state(provider) == "open"
    assert stripe_silent.connections == 4


@pytest.mark.django_db
def test_a_paypal_checkout_gives_up_after_the_shoppers_attempts_and_opens_the_breaker(paypal_silent):
    # PayPal's first call asks for an OAuth token; that request is the one left unanswered.
    _unavailable("R-1", provider="paypal", method="paypal")
    assert paypal_silent.connections == 2
    _unavailable("R-2", provider="paypal", method="paypal")
    assert breaker.state("paypal") == "open"

    _unavailable("R-3", provider="paypal", method="paypal")

    assert paypal_silent.connections == 4
    assert breaker.state("stripe") == "closed"  # another method still works


@pytest.mark.django_db
def test_the_refund_sweep_gets_its_full_retries_where_a_shopper_gets_few(stripe_fake, profiles, silent):
    payment = _stripe_paid(stripe_fake, "R-bg")
    profiles.STRIPE_API_BASE = silent.url
    profiles.PAYMENT_BREAKER_TIMEOUTS = 5
    with pytest.raises(ApplicationError) as err:
        services.payment_refund(payment_id=payment.pk, amount_minor=700)  # staff, waiting
    assert err.value.code == "provider_unavailable"
    assert silent.connections == 2
    refund = Refund.objects.get()
    _age(refund, PAST_GRACE)

    assert tasks.refunds_retry_unsettled() == 0

    # 1 + PAYMENT_PROVIDER_RETRIES more, all with the refund's own key.
    assert silent.connections == 5
    assert {h["idempotency-key"] for h in silent.headers()} == {"order:R-bg:refund:1"}
    refund.refresh_from_db()
    assert (refund.status, refund.provider_refund_id) == (RefundStatus.PENDING, "")


def test_the_shopper_profile_never_exceeds_the_background_one(settings):
    settings.PAYMENT_PROVIDER_TIMEOUT = 2
    settings.PAYMENT_PROVIDER_RETRIES = 0
    settings.PAYMENT_SHOPPER_TIMEOUT = 3
    settings.PAYMENT_SHOPPER_RETRIES = 1

    shopper = registry.call_profile()
    with registry.background():
        task = registry.call_profile()

    assert (shopper.read_timeout, shopper.retries) == (2, 0)
    assert (task.read_timeout, task.retries) == (2, 0)
    assert registry.call_profile() == shopper  # the context ended


def _check(**environment: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_budget_the_shoppers_attempts_do_not_fit_in_is_refused_at_start_up():
    result = _check(
        PAYMENT_PROVIDER_CONNECT_TIMEOUT="3",
        PAYMENT_SHOPPER_TIMEOUT="3",
        PAYMENT_SHOPPER_RETRIES="1",
        PAYMENT_SHOPPER_BUDGET="10",
    )
    assert result.returncode != 0
    assert "PAYMENT_SHOPPER_BUDGET=10 is less than a shopper's provider call may take: 12.5 s" in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("PAYMENT_BREAKER_TIMEOUTS", "0", "PAYMENT_BREAKER_TIMEOUTS=0; expected a positive whole number"),
        (
            "PAYMENT_PROVIDER_CONNECT_TIMEOUT",
            "-1",
            "PAYMENT_PROVIDER_CONNECT_TIMEOUT=-1; expected a positive whole number",
        ),
        ("PAYMENT_SHOPPER_RETRIES", "-1", "PAYMENT_SHOPPER_RETRIES=-1; expected 0 or a positive whole number"),
    ],
)
def test_timeouts_and_thresholds_that_are_not_positive_are_refused_at_start_up(name, value, expected):
    result = _check(**{name: value})
    assert result.returncode != 0
    assert expected in result.stderr
