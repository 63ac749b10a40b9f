"""Tax model per country within a region: us-east adds US sales tax (and Canada's GST), but Mexico's
consumer law wants the price shown to be the full price, so a Mexican checkout's 16 % IVA is
inside the shown price and extracted from it (regions/us-east.toml `[tax.countries.MX]`). Brazil
stays at the region's model. Golden totals on real PostgreSQL; settlement currency, so no FX."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from apps.orders import services
from apps.orders.models import Order
from apps.orders.selectors import Shopper, checkout_quote
from regions import REGIONS_DIR, load_region, parse_region_file
from tests.orders.conftest import checkout

ADDRESSES = {
    "US": {"name": "Ann", "line1": "1 Main St", "city": "Albany", "state": "NY", "postal_code": "12207"},
    "MX": {"name": "Luis", "line1": "Av. Juárez 10", "city": "Monterrey", "state": "NLE", "postal_code": "64000"},
    "CA": {"name": "Jo", "line1": "1 King St W", "city": "Toronto", "state": "ON", "postal_code": "M5H 1A1"},
    "BR": {"name": "Ana", "line1": "Av. Paulista 1", "city": "São Paulo", "state": "SP", "postal_code": "01310-100"},
}

# A cart of 100.00 USD, standard shipping (free from 50.00), taxed at the destination.
GOLDEN = [
    # 16 % inside 100.00: 100 * 16 / 116 = 13.793... -> 13.79; the shopper pays the 100.00 shown.
    ("MX", "NLE", {"model": "vat-inclusive", "rate": "16", "included": True, "tax": 1379, "total": 10000}),
    # Unchanged: New York's 8.53 % added on top.
    ("US", "NY", {"model": "sales-tax", "rate": "8.53", "included": False, "tax": 853, "total": 10853}),
    # Unchanged model: Ontario's HST (apps/orders/data/tax_rates.toml `[ca_states]`) added on top.
    ("CA", "ON", {"model": "sales-tax", "rate": "13", "included": False, "tax": 1300, "total": 11300}),
    # Unchanged (no one Brazilian rate is modelled yet: see regions/us-east.toml).
    ("BR", "SP", {"model": "sales-tax", "rate": "0", "included": False, "tax": 0, "total": 10000}),
]


def _cart(stocked, slug: str, country: str):
    cart = services.cart_for()
    services.cart_line_add(cart=cart, variant_id=stocked(slug, 5, price_minor=10000).pk, quantity=1, country=country)
    return cart


@pytest.mark.django_db
@pytest.mark.parametrize(("country", "state", "expected"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden_quote_by_destination_country(use_region, stocked, country, state, expected):
    region = use_region("us-east")
    shopper = Shopper(country=country, currency="USD", time_zone=region.time_zone, state=state)
    quote = checkout_quote(
        cart=_cart(stocked, f"golden-{country}", country), shopper=shopper, shipping_option="standard", region=region
    )
    assert (quote.subtotal_minor, quote.shipping_minor) == (10000, 0)
    assert quote.tax_model == expected["model"]
    assert str(quote.tax_rate) == expected["rate"]
    assert quote.prices_include_tax is expected["included"]
    assert (quote.tax_minor, quote.total_minor) == (expected["tax"], expected["total"])


@pytest.mark.django_db
def test_a_mexican_order_is_charged_the_shown_price_with_iva_inside(use_region, stocked):
    region = use_region("us-east")
    shopper = Shopper(country="MX", currency="USD", language="es", time_zone=region.time_zone)
    order = checkout(
        _cart(stocked, "mx-order", "MX"), shopper=shopper, address={**ADDRESSES["MX"], "country": "MX"}, region=region
    )
    order = Order.objects.get(pk=order.pk)
    assert (order.tax_model, order.tax_rate, order.prices_include_tax) == ("vat-inclusive", "16", True)
    assert (order.tax_minor, order.total_minor) == (1379, 10000)


@pytest.mark.django_db
def test_the_mexican_checkout_page_says_the_tax_is_included(client, use_region, stocked, settings):
    region = use_region("us-east")
    settings.TRUSTED_COUNTRY_HEADER = "CF-IPCountry"
    client.defaults["HTTP_CF_IPCOUNTRY"] = "MX"
    client.cookies[settings.CURRENCY_COOKIE_NAME] = region.settlement_currency
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    variant = stocked("mx-page", 5, price_minor=10000)
    assert client.post("/cart/add", {"variant": variant.pk, "quantity": 1}).status_code == 302
    page = client.get("/checkout/", {"state": "NLE"})
    quote = page.context["quote"]
    assert (quote.prices_include_tax, quote.tax_minor, quote.total_minor) == (True, 1379, 10000)
    assert "Includes tax (16%)" in page.content.decode()


@pytest.mark.django_db
def test_an_order_placed_before_the_override_keeps_its_tax(use_region, stocked, tmp_path):
    """Orders store their model and rate: one placed when Mexico's tax was added is not re-read."""
    for path in Path(REGIONS_DIR).glob("*.toml"):
        shutil.copy(path, tmp_path / path.name)
    file = tmp_path / "us-east.toml"
    text = file.read_text()
    override = '[tax.countries.MX]\nmodel = "vat-inclusive"\nprices_include_tax = true\n'
    assert override in text
    file.write_text(text.replace(override, ""))
    before = parse_region_file(file)
    assert before.tax.for_country("MX") == before.tax

    shopper = Shopper(country="MX", currency="USD", language="es", time_zone=before.time_zone)
    order = checkout(
        _cart(stocked, "mx-before", "MX"), shopper=shopper, address={**ADDRESSES["MX"], "country": "MX"}, region=before
    )
    use_region("us-east")
    order = Order.objects.get(pk=order.pk)
    assert (order.tax_model, order.prices_include_tax, order.tax_minor, order.total_minor) == (
        "sales-tax",
        False,
        1600,
        11600,
    )
    assert load_region("us-east").tax.for_country("MX").prices_include_tax
