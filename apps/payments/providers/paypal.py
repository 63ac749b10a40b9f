"""PayPal through its official ``paypal-server-sdk``: Orders v2 create and capture, refunds, webhooks.

The SDK's base URL comes from ``PAYPAL_API_BASE`` (sandbox, live, or a local fake in
tests). Every write carries our deterministic ``PayPal-Request-Id``, so the SDK may retry
POSTs too (PayPal answers a repeated id with the first result), with backoff.

The SDK has no call for verify-webhook-signature, so that one call goes through
``requests`` directly, with the SDK's OAuth token, the same timeouts and a short bounded
retry (it reads, it never writes).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import requests
import urllib3
from babel.numbers import get_currency_precision
from paypalserversdk.api_helper import APIHelper
from paypalserversdk.configuration import Configuration
from paypalserversdk.exceptions.api_exception import ApiException
from paypalserversdk.http.auth.o_auth_2 import ClientCredentialsAuthCredentials
from paypalserversdk.models.amount_with_breakdown import AmountWithBreakdown
from paypalserversdk.models.money import Money
from paypalserversdk.models.order_request import OrderRequest
from paypalserversdk.models.payment_source import PaymentSource
from paypalserversdk.models.paypal_wallet import PaypalWallet
from paypalserversdk.models.paypal_wallet_experience_context import PaypalWalletExperienceContext
from paypalserversdk.models.purchase_unit_request import PurchaseUnitRequest
from paypalserversdk.models.refund_request import RefundRequest
from paypalserversdk.paypal_serversdk_client import PaypalServersdkClient

from apps.money.formatting import minor_to_decimal
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

# The currencies PayPal accepts for payments (its REST currency-codes list). Our regions
# list a few it does not (AED, SAR, IDR): there PayPal is simply not offered.
SUPPORTED_CURRENCIES = frozenset(
    {
        *("AUD", "BRL", "CAD", "CHF", "CNY", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF", "ILS"),
        *("JPY", "MXN", "MYR", "NOK", "NZD", "PHP", "PLN", "SEK", "SGD", "THB", "TWD", "USD"),
    }
)

ORDER_STATUS = {
    "CREATED": PaymentStatus.PENDING,
    "SAVED": PaymentStatus.PENDING,
    "APPROVED": PaymentStatus.PENDING,
    "PAYER_ACTION_REQUIRED": PaymentStatus.PENDING,
    "VOIDED": PaymentStatus.CANCELLED,
}

CAPTURE_STATUS = {
    "COMPLETED": PaymentStatus.SUCCEEDED,
    "PARTIALLY_REFUNDED": PaymentStatus.SUCCEEDED,
    "REFUNDED": PaymentStatus.SUCCEEDED,
    "PENDING": PaymentStatus.PROCESSING,
    "DECLINED": PaymentStatus.FAILED,
    "FAILED": PaymentStatus.FAILED,
}

REFUND_STATUS = {
    "COMPLETED": RefundStatus.SUCCEEDED,
    "PENDING": RefundStatus.PENDING,
    "FAILED": RefundStatus.FAILED,
    "CANCELLED": RefundStatus.FAILED,
}

CAPTURE_EVENTS = {
    "PAYMENT.CAPTURE.COMPLETED": PaymentStatus.SUCCEEDED,
    "PAYMENT.CAPTURE.PENDING": PaymentStatus.PROCESSING,
    "PAYMENT.CAPTURE.DENIED": PaymentStatus.FAILED,
    "PAYMENT.CAPTURE.DECLINED": PaymentStatus.FAILED,
}
REFUND_EVENTS = frozenset({"PAYMENT.CAPTURE.REFUNDED"})
ORDER_EVENTS = {"CHECKOUT.ORDER.APPROVED": PaymentStatus.PENDING, "CHECKOUT.ORDER.VOIDED": PaymentStatus.CANCELLED}

SIGNATURE_HEADERS = {
    "auth_algo": "paypal-auth-algo",
    "cert_url": "paypal-cert-url",
    "transmission_id": "paypal-transmission-id",
    "transmission_sig": "paypal-transmission-sig",
    "transmission_time": "paypal-transmission-time",
}


def to_value(amount_minor: int, currency: str) -> str:
    """Integer minor units as PayPal's decimal string: ``1250, "USD"`` → ``"12.50"``."""
    return str(minor_to_decimal(amount_minor, currency))


