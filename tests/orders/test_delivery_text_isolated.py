"""Where a page puts the delivery address and phone in ``<bdi>``, a plain text in a right-to-left
language puts them in Unicode's directional isolates: an Arabic mail client reads each line of the
confirmation's text part right to left, and would show "050 123 4567" as "4567 123 050" and
"12 Al Wasl Rd" as "Al Wasl Rd 12"; so does the shipped mail each tracking number, whose digit
groups would show last to first. A left-to-right mail has no need of them and has none. The
admin's order page isolates each address line as the order page does, and escapes what was typed.

Real PostgreSQL and Redis; tasks run in the test's process; mails land in Django's locmem outbox.
"""

from __future__ import annotations

import re
import unicodedata

import pytest
from django.contrib import admin
from django.core import mail
from django.urls import reverse
from django.utils import translation

from apps.accounts import services as accounts
from apps.catalog import services as catalog
from apps.orders import services
from apps.orders.admin import OrderAdmin
from apps.orders.models import Order
from apps.orders.selectors import Shopper, order_delivery_address
from tests.catalog.factories import make_product
from tests.orders.conftest import ADDRESSES, cart_with, checkout

pytestmark = pytest.mark.django_db

# Spelled out here rather than imported: the test says which characters a mail client is sent.
LRI, FSI, PDI = "\u2066", "\u2068", "\u2069"
ISOLATES = {LRI, "\u2067", FSI, PDI}  # RIGHT-TO-LEFT ISOLATE too: none belongs in a left-to-right mail

# A street written number first, as the UAE and many others write it: the line most reordered.
GULF_ADDRESS = {**ADDRESSES["AE"], "line1": "12 Al Wasl Rd"}


def _placed(use_region, stocked, on_commit, *, address: dict, language: str) -> Order:
    chosen = use_region("me-south")
    country = address["country"]
    shopper = Shopper(
        country=country, currency=chosen.settlement_currency, language=language, time_zone=chosen.time_zone
    )
    order = checkout(cart_with(stocked(f"isolated-{language}", 5), country=country), shopper=shopper, address=address)
    on_commit(services.order_pay, order=order)
    return Order.objects.get(pk=order.pk)


def _confirmation(order: Order) -> str:
    (sent,) = [m for m in mail.outbox if order.reference in m.subject]
    return sent.body


def test_the_isolates_are_unicodes_own():
    assert [unicodedata.bidirectional(ch) for ch in (LRI, FSI, PDI)] == ["LRI", "FSI", "PDI"]


@pytest.mark.parametrize(
    ("typed", "shown"),
    [("+971 50 123 4567", "050 123 4567"), ("+966 50 123 4567", "+966 50 123 4567")],
    ids=["Emirati number", "Saudi number"],
)
def test_an_arabic_mails_text_part_isolates_the_address_lines_and_the_phone(
    use_region, stocked, on_commit, typed, shown
):
    order = _placed(use_region, stocked, on_commit, address={**GULF_ADDRESS, "phone": typed}, language="ar")
    assert order.language == "ar"

    body = _confirmation(order)

    country = order_delivery_address(order=order, language="ar")["address_country"]
    assert re.search(r"[\u0600-\u06ff]", country)  # the country named in Arabic, in Arabic script
    # Each address line in the direction of its first letter (Latin ones left to right, the
    # country right to left); the phone, which has no letter, left to right: read as dialled.
    lines = ["Aisha", "12 Al Wasl Rd", "Dubai", country]
    written = "".join(f"{FSI}{line}{PDI}\n" for line in lines) + f"{LRI}{shown}{PDI}\n"
    assert written in body
    # Only around them: the lines' text itself and the rest of the mail as before.
    assert body.count(PDI) == len(lines) + 1
    assert f"شكرًا لك على طلبك {order.reference}." in body


def test_an_english_mail_from_the_same_region_has_no_isolates(use_region, stocked, on_commit):
    order = _placed(use_region, stocked, on_commit, address={**GULF_ADDRESS, "phone": "+971501234567"}, language="en")

    body = _confirmation(order)

    # A left-to-right text reads them right as they are; invisible marks would only be copied along.
    assert "Delivery address:\nAisha\n12 Al Wasl Rd\nDubai\nUnited Arab Emirates\n050 123 4567\n" in body
    assert not ISOLATES & set(body)


def test_an_arabic_mail_without_a_phone_has_no_empty_isolate(use_region, stocked, on_commit):
    address = {key: value for key, value in GULF_ADDRESS.items() if key != "phone"}
    order = _placed(use_region, stocked, on_commit, address=address, language="ar")

    body = _confirmation(order)

    assert f"{LRI}{PDI}" not in body and f"{FSI}{PDI}" not in body
    assert f"{FSI}12 Al Wasl Rd{PDI}\n" in body


# --- the shipped mail's tracking numbers ---------------------------------------------------------

# A carrier's number in digit groups: in a right-to-left line the groups would show last to first.
TRACKING_NUMBERS = ["1Z 999 AA1 0123 4567 84", "0123 4567 8901"]


