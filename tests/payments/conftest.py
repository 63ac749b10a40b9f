"""Fixtures for payments: provider settings pointed at local fakes, a signal recorder, and
calls made from several threads at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from apps.payments import services
from apps.payments.models import Payment
from apps.payments.signals import payment_failed, payment_refunded, payment_succeeded
from tests.payments.fakes import FakePayPal, FakeServer


@pytest.fixture(autouse=True)
def _payment_settings(payment_settings):
    """The shared payment settings, with a breaker small enough to test."""
    payment_settings.PAYMENT_BREAKER_FAILURES = 3
    return payment_settings


@pytest.fixture
def client():
    # The provider's signature is the only authentication: CSRF must not get in the way.
    return Client(enforce_csrf_checks=True)


def paypal_captured(
    paypal_fake: FakePayPal, reference: str, amount: int = 1999, *, committed: Callable | None = None
) -> Payment:
    """A PayPal payment of ``amount`` cents (USD) for ``reference``, approved by the shopper and
    captured; through ``committed`` when given, so that the capture's on-commit signals fire."""
    payment = services.payment_create(
        order_reference=reference, provider="paypal", method="paypal", amount_minor=amount, currency="USD"
    )
    paypal_fake.approve(payment.provider_payment_id)
    capture = committed or (lambda func, **kwargs: func(**kwargs))
    return capture(services.payment_capture, payment_id=payment.pk)


def at_once(call: Callable[[], Any], times: int) -> tuple[list[Any], list[Exception]]:
    """Make ``call`` from ``times`` threads released together, each on its own database connection
    (as concurrent requests are): what the calls returned, and what they raised."""
    start = threading.Barrier(times)
    results: list[Any] = []
    errors: list[Exception] = []

    def make_call() -> None:
        start.wait()
        try:
            results.append(call())
        except Exception as exc:  # collected for the test to assert
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=make_call) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


def reaching(fake: FakeServer, call: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """Start ``call`` in a thread of its own and come back once its request reached ``fake``: the
    thread (to join) and what the call gave, under "result" or "error" once it is done."""
    outcome: dict[str, Any] = {}

    def make_call() -> None:
        try:
            outcome["result"] = call()
        except Exception as exc:  # asserted by the test
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=make_call)
    thread.start()
    deadline = time.monotonic() + 3
    while not fake.requests:
        assert time.monotonic() < deadline, "the call never reached the fake"
        time.sleep(0.01)
    return thread, outcome


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
def committed(on_commit):
    """Run a call as if its transaction committed: on-commit signals fire (the root conftest's ``on_commit``)."""
    return on_commit
