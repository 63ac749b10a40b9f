"""The confirmation e-mail says where the order goes (the delivery address, its state and country
named as the order page names them, in the order's language) and links the order page by its
absolute address, telling a guest where that link opens and a shopper with an account to sign in.

Real PostgreSQL; tasks run in the test's process; mails land in Django's locmem outbox.
"""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from apps.orders import services
from apps.orders.models import Order
from apps.orders.selectors import order_delivery_address
from tests.orders.conftest import ADDRESSES, cart_with, checkout

pytestmark = pytest.mark.django_db


def _confirmation(order: Order) -> str:
    (sent,) = [m for m in mail.outbox if m.subject == f"Your LiveMall order {order.reference}"]
    return sent.body


def test_the_confirmation_gives_the_delivery_address_and_the_order_link(stocked, on_commit, settings):
    settings.SITE_URL = "https://us-east.livemall.example"
    address = {**ADDRESSES["US"], "line2": "Apt 4", "phone": "+1 518 555 0100"}
    order = checkout(cart_with(stocked("mail-address", 5)), address=address)
    on_commit(services.order_pay, order=order)

    body = _confirmation(order)

    # New York and the United States by name, not by their codes; the phone as Americans write it.
    assert "Ann Buyer\n1 Main St\nApt 4\nAlbany, New York 12207\nUnited States\n(518) 555-0100\n" in body
    named = order_delivery_address(order=order, language=order.language)
    assert (named["address_state"], named["address_country"]) == ("New York", "United States")
    link = f"https://us-east.livemall.example/orders/{order.reference}/"
    assert link == "https://us-east.livemall.example" + reverse("orders:detail", args=[order.reference])
    # A guest sees the order only in the browser that placed it: the mail says so, and how to keep it.
    assert f"Your order, in the browser you placed it with: {link}\n" in body
    assert "sign in or create an account in that browser" in body


def test_the_order_page_names_the_state_and_country_as_the_mail_does(client, stocked, on_commit, operator):
    order = checkout(cart_with(stocked("mail-page", 5)))
    on_commit(services.order_pay, order=order)
    client.force_login(operator)  # operators see every order's page

    page = client.get(reverse("orders:detail", args=[order.reference]))

    assert (page.context["address_state"], page.context["address_country"]) == ("New York", "United States")
    assert "Albany, New York 12207\nUnited States\n" in _confirmation(order)


def test_a_shopper_with_an_account_is_told_to_sign_in(stocked, on_commit, make_user, settings):
    user = make_user(email="shopper@example.test")
    order = checkout(cart_with(stocked("mail-account", 5), user=user), user=user)
    on_commit(services.order_pay, order=order)

    body = _confirmation(order)

    assert f"(sign in to your account to see it): {settings.SITE_URL}/orders/{order.reference}/" in body
    assert "browser you placed it with" not in body
