""" "My orders" tells each order's delivery as its own page does (``order_delivery_progress``): the
expected day only while it is still to come, "Shipped on" once it left, "Delivered on" once it
arrived, nothing for a cancelled order; and the page's queries do not grow with the orders listed."""

from __future__ import annotations

import re
import zoneinfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.money.formatting import format_day
from apps.orders import services
from apps.orders.models import Order, OrderEvent
from tests.orders.conftest import cart_with, checkout

pytestmark = pytest.mark.django_db

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")  # the US shopper's zone


@pytest.fixture
def shipped(signed_in_order, operator, on_commit):
    def make(slug: str) -> Order:
        order = signed_in_order(slug)
        (parcel,) = services.order_fulfil(order=order, actor=operator)
        on_commit(services.shipment_ship, shipment=parcel, tracking_number=f"1Z-{slug}", actor=operator)
        return Order.objects.get(pk=order.pk)

    return make


@pytest.fixture
def delivered(shipped, operator, on_commit):
    def make(slug: str) -> Order:
        order = shipped(slug)
        on_commit(services.order_deliver, order=order, actor=operator)
        return Order.objects.get(pk=order.pk)

    return make


def _rows(client) -> dict[str, str]:
    """Each order's row of "My orders" by reference, as HTML."""
    response = client.get("/orders/")
    assert response.status_code == 200
    rows = response.content.decode().split('data-testid="order-row"')[1:]
    return {re.search(r">(LM-[^<]+)</a>", row).group(1): row.split("</tr>")[0] for row in rows}


def _text(html: str, testid: str) -> str | None:
    found = re.search(rf'<(\w+)[^>]*data-testid="{testid}"[^>]*>(.*?)</\1>', html, re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(2)).split()) if found else None


def _day_of(order: Order, status: str) -> str:
    moved = OrderEvent.objects.filter(order=order, to_status=status).exclude(from_status=status).latest("at")
    return format_day(moved.at.astimezone(NEW_YORK).date(), "en_US")


def test_a_delivered_order_says_when_it_was_delivered_and_expects_nothing(client, delivered):
    order = delivered("list-delivered")

    row = _rows(client)[order.reference]

    assert order.status == Order.Status.DELIVERED
    assert _text(row, "delivered-on") == _day_of(order, Order.Status.DELIVERED)
    assert _text(row, "delivery") == f"Delivered on {_day_of(order, Order.Status.DELIVERED)}"
    assert _text(row, "eta") is None and _text(row, "shipped-on") is None


def test_a_cancelled_order_expects_no_delivery(client, signed_in_order):
    order = signed_in_order("list-cancelled")
    services.order_cancel(order=order, actor=None)

    row = _rows(client)[order.reference]

    assert Order.objects.get(pk=order.pk).status == Order.Status.CANCELLED
    assert _text(row, "delivery") == ""
    assert _text(row, "eta") is None and format_day(order.eta, "en_US") not in row


def test_an_order_on_its_way_says_when_it_left_and_when_it_is_expected(client, signed_in_order, shipped):
    waiting, on_its_way = signed_in_order("list-waiting"), shipped("list-shipped")

    rows = _rows(client)

    eta = format_day(waiting.eta, "en_US")
    assert _text(rows[waiting.reference], "delivery") == eta
    assert _text(rows[waiting.reference], "shipped-on") is None
    shipped_on = _day_of(on_its_way, Order.Status.SHIPPED)
    assert _text(rows[on_its_way.reference], "shipped-on") == shipped_on
    assert _text(rows[on_its_way.reference], "eta") == format_day(on_its_way.eta, "en_US")


def test_the_list_makes_as_many_queries_for_many_orders_as_for_one(client, signed_in_order, shipped, delivered):
    def queries(listed: int) -> list[str]:
        client.get("/orders/")  # caches warmed (the signed-in user, the header's cart)
        with CaptureQueriesContext(connection) as captured:
            assert len(_rows(client)) == listed
        return [q["sql"] for q in captured.captured_queries]

    delivered("count-first")
    one = queries(1)
    signed_in_order("count-waiting"), shipped("count-shipped"), delivered("count-delivered")
    four = queries(4)

    assert len(four) == len(one), four


def test_a_guests_list_tells_the_delivery_from_their_session(client, stocked, operator, on_commit):
    order = checkout(cart_with(stocked("list-guest", 5)))
    on_commit(services.order_pay, order=order)
    (parcel,) = services.order_fulfil(order=Order.objects.get(pk=order.pk), actor=operator)
    on_commit(services.shipment_ship, shipment=parcel, tracking_number="1Z-GUEST", actor=operator)
    on_commit(services.order_deliver, order=Order.objects.get(pk=order.pk), actor=operator)
    session = client.session
    from apps.orders.web import SESSION_ORDERS_KEY

    session[SESSION_ORDERS_KEY] = [order.reference]
    session.save()

    row = _rows(client)[order.reference]

    assert _text(row, "delivered-on") == _day_of(order, Order.Status.DELIVERED)
    assert _text(row, "eta") is None
