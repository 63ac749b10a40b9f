from __future__ import annotations

import uuid

import pytest
from django.conf import settings

from apps.catalog import services as catalog
from apps.orders import gate, services
from apps.orders.models import Order
from apps.orders.selectors import Shopper
from apps.payments import services as payments
from tests.catalog.factories import make_product


@pytest.fixture(autouse=True)
def _clean_gates():
    r = gate.client()
    if r is not None:
        for key in r.scan_iter(match="livemall:*:orders:flash_sale:*"):
            r.delete(key)
    yield


@pytest.fixture
def warehouse(merchant):
    return catalog.warehouse_create(merchant=merchant, code="main", name="Main", country="US")


@pytest.fixture
def stocked(merchant, warehouse):
    """``stocked("slug", units, price_minor=...)``: a product with one variant and units in the warehouse."""

    def make(slug: str, units: int, *, price_minor: int = 1000, **kwargs):
        product = make_product(merchant, slug, price_minor=price_minor, **kwargs)
        variant = product.variants.get()
        catalog.stock_set(variant=variant, warehouse=warehouse, quantity=units)
        return variant

    return make


def shopper_for(region=None, country: str | None = None) -> Shopper:
    region = region or settings.REGION
    country = country or region.default_country
    defaults = region.country(country)
    return Shopper(country=country, currency=defaults.currency, language=defaults.language, time_zone=region.time_zone)


ADDRESSES = {
    "US": {
        "name": "Ann Buyer",
        "line1": "1 Main St",
        "city": "Albany",
        "state": "NY",
        "postal_code": "12207",
        "country": "US",
    },
    "DE": {"name": "Anna Käufer", "line1": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
    "AE": {"name": "Aisha", "line1": "Sheikh Zayed Rd 1", "city": "Dubai", "country": "AE", "phone": "050 123 4567"},
    "SG": {"name": "Tan Wei", "line1": "1 Orchard Rd", "city": "Singapore", "postal_code": "238823", "country": "SG"},
}

# What an API checkout sends for a US shopper paying with the labelled test provider.
API_CHECKOUT = {
    "email": "buyer@example.test",
    "address": ADDRESSES["US"],
    "shipping_option": "standard",
    "payment_provider": "test",
    "payment_method": "test",
}


def checkout(cart, *, key: str | None = None, country: str | None = None, **kwargs):
    shopper = kwargs.pop("shopper", None) or shopper_for(country=country)
    params = {
        "cart": cart,
        "idempotency_key": key or f"test-{uuid.uuid4().hex}",
        "shopper": shopper,
        "email": "buyer@example.test",
        "address": kwargs.pop("address", None) or ADDRESSES[shopper.country],
        "shipping_option": "standard",
        "payment_provider": "test",
        "payment_method": "test",
    }
    params.update(kwargs)
    return services.checkout_place(**params)


def cart_with(variant, quantity: int = 1, *, country: str | None = None, user=None):
    cart = services.cart_for(user=user)
    services.cart_line_add(
        cart=cart, variant_id=variant.pk, quantity=quantity, country=country or settings.REGION.default_country
    )
    return cart


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run ``func`` and then its on-commit callbacks (signals, e-mails), as a real commit would."""

    def run(func, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return func(*args, **kwargs)

    return run


@pytest.fixture
def stripe_paid(stocked, stripe_fake, on_commit):
    """``stripe_paid("slug")``: an order of three 40.00 units, paid by card at the fake Stripe."""

    def make(slug: str) -> Order:
        order = checkout(
            cart_with(stocked(slug, 3, price_minor=4000)), payment_provider="stripe", payment_method="card"
        )
        payment = services.order_pay(order=order)
        stripe_fake.succeed(payment.provider_payment_id)
        on_commit(payments.payment_refresh, payment_id=payment.pk)
        order = Order.objects.get(pk=order.pk)
        assert order.status == Order.Status.PAID
        return order

    return make


@pytest.fixture(autouse=True)
def _celery_inline(celery_inline):
    """Tasks run in the test's process (as in the embedded default), e-mails land in mail.outbox."""


@pytest.fixture
def operator(db):
    from apps.accounts.models import User

    return User.objects.create_superuser(email="operator@livemall.test", password="a-long-test-password")


@pytest.fixture(autouse=True)
def _payment_settings(settings):
    """No payment keys leak in from the environment: the labelled test provider stands in."""
    settings.STRIPE_SECRET_KEY = None
    settings.STRIPE_PUBLISHABLE_KEY = None
    settings.STRIPE_WEBHOOK_SECRET = None
    settings.STRIPE_API_BASE = None
    settings.PAYPAL_CLIENT_ID = None
    settings.PAYPAL_CLIENT_SECRET = None
    settings.PAYMENT_TEST_PROVIDER = True
    settings.PAYMENT_PROVIDER_TIMEOUT = 2
    settings.PAYMENT_PROVIDER_RETRIES = 0
    settings.PAYMENT_BREAKER_FAILURES = 2
    settings.PAYMENT_BREAKER_WINDOW = 60
    settings.PAYMENT_BREAKER_COOLDOWN = 30
    from apps.payments import breaker

    for name in ("stripe", "paypal"):
        breaker.reset(name)
    return settings