def _shipped_in_two_parcels(
    use_region, stocked, merchant, on_commit, operator, *, region: str, address: dict, language: str
) -> str:
    """The body of the shipped mail of an order whose two parcels left with ``TRACKING_NUMBERS``."""
    chosen = use_region(region)
    country = address["country"]
    shopper = Shopper(
        country=country, currency=chosen.settlement_currency, language=language, time_zone=chosen.time_zone
    )
    # A second warehouse of the shop: a parcel from each.
    depot = catalog.warehouse_create(merchant=merchant, code="depot", name="Depot", country="US")
    from_depot = make_product(merchant, f"tracked-depot-{language}").variants.get()
    catalog.stock_set(variant=from_depot, warehouse=depot, quantity=5)
    cart = cart_with(stocked(f"tracked-{language}", 5), country=country)
    services.cart_line_add(cart=cart, variant_id=from_depot.pk, quantity=1, country=country)
    order = checkout(cart, shopper=shopper, address=address)
    on_commit(services.order_pay, order=order)
    parcels = services.order_fulfil(order=Order.objects.get(pk=order.pk), actor=operator)
    assert len(parcels) == len(TRACKING_NUMBERS)
    before = len(mail.outbox)
    for parcel, number in zip(parcels, TRACKING_NUMBERS, strict=True):
        on_commit(services.shipment_ship, shipment=parcel, tracking_number=number, actor=operator)
    assert Order.objects.get(pk=order.pk).status == Order.Status.SHIPPED
    (sent,) = mail.outbox[before:]
    assert order.reference in sent.subject
    return sent.body


def test_an_arabic_shipped_mail_isolates_each_tracking_number(use_region, stocked, merchant, on_commit, operator):
    body = _shipped_in_two_parcels(
        use_region, stocked, merchant, on_commit, operator, region="me-south", address=GULF_ADDRESS, language="ar"
    )

    # Each number left to right, as a courier's site reads it, after the label in Arabic.
    for number in TRACKING_NUMBERS:
        assert f"\nرقم التتبع: {LRI}{number}{PDI}\n" in body
    assert body.count(LRI) == body.count(PDI) == len(TRACKING_NUMBERS)  # only around them


@pytest.mark.parametrize(
    ("region", "country", "language", "label"),
    [("me-south", "AE", "en", "Tracking number:"), ("eu-west", "DE", "de", "Sendungsnummer:")],
    ids=["English", "German"],
)
def test_a_left_to_right_shipped_mail_has_the_tracking_numbers_bare(
    use_region, stocked, merchant, on_commit, operator, region, country, language, label
):
    address = GULF_ADDRESS if country == "AE" else ADDRESSES[country]
    body = _shipped_in_two_parcels(
        use_region, stocked, merchant, on_commit, operator, region=region, address=address, language=language
    )

    # Read right as they are: invisible marks would only be copied along with the number.
    for number in TRACKING_NUMBERS:
        assert f"\n{label} {number}\n" in body
    assert not ISOLATES & set(body)


# --- the admin ----------------------------------------------------------------------------------

TYPED = {
    "name": "<b>Aisha</b>",
    "line1": "شارع الوصل 12",  # Arabic script, number last: reordered next to Latin text if not isolated
    "line2": "Villa 5 & garden",
    "city": "Dubai",
    "country": "AE",
    "phone": "+971501234567",
}


def test_the_admin_isolates_each_address_line_and_escapes_it(use_region):
    use_region("me-south")
    order = Order(address=TYPED, country="AE")
    with translation.override("en"):
        written = OrderAdmin(Order, admin.site).ship_to(order)
    assert written == (
        '<bdi dir="auto">&lt;b&gt;Aisha&lt;/b&gt;</bdi><br>'
        '<bdi dir="auto">شارع الوصل 12</bdi><br>'
        '<bdi dir="auto">Villa 5 &amp; garden</bdi><br>'
        '<bdi dir="auto">Dubai</bdi><br>'
        '<bdi dir="auto">United Arab Emirates</bdi><br>'
        '<bdi dir="ltr">050 123 4567</bdi>'
    )


def test_the_admins_order_page_shows_the_lines_isolated_and_escaped(
    use_region, stocked, on_commit, merchant, make_user, client, settings
):
    order = _placed(use_region, stocked, on_commit, address={**GULF_ADDRESS, "phone": "+971501234567"}, language="ar")
    # As an old order might hold it: typed before checkout refused markup, read as text all the same.
    Order.objects.filter(pk=order.pk).update(address={**order.address, **TYPED})
    staff = make_user(email="staff@gulf-shop.test")
    accounts.merchant_staff_add(merchant=merchant, user=staff)  # merchant staff see where to ship
    client.force_login(staff)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ar"

    page = client.get(reverse("admin:orders_order_change", args=[order.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    assert 'dir="rtl"' in html  # a page in Arabic, where unisolated lines would reorder
    shown = re.findall(r'<bdi dir="auto">(.*?)</bdi>', html)
    assert shown[:4] == ["&lt;b&gt;Aisha&lt;/b&gt;", "شارع الوصل 12", "Villa 5 &amp; garden", "Dubai"]
    assert len(shown) == 5 and re.search(r"[\u0600-\u06ff]", shown[4])  # the country, named in Arabic
    assert '<bdi dir="ltr">050 123 4567</bdi>' in html
    assert "<b>Aisha</b>" not in html
