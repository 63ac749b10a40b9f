"""Stripe through its official SDK: PaymentIntents for the Payment Element, refunds, webhooks.

Every call carries our own deterministic ``Idempotency-Key``; that is what makes the SDK's
network retries (``max_network_retries``, with its exponential backoff) safe, and what
makes a retried task or a double click come back with the same intent instead of a second
one. Errors are sorted into "unreachable" (connection, timeout, 5xx, 429, credentials),
which the gateway counts towards the circuit breaker, and "declined", which it does not.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

import requests
import stripe
from django.utils.translation import gettext as _

from apps.payments.providers.base import (
    MAX_MINOR,
    NextAction,
    PaymentRequest,
    PaymentResult,
    PaymentStatus,
    ProviderDeclined,
    ProviderTimedOut,
    ProviderUnavailable,
    RefundResult,
    RefundStatus,
    WebhookOutcome,
    WebhookRejected,
)

logger = logging.getLogger(__name__)

# Wallets are not payment method types of their own at Stripe: Apple Pay and Google Pay
# ride on "card" and the Payment Element shows them where the device supports them.
WALLETS_ON_CARD = frozenset({"apple_pay", "google_pay"})

INTENT_STATUS = {
    "requires_payment_method": PaymentStatus.PENDING,
    "requires_confirmation": PaymentStatus.PENDING,
    "requires_action": PaymentStatus.PENDING,
    "processing": PaymentStatus.PROCESSING,
    "requires_capture": PaymentStatus.AUTHORIZED,
    "succeeded": PaymentStatus.SUCCEEDED,
    "canceled": PaymentStatus.CANCELLED,
}

EVENT_STATUS = {
    "payment_intent.created": PaymentStatus.PENDING,
    "payment_intent.processing": PaymentStatus.PROCESSING,
    "payment_intent.requires_action": PaymentStatus.PENDING,
    "payment_intent.amount_capturable_updated": PaymentStatus.AUTHORIZED,
    "payment_intent.succeeded": PaymentStatus.SUCCEEDED,
    "payment_intent.payment_failed": PaymentStatus.FAILED,
    "payment_intent.canceled": PaymentStatus.CANCELLED,
}

REFUND_EVENTS = frozenset({"refund.created", "refund.updated", "refund.failed", "charge.refund.updated"})

REFUND_STATUS = {
    "pending": RefundStatus.PENDING,
    "requires_action": RefundStatus.PENDING,
    "succeeded": RefundStatus.SUCCEEDED,
    "failed": RefundStatus.FAILED,
    "canceled": RefundStatus.FAILED,
}


# Klarna through Stripe takes a shopper from these customer countries only, and only in the
# currency of that country: "Supported currencies and countries" / "provided the presentment
# currency matches the currency of the customer's country", https://docs.stripe.com/payments/klarna
# (with Klarna's own table, "We only support the local currency of each country":
# https://docs.klarna.com/klarna-payments/before-you-start/data-requirements/puchase-countries-currencies-locales).
# Stripe adds that a business outside the EEA, UK and Switzerland may take only customers of
# its own country (AU, CA, NZ, US below are for such accounts); eu-west's account is in the EEA.
_KLARNA_COUNTRY_CURRENCIES: Mapping[str, frozenset[str]] = {
    "AT": frozenset({"EUR"}),
    "AU": frozenset({"AUD"}),
    "BE": frozenset({"EUR"}),
    "CA": frozenset({"CAD"}),
    "CH": frozenset({"CHF"}),
    "CZ": frozenset({"CZK"}),
    "DE": frozenset({"EUR"}),
    "DK": frozenset({"DKK"}),
    "ES": frozenset({"EUR"}),
    "FI": frozenset({"EUR"}),
    "FR": frozenset({"EUR"}),
    "GB": frozenset({"GBP"}),
    "GR": frozenset({"EUR"}),
    "IE": frozenset({"EUR"}),
    "IT": frozenset({"EUR"}),
    "NL": frozenset({"EUR"}),
    "NO": frozenset({"NOK"}),
    "NZ": frozenset({"NZD"}),
    "PL": frozenset({"PLN"}),
    "PT": frozenset({"EUR"}),
    "RO": frozenset({"RON"}),
    "SE": frozenset({"SEK"}),
    "US": frozenset({"USD"}),
}

# The presentment currencies Stripe takes with each payment method type: Stripe's facts,
# not a region's. ``None``: any currency the account settles. A PaymentIntent that lists
# a type with a currency it does not take is refused whole ("payment method type ... is
# invalid for currency"), so a type missing here is never sent (tests check that every
# method a region file lists has an entry).
METHOD_CURRENCIES: Mapping[str, frozenset[str] | None] = {
    # Cards (and the wallets that ride on them) in every currency Stripe settles:
    # https://docs.stripe.com/currencies
    "card": None,
    # Euro-denominated accounts only: https://docs.stripe.com/payments/sepa-debit
    "sepa_debit": frozenset({"EUR"}),
    # "Prices ... must be expressed in Euro": https://docs.stripe.com/payments/ideal/accept-a-payment
    "ideal": frozenset({"EUR"}),
    # "Prices ... must be expressed in Euro": https://docs.stripe.com/payments/bancontact/accept-a-payment
    "bancontact": frozenset({"EUR"}),
    # Klarna: any currency some customer country pays in (the union of the table below); which
    # one a shopper may use depends on their country, see METHOD_COUNTRY_CURRENCIES.
    "klarna": frozenset().union(*_KLARNA_COUNTRY_CURRENCIES.values()),
    # Presentment currencies: https://docs.stripe.com/payments/alipay/accept-a-payment
    "alipay": frozenset({"AUD", "CAD", "CNY", "EUR", "GBP", "HKD", "JPY", "MYR", "NZD", "SGD", "USD"}),
    # "Presentment currency SGD, MYR": https://docs.stripe.com/payments/grabpay
    "grabpay": frozenset({"MYR", "SGD"}),
    # "must be in sgd": https://docs.stripe.com/payments/paynow/accept-a-payment
    "paynow": frozenset({"SGD"}),
    # Malaysian banks, in ringgit: https://docs.stripe.com/payments/fpx
    "fpx": frozenset({"MYR"}),
    # Thai banks and wallets, in baht: https://docs.stripe.com/payments/promptpay
    "promptpay": frozenset({"THB"}),
}

# Payment method types whose currency depends on the shopper's country: customer country ->
# the currencies Stripe takes from it. A country missing from a type's table is not served by it.
METHOD_COUNTRY_CURRENCIES: Mapping[str, Mapping[str, frozenset[str]]] = {
    "klarna": _KLARNA_COUNTRY_CURRENCIES,
}


def stripe_type(method: str) -> str:
    """The Stripe ``payment_method_types`` entry for one of our method names."""
    return "card" if method in WALLETS_ON_CARD else method


def method_takes_currency(method: str, currency: str, country: str | None = None) -> bool:
    """Whether Stripe takes ``currency`` with ``method`` from a shopper in ``country`` (an unknown method: no).

    Without ``country``, a method whose currency depends on the country (Klarna) is judged by
    currency alone: Stripe accepts such an intent and the method checks the billing country itself.
    """
    kind = stripe_type(method)
    if kind not in METHOD_CURRENCIES:
        return False
    currency = currency.upper()
    currencies = METHOD_CURRENCIES[kind]
    if currencies is not None and currency not in currencies:
        return False
    by_country = METHOD_COUNTRY_CURRENCIES.get(kind)
    if by_country is None or not country:
        return True
    return currency in by_country.get(country.upper(), frozenset())


def payment_method_types(
    methods: tuple[str, ...], *, currency: str, chosen: str, country: str | None = None
) -> list[str]:
    """The Stripe ``payment_method_types`` for an intent in ``currency``, the shopper's choice first.

    Only the region's methods that take ``currency`` (from ``country``, when known) are
    listed (Stripe refuses the whole intent otherwise, and the Payment Element should not
    show a method the shopper cannot use), in the region's order after the chosen one,
    without repeats; the Payment Element opens on the first.
    """
    types = [stripe_type(chosen)]
    for method in methods:
        kind = stripe_type(method)
        if kind not in types and method_takes_currency(method, currency, country):
            types.append(kind)
    return types


class StripeProvider:
    name = "stripe"
    is_test = False
    # "succeeded" is not final for a refund: Stripe may report it failed later (the card was
    # closed), with ``failure_reason`` and the money back in our balance; see "Failed refunds",
    # https://docs.stripe.com/refunds#failed-refunds.
    refunds_fail_after_success = True

    def __init__(
        self,
        *,
        secret_key: str,
        webhook_secret: str | None,
        api_base: str | None,
        connect_timeout: float,
        timeout: float,
        max_retries: int,
        webhook_tolerance: int,
    ) -> None:
        self.webhook_secret = webhook_secret
        self.webhook_tolerance = webhook_tolerance
        # The SDK retries connection errors, timeouts, 409 and 5xx itself, with backoff
        # (0.5 s doubling, at most 5 s; it does not wait out a Retry-After).
        self.client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base} if api_base else None,
            max_network_retries=max_retries,
            http_client=stripe.RequestsClient(timeout=(connect_timeout, timeout)),
        )

    def supports_currency(self, currency: str) -> bool:
        # Stripe settles every currency our regions list (by card); the other methods
        # each take only some, see method_supports_currency.
        return True

    def method_supports_currency(self, method: str, currency: str, country: str | None = None) -> bool:
        return method_takes_currency(method, currency, country)

    def _call(self, what: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except stripe.APIConnectionError as exc:
            if isinstance(exc.__cause__, requests.exceptions.Timeout):
                raise ProviderTimedOut(f"Stripe {what}: no answer in time") from exc
            raise ProviderUnavailable(f"Stripe {what}: {exc.user_message or exc}") from exc
        except stripe.RateLimitError as exc:
            raise ProviderUnavailable(f"Stripe {what}: {exc.user_message or exc}") from exc
        except (stripe.AuthenticationError, stripe.PermissionError) as exc:
            logger.error("Stripe refused our credentials on %s: %s", what, exc)
            raise ProviderUnavailable(f"Stripe {what}: credentials refused") from exc
        except stripe.StripeError as exc:
            # 409: another request with our idempotency key is still executing (a double
            # click); its outcome is unknown, not a refusal, and a retry with the key gets it.
            if exc.http_status is not None and (exc.http_status >= 500 or exc.http_status == 409):
                raise ProviderUnavailable(f"Stripe {what}: HTTP {exc.http_status}") from exc
            raise ProviderDeclined(exc.user_message or str(exc), code=exc.code or "declined") from exc

    def _result(self, intent: Any) -> PaymentResult:
        status = INTENT_STATUS.get(intent.status, PaymentStatus.PENDING)
        error = getattr(intent, "last_payment_error", None)
        return PaymentResult(
            provider_payment_id=intent.id,
            status=status,
            next_action=NextAction.CONFIRM_IN_BROWSER if status == PaymentStatus.PENDING else NextAction.NONE,
            client_secret=intent.client_secret or "",
            captured_minor=intent.amount_received or 0,
            # A StripeObject, not a dict: ``.get`` raises on it, a missing key is an AttributeError.
            failure_reason=str(getattr(error, "message", None) or "") if error else "",
        )

    def create_payment(self, request: PaymentRequest) -> PaymentResult:
        country = request.country or None
        # The checkout refuses both before; never ask Stripe for an intent it refuses.
        if not method_takes_currency(request.method, request.currency):
            raise ProviderDeclined(
                _("This payment method does not accept %(currency)s; try another method.")
                % {"currency": request.currency},
                code="currency_not_supported",
            )
        if not method_takes_currency(request.method, request.currency, country):
            raise ProviderDeclined(
                _("This payment method does not accept %(currency)s from %(country)s; try another method.")
                % {"currency": request.currency, "country": country},
                code="currency_not_supported",
            )
        params: dict[str, Any] = {
            "amount": request.amount_minor,
            "currency": request.currency.lower(),
            "payment_method_types": payment_method_types(
                request.methods, currency=request.currency, chosen=request.method, country=country
            ),
            "metadata": {"order_reference": request.order_reference, "payment_key": request.idempotency_key},
        }
        if request.description:
            params["description"] = request.description
        intent = self._call(
            "create intent",
            self.client.v1.payment_intents.create,
            params=params,
            options={"idempotency_key": request.idempotency_key},
        )
        return self._result(intent)

    def capture(
        self, *, provider_payment_id: str, amount_minor: int, currency: str, idempotency_key: str
    ) -> PaymentResult:
        intent = self._call(
            "capture",
            self.client.v1.payment_intents.capture,
            provider_payment_id,
            params={"amount_to_capture": amount_minor},
            options={"idempotency_key": idempotency_key},
        )
        return self._result(intent)

    def fetch(self, *, provider_payment_id: str, currency: str) -> PaymentResult:
        intent = self._call("intent lookup", self.client.v1.payment_intents.retrieve, provider_payment_id)
        return self._result(intent)

    def refund(
        self,
        *,
        provider_payment_id: str,
        provider_capture_id: str,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
    ) -> RefundResult:
        refund = self._call(
            "refund",
            self.client.v1.refunds.create,
            params={
                "payment_intent": provider_payment_id,
                "amount": amount_minor,
                "metadata": {"refund_key": idempotency_key},
            },
            options={"idempotency_key": idempotency_key},
        )
        return RefundResult(
            provider_refund_id=refund.id,
            status=REFUND_STATUS.get(refund.status, RefundStatus.PENDING),
            amount_minor=refund.amount,
            refund_key=idempotency_key,
            provider_payment_id=provider_payment_id,
        )

    def cancel(self, *, provider_payment_id: str, idempotency_key: str) -> PaymentResult:
        """Void an intent nobody will capture (its order was cancelled): the card's hold is released."""
        intent = self._call(
            "cancel intent",
            self.client.v1.payment_intents.cancel,
            provider_payment_id,
            params={"cancellation_reason": "abandoned"},
            options={"idempotency_key": idempotency_key},
        )
        return self._result(intent)

    def parse_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> WebhookOutcome:
        if not self.webhook_secret:
            raise WebhookRejected("Stripe webhooks are not configured (STRIPE_WEBHOOK_SECRET).")
        header = headers.get("stripe-signature", "")
        try:
            stripe.Webhook.construct_event(body, header, self.webhook_secret, tolerance=self.webhook_tolerance)
        except stripe.SignatureVerificationError as exc:
            raise WebhookRejected(f"Stripe signature not valid: {exc.user_message or exc}") from exc
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            # RecursionError: JSON nested deeper than Python's parser goes (signed, but still not an event).
            raise WebhookRejected("Stripe webhook body is not JSON.") from exc
        except (AttributeError, TypeError) as exc:
            # The SDK checks the signature first, then builds an Event from the JSON and
            # trips over anything that is not an object.
            raise WebhookRejected("Stripe webhook body is not an event object.") from exc
        # The SDK bounds the signed timestamp only towards the past; a signature dated in
        # the future would stay replayable for as long as that date is ahead, so bound it.
        if _signed_timestamp(header) > time.time() + self.webhook_tolerance:
            raise WebhookRejected("Stripe signature timestamp is in the future.")
        payload = json.loads(body)
        if not isinstance(payload, dict):
            raise WebhookRejected("Stripe webhook body is not an event object.")
        return _outcome(payload)

    def event_outcome(self, event: Mapping[str, Any]) -> WebhookOutcome:
        return _outcome(dict(event))


