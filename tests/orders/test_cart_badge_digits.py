"""The header's cart count in the digits of the shopper's prices: Arabic-Indic for a Saudi shopper
reading Arabic, as the prices beside it; the plural form still follows the number of units.
Django's test client on real PostgreSQL and Redis."""

from __future__ import annotations

import re

import pytest

from apps.accounts import services as accounts
from apps.money import services as money
from apps.money.formatting import format_count
from tests.money.factories import todays_provider
from tests.orders.conftest import cart_with

pytestmark = pytest.mark.django_db


def _badge(html: str) -> tuple[str, str]:
    """The count shown and the words a screen reader says for it."""
    link = re.search(r'data-testid="cart-link">(.*?)</a>', html, re.S)
    assert link, "no cart link in the header"
    shown = re.search(r'data-testid="cart-count">([^<]*)<', link.group(1))
    said = re.search(r'class="visually-hidden">([^<]*)<', link.group(1))
    assert shown and said, link.group(1)
    return shown.group(1), said.group(1)


def test_a_saudi_shopper_sees_the_cart_count_in_arabic_indic_digits(client, use_region, stocked, tmp_path):
    region = use_region("me-south")
    money.fx_rates_update(provider=todays_provider(tmp_path / "rates.xml"))
    user = accounts.user_create(
        region=region, email="noura@example.test", password="a-long-test-password", country="SA", language="ar"
    )
    client.force_login(user)
    # Three: Arabic's dual ("منتجان", two products) says the number in its word, not in digits.
    cart_with(stocked("badge-sa", 5), 3, user=user, country="SA")

    html = client.get("/", headers={"Accept-Language": "ar"}).content.decode()

    shown, said = _badge(html)
    assert shown == "\u0663" == format_count(3, "ar_SA")  # Arabic-Indic three
    assert "\u0663" in said and "3" not in said, said


def test_an_english_shopper_keeps_western_digits_and_the_plural(client, stocked, make_user):
    user = make_user(email="badge-us@example.test")
    client.force_login(user)
    cart = cart_with(stocked("badge-us", 5), 1, user=user)

    assert _badge(client.get("/", headers={"Accept-Language": "en"}).content.decode()) == ("1", "Cart, 1 item")
    cart_with(stocked("badge-us-more", 5), 2, user=user)
    assert cart.lines.count() == 2
    assert _badge(client.get("/", headers={"Accept-Language": "en"}).content.decode()) == ("3", "Cart, 3 items")
