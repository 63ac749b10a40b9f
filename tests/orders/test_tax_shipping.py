"""Golden totals for one country in each region; ETA across weekends and holidays."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from apps.catalog import services as catalog
from apps.orders import rules, services
from apps.orders.selectors import Shopper, checkout_quote
from regions import all_regions, load_region
from tests.catalog.factories import make_product

# country, state, region: subtotal 100.00 in the settlement currency, standard shipping at its
# currency's row of shipping.toml: free from USD/EUR 50.00 and SGD 60.00; AED 18.00 below AED 180.00.
GOLDEN = [
    ("us-east", "US", "NY", "USD", {"shipping_minor": 0, "tax_minor": 853, "total_minor": 10853, "included": False}),
    ("eu-west", "DE", "", "EUR", {"shipping_minor": 0, "tax_minor": 1597, "total_minor": 10000, "included": True}),
    # 118.00 incl. 5 % VAT: 118 * 5 / 105 = 5.619...
    ("me-south", "AE", "", "AED", {"shipping_minor": 1800, "tax_minor": 562, "total_minor": 11800, "included": True}),
    ("ap-southeast", "SG", "", "SGD", {"shipping_minor": 0, "tax_minor": 826, "total_minor": 10000, "included": True}),
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
    assert quote.shipping_minor == expected["shipping_minor"]
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


def test_eta_in_ae_skips_saturday_sunday_and_national_day():
    # The UAE rests Saturday-Sunday since 1 January 2022 (this test used to assert the region's
    # Friday-Saturday for it), and its National Day holiday is 2 and 3 December.
    region = load_region("me-south")
    option = rules.shipping_option("standard")  # 1 handling + 4 carrier working days
    # Monday 30 Nov 2026: Tue 1, (Wed 2, Thu 3 National Day), Fri 4, (Sat, Sun), Mon 7, Tue 8, Wed 9.
    eta = rules.delivery_eta(
        region=region, option=option, ordered_on=dt.date(2026, 11, 30), country="AE", handling_days=1
    )
    assert eta == dt.date(2026, 12, 9)


def test_eta_in_sa_from_the_same_day_keeps_friday_saturday_and_no_uae_holiday():
    region = load_region("me-south")
    option = rules.shipping_option("standard")
    # Monday 30 Nov 2026: Tue 1, Wed 2, Thu 3 (UAE National Day is not Saudi), (Fri, Sat), Sun 6, Mon 7.
    eta = rules.delivery_eta(
        region=region, option=option, ordered_on=dt.date(2026, 11, 30), country="SA", handling_days=1
    )
    assert eta == dt.date(2026, 12, 7)


def test_ae_order_on_a_thursday_counts_friday_and_skips_saturday_sunday():
    region = load_region("me-south")
    thursday = dt.date(2026, 11, 5)
    assert rules.add_working_days(region, thursday, 1, country="AE") == dt.date(2026, 11, 6)  # Friday
    express = rules.shipping_option("express")  # 2 working days: Fri 6, (Sat 7, Sun 8), Mon 9
    assert rules.delivery_eta(
        region=region, option=express, ordered_on=thursday, country="AE", handling_days=1
    ) == dt.date(2026, 11, 9)
    assert [region.is_working_day(thursday + dt.timedelta(days=n), country="AE") for n in (1, 2, 3)] == [
        True,
        False,
        False,
    ]


@pytest.mark.parametrize("country", ["SA", "KW", "QA", "BH", "OM"])
def test_the_rest_of_the_gulf_skips_friday_saturday(country):
    region = load_region("me-south")
    express = rules.shipping_option("express")
    # Wednesday 4 Nov 2026: Thu 5, (Fri 6, Sat 7), Sun 8; in the UAE the same order arrives on Fri 6.
    wednesday = dt.date(2026, 11, 4)
    assert rules.delivery_eta(
        region=region, option=express, ordered_on=wednesday, country=country, handling_days=1
    ) == dt.date(2026, 11, 8)
    assert rules.delivery_eta(
        region=region, option=express, ordered_on=wednesday, country="AE", handling_days=1
    ) == dt.date(2026, 11, 6)


def test_eta_in_de_skips_weekend_and_christmas():
    region = load_region("eu-west")
    option = rules.shipping_option("standard")
    # Wed 23 Dec 2026: Thu 24, (Fri 25, Sat 26, Sun 27), Mon 28, Tue 29, Wed 30, Thu 31.
    eta = rules.delivery_eta(
        region=region, option=option, ordered_on=dt.date(2026, 12, 23), country="DE", handling_days=1
    )
    assert eta == dt.date(2026, 12, 31)
    # express: 2 working days from Friday 1 Jan 2027 (a holiday) → Mon 4, Tue 5.
    express = rules.shipping_option("express")
    assert rules.delivery_eta(
        region=region, option=express, ordered_on=dt.date(2027, 1, 1), country="DE", handling_days=1
    ) == dt.date(2027, 1, 5)


def test_a_german_holiday_delays_a_de_order_but_not_an_ie_one():
    # Tag der Deutschen Einheit (3 October) falls on a weekend in 2026 and 2027, so this uses
    # Ascension Day (Thursday 14 May 2026), a public holiday in Germany but not in Ireland.
    region = load_region("eu-west")
    express = rules.shipping_option("express")
    wednesday = dt.date(2026, 5, 13)
    # DE: (Thu 14 Ascension), Fri 15, (Sat, Sun), Mon 18. IE: Thu 14, Fri 15.
    assert rules.delivery_eta(
        region=region, option=express, ordered_on=wednesday, country="DE", handling_days=1
    ) == dt.date(2026, 5, 18)
    assert rules.delivery_eta(
        region=region, option=express, ordered_on=wednesday, country="IE", handling_days=1
    ) == dt.date(2026, 5, 15)
    # and the other way round: Ireland's October Bank Holiday (Monday 26 Oct 2026) is not German.
    october_bank_holiday = dt.date(2026, 10, 26)
    assert not region.is_working_day(october_bank_holiday, country="IE")
    assert region.is_working_day(october_bank_holiday, country="DE")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("country", "time_zone", "eta"), [("AE", "Asia/Dubai", (2026, 11, 6)), ("SA", "Asia/Riyadh", (2026, 11, 8))]
)
def test_checkout_quote_counts_the_shoppers_country_working_days(
    use_region, merchant, monkeypatch, country, time_zone, eta
):
    region = use_region("me-south")
    # Wednesday 4 Nov 2026, midday in the Gulf (Django's clock is pinned; our code runs for real).
    monkeypatch.setattr(timezone, "now", lambda: dt.datetime(2026, 11, 4, 8, 0, tzinfo=dt.UTC))
    product = make_product(merchant, f"eta-{country}", price_minor=10000)
    warehouse = catalog.warehouse_create(merchant=merchant, code="w", name="W", country=country)
    catalog.stock_set(variant=product.variants.get(), warehouse=warehouse, quantity=5)
    cart = services.cart_for()
    services.cart_line_add(cart=cart, variant_id=product.variants.get().pk, quantity=1, country=country)
    # Priced in the settlement currency, so no exchange rates are needed.
    shopper = Shopper(country=country, currency=region.settlement_currency, time_zone=time_zone)
    quote = checkout_quote(cart=cart, shopper=shopper, shipping_option="express", region=region)
    assert quote.eta == dt.date(*eta)


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
