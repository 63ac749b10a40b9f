"""Which providers and methods this deployment offers: the region's file, and the keys we have.

The region file lists providers and their methods (``settings.REGION.payment_methods``);
a provider that needs keys is offered only when its keys are set. When none of the
region's keyed providers has keys and test payments are allowed (the default outside
production), the clearly labelled test provider stands in, so the demo can complete an
order. Nothing here knows any region by name.

Providers are built for one of two call profiles. By default, a shopper is waiting (a
checkout, a return from the provider's page, a capture): few retries and a short read
timeout, so an outage answers "try another method" within ``PAYMENT_SHOPPER_BUDGET``
seconds. Inside :func:`background` (Celery tasks: the refund sweep, captures from events)
nobody waits, and calls get the full ``PAYMENT_PROVIDER_TIMEOUT`` and
``PAYMENT_PROVIDER_RETRIES``. Retries are safe in both: every write carries our
idempotency key.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _

from apps.errors import ApplicationError
from apps.payments.providers.base import Provider, method_takes_currency
from apps.payments.providers.cash_on_delivery import CashOnDeliveryProvider
from apps.payments.providers.paypal import PayPalProvider
from apps.payments.providers.stripe import StripeProvider
from apps.payments.providers.test import TestProvider
from regions import Region

TEST_PROVIDER = "test"
TEST_METHOD = "test"
# Providers that cannot work without credentials; the others are always available.
NEEDS_KEYS = frozenset({"stripe", "paypal"})


@dataclass(frozen=True)
class OfferedMethod:
    provider: str
    method: str
    is_test: bool = False


@dataclass(frozen=True)
class CallProfile:
    """How long one provider call may take: seconds per attempt, and attempts after the first."""

    connect_timeout: float
    read_timeout: float
    retries: int


_in_background: contextvars.ContextVar[bool] = contextvars.ContextVar("payments_in_background", default=False)


@contextlib.contextmanager
def background() -> Iterator[None]:
    """Provider calls made inside are nobody's checkout: they get the full timeout and retries."""
    token = _in_background.set(True)
    try:
        yield
    finally:
        _in_background.reset(token)


def call_profile() -> CallProfile:
    """The profile of calls made here: a shopper's (the default) or, inside :func:`background`, a task's."""
    connect = settings.PAYMENT_PROVIDER_CONNECT_TIMEOUT
    if _in_background.get():
        return CallProfile(connect, settings.PAYMENT_PROVIDER_TIMEOUT, settings.PAYMENT_PROVIDER_RETRIES)
    # Never more than a task gets: lowering the general settings lowers the shopper's too.
    return CallProfile(
        connect,
        min(settings.PAYMENT_SHOPPER_TIMEOUT, settings.PAYMENT_PROVIDER_TIMEOUT),
        min(settings.PAYMENT_SHOPPER_RETRIES, settings.PAYMENT_PROVIDER_RETRIES),
    )


@functools.lru_cache(maxsize=8)
def _stripe(
    secret_key: str, webhook_secret: str | None, api_base: str | None, profile: CallProfile, tolerance: int
) -> StripeProvider:
    return StripeProvider(
        secret_key=secret_key,
        webhook_secret=webhook_secret,
        api_base=api_base,
        connect_timeout=profile.connect_timeout,
        timeout=profile.read_timeout,
        max_retries=profile.retries,
        webhook_tolerance=tolerance,
    )


@functools.lru_cache(maxsize=8)
def _paypal(
    client_id: str,
    client_secret: str,
    webhook_id: str | None,
    api_base: str,
    profile: CallProfile,
    tolerance: int,
) -> PayPalProvider:
    return PayPalProvider(
        client_id=client_id,
        client_secret=client_secret,
        webhook_id=webhook_id,
        api_base=api_base,
        connect_timeout=profile.connect_timeout,
        timeout=profile.read_timeout,
        max_retries=profile.retries,
        webhook_tolerance=tolerance,
    )