def to_minor(value: Any, currency: str) -> int:
    try:
        amount = Decimal(str(value)).scaleb(get_currency_precision(currency))
    except (InvalidOperation, ValueError) as exc:
        raise ProviderDeclined(f"PayPal sent an amount we cannot read: {value!r}", code="bad_amount") from exc
    # "Infinity" reads as a Decimal, and "-5.00" or "1e30" are whole numbers of minor units:
    # none is an amount a payment or refund can record (int(Infinity) alone would be a 500).
    if not amount.is_finite() or not 0 <= amount <= MAX_MINOR:
        raise ProviderDeclined(f"PayPal sent an amount we cannot record: {value!r}", code="bad_amount")
    if amount != amount.to_integral_value():
        raise ProviderDeclined(f"PayPal sent a fraction of a minor unit: {value!r}", code="bad_amount")
    return int(amount)


# The SDK's own list: statuses worth another attempt.
RETRY_STATUSES = (408, 413, 429, 500, 502, 503, 504, 521, 522, 524)


def _timed_out(exc: requests.exceptions.RequestException) -> bool:
    """Whether PayPal kept us waiting, rather than refusing the connection."""
    if isinstance(exc, requests.exceptions.Timeout):
        return True
    # With retries, requests reports a last timed-out attempt as a ConnectionError around
    # urllib3's MaxRetryError; a refused connection is a NewConnectionError, which urllib3
    # derives from its connect timeout.
    reason = getattr(exc.args[0] if exc.args else None, "reason", None)
    return isinstance(reason, urllib3.exceptions.TimeoutError) and not isinstance(
        reason, urllib3.exceptions.NewConnectionError
    )


def _session(max_retries: int) -> requests.Session:
    """The SDK's HTTP session, retrying as the SDK would, but never waiting out a Retry-After.

    A 429 or 503 may ask for minutes; a shopper's checkout must not sleep through them, so
    the usual backoff applies and the breaker sees the failure.
    """
    retry = urllib3.util.Retry(
        total=max_retries,
        backoff_factor=0.25,
        status_forcelist=RETRY_STATUSES,
        # Safe because every POST carries a PayPal-Request-Id (the OAuth token request,
        # which has none, only issues a token).
        allowed_methods=["GET", "PUT", "POST"],
        raise_on_status=False,
        raise_on_redirect=False,
        respect_retry_after_header=False,
    )
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class _Configuration(Configuration):
    """The SDK's configuration with the base URL we are told, instead of its two fixed ones."""

    def __init__(self, *, api_base: str, **kwargs: Any) -> None:
        self.api_base = api_base.rstrip("/")
        super().__init__(**kwargs)

    def get_base_uri(self, server: Any = None) -> str:
        return self.api_base