def _mapping(value: Any) -> dict[str, Any]:
    # A signed body is Stripe's, but its shape is still checked: a field of an unexpected
    # type is a refused event, never a server error.
    return value if isinstance(value, dict) else {}


def _minor(value: Any, field: str) -> int:
    if value in (None, ""):
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise WebhookRejected(f"Stripe event field {field} is not a whole number of minor units.")
    if not 0 <= value <= MAX_MINOR:
        # Stripe's amounts are never negative; either way, one we cannot store is refused, not a 500.
        raise WebhookRejected(f"Stripe event field {field} is not an amount we can record: {value}.")
    return value


def _created(payload: dict[str, Any]) -> dt.datetime | None:
    """When Stripe created the event (whole seconds), or None for an event that does not say."""
    created = payload.get("created")
    if isinstance(created, bool) or not isinstance(created, int) or created <= 0:
        return None
    try:
        return dt.datetime.fromtimestamp(created, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _signed_timestamp(header: str) -> int:
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            try:
                return int(value)
            except ValueError:
                break
    raise WebhookRejected("Stripe signature carries no timestamp.")


def _outcome(payload: dict[str, Any]) -> WebhookOutcome:
    event_id = str(payload.get("id") or "")
    event_type = str(payload.get("type") or "")
    if not event_id or not event_type:
        raise WebhookRejected("Stripe event has no id or type.")
    obj = _mapping(payload.get("data")).get("object")
    if not isinstance(obj, dict):
        raise WebhookRejected("Stripe event has no object.")
    metadata = _mapping(obj.get("metadata"))
    if event_type in EVENT_STATUS and obj.get("object") == "payment_intent":
        status = EVENT_STATUS[event_type]
        error = obj.get("last_payment_error") or {}
        return WebhookOutcome(
            event_id=event_id,
            event_type=event_type,
            payload=payload,
            provider_payment_id=str(obj.get("id") or ""),
            payment_key=str(metadata.get("payment_key") or ""),
            status=status,
            captured_minor=_minor(obj.get("amount_received"), "amount_received")
            if status == PaymentStatus.SUCCEEDED
            else None,
            failure_reason=str(error.get("message") or "") if isinstance(error, dict) else "",
            occurred_at=_created(payload),
        )
    if event_type in REFUND_EVENTS and obj.get("object") == "refund":
        return WebhookOutcome(
            event_id=event_id,
            event_type=event_type,
            payload=payload,
            provider_payment_id=str(obj.get("payment_intent") or ""),
            refund=RefundResult(
                provider_refund_id=str(obj.get("id") or ""),
                status=REFUND_STATUS.get(str(obj.get("status")), RefundStatus.PENDING),
                amount_minor=_minor(obj.get("amount"), "amount"),
                refund_key=str(metadata.get("refund_key") or ""),
                provider_payment_id=str(obj.get("payment_intent") or ""),
            ),
            # Why a refund failed (lost_or_stolen_card, expired_or_canceled_card, unknown).
            failure_reason=str(obj.get("failure_reason") or ""),
            occurred_at=_created(payload),
        )
    return WebhookOutcome(event_id=event_id, event_type=event_type, payload=payload)
