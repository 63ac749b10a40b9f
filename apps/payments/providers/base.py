"""The one small interface every payment provider implements.

Boundary data are small frozen dataclasses: what we ask a provider for
(:class:`PaymentRequest`), what it answers (:class:`PaymentResult`,
:class:`RefundResult`) and what one of its webhooks means (:class:`WebhookOutcome`).
Providers know nothing about our database or about orders; they speak in an opaque
order reference, integer minor units and our own deterministic idempotency keys, and
map their SDK's errors onto the three exceptions below, so the gateway can tell "the
provider said no" (no retry helps) from "we could not reach it" (try another method).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from django.db import models
from django.utils.translation import pgettext_lazy


class PaymentStatus(models.TextChoices):
    """How far a payment got; the labels are said to people (staff lists, a refused capture or
    refund), with a context of their own so translators keep them apart from the order's."""

    # Created; the shopper or the provider has yet to act.
    PENDING = "pending", pgettext_lazy("payment status", "Pending")
    # The shopper paid and the provider is still at work (a SEPA debit takes days, a PayPal
    # capture under review): neither paid nor open for another try.
    PROCESSING = "processing", pgettext_lazy("payment status", "Processing")
    AUTHORIZED = "authorized", pgettext_lazy("payment status", "Authorized")  # funds held, not yet captured
    SUCCEEDED = "succeeded", pgettext_lazy("payment status", "Succeeded")  # money moved to us
    # The last attempt was declined; Stripe lets the shopper retry the same intent.
    FAILED = "failed", pgettext_lazy("payment status", "Failed")
    CANCELLED = "cancelled", pgettext_lazy("payment status", "Cancelled")
    PARTIALLY_REFUNDED = "partially_refunded", pgettext_lazy("payment status", "Partially refunded")
    REFUNDED = "refunded", pgettext_lazy("payment status", "Refunded")


class RefundStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("refund status", "Pending")
    SUCCEEDED = "succeeded", pgettext_lazy("refund status", "Succeeded")
    FAILED = "failed", pgettext_lazy("refund status", "Failed")


class NextAction(models.TextChoices):
    """What the checkout page has to do after a payment was created."""

    # Labels show in the staff's payment page, in their language.
    NONE = "", pgettext_lazy("payment next step", "Nothing")
    CONFIRM_IN_BROWSER = (
        "confirm_in_browser",
        pgettext_lazy("payment next step", "Confirm with the provider's element (client secret)"),
    )
    REDIRECT = "redirect", pgettext_lazy("payment next step", "Send the shopper to the approval URL, then capture")
    COLLECT_ON_DELIVERY = (
        "collect_on_delivery",
        pgettext_lazy("payment next step", "Collect cash on delivery, then capture"),
    )


# The most minor units an amount column holds (PostgreSQL bigint). A provider's amount outside
# 0..MAX_MINOR (a negative one, or 10**30) is not an amount we can record: the provider refuses it.
MAX_MINOR = 2**63 - 1


class ProviderUnavailable(Exception):
    """We could not get an answer (refused, timed out, 5xx, bad credentials): the outcome is unknown."""


class ProviderTimedOut(ProviderUnavailable):
    """The provider took the connection (or never completed it) but did not answer in time."""


class ProviderDeclined(Exception):
    """The provider answered and refused (card declined, order not approved, bad request)."""

    def __init__(self, message: str, *, code: str = "declined") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class WebhookRejected(Exception):
    """A webhook we will not act on: unsigned, wrongly signed, malformed, too old or from the future."""


@dataclass(frozen=True)
class PaymentRequest:
    order_reference: str
    amount_minor: int
    currency: str
    method: str
    # Every method the region offers with this provider that takes ``currency`` (the Payment
    # Element shows them all); ``method``, the shopper's choice, is one of them.
    methods: tuple[str, ...]
    idempotency_key: str
    description: str = ""
    return_url: str = ""
    cancel_url: str = ""
    # The shopper's country (ISO 3166 alpha-2), when known: some methods take a currency only
    # from some countries (Klarna).
    country: str = ""