class PayPalProvider:
    name = "paypal"
    is_test = False

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        webhook_id: str | None,
        api_base: str,
        connect_timeout: float,
        timeout: float,
        max_retries: int,
        webhook_tolerance: int,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self.webhook_id = webhook_id
        # requests' (connect, read): a refused or unroutable connection fails within the first.
        self.timeout = (connect_timeout, timeout)
        self.max_retries = max_retries
        self.webhook_tolerance = webhook_tolerance
        self._token: Any = None
        self._token_lock = threading.Lock()
        config = _Configuration(
            api_base=self.api_base,
            # Our session is used as it is (its retries above); the SDK passes the timeout on.
            http_client_instance=_session(max_retries),
            override_http_client_configuration=False,
            timeout=self.timeout,
            client_credentials_auth_credentials=ClientCredentialsAuthCredentials(
                o_auth_client_id=client_id,
                o_auth_client_secret=client_secret,
                o_auth_token_provider=self._token_provider,
            ),
        )
        self.client = PaypalServersdkClient(config=config)

    def supports_currency(self, currency: str) -> bool:
        return currency.upper() in SUPPORTED_CURRENCIES

    # --- plumbing ---------------------------------------------------------------------

    def _token_provider(self, last_token: Any, auth: Any) -> Any:
        """One OAuth token per process for the SDK's calls and our verification call alike."""
        with self._token_lock:
            if self._token is None or auth.is_token_expired(self._token):
                self._token = auth.fetch_token()
            return self._token

    def _call(self, what: str, func: Any, *args: Any) -> dict[str, Any]:
        try:
            response = func(*args)
        except requests.exceptions.RequestException as exc:
            if _timed_out(exc):
                raise ProviderTimedOut(f"PayPal {what}: no answer in time") from exc
            raise ProviderUnavailable(f"PayPal {what}: {type(exc).__name__}") from exc
        except ApiException as exc:
            code = exc.response_code
            if code in (401, 403) or code == 429 or code >= 500:
                if code in (401, 403):
                    logger.error("PayPal refused our credentials on %s: %s", what, exc)
                raise ProviderUnavailable(f"PayPal {what}: HTTP {code}") from exc
            issues = [str(getattr(detail, "issue", "")) for detail in getattr(exc, "details", None) or []]
            raise ProviderDeclined(
                f"PayPal refused the {what}: {getattr(exc, 'message', None) or exc.reason}",
                code=issues[0].lower() if issues and issues[0] else "declined",
            ) from exc
        return APIHelper.to_dictionary(response.body) if response.body is not None else {}

    # --- payments ---------------------------------------------------------------------

    def create_payment(self, request: PaymentRequest) -> PaymentResult:
        experience: dict[str, Any] = {"user_action": "PAY_NOW", "shipping_preference": "NO_SHIPPING"}
        if request.return_url:
            experience["return_url"] = request.return_url
        if request.cancel_url:
            experience["cancel_url"] = request.cancel_url
        body = OrderRequest(
            intent="CAPTURE",
            purchase_units=[
                PurchaseUnitRequest(
                    reference_id=request.order_reference,
                    # Echoed back on captures and their webhooks: how we find the payment.
                    custom_id=request.idempotency_key,
                    description=request.description or APIHelper.SKIP,
                    amount=AmountWithBreakdown(
                        currency_code=request.currency, value=to_value(request.amount_minor, request.currency)
                    ),
                )
            ],
            payment_source=PaymentSource(
                paypal=PaypalWallet(experience_context=PaypalWalletExperienceContext(**experience))
            ),
        )
        order = self._call(
            "order creation",
            self.client.orders.create_order,
            {"body": body, "paypal_request_id": request.idempotency_key, "prefer": "return=representation"},
        )
        links = {link.get("rel"): link.get("href") for link in order.get("links") or []}
        return PaymentResult(
            provider_payment_id=str(order.get("id") or ""),
            status=ORDER_STATUS.get(str(order.get("status")), PaymentStatus.PENDING),
            next_action=NextAction.REDIRECT,
            approval_url=links.get("payer-action") or links.get("approve") or "",
        )

    def capture(
        self, *, provider_payment_id: str, amount_minor: int, currency: str, idempotency_key: str
    ) -> PaymentResult:
        try:
            order = self._call(
                "capture",
                self.client.orders.capture_order,
                {"id": provider_payment_id, "paypal_request_id": idempotency_key, "prefer": "return=representation"},
            )
        except ProviderDeclined as exc:
            if exc.code != "order_already_captured":
                raise
            # Captured already (an earlier request whose answer we lost under another key,
            # or the merchant's PayPal dashboard): the buyer has paid, so read the capture
            # back instead of recording a refusal.
            order = self._call("order lookup", self.client.orders.get_order, {"id": provider_payment_id})
        return self._capture_result(order, provider_payment_id=provider_payment_id, currency=currency)

    def fetch(self, *, provider_payment_id: str, currency: str) -> PaymentResult:
        order = self._call("order lookup", self.client.orders.get_order, {"id": provider_payment_id})
        result = self._capture_result(order, provider_payment_id=provider_payment_id, currency=currency)
        if str(order.get("status")) == "APPROVED" and not result.provider_capture_id:
            return dataclasses.replace(result, approved=True)
        return result

    @staticmethod
    def _capture_result(order: dict[str, Any], *, provider_payment_id: str, currency: str) -> PaymentResult:
        captures = [
            capture
            for unit in order.get("purchase_units") or []
            for capture in ((unit.get("payments") or {}).get("captures") or [])
        ]
        if not captures:
            return PaymentResult(
                provider_payment_id=provider_payment_id,
                status=ORDER_STATUS.get(str(order.get("status")), PaymentStatus.PENDING),
            )
        capture = captures[0]
        status = CAPTURE_STATUS.get(str(capture.get("status")), PaymentStatus.PENDING)
        amount = capture.get("amount") or {}
        return PaymentResult(
            provider_payment_id=provider_payment_id,
            status=status,
            provider_capture_id=str(capture.get("id") or ""),
            captured_minor=to_minor(amount.get("value", "0"), amount.get("currency_code") or currency)
            if status == PaymentStatus.SUCCEEDED
            else 0,
            failure_reason=str((capture.get("status_details") or {}).get("reason") or "")
            if status == PaymentStatus.FAILED
            else "",
        )

    def refund(
        self,
        *,
        provider_payment_id: str,
        provider_capture_id: str,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
    ) -> RefundResult:
        if not provider_capture_id:
            raise ProviderDeclined("This PayPal payment has no capture to refund.", code="not_captured")
        refund = self._call(
            "refund",
            self.client.payments.refund_captured_payment,
            {
                "capture_id": provider_capture_id,
                "paypal_request_id": idempotency_key,
                "prefer": "return=representation",
                "body": RefundRequest(
                    amount=Money(currency_code=currency, value=to_value(amount_minor, currency)),
                    custom_id=idempotency_key,
                ),
            },
        )
        amount = refund.get("amount") or {}
        return RefundResult(
            provider_refund_id=str(refund.get("id") or ""),
            status=REFUND_STATUS.get(str(refund.get("status")), RefundStatus.PENDING),
            amount_minor=to_minor(amount["value"], amount.get("currency_code") or currency)
            if "value" in amount
            else amount_minor,
            refund_key=idempotency_key,
            provider_payment_id=provider_payment_id,
            provider_capture_id=provider_capture_id,
        )

    # --- webhooks ---------------------------------------------------------------------

    def parse_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> WebhookOutcome:
        if not self.webhook_id:
            raise WebhookRejected("PayPal webhooks are not configured (PAYPAL_WEBHOOK_ID).")
        signature = {field: headers.get(header, "") for field, header in SIGNATURE_HEADERS.items()}
        missing = [header for field, header in SIGNATURE_HEADERS.items() if not signature[field]]
        if missing:
            raise WebhookRejected(f"PayPal webhook lacks {', '.join(missing)}.")
        self._check_time(signature["transmission_time"])
        try:
            event = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            # RecursionError: JSON nested deeper than Python's parser goes, sent before anyone verified it.
            raise WebhookRejected("PayPal webhook body is not JSON.") from exc
        if not isinstance(event, dict):
            raise WebhookRejected("PayPal webhook body is not an event.")
        if not _nested_within(event, MAX_EVENT_DEPTH):
            # Parsed, but too deep to encode again for PayPal's verification (or for storing it)
            # further down the stack: a RecursionError there would be a 500, before anyone verified it.
            raise WebhookRejected("PayPal webhook body is nested too deeply.")
        answer = self._post_json(
            "/v1/notifications/verify-webhook-signature",
            {**signature, "webhook_id": self.webhook_id, "webhook_event": event},
        )
        if answer.get("verification_status") != "SUCCESS":
            raise WebhookRejected("PayPal did not verify the webhook signature.")
        try:
            return _outcome(event)
        except (AttributeError, TypeError, IndexError, ValueError) as exc:
            # Verified by PayPal, but a field has a type we do not expect: refuse it (PayPal
            # retries, and the stored-once rule still holds) rather than fail with a 500.
            raise WebhookRejected(f"PayPal event of an unexpected shape: {exc}") from exc

    def event_outcome(self, event: Mapping[str, Any]) -> WebhookOutcome:
        return _outcome(dict(event))

    def _check_time(self, transmission_time: str) -> None:
        try:
            sent = dt.datetime.fromisoformat(transmission_time.replace("Z", "+00:00"))
        except ValueError as exc:
            raise WebhookRejected("PayPal transmission time is not a timestamp.") from exc
        if sent.tzinfo is None:
            raise WebhookRejected("PayPal transmission time has no time zone.")
        age = time.time() - sent.timestamp()
        if age > self.webhook_tolerance:
            raise WebhookRejected("PayPal webhook is too old (replayed?).")
        if -age > self.webhook_tolerance:
            raise WebhookRejected("PayPal transmission time is in the future.")

    def _post_json(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        token = self._access_token()
        data = json.dumps(payload).encode()
        attempt = 0
        while True:
            try:
                response = requests.post(
                    self.api_base + path,
                    data=data,
                    headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
                    timeout=self.timeout,
                )
            except requests.exceptions.RequestException as exc:
                failure: requests.exceptions.RequestException = exc
            else:
                code = response.status_code
                if code in (401, 403):
                    logger.error("PayPal refused our credentials on webhook verification")
                    raise ProviderUnavailable("PayPal verification: credentials refused")
                if 400 <= code < 500 and code != 429:
                    raise WebhookRejected(f"PayPal refused the verification call: HTTP {code}")
                if code < 400:
                    try:
                        return json.loads(response.content or b"{}")
                    except ValueError as exc:
                        raise ProviderUnavailable("PayPal verification answered something that is not JSON.") from exc
                failure = requests.exceptions.HTTPError(f"HTTP {code}", response=response)
            if attempt >= self.max_retries:
                if _timed_out(failure):
                    raise ProviderTimedOut(f"PayPal verification call: no answer in time ({failure})") from failure
                raise ProviderUnavailable(f"PayPal verification call failed: {failure}") from failure
            attempt += 1
            time.sleep(0.25 * 2 ** (attempt - 1))

    def _access_token(self) -> str:
        try:
            token = self._token_provider(None, self.client.oauth_2)
        except requests.exceptions.RequestException as exc:
            raise ProviderUnavailable(f"PayPal token: {type(exc).__name__}") from exc
        except ApiException as exc:
            raise ProviderUnavailable(f"PayPal token: HTTP {exc.response_code}") from exc
        return token.access_token


# PayPal's events nest a handful of levels; the limit leaves room and stays far below Python's.
MAX_EVENT_DEPTH = 64


def _nested_within(value: Any, limit: int) -> bool:
    """Whether ``value`` (parsed JSON) nests at most ``limit`` lists or objects deep; walked with a
    list, not recursion."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return False
        pending.extend((child, depth + 1) for child in children)
    return True


def _event_amount(resource: Mapping[str, Any]) -> int | None:
    amount = resource.get("amount") or {}
    if not amount:
        return None
    currency = str(amount.get("currency_code") or "")
    if not currency:
        raise WebhookRejected("PayPal event amount has no currency.")
    try:
        return to_minor(amount.get("value"), currency)
    except ProviderDeclined as exc:
        raise WebhookRejected(exc.message) from exc


def _create_time(event: Mapping[str, Any]) -> dt.datetime | None:
    """When PayPal says the event happened (``create_time``), or None when it does not say (usably)."""
    value = event.get("create_time")
    if not isinstance(value, str):
        return None
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def _capture_id_from_links(resource: Mapping[str, Any]) -> str:
    for link in resource.get("links") or []:
        href = str(link.get("href") or "")
        if link.get("rel") == "up" and "/captures/" in href:
            return href.rstrip("/").rsplit("/", 1)[-1]
    return ""


def _outcome(event: dict[str, Any]) -> WebhookOutcome:
    event_id = str(event.get("id") or "")
    event_type = str(event.get("event_type") or "")
    if not event_id or not event_type:
        raise WebhookRejected("PayPal event has no id or event_type.")
    resource = event.get("resource") or {}
    if not isinstance(resource, dict):
        raise WebhookRejected("PayPal event has no resource.")
    if event_type in CAPTURE_EVENTS:
        status = CAPTURE_EVENTS[event_type]
        related = (resource.get("supplementary_data") or {}).get("related_ids") or {}
        return WebhookOutcome(
            event_id=event_id,
            event_type=event_type,
            payload=event,
            provider_payment_id=str(related.get("order_id") or ""),
            provider_capture_id=str(resource.get("id") or ""),
            payment_key=str(resource.get("custom_id") or ""),
            status=status,
            captured_minor=_event_amount(resource) if status == PaymentStatus.SUCCEEDED else None,
            occurred_at=_create_time(event),
        )
    if event_type in REFUND_EVENTS:
        capture_id = _capture_id_from_links(resource)
        return WebhookOutcome(
            event_id=event_id,
            event_type=event_type,
            payload=event,
            provider_capture_id=capture_id,
            refund=RefundResult(
                provider_refund_id=str(resource.get("id") or ""),
                status=REFUND_STATUS.get(str(resource.get("status")), RefundStatus.PENDING),
                amount_minor=_event_amount(resource) or 0,
                refund_key=str(resource.get("custom_id") or ""),
                provider_capture_id=capture_id,
            ),
            occurred_at=_create_time(event),
        )
    if event_type in ORDER_EVENTS:
        units = resource.get("purchase_units") or [{}]
        return WebhookOutcome(
            event_id=event_id,
            event_type=event_type,
            payload=event,
            provider_payment_id=str(resource.get("id") or ""),
            payment_key=str((units[0] or {}).get("custom_id") or ""),
            status=ORDER_EVENTS[event_type],
            approved=event_type == "CHECKOUT.ORDER.APPROVED",
            occurred_at=_create_time(event),
        )
    return WebhookOutcome(event_id=event_id, event_type=event_type, payload=event)
