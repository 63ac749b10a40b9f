"""Fixtures for payments: provider settings pointed at local fakes, and a signal recorder."""

from __future__ import annotations

import pytest

from apps.payments.signals import payment_failed, payment_refunded, payment_succeeded


@pytest.fixture(autouse=True)
def _payment_settings(settings):
    """No keys from the environment leak in; short timeouts; a breaker small enough to test."""
    settings.STRIPE_SECRET_KEY = None
    settings.STRIPE_WEBHOOK_SECRET = None
    settings.STRIPE_API_BASE = None
    settings.PAYPAL_CLIENT_ID = None
    settings.PAYPAL_CLIENT_SECRET = None
    settings.PAYPAL_WEBHOOK_ID = None
    settings.PAYMENT_TEST_PROVIDER = True
    settings.PAYMENT_PROVIDER_TIMEOUT = 2
    settings.PAYMENT_PROVIDER_RETRIES = 0
    settings.PAYMENT_BREAKER_FAILURES = 3
    settings.PAYMENT_BREAKER_WINDOW = 60
    settings.PAYMENT_BREAKER_COOLDOWN = 30
    settings.PAYMENT_WEBHOOK_TOLERANCE = 300
    return settings


class SignalLog(list):
    def named(self, name: str) -> list[dict]:
        return [kwargs for signal_name, kwargs in self if signal_name == name]


@pytest.fixture
def signals():
    """Every payment signal sent during the test, as (name, kwargs)."""
    log = SignalLog()
    receivers = {}
    for name, signal in (
        ("succeeded", payment_succeeded),
        ("failed", payment_failed),
        ("refunded", payment_refunded),
    ):

        def receiver(sender, signal=None, _name=name, **kwargs):
            log.append((_name, kwargs))

        receivers[name] = (signal, receiver)
        signal.connect(receiver, weak=False)
    yield log
    for signal, receiver in receivers.values():
        signal.disconnect(receiver)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run a call as if its transaction committed: on-commit signals fire."""

    def run(func, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return func(*args, **kwargs)

    return run
