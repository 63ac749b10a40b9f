"""The circuit breaker per provider: opens on outages, fails fast, half-opens, recovers.

Outages are real: a port nothing listens on (connection refused), a fake answering 5xx,
or a fake too slow for the timeout. "Fails fast" is shown by the fake receiving nothing,
never by measuring time.
"""

from __future__ import annotations

import time

import pytest

from apps.errors import ApplicationError
from apps.payments import breaker, services
from apps.payments.models import Payment, Refund
from apps.payments.providers.base import PaymentStatus, ProviderDeclined, ProviderUnavailable, RefundStatus
from tests.payments.conftest import reaching
from tests.payments.fakes import FakeStripe, closed_port_url

UNAVAILABLE = "This payment method is not answering right now; please try another method."


@pytest.fixture
def stripe_down(settings):
    """Stripe keys set, its API base a port where nothing listens."""
    settings.STRIPE_SECRET_KEY = "sk_test_livemall_fake"
    settings.STRIPE_API_BASE = closed_port_url()
    return settings


@pytest.fixture
def live_stripe(settings):
    """A working fake to switch Stripe to once it is 'back'."""
    fake = FakeStripe()
    yield fake
    fake.stop()


def _pay(reference: str, provider: str = "stripe", method: str = "card", amount: int = 1999) -> Payment:
    return services.payment_create(
        order_reference=reference, provider=provider, method=method, amount_minor=amount, currency="USD"
    )


def _unavailable(reference: str, provider: str = "stripe", method: str = "card") -> ApplicationError:
    with pytest.raises(ApplicationError) as err:
        _pay(reference, provider, method)
    assert err.value.code == "provider_unavailable"
    assert err.value.status == 503
    assert err.value.message == UNAVAILABLE
    assert err.value.fields == {"provider": [provider]}
    return err.value


def _open_stripe() -> None:
    for n in range(3):  # PAYMENT_BREAKER_FAILURES in the payments conftest
        assert breaker.state("stripe") == "closed"
        _unavailable(f"R-down-{n}")
    assert breaker.state("stripe") == "open"


def _wait_for_half_open(provider: str = "stripe") -> None:
    deadline = time.monotonic() + 3
    while breaker.state(provider) == "open":
        assert time.monotonic() < deadline, "the breaker never half-opened"
        time.sleep(0.05)


@pytest.mark.django_db
def test_refused_connections_open_the_breaker_and_then_nothing_is_sent(stripe_down, live_stripe, settings):
    _open_stripe()
    # Stripe is reachable again, but the breaker is open: we do not even try.
    settings.STRIPE_API_BASE = live_stripe.url

    _unavailable("R-1")
    with pytest.raises(ApplicationError):
        _pay("R-1")

    assert live_stripe.requests == []
    assert breaker.state("stripe") == "open"
    # The attempt is kept (one row, its key) for when Stripe is back.
    (payment,) = Payment.objects.filter(order_reference="R-1")
    assert (payment.status, payment.provider_payment_id) == (PaymentStatus.PENDING, "")
    assert payment.idempotency_key == "order:R-1:intent"


@pytest.mark.django_db
def test_fewer_failures_than_the_threshold_keep_it_closed(stripe_down):
    for n in range(2):
        _unavailable(f"R-{n}")
    assert breaker.state("stripe") == "closed"


@pytest.mark.django_db
def test_server_errors_and_timeouts_count_as_failures(settings, live_stripe):
    settings.STRIPE_SECRET_KEY = "sk_test_livemall_fake"
    settings.STRIPE_API_BASE = live_stripe.url
    settings.PAYMENT_PROVIDER_TIMEOUT = 0.3
    live_stripe.fail_next = [500, 503]
    _unavailable("R-1")
    _unavailable("R-2")
    assert breaker.state("stripe") == "closed"
    live_stripe.delay = 1.0
    _unavailable("R-3")
    assert breaker.state("stripe") == "open"
    sent = len(live_stripe.requests)

    live_stripe.delay = 0
    _unavailable("R-4")
    assert len(live_stripe.requests) == sent


@pytest.mark.django_db
def test_declines_prove_the_provider_is_up(settings, live_stripe):
    settings.STRIPE_SECRET_KEY = "sk_test_livemall_fake"
    settings.STRIPE_API_BASE = live_stripe.url
    live_stripe.fail_next = [400] * 5
    for n in range(5):
        with pytest.raises(ApplicationError) as err:
            _pay(f"R-{n}")
        assert err.value.code == "payment_declined"
    assert breaker.state("stripe") == "closed"
    assert _pay("R-ok").provider_payment_id == "pi_fake1"


@pytest.mark.django_db
def test_after_the_cool_down_one_probe_closes_it_again(stripe_down, live_stripe, settings):
    settings.PAYMENT_BREAKER_COOLDOWN = 0.5
    _open_stripe()
    settings.STRIPE_API_BASE = live_stripe.url
    _unavailable("R-1")
    assert live_stripe.requests == []

    _wait_for_half_open()
    payment = _pay("R-1")  # the probe

    assert breaker.state("stripe") == "closed"
    assert payment.provider_payment_id == "pi_fake1"
    assert [r.headers["idempotency-key"] for r in live_stripe.requests] == ["order:R-1:intent"]
    # The failure count started again from zero: one more failure does not reopen it.
    settings.STRIPE_API_BASE = closed_port_url()
    _unavailable("R-2")
    assert breaker.state("stripe") == "closed"


