"""Canada's sales tax by province (apps/orders/data/tax_rates.toml `[ca_states]`): GST alone in
Alberta and the territories, HST in Ontario and the Atlantic provinces (Nova Scotia's 14 % since
2025-04-01), GST plus QST/PST/RST in Quebec and the West. Golden totals of a 100.00 CAD cart on
real PostgreSQL, at today's rates."""

from __future__ import annotations

import re
import tomllib
from decimal import Decimal

import pytest

from apps.money import services as money
from apps.orders import rules, services
from apps.orders.models import Order
from apps.orders.selectors import Shopper, checkout_quote
from tests.money.factories import todays_provider
from tests.orders.conftest import cart_with, checkout

pytestmark = pytest.mark.django_db

# Two units of 35.55 USD are 50.00 CAD each at the shipped rates (1.6298 / 1.1587 CAD per USD),
# so the cart is 100.00 CAD; standard shipping is free from 50.00 USD.
UNIT_USD_MINOR = 3555

GOLDEN = [
    # Ontario: 13 % HST added on top.
    ("ON", "13", 1300),
    # Quebec: 5 % GST + 9.975 % QST = 14.975 % of 100.00 = 14.975 -> 14.98.
    ("QC", "14.975", 1498),
    # Alberta: GST alone.
    ("AB", "5", 500),
    # Nova Scotia: 14 % HST since 2025-04-01 (15 % before).
    ("NS", "14", 1400),
]


@pytest.fixture
def canada(use_region, tmp_path):
    region = use_region("us-east")
    money.fx_rates_update(provider=todays_provider(tmp_path / "rates.xml"))
    return region


def _cart(stocked, slug: str):
    cart = services.cart_for()
    variant = stocked(slug, 5, price_minor=UNIT_USD_MINOR)
    services.cart_line_add(cart=cart, variant_id=variant.pk, quantity=2, country="CA")
    return cart


