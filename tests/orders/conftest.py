from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.test import Client
from django.utils import timezone

from apps.catalog import services as catalog
from apps.orders import gate, selectors, services
from apps.orders.models import Coupon, Order, Reservation
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
    "SA": {
        "name": "Layla",
        "line1": "King Fahd Rd 1",
        "city": "Riyadh",
        "postal_code": "12211",
        "country": "SA",
        "phone": "050 123 4567",
    },
    "CA": {
        "name": "Ann Buyer",
        "line1": "1 King St W",
        "city": "Toronto",
        "state": "ON",
        "postal_code": "M5H 1A1",
        "country": "CA",
    },
}

# What an API checkout sends for a US shopper paying with the labelled test provider.
API_CHECKOUT = {
    "email": "buyer@example.test",
    "address": ADDRESSES["US"],
    "shipping_option": "standard",
    "payment_provider": "test",
    "payment_method": "test",
}


def api_place(client: Client, *, key: str, headers: dict | None = None, **fields) -> HttpResponse:
    """POST what ``API_CHECKOUT`` sends, with ``fields`` changed, to the checkout API under ``key``."""
    return client.post(
        "/api/v1/checkout",
        {**API_CHECKOUT, **fields},
        content_type="application/json",
        headers={**(headers or {}), "Idempotency-Key": key},
    )


def api_checkout(client: Client, stocked, slug: str, address: dict, *, key: str, **fields) -> HttpResponse:
    """Through the API: one 25.00 unit of a new product ``slug`` into the cart, then checkout to ``address``."""
    variant = stocked(slug, 5, price_minor=2500)
    added = client.post("/api/v1/cart/lines", {"variant": variant.pk, "quantity": 1}, content_type="application/json")
    assert added.status_code == 201, added.json()
    return api_place(client, key=key, address=address, **fields)


def page_text(html: bytes, testid: str, nth: int = 0) -> str:
    """The visible text of the ``nth`` element marked ``data-testid=testid``, spaces squeezed."""
    page = html.decode()
    marked = [m.start() for m in re.finditer(f'data-testid="{testid}"', page)][nth]
    tag = re.match(r"<(\w+)", page[page.rindex("<", 0, marked) :]).group(1)
    start = page.index(">", marked) + 1
    end = page.index(f"</{tag}>", start)
    return " ".join(re.sub(r"<[^>]+>", " ", page[start:end]).split())


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


def reservation_ran_out(order: Order, ago: dt.timedelta = dt.timedelta(minutes=1)) -> None:
    """The order's reservation ended ``ago``: the next expiry run releases it."""
    Order.objects.filter(pk=order.pk).update(reserved_until=timezone.now() - ago)


def expired(order: Order) -> Order:
    """The order, read again, asserted cancelled by expiry with every reservation released."""
    order = Order.objects.get(pk=order.pk)
    assert order.status == Order.Status.CANCELLED
    assert set(order.reservations.values_list("status", flat=True)) == {Reservation.Status.RELEASED}
    return order


def voids_asked(stripe_fake) -> list[str]:
    """The idempotency key of each request to cancel (void) a PaymentIntent the fake Stripe was sent, in order."""
    return [r.headers["idempotency-key"] for r in stripe_fake.requests if r.path.endswith("/cancel")]


def coupon_stored(code: str, **fields) -> Coupon:
    """A coupon row as it is in the database (10% off, valid since yesterday until tomorrow unless
    ``fields`` say otherwise), written without the admin's checks."""
    now = timezone.now()
    values = {"percent_off": 10, "valid_from": now - dt.timedelta(days=1), "valid_until": now + dt.timedelta(days=1)}
    values.update(fields)
    return Coupon.objects.create(code=code, **values)


def cart_with(variant, quantity: int = 1, *, country: str | None = None, user=None):
    cart = services.cart_for(user=user)
    services.cart_line_add(
        cart=cart, variant_id=variant.pk, quantity=quantity, country=country or settings.REGION.default_country
    )
    return cart


# Shop B's stock (Shop B and each shop's staff are the root conftest's), and orders holding both shops' products.