@dataclass(frozen=True)
class PaymentResult:
    provider_payment_id: str
    status: PaymentStatus
    next_action: NextAction = NextAction.NONE
    client_secret: str = ""
    approval_url: str = ""
    provider_capture_id: str = ""
    captured_minor: int = 0
    failure_reason: str = ""
    # The shopper approved the payment at the provider (PayPal); no money has moved until
    # we capture it.
    approved: bool = False


@dataclass(frozen=True)
class RefundResult:
    provider_refund_id: str
    status: RefundStatus
    amount_minor: int
    # Our idempotency key echoed back by the provider (metadata / custom_id), when it has one.
    refund_key: str = ""
    provider_payment_id: str = ""
    provider_capture_id: str = ""


@dataclass(frozen=True)
class WebhookOutcome:
    """What one verified provider event says, in our words. ``status=None``: nothing about the payment."""

    event_id: str
    event_type: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    provider_payment_id: str = ""
    provider_capture_id: str = ""
    payment_key: str = ""
    status: PaymentStatus | None = None
    captured_minor: int | None = None
    failure_reason: str = ""
    refund: RefundResult | None = None
    # The shopper approved at the provider: we capture now, whether or not they come back.
    approved: bool = False
    # When the provider says the event happened (its clock, not ours); None when it does not
    # say. Providers do not deliver events in order: this is what tells a stale one.
    occurred_at: dt.datetime | None = None


@runtime_checkable
class Provider(Protocol):
    """What the gateway calls.

    A provider whose methods take different currencies (Stripe: iDEAL only in euros) may
    also define ``method_supports_currency(method, currency, country=None) -> bool``; ask
    through :func:`method_takes_currency`, which falls back to ``supports_currency`` for the others.
    """

    name: str
    # Test providers move no money; pages label them so.
    is_test: bool

    def supports_currency(self, currency: str) -> bool: ...

    def create_payment(self, request: PaymentRequest) -> PaymentResult: ...

    def capture(
        self, *, provider_payment_id: str, amount_minor: int, currency: str, idempotency_key: str
    ) -> PaymentResult: ...

    def fetch(self, *, provider_payment_id: str, currency: str) -> PaymentResult:
        """The payment as the provider sees it now: a read, never a change (when the shopper comes
        back, an event says "approved", or the expiry sweep asks whether a webhook was lost).
        Providers with nothing remote answer with what they know, which is no news."""
        ...

    def refund(
        self,
        *,
        provider_payment_id: str,
        provider_capture_id: str,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
    ) -> RefundResult: ...

    def parse_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> WebhookOutcome: ...

    def event_outcome(self, event: Mapping[str, Any]) -> WebhookOutcome:
        """What an event that ``parse_webhook`` verified and we stored says (to apply it later)."""
        ...


def needs_phone(provider: Provider) -> bool:
    """Whether paying with ``provider`` needs a phone number on the delivery address (optional
    ``needs_phone`` attribute: cash on delivery's courier calls first)."""
    return bool(getattr(provider, "needs_phone", False))


def collects_on_delivery(provider: Provider | None) -> bool:
    """Whether an open payment with ``provider`` is money a courier collects at the door
    (optional ``collects_on_delivery`` attribute: cash on delivery)."""
    return bool(getattr(provider, "collects_on_delivery", False))


def method_takes_currency(provider: Provider, method: str, currency: str, country: str | None = None) -> bool:
    """Whether ``provider`` takes ``currency`` when a shopper in ``country`` (if known) pays with ``method``."""
    if not provider.supports_currency(currency):
        return False
    # Optional, so that providers whose every method takes the same currencies stay as they are.
    per_method = getattr(provider, "method_supports_currency", None)
    return per_method is None or bool(per_method(method, currency, country))
