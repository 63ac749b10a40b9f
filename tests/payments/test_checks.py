"""A half-configured payment provider is reported by Django's system checks, not found by shoppers."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import checks

from apps.payments.checks import payment_keys_check
from regions import available_region_codes

ROOT = Path(__file__).resolve().parents[2]
STRIPE = {
    "STRIPE_SECRET_KEY": "sk_test_x",
    "STRIPE_PUBLISHABLE_KEY": "pk_test_x",
    "STRIPE_WEBHOOK_SECRET": "whsec_x",
}
PAYPAL = {"PAYPAL_CLIENT_ID": "client-id", "PAYPAL_CLIENT_SECRET": "client-secret", "PAYPAL_WEBHOOK_ID": "WH-1"}


def _payment_ids() -> list[str]:
    """The payments messages of a full ``manage.py check`` run (so the check must be registered)."""
    return sorted(m.id for m in checks.run_checks() if m.id and m.id.startswith("payments."))


def _configure(settings, keys: dict[str, str], **missing: None) -> None:
    for name, value in {**keys, **missing}.items():
        setattr(settings, name, value)


@pytest.mark.parametrize("code", available_region_codes())
def test_no_keys_and_all_keys_give_nothing(code, use_region, settings):
    use_region(code)
    assert _payment_ids() == []  # the conftest's payment_settings unset every key
    _configure(settings, {**STRIPE, **PAYPAL})
    assert _payment_ids() == []


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({**STRIPE, "STRIPE_PUBLISHABLE_KEY": None}, ["payments.E001"]),
        ({**STRIPE, "STRIPE_SECRET_KEY": None}, ["payments.E002"]),
        ({**STRIPE, "STRIPE_WEBHOOK_SECRET": None}, ["payments.W001"]),
        # The secret key alone: no payment form and no webhooks.
        ({"STRIPE_SECRET_KEY": "sk_test_x"}, ["payments.E001", "payments.W001"]),
        ({**PAYPAL, "PAYPAL_CLIENT_SECRET": None}, ["payments.E003"]),
        ({**PAYPAL, "PAYPAL_CLIENT_ID": None}, ["payments.E004"]),
        ({**PAYPAL, "PAYPAL_WEBHOOK_ID": None}, ["payments.W002"]),
        # Stripe broken, PayPal fine: only Stripe is reported.
        ({**STRIPE, **PAYPAL, "STRIPE_PUBLISHABLE_KEY": None}, ["payments.E001"]),
    ],
)
def test_a_missing_partner_key_is_reported(settings, keys, expected):
    _configure(settings, keys)
    assert _payment_ids() == expected


def test_missing_keys_that_break_checkout_are_errors_and_webhook_secrets_warnings(settings):
    _configure(settings, {"STRIPE_SECRET_KEY": "sk_test_x", "PAYPAL_CLIENT_ID": "client-id"})
    messages = {m.id: m for m in payment_keys_check()}
    assert set(messages) == {"payments.E001", "payments.W001", "payments.E003"}
    assert messages["payments.E001"].level == checks.ERROR
    assert messages["payments.E003"].level == checks.ERROR
    assert messages["payments.W001"].level == checks.WARNING
    # Operators read these: the hint names the variable to set.
    assert "STRIPE_PUBLISHABLE_KEY" in messages["payments.E001"].hint
    assert "STRIPE_WEBHOOK_SECRET" in messages["payments.W001"].hint
    assert "PAYPAL_CLIENT_SECRET" in messages["payments.E003"].hint

    _configure(settings, {**PAYPAL, "PAYPAL_CLIENT_ID": None, "PAYPAL_WEBHOOK_ID": None}, STRIPE_SECRET_KEY=None)
    (message,) = payment_keys_check()
    assert (message.id, message.level) == ("payments.E004", checks.ERROR)
    assert "PAYPAL_CLIENT_ID" in message.hint

    _configure(settings, PAYPAL, PAYPAL_WEBHOOK_ID=None)
    (message,) = payment_keys_check()
    assert (message.id, message.level) == ("payments.W002", checks.WARNING)
    assert "PAYPAL_WEBHOOK_ID" in message.hint


def test_keys_of_a_provider_the_region_does_not_list_are_not_checked(settings):
    """They are never used here, so they must not stop this region's deploy."""
    region = settings.REGION
    settings.REGION = dataclasses.replace(
        region, payment_methods=tuple(p for p in region.payment_methods if p.provider != "stripe")
    )
    _configure(settings, {"STRIPE_SECRET_KEY": "sk_test_x", "PAYPAL_CLIENT_ID": "client-id"})
    assert _payment_ids() == ["payments.E003"]


def test_manage_py_check_fails_on_a_half_configured_provider_read_from_the_environment():
    """End to end: the variables as an operator sets them, and the command a deploy runs."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "PAYPAL_"))}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**base, "STRIPE_SECRET_KEY": "sk_test_x", "STRIPE_WEBHOOK_SECRET": "whsec_x"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "(payments.E001) STRIPE_SECRET_KEY is set but STRIPE_PUBLISHABLE_KEY is not" in result.stderr
    assert "HINT: Set STRIPE_PUBLISHABLE_KEY" in result.stderr
