"""The "Delivery" column of "My orders" says what it is once: an order still to leave shows just its
expected day (the column header, and on a phone the card's data-label, name it); "Shipped on" and
"Delivered on" keep their words, and beside a shipped day the expected one keeps its own."""

from __future__ import annotations

import re

import pytest

from apps.money.formatting import format_day
from apps.orders import services

pytestmark = pytest.mark.django_db


def _delivery_cells(client) -> dict[str, str]:
    """Each order's "Delivery" cell by reference, as HTML."""
    response = client.get("/orders/")
    assert response.status_code == 200
    rows = response.content.decode().split('data-testid="order-row"')[1:]
    return {
        re.search(r">(LM-[^<]+)</a>", row).group(1): re.search(
            r'<td data-label="([^"]*)" data-testid="delivery">(.*?)</td>', row, re.S
        ).groups()
        for row in rows
    }


def _words(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_an_order_still_to_leave_shows_only_its_expected_day_under_delivery(client, signed_in_order):
    order = signed_in_order("words-waiting")

    label, cell = _delivery_cells(client)[order.reference]

    assert label == "Delivery"  # what the phone's card shows before the day
    assert _words(cell) == format_day(order.eta, "en_US")
    assert "Expected delivery" not in cell


def test_a_shipped_order_keeps_shipped_on_and_names_its_expected_day(client, signed_in_order, operator, on_commit):
    order = signed_in_order("words-shipped")
    (parcel,) = services.order_fulfil(order=order, actor=operator)
    on_commit(services.shipment_ship, shipment=parcel, tracking_number="1Z-WORDS", actor=operator)

    _label, cell = _delivery_cells(client)[order.reference]

    assert _words(cell).startswith("Shipped on ")
    assert f"Expected delivery {format_day(order.eta, 'en_US')}" in _words(cell)
