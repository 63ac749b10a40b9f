"""The delivery phone is stored as E.164 ("+493012345678") and written the way people read it: as the
destination country dials it ("030 12345678") when it is one of that country's numbers, with its
country code ("+33 1 23 45 67 89") when it is not, and as stored when it is no number we can read (an
old order's). The same on the order page (left to right, also on a page in Arabic), in the
confirmation e-mail and in the admin.

Real PostgreSQL and Redis; tasks run in the test's process; mails land in Django's locmem outbox.
"""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.core import mail
from django.urls import reverse
from django.utils import translation

from apps.orders import services
from apps.orders.address_lines import phone_line
from apps.orders.admin import OrderAdmin
from apps.orders.models import Order
from apps.orders.selectors import Shopper
from tests.orders.conftest import ADDRESSES, cart_with, checkout


@pytest.mark.parametrize(
    ("stored", "country", "shown"),
    [
        ("+493012345678", "DE", "030 12345678"),
        ("+493012345678", "AT", "+49 30 12345678"),  # a German number for an Austrian address
        ("+971501234567", "AE", "050 123 4567"),
        ("+15185550100", "US", "(518) 555-0100"),
        ("+14165550123", "US", "+1 416-555-0123"),  # Canadian: the same +1, another country
        ("+441534123456", "GB", "+44 1534 123456"),  # Jersey's: the same +44, another country
        ("+493012345678", "de", "030 12345678"),
        ("+493012345678", "", "+49 30 12345678"),  # no destination known: said in full
        ("030 12345678", "DE", "030 12345678"),  # an old order's, stored as typed
        ("+33 1 23 45 67 89", "DE", "+33 1 23 45 67 89"),
        ("ask at the door", "DE", "ask at the door"),  # no number: as stored
        ("+1 555", "US", "+1 555"),  # not a valid number: as stored, not regrouped into another
        ("  +49  30 ", "DE", "+49 30"),
        ("", "DE", ""),
        (None, "DE", ""),
        (493012345678, "DE", ""),  # never stored so; not shown as a number it may not be
    ],
)
def test_the_phone_is_written_as_the_destination_reads_it(stored, country, shown):
    assert phone_line(stored, country) == shown


def _delivery_address(html: str) -> str:
    found = re.search(r'<address data-testid="delivery-address">(.*?)</address>', html, re.S)
    assert found
    return found.group(1)


def _placed(use_region, stocked, on_commit, *, region: str, address: dict, language: str) -> Order:
    chosen = use_region(region)
    country = address["country"]
    shopper = Shopper(
        country=country, currency=chosen.settlement_currency, language=language, time_zone=chosen.time_zone
    )
    order = checkout(
        cart_with(stocked(f"phone-{country.lower()}", 5), country=country), shopper=shopper, address=address
    )
    on_commit(services.order_pay, order=order)
    return order


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("typed", "shown"),
    [("030 12345678", "030 12345678"), ("+33 1 23 45 67 89", "+33 1 23 45 67 89")],
    ids=["German number", "French number"],
)
def test_the_order_page_and_the_confirmation_write_the_phone_so(
    use_region, stocked, on_commit, operator, client, settings, typed, shown
):
    address = {**ADDRESSES["DE"], "phone": typed}
    order = _placed(use_region, stocked, on_commit, region="eu-west", address=address, language="de")
    assert order.address["phone"].startswith("+") and " " not in order.address["phone"]  # stored as E.164

    client.force_login(operator)  # operators see every order's page
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "de"
    page = client.get(reverse("orders:detail", args=[order.reference]))
    assert page.status_code == 200
    assert _delivery_address(page.content.decode()).endswith(f'<br><bdi dir="ltr">{shown}</bdi>')

    (sent,) = [m for m in mail.outbox if m.subject.endswith(order.reference)]
    assert f"\nDeutschland\n{shown}\n" in sent.body
    assert order.address["phone"] not in sent.body


@pytest.mark.django_db
def test_on_a_page_in_arabic_the_phone_is_read_as_the_emirates_dial_it_left_to_right(
    use_region, stocked, on_commit, operator, client, settings
):
    address = {**ADDRESSES["AE"], "phone": "+971 50 123 4567"}
    order = _placed(use_region, stocked, on_commit, region="me-south", address=address, language="ar")

    client.force_login(operator)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ar"
    page = client.get(reverse("orders:detail", args=[order.reference]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'dir="rtl"' in html  # the page is right to left; the phone in it is not
    assert _delivery_address(html).endswith('<br><bdi dir="ltr">050 123 4567</bdi>')


@pytest.mark.django_db
def test_an_old_orders_phone_that_is_no_number_is_shown_as_stored_and_escaped(
    use_region, stocked, on_commit, operator, client, settings
):
    order = _placed(use_region, stocked, on_commit, region="eu-west", address=ADDRESSES["DE"], language="de")
    Order.objects.filter(pk=order.pk).update(address={**order.address, "phone": "Pförtner <Tor 2>"})
    order.refresh_from_db()

    client.force_login(operator)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "de"
    page = client.get(reverse("orders:detail", args=[order.reference]))
    assert page.status_code == 200
    assert _delivery_address(page.content.decode()).endswith('<br><bdi dir="ltr">Pförtner &lt;Tor 2&gt;</bdi>')

    with translation.override("de"):
        shown = OrderAdmin(Order, admin.site).ship_to(order)
    assert shown.endswith('<br><bdi dir="auto">Deutschland</bdi><br><bdi dir="ltr">Pförtner &lt;Tor 2&gt;</bdi>')


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("stored", "shown"),
    [("+493012345678", "030 12345678"), ("+33123456789", "+33 1 23 45 67 89")],
    ids=["German number", "French number"],
)
def test_the_admin_writes_the_phone_as_the_destination_reads_it_left_to_right(use_region, stored, shown):
    use_region("eu-west")
    order = Order(address={**ADDRESSES["DE"], "phone": stored}, country="DE")
    with translation.override("en"):
        written = OrderAdmin(Order, admin.site).ship_to(order)
    lines = "<br>".join(
        f'<bdi dir="auto">{line}</bdi>' for line in ("Anna Käufer", "Hauptstr. 1", "10115 Berlin", "Germany")
    )
    assert written == f'{lines}<br><bdi dir="ltr">{shown}</bdi>'
