"""Order statuses in words that read right: the admin says what packing made of the order, and the
shopper's pages say the status and what was refunded as one phrase about the order, which a
translator words with the order's gender (la commande, die Bestellung).

Real PostgreSQL and Redis; payments with the labelled test provider.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from django.conf import settings as django_settings
from django.utils import translation

from apps.orders import services
from apps.orders.models import Order
from tests.orders.conftest import cart_with, checkout, page_text, shopper_for
from tests.orders.test_merchant_orders import admin_step, messages_of

pytestmark = pytest.mark.django_db

PARIS = {
    "name": "Amélie Acheteuse",
    "line1": "1 rue de Rivoli",
    "city": "Paris",
    "postal_code": "75001",
    "country": "FR",
}


@pytest.fixture
def delivered_and_partly_refunded(stocked, make_user, operator, on_commit):
    """``make(slug, country=None, address=None)``: a shopper's order of two 40.00 lamps, paid,
    packed, shipped, delivered, then 10.00 of it refunded."""

    def make(slug: str, *, country: str | None = None, address: dict | None = None) -> Order:
        shopper = make_user(email=f"{slug}@example.test")
        variant = stocked(slug, 5, price_minor=4000)
        cart = cart_with(variant, 2, country=country, user=shopper)
        kwargs = {"address": address} if address else {}
        order = checkout(cart, user=shopper, shopper=shopper_for(country=country), **kwargs)
        on_commit(services.order_pay, order=order)
        (parcel,) = services.order_fulfil(order=Order.objects.get(pk=order.pk), actor=operator)
        on_commit(services.shipment_ship, shipment=parcel, tracking_number="1Z999AA10123456784", actor=operator)
        services.order_deliver(order=Order.objects.get(pk=order.pk), actor=operator)
        on_commit(services.order_refund, order=Order.objects.get(pk=order.pk), amount_minor=1000, actor=operator)
        order = Order.objects.get(pk=order.pk)
        assert order.status == Order.Status.DELIVERED
        assert 0 < order.refunded_minor < order.total_minor
        return order

    return make


# --- 1: what packing made of the order ---------------------------------------------------------


def test_the_last_part_packed_says_the_order_is_packed_not_being_packed(
    client, stocked, stocked_b, paid_order_of, staff_a, staff_b
):
    order = paid_order_of(stocked("words-lamp", 5, price_minor=4000), stocked_b("words-vase", 5, price_minor=2500))
    client.force_login(staff_a)
    page = admin_step(client, order, "fulfil")
    order.refresh_from_db()
    assert order.status == Order.Status.PAID  # Shop B's part is still to pack: no status said yet
    assert "The order is now" not in " ".join(text for _level, text in messages_of(page))

    client.force_login(staff_b)
    page = admin_step(client, order, "fulfil")

    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED and order.shipments.count() == 2
    assert messages_of(page) == [
        ("success", "Packed: 1 parcel, from B Depot. The order is now packed and ready to ship.")
    ]


# --- 2: the status and the refund as one phrase -------------------------------------------------


def test_my_orders_and_the_order_page_say_delivered_then_partially_refunded(client, delivered_and_partly_refunded):
    order = delivered_and_partly_refunded("words-en")
    client.force_login(order.user)
    english = {"Accept-Language": "en"}

    assert page_text(client.get("/orders/", headers=english).content, "status") == "Delivered · partially refunded"
    page = client.get(f"/orders/{order.reference}/", headers=english)
    assert page_text(page.content, "status") == "Delivered · partially refunded"


# Every status label, as a translator told by the "order status" context words it: about la commande.
FRENCH_STATUSES = {
    "awaiting payment": "en attente de paiement",
    "to be paid on delivery": "à payer à la livraison",
    "paid": "payée",
    "packed and ready to ship": "emballée, prête à partir",
    "shipped": "expédiée",
    "delivered": "livrée",
    "cancelled": "annulée",
    "refunded": "remboursée",
}


@pytest.fixture
def french_catalogue(tmp_path: Path, settings) -> None:
    """The French a translator would write for the new msgids (the project's catalogue gets them
    from the lead), ahead of the project's catalogues."""
    catalog = Catalog(locale="fr")
    refunded = {"%(status)s · partially refunded": "%(status)s · partiellement remboursée"}
    for msgid, msgstr in {**FRENCH_STATUSES, **refunded}.items():
        catalog.add(msgid, msgstr, context="order status")
    folder = tmp_path / "fr" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with open(folder / "django.mo", "wb") as mo:
        write_mo(mo, catalog)
    settings.LOCALE_PATHS = [tmp_path, *django_settings.LOCALE_PATHS]


def test_a_french_shopper_reads_one_phrase_that_agrees_with_la_commande(
    client, use_region, french_catalogue, delivered_and_partly_refunded
):
    use_region("eu-west")
    order = delivered_and_partly_refunded("words-fr", country="FR", address=PARIS)
    client.force_login(order.user)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "fr"

    mine = client.get("/orders/")
    assert mine.wsgi_request.LANGUAGE_CODE == "fr"
    # One msgid, separator included: not "Livrée Partiellement remboursé" put together from two.
    assert page_text(mine.content, "status") == "Livrée · partiellement remboursée"
    assert page_text(client.get(f"/orders/{order.reference}/").content, "status") == "Livrée · partiellement remboursée"


def test_every_status_label_is_looked_up_with_the_order_status_context(french_catalogue):
    # The catalogue above holds them only with their context: a label without it stays English.
    with translation.override("fr"):
        assert {str(status.label) for status in Order.Status} == set(FRENCH_STATUSES.values())
