"""System checks for the payment keys: a half-configured provider shows at ``manage.py check``
(CI, the deploy's migrate step, which stops on an error, and ``make run``), not from shoppers.

Each provider's keys go in pairs, and the registry offers a provider from a subset of them:
Stripe from ``STRIPE_SECRET_KEY`` alone, PayPal from the client id and secret. A missing
partner key is an error when it breaks checkout (Stripe offered without the publishable key
the Payment Element needs, so shoppers are left with an unpaid order and nothing to click;
a lone PayPal or Stripe key, so the provider the operator meant to offer is not). A missing
webhook secret is a warning: payments still go through, but the provider's notifications
are refused, so what the provider reports later (a payment that settles late, a refund's
outcome) never reaches the orders.

Only the providers the served region's file lists are looked at: the keys of one it does not
list are never used, and must not stop this region's deploy.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from regions import Region


def _stripe_messages() -> list[CheckMessage]:
    secret_key = settings.STRIPE_SECRET_KEY
    publishable_key = settings.STRIPE_PUBLISHABLE_KEY
    messages: list[CheckMessage] = []
    if secret_key and not publishable_key:
        messages.append(
            Error(
                "STRIPE_SECRET_KEY is set but STRIPE_PUBLISHABLE_KEY is not: Stripe is offered at checkout, "
                "but the web checkout cannot show Stripe's payment form, and a shopper who picks Stripe is "
                "sent back to an unpaid order with nothing to click.",
                hint="Set STRIPE_PUBLISHABLE_KEY to the publishable key (pk_live_... / pk_test_...) of the same "
                "Stripe account, or unset STRIPE_SECRET_KEY to stop offering Stripe.",
                id="payments.E001",
            )
        )
    if publishable_key and not secret_key:
        messages.append(
            Error(
                "STRIPE_PUBLISHABLE_KEY is set but STRIPE_SECRET_KEY is not: Stripe is not offered at checkout.",
                hint="Set STRIPE_SECRET_KEY to the secret key (sk_live_... / sk_test_...) of the same Stripe "
                "account, or unset STRIPE_PUBLISHABLE_KEY.",
                id="payments.E002",
            )
        )
    if secret_key and not settings.STRIPE_WEBHOOK_SECRET:
        messages.append(
            Warning(
                "STRIPE_SECRET_KEY is set but STRIPE_WEBHOOK_SECRET is not: Stripe payments work, but every "
                "Stripe webhook is refused, so payment and refund updates Stripe sends later never reach the "
                "orders.",
                hint="Set STRIPE_WEBHOOK_SECRET to the signing secret (whsec_...) of this region's Stripe "
                "webhook endpoint.",
                id="payments.W001",
            )
        )
    return messages


def _paypal_messages() -> list[CheckMessage]:
    client_id = settings.PAYPAL_CLIENT_ID
    client_secret = settings.PAYPAL_CLIENT_SECRET
    if client_id and not client_secret:
        return [
            Error(
                "PAYPAL_CLIENT_ID is set but PAYPAL_CLIENT_SECRET is not: PayPal is not offered at checkout.",
                hint="Set PAYPAL_CLIENT_SECRET to the secret of the same PayPal REST app, or unset PAYPAL_CLIENT_ID.",
                id="payments.E003",
            )
        ]
    if client_secret and not client_id:
        return [
            Error(
                "PAYPAL_CLIENT_SECRET is set but PAYPAL_CLIENT_ID is not: PayPal is not offered at checkout.",
                hint="Set PAYPAL_CLIENT_ID to the client id of the same PayPal REST app, or unset "
                "PAYPAL_CLIENT_SECRET.",
                id="payments.E004",
            )
        ]
    if client_id and client_secret and not settings.PAYPAL_WEBHOOK_ID:
        return [
            Warning(
                "PAYPAL_CLIENT_ID and PAYPAL_CLIENT_SECRET are set but PAYPAL_WEBHOOK_ID is not: PayPal "
                "payments work, but every PayPal webhook is refused, so payment and refund updates PayPal "
                "sends later never reach the orders.",
                hint="Set PAYPAL_WEBHOOK_ID to the id PayPal gave this region's webhook.",
                id="payments.W002",
            )
        ]
    return []


@register()
def payment_keys_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The payment keys of the providers the served region lists, checked pair by pair."""
    region: Region = settings.REGION
    messages: list[CheckMessage] = []
    if "stripe" in region.payment_providers:
        messages += _stripe_messages()
    if "paypal" in region.payment_providers:
        messages += _paypal_messages()
    return messages
