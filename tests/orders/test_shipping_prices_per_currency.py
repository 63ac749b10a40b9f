"""Shipping is priced per settlement currency: each region charges its own currency's row of
shipping.toml (5.00 in the US is not 5.00 AED in the Gulf), and a row missing for a currency some
region settles in is refused when the data is loaded and by ``manage.py check``, not at checkout; so are
an option without a code or whole carrier days, and a key nothing reads (an old handling_days is told
where it is set now)."""

from __future__ import annotations

import pytest
from django.core import checks

from apps.catalog import services as catalog
from apps.orders import checks as orders_checks
from apps.orders import rules, services
from apps.orders.selectors import Shopper, checkout_quote
from regions import all_regions
from tests.catalog.factories import make_product

# The rows of shipping.toml, minor units: standard, standard free from, express (never free).
ROWS = {
    "us-east": ("USD", 500, 5000, 1500),
    "eu-west": ("EUR", 500, 5000, 1500),
    "ap-southeast": ("SGD", 700, 6000, 2000),
    "me-south": ("AED", 1800, 18000, 5500),
}


def test_every_region_has_its_row():
    assert sorted(ROWS) == sorted(r.code for r in all_regions())


@pytest.mark.parametrize("region", all_regions(), ids=lambda r: r.code)
def test_each_region_is_charged_its_settlement_currency_s_row(region):
    currency, standard_minor, free_from_minor, express_minor = ROWS[region.code]
    assert region.settlement_currency == currency
    standard, express = rules.shipping_option("standard"), rules.shipping_option("express")

    def price(option, products_minor):
        return rules.shipping_price(option, region=region, products_minor_settlement=products_minor)

    assert price(standard, free_from_minor - 1) == standard_minor
    assert price(standard, free_from_minor) == 0
    assert price(express, free_from_minor - 1) == express_minor
    assert price(express, free_from_minor * 10) == express_minor


@pytest.mark.django_db
@pytest.mark.parametrize("code", sorted(ROWS))
def test_checkout_quotes_the_region_s_row(use_region, merchant, code):
    region = use_region(code)
    currency, standard_minor, free_from_minor, express_minor = ROWS[code]
    country = region.default_country
    # One unit just under the free-from figure; two are over it.
    product = make_product(merchant, f"ship-{code}", price_minor=free_from_minor - 100)
    variant = product.variants.get()
    warehouse = catalog.warehouse_create(merchant=merchant, code="w", name="W", country=country)
    catalog.stock_set(variant=variant, warehouse=warehouse, quantity=5)
    cart = services.cart_for()
    services.cart_line_add(cart=cart, variant_id=variant.pk, quantity=1, country=country)
    # Paying in the settlement currency: the row is charged as it stands, no exchange rates.
    shopper = Shopper(country=country, currency=currency, time_zone=region.time_zone)

    def shipping(option: str) -> int:
        return checkout_quote(cart=cart, shopper=shopper, shipping_option=option, region=region).shipping_minor

    assert (shipping("standard"), shipping("express")) == (standard_minor, express_minor)
    services.cart_line_add(cart=cart, variant_id=variant.pk, quantity=1, country=country)
    assert (shipping("standard"), shipping("express")) == (0, express_minor)


def test_the_shipped_data_prices_every_option_in_every_settlement_currency():
    """The data-check of the file as shipped: what ``manage.py check`` runs at deploy."""
    assert rules.shipping_data_messages() == []
    for option in rules.load_shipping_options():
        assert {r.settlement_currency for r in all_regions()} <= set(option.price_minor), option.code


def _shipping_file(tmp_path, text: str):
    path = tmp_path / "shipping.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _without(text: str, line: str, *, after: str) -> str:
    """``text`` without the first ``line`` that comes after ``after``."""
    head, tail = text.split(after, 1)
    assert f"\n{line}\n" in tail
    return head + after + tail.replace(f"\n{line}\n", "\n", 1)


def test_a_file_missing_a_currency_is_refused_naming_option_field_currency_and_region(tmp_path):
    shipped = rules.SHIPPING_FILE.read_text(encoding="utf-8")
    text = _without(shipped, "AED = 5500", after='code = "express"')
    text = _without(text, "SGD = 6000", after="[options.free_from_minor]")
    path = _shipping_file(tmp_path, text)

    with pytest.raises(rules.ShippingDataError) as refused:
        rules.load_shipping_options(path)
    lines = str(refused.value).splitlines()
    assert lines == [
        f"{path}: option 'standard': free_from_minor has no price for SGD (the settlement currency of ap-southeast)",
        f"{path}: option 'express': price_minor has no price for AED (the settlement currency of me-south)",
    ]

    (message,) = rules.shipping_data_messages(path)
    assert message.id == "orders.E001" and message.is_serious()
    assert all(line in message.msg for line in lines)


def test_a_single_price_for_every_currency_is_refused(tmp_path):
    # The file's old shape: one figure, read in whatever the region settles in.
    path = _shipping_file(
        tmp_path, '[[options]]\ncode = "standard"\nhandling_days = 1\ncarrier_days = 4\nprice_minor = 500\n'
    )
    with pytest.raises(rules.ShippingDataError, match=r"price_minor must be a table with one price per settlement"):
        rules.load_shipping_options(path)