@pytest.fixture
def stocked_b(merchant_b):
    warehouse = catalog.warehouse_create(merchant=merchant_b, code="depot", name="B Depot", country="US")

    def make(slug: str, units: int, *, price_minor: int = 1000):
        variant = make_product(merchant_b, slug, price_minor=price_minor).variants.get()
        catalog.stock_set(variant=variant, warehouse=warehouse, quantity=units)
        return variant

    return make


@pytest.fixture
def paid_order_of(on_commit):
    """``paid_order_of(variant, ...)``: a paid order holding one unit of each variant."""

    def make(*variants):
        cart = cart_with(variants[0])
        for variant in variants[1:]:
            services.cart_line_add(cart=cart, variant_id=variant.pk, quantity=1, country="US")
        order = checkout(cart)
        on_commit(services.order_pay, order=order)
        return Order.objects.get(pk=order.pk)

    return make


def card_paid(order: Order, stripe_fake, on_commit) -> Order:
    """``order``, placed to pay by card, paid at the fake Stripe (its on-commit work done)."""
    payment = services.order_pay(order=order)
    stripe_fake.succeed(payment.provider_payment_id)
    on_commit(payments.payment_refresh, payment_id=payment.pk)
    order = Order.objects.get(pk=order.pk)
    assert order.status == Order.Status.PAID
    return order


@pytest.fixture
def stripe_paid(stocked, stripe_fake, on_commit):
    """``stripe_paid("slug")``: an order of three 40.00 units, paid by card at the fake Stripe."""

    def make(slug: str) -> Order:
        order = checkout(
            cart_with(stocked(slug, 3, price_minor=4000)), payment_provider="stripe", payment_method="card"
        )
        return card_paid(order, stripe_fake, on_commit)

    return make


@pytest.fixture
def refund_declined(stripe_fake, on_commit):
    """``refund_declined(order)``: the paid ``order`` cancelled while Stripe declines its refund: the money is held."""

    def cancel(order: Order) -> Order:
        stripe_fake.decline_refunds = True
        on_commit(services.order_cancel, order=order)
        stripe_fake.decline_refunds = False
        order.refresh_from_db()
        assert selectors.order_refunds_owed(order=order).held_minor == order.total_minor
        return order

    return cancel


@pytest.fixture
def declined(stripe_paid, refund_declined):
    """``declined("slug")``: a cancelled order whose refund Stripe declined: the money is held."""

    def make(slug: str) -> Order:
        return refund_declined(stripe_paid(slug))

    return make


@pytest.fixture
def signed_in_shopper(make_user, client):
    """A shopper signed in on the test's ``client``."""
    user = make_user()
    client.force_login(user)
    return user


@pytest.fixture
def signed_in_order(stocked, signed_in_shopper, on_commit):
    """``signed_in_order("slug")``: a paid order of one 25.00 unit, by the signed-in shopper."""

    def make(slug: str) -> Order:
        order = checkout(cart_with(stocked(slug, 5, price_minor=2500), user=signed_in_shopper), user=signed_in_shopper)
        on_commit(services.order_pay, order=order)
        return Order.objects.get(pk=order.pk)

    return make


@pytest.fixture
def shopper_in(client, use_region, settings):
    """``shopper_in(region, country, language=None)``: the client as a shopper in ``country`` (the
    edge's header), paying in the region's settlement currency, in ``language`` when given."""

    def make(region_code: str, country: str, language: str | None = None) -> Client:
        region = use_region(region_code)
        settings.TRUSTED_COUNTRY_HEADER = "CF-IPCountry"
        client.defaults["HTTP_CF_IPCOUNTRY"] = country
        client.cookies[settings.CURRENCY_COOKIE_NAME] = region.settlement_currency
        if language:
            client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        return client

    return make


@pytest.fixture(autouse=True)
def _celery_inline(celery_inline):
    """Tasks run in the test's process (as in the embedded default), e-mails land in mail.outbox."""


@pytest.fixture
def operator(db):
    from apps.accounts.models import User

    return User.objects.create_superuser(email="operator@livemall.test", password="a-long-test-password")


@pytest.fixture(autouse=True)
def _payment_settings(payment_settings):
    """The shared payment settings (the labelled test provider stands in), a breaker that opens
    after two failures, and both breakers closed."""
    payment_settings.PAYMENT_BREAKER_FAILURES = 2
    from apps.payments import breaker

    for name in ("stripe", "paypal"):
        breaker.reset(name)
    return payment_settings