def configured_provider(name: str) -> Provider | None:
    """The provider called ``name`` built from the current settings, or None without its keys.

    Built for the current :func:`call_profile`. Instances are cached per settings and
    profile, so a PayPal OAuth token and HTTP sessions are reused.
    """
    if name == "stripe":
        if not settings.STRIPE_SECRET_KEY:
            return None
        return _stripe(
            settings.STRIPE_SECRET_KEY,
            settings.STRIPE_WEBHOOK_SECRET,
            settings.STRIPE_API_BASE,
            call_profile(),
            settings.PAYMENT_WEBHOOK_TOLERANCE,
        )
    if name == "paypal":
        if not (settings.PAYPAL_CLIENT_ID and settings.PAYPAL_CLIENT_SECRET):
            return None
        return _paypal(
            settings.PAYPAL_CLIENT_ID,
            settings.PAYPAL_CLIENT_SECRET,
            settings.PAYPAL_WEBHOOK_ID,
            settings.PAYPAL_API_BASE,
            call_profile(),
            settings.PAYMENT_WEBHOOK_TOLERANCE,
        )
    if name == "cash_on_delivery":
        return CashOnDeliveryProvider()
    if name == TEST_PROVIDER:
        return TestProvider()
    return None


def _test_provider_stands_in(region: Region) -> bool:
    if not settings.PAYMENT_TEST_PROVIDER:
        return False
    keyed = [p for p in region.payment_providers if p in NEEDS_KEYS]
    return not any(configured_provider(p) is not None for p in keyed)


def offered_methods(
    *, region: Region | None = None, currency: str | None = None, country: str | None = None
) -> tuple[OfferedMethod, ...]:
    """Every (provider, method) a shopper here may pay with, in the region file's order.

    With ``currency``, only the methods that take it (PayPal takes no AED, SAR or IDR;
    Stripe's iDEAL takes only EUR); with ``country`` too, only those that take it from a
    shopper of that country (Stripe's Klarna takes EUR from DE, not from US).
    """
    region = region or settings.REGION
    offered: list[OfferedMethod] = []
    for entry in region.payment_methods:
        provider = configured_provider(entry.provider)
        if provider is None:
            continue
        offered.extend(
            OfferedMethod(provider=entry.provider, method=m)
            for m in entry.methods
            if not currency or method_takes_currency(provider, m, currency, country)
        )
    if _test_provider_stands_in(region):
        offered.append(OfferedMethod(provider=TEST_PROVIDER, method=TEST_METHOD, is_test=True))
    return tuple(offered)


def provider_methods(
    name: str, *, region: Region | None = None, currency: str | None = None, country: str | None = None
) -> tuple[str, ...]:
    """The methods the region offers with provider ``name`` (for ``currency`` from ``country``, if
    given; empty when none)."""
    offered = offered_methods(region=region, currency=currency, country=country)
    return tuple(o.method for o in offered if o.provider == name)


def offered_provider(
    name: str, *, method: str, currency: str, region: Region | None = None, country: str | None = None
) -> Provider:
    """The provider to pay with, or a clear error when this region does not offer it so."""
    region = region or settings.REGION
    offered = offered_methods(region=region)
    choices = sorted({f"{o.provider}/{o.method}" for o in offered})
    if not any(o.provider == name and o.method == method for o in offered):
        raise ApplicationError(
            _("This payment method is not offered here."),
            code="payment_method_not_offered",
            fields={
                "method": [
                    _("Offered: %(methods)s.") % {"methods": ", ".join(choices)}
                    if choices
                    else _("No payment method is offered here.")
                ]
            },
        )
    provider = configured_provider(name)
    assert provider is not None  # offered implies configured
    if not method_takes_currency(provider, method, currency, country):
        takes = sorted(
            f"{o.provider}/{o.method}" for o in offered_methods(region=region, currency=currency, country=country)
        )
        names = {"provider": name, "method": method, "currency": currency, "methods": ", ".join(takes)}
        raise ApplicationError(
            _("This payment method does not accept %(currency)s; try another method.") % names,
            code="currency_not_supported",
            fields={
                "currency": [
                    _("%(provider)s/%(method)s does not accept %(currency)s; %(currency)s is taken by: %(methods)s.")
                    % names
                    if takes
                    else _("%(provider)s/%(method)s does not accept %(currency)s; no payment method here takes it.")
                    % names
                ]
            },
        )
    return provider


def webhook_provider(name: str, *, region: Region | None = None) -> Provider:
    """The provider whose webhook endpoint was called; it must be listed here and have keys."""
    region = region or settings.REGION
    provider = configured_provider(name) if name in region.payment_providers else None
    if provider is None:
        raise ApplicationError(
            _("Webhooks from %(provider)s are not accepted here.") % {"provider": name},
            code="webhook_not_configured",
            status=404,
        )
    return provider