def test_a_negative_or_fractional_price_is_refused(tmp_path):
    shipped = rules.SHIPPING_FILE.read_text(encoding="utf-8")
    path = _shipping_file(tmp_path, shipped.replace("SGD = 2000", "SGD = -2000").replace("AED = 1800", "AED = 18.5"))
    with pytest.raises(rules.ShippingDataError) as refused:
        rules.load_shipping_options(path)
    assert "price_minor.AED must be a whole number of minor units, 0 or more, not 18.5" in str(refused.value)
    assert "price_minor.SGD must be a whole number of minor units, 0 or more, not -2000" in str(refused.value)


def test_the_check_runs_with_django_s_system_checks():
    """Registered, so the deploy's ``manage.py check`` (migrate.py) stops on a gap."""
    assert orders_checks.shipping_prices_check in checks.registry.registry.get_checks()
    assert not [m for m in checks.run_checks() if m.id == "orders.E001"]


def _problems(path) -> list[str]:
    """What loading ``path`` refuses, line by line; and ``manage.py check`` says the same (orders.E001)."""
    with pytest.raises(rules.ShippingDataError) as refused:
        rules.load_shipping_options(path)
    lines = str(refused.value).splitlines()
    (message,) = rules.shipping_data_messages(path)
    assert message.id == "orders.E001" and message.is_serious()
    assert all(line in message.msg for line in lines)
    return lines


KNOWN = "an option knows code, carrier_days, price_minor, free_from_minor"


def test_an_old_handling_days_is_refused_saying_where_it_is_set_now(tmp_path):
    shipped = rules.SHIPPING_FILE.read_text(encoding="utf-8")
    path = _shipping_file(tmp_path, shipped.replace("carrier_days = 1\n", "carrier_days = 1\nhandling_days = 2\n"))

    assert _problems(path) == [
        f"{path}: option 'express': handling_days is set per warehouse now (each warehouse's handling_days, "
        f"in the admin or the merchant API); remove it ({KNOWN})"
    ]


def test_a_key_no_option_has_is_refused_naming_the_option_the_key_and_the_keys_it_knows(tmp_path):
    shipped = rules.SHIPPING_FILE.read_text(encoding="utf-8")
    text = shipped.replace('code = "standard"\n', 'code = "standard"\ncarier_days = 4\n')
    path = _shipping_file(tmp_path, '[[option]]\ncode = "same-day"\n' + text)

    assert _problems(path) == [
        f"{path}: unknown key 'option' at the top of the file; remove it (the file knows options, as [[options]])",
        f"{path}: option 'standard': unknown key 'carier_days'; remove it ({KNOWN})",
    ]


def test_carrier_days_missing_negative_or_not_whole_and_a_missing_code_are_refused_all_at_once(tmp_path):
    shipped = rules.SHIPPING_FILE.read_text(encoding="utf-8")
    text = _without(shipped, "carrier_days = 4", after='code = "standard"')
    text = text.replace("carrier_days = 1", "carrier_days = -1")
    priced = "[options.price_minor]\nUSD = 1\nEUR = 1\nSGD = 1\nAED = 1\n"
    text += f"\n[[options]]\ncarrier_days = 1.5\n{priced}"
    text += f'\n[[options]]\ncode = "express"\ncarrier_days = true\n{priced}'
    path = _shipping_file(tmp_path, text)

    assert _problems(path) == [
        f"{path}: option 'standard': carrier_days is missing (the working days in transit, a whole number, 0 or more)",
        f"{path}: option 'express': carrier_days must be a whole number of working days, 0 or more, not -1",
        f"{path}: option '#3': code is missing (the name checkouts ask for, e.g. code = \"standard\")",
        f"{path}: option '#3': carrier_days must be a whole number of working days, 0 or more, not 1.5",
        f"{path}: option 'express': carrier_days must be a whole number of working days, 0 or more, not True",
        f"{path}: option 'express': another option above has this code; each code is used once",
    ]


def test_options_that_are_not_tables_are_refused_not_a_crash(tmp_path):
    assert _problems(_shipping_file(tmp_path, 'options = "standard"\n')) == [
        f"{tmp_path / 'shipping.toml'}: options must be a list of tables, one [[options]] each, not 'standard'"
    ]
    assert _problems(_shipping_file(tmp_path, "options = [4]\n")) == [
        f"{tmp_path / 'shipping.toml'}: option #1 must be a table ([[options]]), not 4"
    ]


def test_a_file_that_is_not_toml_missing_or_empty_is_refused_not_a_crash(tmp_path):
    (problem,) = _problems(_shipping_file(tmp_path, '[[options]]\ncode = "standard\n'))
    assert problem.startswith(f"{tmp_path / 'shipping.toml'}: not valid TOML: ")
    (problem,) = _problems(tmp_path / "nowhere.toml")
    assert problem == f"{tmp_path / 'nowhere.toml'}: cannot be read (No such file or directory)"
    assert _problems(_shipping_file(tmp_path, "# every option removed\n")) == [
        f"{tmp_path / 'shipping.toml'}: no options; each checkout needs at least one [[options]]"
    ]


def test_two_options_without_a_code_are_each_told_so_not_that_they_share_one(tmp_path):
    priced = "[options.price_minor]\nUSD = 1\nEUR = 1\nSGD = 1\nAED = 1\n"
    text = f'[[options]]\ncode = ""\ncarrier_days = 1\n{priced}\n[[options]]\ncode = ""\ncarrier_days = 2\n{priced}'
    path = _shipping_file(tmp_path, text)

    assert _problems(path) == [
        f"{path}: option '#{n}': code is missing (the name checkouts ask for, e.g. code = \"standard\")" for n in (1, 2)
    ]
