"""The tax a rupiah price includes is shown in whole rupiah, like every other rupiah amount, on the
checkout page and on the order page; a tax added to the total (US sales tax) is shown exactly."""

from __future__ import annotations

import re

import pytest

from apps.money import services as money
from apps.money.formatting import format_money
from apps.money.types import round_minor
from apps.orders import services
from apps.orders.models import Order
from tests.money.factories import todays_provider
from tests.orders.conftest import checkout, shopper_for

pytestmark = pytest.mark.django_db


def _tax_shown(html: str) -> str:
    found = re.search(r'data-testid="tax">([^<]*)<', html)
    assert found, "no tax line on the page"
    return found.group(1)


@pytest.fixture
def indonesian(client, use_region, settings, tmp_path):
    """A shopper in Indonesia (the edge's country header) reading Indonesian, paying in rupiah at today's rates."""
    region = use_region("ap-southeast")
    money.fx_rates_update(provider=todays_provider(tmp_path / "rates.xml"))
    settings.TRUSTED_COUNTRY_HEADER = "CF-IPCountry"
    client.defaults["HTTP_CF_IPCOUNTRY"] = "ID"
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "id"
    return region


def test_the_tax_inside_a_rupiah_total_is_shown_in_whole_rupiah(indonesian, client, stocked, make_user):
    user = make_user(email="sari@example.test")
    variant = stocked("batik-id", 5, price_minor=23990)  # SGD 239.90
    client.force_login(user)
    assert client.post("/cart/add", {"variant": variant.pk, "quantity": 1}).status_code == 302

    page = client.get("/checkout/")
    quote = page.context["quote"]
    assert quote.currency == "IDR" and quote.prices_include_tax
    assert quote.total_minor % 100 == 0  # every rupiah amount charged is whole
    assert quote.tax_minor % 100, "the tax worked out to whole rupiah: this price shows nothing"
    shown = _tax_shown(page.content.decode())
    assert shown == format_money(round_minor(quote.tax_minor, step=100), "IDR", "id_ID")
    assert "," not in shown  # Rp29.912, not Rp29.911,97

    address = {"name": "Sari", "line1": "Jl. Sudirman 1", "city": "Jakarta", "postal_code": "10210", "country": "ID"}
    cart = services.cart_for(user=user)  # the one the page quoted
    order = checkout(cart, shopper=shopper_for(country="ID"), address=address, user=user)
    assert order.tax_minor == quote.tax_minor  # what the order keeps is exact; only its display is rounded
    page = client.get(f"/orders/{order.reference}/")
    assert page.status_code == 200
    assert _tax_shown(page.content.decode()) == shown


def test_a_tax_added_to_the_total_is_shown_exactly(client, stocked):
    variant = stocked("sales-tax-mug", 5, price_minor=2500)
    assert client.post("/cart/add", {"variant": variant.pk, "quantity": 2}).status_code == 302
    page = client.get("/checkout/", {"state": "NY"})
    quote = page.context["quote"]
    assert not quote.prices_include_tax and quote.tax_minor == 427  # NY 8.53 % of 50.00
    assert _tax_shown(page.content.decode()) == "$4.27"
    assert Order.objects.count() == 0
