"""The order page tells how far the delivery has come: the expected date while it is still to come,
"Shipped on" with each parcel's tracking number once it left, "Delivered on" once it arrived (from
the order's history, on the shopper's calendar and in their language), and where it goes."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from apps.money.formatting import format_day
from apps.orders import services
from apps.orders.models import Order
from tests.orders.conftest import ADDRESSES, cart_with, checkout

pytestmark = pytest.mark.django_db

# 03:30 UTC on 26 November is still the 25th in New York (the US shopper's zone); 02:00 UTC on the
# 28th is still the 27th there.
SHIPPED_AT = dt.datetime(2026, 11, 26, 3, 30, tzinfo=dt.UTC)
DELIVERED_AT = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)


def _text(html: str, testid: str) -> str | None:
    """The visible text of the first element marked ``data-testid=testid`` (None if there is none)."""
    found = re.search(rf'<(\w+)[^>]*data-testid="{testid}"[^>]*>(.*?)</\1>', html, re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(2)).split()) if found else None


@pytest.fixture
def paid_order(stocked, on_commit, make_user, client):
    """A US shopper's order, paid with the test provider; the client is that shopper, signed in."""
    user = make_user(email="ann@example.test")
    order = checkout(cart_with(stocked("parcel-mug", 5, price_minor=2500), user=user), user=user)
    on_commit(services.order_pay, order=order)
    order = Order.objects.get(pk=order.pk)
    assert order.status == Order.Status.PAID
    client.force_login(user)
    return order


def _at(monkeypatch, moment: dt.datetime) -> None:
    monkeypatch.setattr(timezone, "now", lambda: moment)


def _page(client, order: Order) -> str:
    response = client.get(f"/orders/{order.reference}/")
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_order_page_follows_the_parcel_from_expected_to_shipped_to_delivered(
    paid_order, client, operator, on_commit, monkeypatch, settings, language
):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    locale = f"{language}_US"
    order = paid_order

    html = _page(client, order)
    assert _text(html, "eta") == format_day(order.eta, locale)
    assert _text(html, "shipped-on") is None and _text(html, "delivered-on") is None

    (parcel,) = services.order_fulfil(order=order, actor=operator)
    _at(monkeypatch, SHIPPED_AT)
    on_commit(services.shipment_ship, shipment=parcel, tracking_number="1Z999AA10123456784", actor=operator)
    html = _page(client, order)
    assert _text(html, "shipped-on") == format_day(dt.date(2026, 11, 25), locale)  # New York's day, not UTC's
    assert re.findall(r'data-testid="tracking-number">([^<]*)<', html) == ["1Z999AA10123456784"]
    assert _text(html, "eta") == format_day(order.eta, locale)  # on its way: still expected then

    _at(monkeypatch, DELIVERED_AT)
    on_commit(services.order_deliver, order=Order.objects.get(pk=order.pk), actor=operator)
    html = _page(client, order)
    assert _text(html, "delivered-on") == format_day(dt.date(2026, 11, 27), locale)
    assert _text(html, "eta") is None and _text(html, "shipped-on") is None
    assert re.findall(r'data-testid="tracking-number">([^<]*)<', html) == ["1Z999AA10123456784"]


def test_each_parcel_of_an_order_from_two_warehouses_shows_its_tracking_number(
    paid_order, client, operator, on_commit, monkeypatch
):
    from apps.orders.models import Shipment

    order = paid_order
    (first,) = services.order_fulfil(order=order, actor=operator)
    second = Shipment.objects.create(order=order, warehouse_id=first.warehouse_id + 1, warehouse_name="Second")
    _at(monkeypatch, SHIPPED_AT)
    on_commit(services.shipment_ship, shipment=first, tracking_number="PARCEL-ONE", actor=operator)
    # One parcel left, the other not yet: the order is not shipped, its date still expected.
    html = _page(client, order)
    assert _text(html, "shipped-on") is None and _text(html, "eta") == format_day(order.eta, "en_US")
    assert re.findall(r'data-testid="tracking-number">([^<]*)<', html) == ["PARCEL-ONE"]

    on_commit(services.shipment_ship, shipment=second, tracking_number="PARCEL-TWO", actor=operator)
    html = _page(client, order)
    assert _text(html, "shipped-on") == format_day(dt.date(2026, 11, 25), "en_US")
    assert re.findall(r'data-testid="tracking-number">([^<]*)<', html) == ["PARCEL-ONE", "PARCEL-TWO"]


def test_a_cancelled_order_expects_no_delivery(stocked, client, make_user):
    user = make_user(email="bo@example.test")
    order = checkout(cart_with(stocked("cancel-mug", 5), user=user), user=user)
    services.order_cancel(order=order, actor=user)
    client.force_login(user)
    html = _page(client, order)
    assert _text(html, "eta") is None and "Expected delivery" not in html
    assert _text(html, "shipped-on") is None and _text(html, "delivered-on") is None


def test_the_order_page_shows_where_the_order_goes(paid_order, client):
    html = _page(client, paid_order)
    shown = _text(html, "delivery-address")
    address = ADDRESSES["US"]
    for part in (address["name"], address["line1"], address["city"], address["postal_code"], "United States"):
        assert part in shown, part