@pytest.mark.django_db
def test_a_failed_probe_opens_it_for_another_cool_down(stripe_down, live_stripe, settings):
    settings.PAYMENT_BREAKER_COOLDOWN = 0.5
    _open_stripe()
    settings.STRIPE_API_BASE = live_stripe.url
    live_stripe.fail_next = [503]

    _wait_for_half_open()
    _unavailable("R-1")  # the probe, answered 503
    assert breaker.state("stripe") == "open"
    _unavailable("R-2")  # failed fast
    assert len(live_stripe.requests) == 1

    _wait_for_half_open()
    assert _pay("R-2").provider_payment_id == "pi_fake1"
    assert breaker.state("stripe") == "closed"


@pytest.mark.django_db(transaction=True)
def test_only_one_probe_goes_out_while_half_open(stripe_down, live_stripe, settings):
    settings.PAYMENT_BREAKER_COOLDOWN = 0.5
    _open_stripe()
    settings.STRIPE_API_BASE = live_stripe.url
    live_stripe.delay = 0.5  # the probe is slow to answer
    _wait_for_half_open()
    thread, probe = reaching(live_stripe, lambda: _pay("R-probe"))

    # While the probe is out, another checkout fails fast instead of piling on.
    _unavailable("R-other")
    thread.join()

    assert "error" not in probe
    assert probe["result"].provider_payment_id == "pi_fake1"
    assert [r.headers["idempotency-key"] for r in live_stripe.requests] == ["order:R-probe:intent"]
    assert breaker.state("stripe") == "closed"


@pytest.mark.django_db
def test_breakers_are_per_provider_so_another_method_works(stripe_down, paypal_fake):
    _open_stripe()

    payment = _pay("R-1", provider="paypal", method="paypal")

    assert payment.provider_payment_id == "ORDER-FAKE1"
    assert breaker.state("paypal") == "closed"
    assert breaker.state("stripe") == "open"


@pytest.mark.django_db
def test_paypal_unreachable_opens_its_breaker(settings):
    settings.PAYPAL_CLIENT_ID = "paypal-client-id"
    settings.PAYPAL_CLIENT_SECRET = "paypal-client-secret"
    settings.PAYPAL_API_BASE = closed_port_url()
    for n in range(3):
        _unavailable(f"R-{n}", provider="paypal", method="paypal")
    assert breaker.state("paypal") == "open"


@pytest.mark.django_db
def test_capture_and_refund_go_through_the_breaker(stripe_fake, settings):
    settings.PAYMENT_BREAKER_COOLDOWN = 0.5
    payment = _pay("R-1")
    stripe_fake.succeed(payment.provider_payment_id)
    Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.SUCCEEDED, captured_minor=1999)
    good_url = settings.STRIPE_API_BASE

    settings.STRIPE_API_BASE = closed_port_url()
    _open_stripe()
    settings.STRIPE_API_BASE = good_url
    sent = len(stripe_fake.requests)

    with pytest.raises(ApplicationError) as err:
        services.payment_refund(payment_id=payment.pk, amount_minor=500)
    assert err.value.code == "provider_unavailable"
    assert len(stripe_fake.requests) == sent
    assert Refund.objects.get().status == RefundStatus.PENDING

    _wait_for_half_open()
    refund = services.payment_refund(payment_id=payment.pk)

    assert (refund.amount_minor, refund.status) == (500, RefundStatus.SUCCEEDED)
    assert Refund.objects.count() == 1
    assert [r.headers["idempotency-key"] for r in stripe_fake.requests_to("/v1/refunds")] == ["order:R-1:refund:1"]


@pytest.mark.django_db
def test_our_own_bug_during_the_probe_gives_the_probe_back(settings):
    """A crash in our code says nothing about the provider: the next call may probe."""
    settings.PAYMENT_BREAKER_COOLDOWN = 0.5

    def down():
        raise ProviderUnavailable("refused")

    for _ in range(3):
        with pytest.raises(ProviderUnavailable):
            breaker.call("somewhere", down)
    assert breaker.state("somewhere") == "open"
    _wait_for_half_open("somewhere")

    def bug():
        raise RuntimeError("ours")

    with pytest.raises(RuntimeError):
        breaker.call("somewhere", bug)
    assert breaker.state("somewhere") == "half-open"

    def declined():
        raise ProviderDeclined("no")

    with pytest.raises(ProviderDeclined):
        breaker.call("somewhere", declined)  # an answer: the provider is up
    assert breaker.state("somewhere") == "closed"
    assert breaker.call("somewhere", lambda: "ok") == "ok"


@pytest.mark.django_db
def test_reset_closes_it_by_hand(stripe_down):
    _open_stripe()
    breaker.reset("stripe")
    assert breaker.state("stripe") == "closed"


def test_the_try_another_method_message_speaks_the_shoppers_language():
    from django.utils import translation

    from apps.payments.services import _unavailable

    with translation.override("de"):
        assert (
            _unavailable("stripe").message == "Diese Zahlungsart antwortet gerade nicht; bitte wählen Sie eine andere."
        )
    with translation.override("ar"):
        assert _unavailable("stripe").message == "طريقة الدفع هذه لا تستجيب الآن؛ يُرجى تجربة طريقة أخرى."
