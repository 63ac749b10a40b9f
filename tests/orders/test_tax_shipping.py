"""Golden totals for one country in each region; ETA across weekends and holidays."""

from __future__ import annotations

import datetime as dt

import pytest

from apps.catalog import services as catalog
from apps.orders import rules, services
from apps.orders.selectors import Shopper, checkout_quote
from regions import all_regions, load_region
from tests.catalog.factories import make_product

# country, state, region: subtotal 100.00 in the settlement currency, standard shipping (free from 50.00)
GOLDEN = [
    ("us-east", "US", "NY", "USD", {"tax_minor": 853, "total_minor": 10853, "included": False}),
    ("eu-west", "DE", "", "EUR", {"tax_minor": 1597, "total_minor": 10000, "included": True}),
    ("me-south", "AE", "", "AED", {"tax_minor": 476, "total_minor": 10000, "included": True}),
    ("ap-southeast", "SG", "", "SGD", {"tax_minor": 826, "total_minor": 10000, "included": True}),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("code", "country", "state", "currency", "expected"), GOLDEN)
def test_golden_totals(use_region, merchant, code, country, state, currency, expected):
    region = use_region(code)
    product = make_product(merchant, f"golden-{code}", price_minor=10000)
    warehouse = catalog.warehouse_create(merchant=merchant, code="w", name="W", country=country)
    catalog.stock_set(variant=product.variants.get(), warehouse=warehouse, quantity=5)
    cart = services.cart_for()
    services.cart_line_add(cart=cart, variant_id=product.variants.get().pk, quantity=1, country=country)
    shopper = Shopper(country=country, currency=currency, time_zone=region.time_zone, state=state)
    quote = checkout_quote(cart=cart, shopper=shopper, shipping_option="standard", region=region)
    assert quote.subtotal_minor == 10000
    assert quote.shipping_minor == 0
    assert quote.tax_minor == expected["tax_minor"]
    assert quote.total_minor == expected["total_minor"]
    assert quote.prices_include_tax is expected["included"]
    assert quote.tax_model == region.tax.model


@pytest.mark.django_db
def test_shipping_is_charged_below_the_free_threshold(use_region, merchant):
    region = use_region("eu-west")
    product = make_product(merchant, "cheap", price_minor=1000)
    warehouse = catalog.warehouse_create(merchant=merchant, code="w", name="W", country="DE")
    catalog.stock_set(variant=product.variants.get(), warehouse=warehouse, quantity=5)
    cart = services.cart_for()
    services.cart_line_add(cart=cart, variant_id=product.variants.get().pk, quantity=2, country="DE")
    shopper = Shopper(country="DE", currency="EUR", time_zone=region.time_zone)
    quote = checkout_quote(cart=cart, shopper=shopper, shipping_option="express", region=region)
    assert (quote.subtotal_minor, quote.shipping_minor) == (2000, 1500)
    assert quote.tax_minor == 559  # 35.00 incl. 19 %: 35 * 19 / 119 = 5.588...
    assert quote.total_minor == 3500


def test_eta_in_ae_skips_friday_saturday_and_national_day():
    region = load_region("me-south")
    option = rules.shipping_option("standard")  # 1 handling + 4 carrier working days
    # Monday 30 Nov 2026: Tue 1, (Wed 2 Dec National Day), Thu 3, (Fri, Sat), Sun 6, Mon 7, Tue 8.
    assert rules.delivery_eta(region=region, option=option, ordered_on=dt.date(2026, 11, 30)) == dt.date(2026, 12, 8)


def test_eta_in_de_skips_weekend_and_christmas():
    region = load_region("eu-west")
    option = rules.shipping_option("standard")
    # Wed 23 Dec 2026: Thu 24, (Fri 25, Sat 26, Sun 27), Mon 28, Tue 29, Wed 30, Thu 31.
    assert rules.delivery_eta(region=region, option=option, ordered_on=dt.date(2026, 12, 23)) == dt.date(2026, 12, 31)
    # express: 2 working days from Friday 1 Jan 2027 (a holiday) → Mon 4, Tue 5.
    express = rules.shipping_option("express")
    assert rules.delivery_eta(region=region, option=express, ordered_on=dt.date(2027, 1, 1)) == dt.date(2027, 1, 5)


@pytest.mark.parametrize("region", all_regions(), ids=lambda r: r.code)
def test_every_country_of_every_region_has_a_tax_rate(region):
    """Rates are data: a country a region serves but the table misses would be taxed at 0 silently."""
    missing = sorted(
        c for c in region.country_codes if c not in rules._data("tax_rates.toml")["countries"] and c != "US"
    )
    assert missing == []


def test_country_aware_address_rules():
    region = load_region("us-east")
    good = {"name": "A", "line1": "1 St", "city": "X", "state": "CA", "postal_code": "94105", "country": "US"}
    assert rules.address_errors(good, region=region) == {}
    assert set(rules.address_errors({**good, "state": "ZZ"}, region=region)) == {"state"}
    assert set(rules.address_errors({**good, "country": "DE"}, region=region)) == {"country"}
    gulf = load_region("me-south")
    assert rules.address_errors({"name": "A", "line1": "1", "city": "Dubai", "country": "AE"}, region=gulf) == {}