@pytest.mark.parametrize(("province", "rate", "tax_minor"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden_quote_of_a_100_cad_cart_by_province(canada, stocked, province, rate, tax_minor):
    shopper = Shopper(country="CA", currency="CAD", language="en", time_zone=canada.time_zone, state=province)
    quote = checkout_quote(
        cart=_cart(stocked, f"golden-ca-{province}"), shopper=shopper, shipping_option="standard", region=canada
    )
    assert (quote.currency, quote.subtotal_minor, quote.shipping_minor) == ("CAD", 10000, 0)
    assert (quote.tax_model, str(quote.tax_rate), quote.prices_include_tax) == ("sales-tax", rate, False)
    assert (quote.tax_minor, quote.total_minor) == (tax_minor, 10000 + tax_minor)


def test_an_order_to_quebec_keeps_the_combined_rate_it_was_charged(canada, stocked):
    shopper = Shopper(country="CA", currency="CAD", language="fr", time_zone=canada.time_zone)
    address = {
        "name": "Luc",
        "line1": "1 rue Sainte-Catherine",
        "city": "Montréal",
        "state": "Québec",  # by name, accent and all: stored and taxed as QC
        "postal_code": "H2X 1Y4",
        "country": "CA",
    }
    order = checkout(_cart(stocked, "ca-order-qc"), shopper=shopper, address=address, region=canada)
    order = Order.objects.get(pk=order.pk)
    assert (order.currency, order.subtotal_minor) == ("CAD", 10000)
    assert (order.tax_model, order.tax_rate, order.prices_include_tax) == ("sales-tax", "14.975", False)
    assert (order.tax_minor, order.total_minor) == (1498, 11498)


def test_every_canadian_province_and_territory_has_a_rate(canada):
    listed = {sub.address_code for sub in canada.country("CA").subdivisions}
    taxed = set(tomllib.loads((rules.DATA_DIR / "tax_rates.toml").read_text())["ca_states"])
    assert listed == taxed
    assert len(taxed) == 13


def test_rates_are_gst_alone_hst_or_gst_plus_the_provincial_tax():
    rates = {code: str(rules.tax_rate(country="CA", state=code)) for code in ("AB", "NT", "NU", "YT")}
    assert set(rates.values()) == {"5"}
    assert [str(rules.tax_rate(country="CA", state=code)) for code in ("NB", "NL", "PE")] == ["15", "15", "15"]
    assert [str(rules.tax_rate(country="CA", state=code)) for code in ("BC", "MB", "SK")] == ["12", "12", "11"]
    # Before a province is known the checkout can only show the federal GST.
    assert str(rules.tax_rate(country="CA")) == "5"


# --- each named tax on its own line -------------------------------------------------------------

PARTS = [
    ("ON", [{"name": "HST", "rate": "13", "minor": 1300}]),
    # 14.98 charged at the combined rate, shared 5 : 9.975.
    ("QC", [{"name": "GST", "rate": "5", "minor": 500}, {"name": "QST", "rate": "9.975", "minor": 998}]),
    ("AB", [{"name": "GST", "rate": "5", "minor": 500}]),
    ("BC", [{"name": "GST", "rate": "5", "minor": 500}, {"name": "PST", "rate": "7", "minor": 700}]),
]


@pytest.mark.parametrize(("province", "parts"), PARTS, ids=[p[0] for p in PARTS])
def test_the_quote_names_each_tax_with_its_share(canada, stocked, province, parts):
    shopper = Shopper(country="CA", currency="CAD", language="en", time_zone=canada.time_zone, state=province)
    quote = checkout_quote(
        cart=_cart(stocked, f"parts-ca-{province}"), shopper=shopper, shipping_option="standard", region=canada
    )
    assert quote.tax_parts == parts
    assert sum(part["minor"] for part in quote.tax_parts) == quote.tax_minor


def test_every_province_s_parts_add_up_to_its_combined_rate():
    data = tomllib.loads((rules.DATA_DIR / "tax_rates.toml").read_text())
    assert set(data["ca_state_parts"]) == set(data["ca_states"])
    for province, combined in data["ca_states"].items():
        parts = rules.tax_part_rates(country="CA", state=province)
        assert sum(rate for _, rate in parts) == Decimal(combined), province
        assert parts[0][0] in {"GST", "HST"}  # the federal part first, as receipts list it


def test_each_named_tax_is_rounded_on_its_own_and_the_tax_is_their_sum(canada):
    # 1.10 CAD to Quebec: GST 5 % of it is 0.055 -> 0.06, QST 9.975 % is 0.109725 -> 0.11; 0.17 in
    # all, as the receipt states it (the combined 14.975 % rounded once would say 0.16).
    tax = rules.tax_for(region=canada, country="CA", state="QC", taxable_minor=110)
    assert [(p.name, p.amount_minor) for p in tax.parts] == [("GST", 6), ("QST", 11)]
    assert tax.amount_minor == 17
    # No named parts (the US, Europe): the rate is applied once, as before.
    us = rules.tax_for(region=canada, country="US", state="NY", taxable_minor=10000)
    assert us.parts == () and us.amount_minor == 853


def test_a_quebec_order_keeps_its_parts_and_its_page_and_the_api_show_them(canada, stocked, client, make_user):
    user = make_user(email="luc@example.test")
    client.force_login(user)
    shopper = Shopper(country="CA", currency="CAD", language="en", time_zone=canada.time_zone, state="QC")
    address = {
        "name": "Luc",
        "line1": "1 rue Sainte-Catherine",
        "city": "Montréal",
        "state": "QC",
        "postal_code": "H2X 1Y4",
        "country": "CA",
    }
    cart = cart_with(stocked("parts-qc-order", 5, price_minor=UNIT_USD_MINOR), 2, user=user, country="CA")
    order = checkout(cart, user=user, shopper=shopper, address=address, region=canada)
    order = Order.objects.get(pk=order.pk)
    parts = [{"name": "GST", "rate": "5", "minor": 500}, {"name": "QST", "rate": "9.975", "minor": 998}]
    assert (order.tax_rate, order.tax_minor, order.tax_parts) == ("14.975", 1498, parts)

    html = client.get(f"/orders/{order.reference}/", headers={"Accept-Language": "en"}).content.decode()
    labels = [re.sub(r"<[^>]+>", "", label) for label in re.findall(r'data-testid="tax-label">(.*?)</td>', html)]
    amounts = re.findall(r'data-testid="tax">(.*?)</td>', html)
    assert labels == ["GST (5%)", "QST (9.975%)"]
    assert [re.sub(r"[^\d.]", "", amount) for amount in amounts] == ["5.00", "9.98"]

    body = client.get(f"/api/v1/orders/{order.reference}").json()
    assert body["tax_parts"] == parts and body["tax_minor"] == 1498


def test_the_checkout_page_shows_quebec_s_gst_and_qst_once_the_province_is_chosen(shopper_in, stocked):
    client = shopper_in("us-east", "CA", "en")
    client.post("/cart/add", {"variant": stocked("parts-qc-page", 5, price_minor=UNIT_USD_MINOR).pk, "quantity": 2})

    page = client.get("/checkout/", {"state": "QC"})

    assert page.status_code == 200
    html = page.content.decode()
    labels = [re.sub(r"<[^>]+>", "", label) for label in re.findall(r'data-testid="tax-label">(.*?)</td>', html)]
    assert labels == ["GST (5%)", "QST (9.975%)"]
    quote = page.context["quote"]
    assert [part["name"] for part in quote.tax_parts] == ["GST", "QST"]
    assert sum(part["minor"] for part in quote.tax_parts) == quote.tax_minor > 0
