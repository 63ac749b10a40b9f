"""States and provinces from the region files: the checkout offers them in a select wherever a
country's are listed (US, CA, MX, BR, TH, MY), the address check takes a listed one by code, in
full or by name (any case, accents optional) and refuses others, whatever the tax table holds,
and an order stores the code. Through the rules, the API and the checkout page (Django's test
client on real PostgreSQL and Redis; settlement currencies, so no exchange rates)."""

from __future__ import annotations

import tomllib

import pytest

from apps.orders import rules
from apps.orders.models import Order
from regions import home_region, load_region
from tests.orders.conftest import api_checkout

INVALID_STATE = "Choose a valid state or province."
REQUIRED = "This field is required."

US_ADDRESS = {"name": "Ann", "line1": "1 Main St", "city": "Albany", "postal_code": "12207", "country": "US"}
MX_ADDRESS = {"name": "Luis", "line1": "Av. Juárez 10", "city": "Monterrey", "postal_code": "64000", "country": "MX"}
TH_ADDRESS = {"name": "Somchai", "line1": "99 Nimman Rd", "city": "Mueang", "postal_code": "50200", "country": "TH"}


# --- the data ---------------------------------------------------------------------------------


def test_every_country_that_requires_a_state_lists_its_states():
    rules_by_country = tomllib.loads((rules.DATA_DIR / "addresses.toml").read_text())["countries"]
    required = sorted(code for code, rule in rules_by_country.items() if rule.get("state_required"))
    assert required == ["BR", "CA", "MX", "MY", "TH", "US"]
    for country in required:
        assert rules.subdivision_choices(home_region(country), country, "en"), country


@pytest.mark.parametrize(("country", "count"), [("US", 51), ("CA", 13), ("MX", 32), ("BR", 27), ("TH", 77)])
def test_each_country_lists_all_its_states_once(country, count):
    choices = rules.subdivision_choices(home_region(country), country, "en")
    assert len(choices) == count
    assert len({code for code, _name in choices}) == len({name for _code, name in choices}) == count


def test_the_us_states_listed_are_those_the_tax_table_has_a_rate_for():
    taxed = set(tomllib.loads((rules.DATA_DIR / "tax_rates.toml").read_text())["us_states"])
    assert {code for code, _name in rules.subdivision_choices(load_region("us-east"), "US", "en")} == taxed


def test_thai_provinces_are_named_in_the_shoppers_language():
    region = load_region("ap-southeast")
    assert dict(rules.subdivision_choices(region, "TH", "en"))["10"] == "Bangkok"
    assert dict(rules.subdivision_choices(region, "TH", "th"))["10"] == "กรุงเทพมหานคร"
    assert dict(rules.subdivision_choices(region, "TH", "th"))["50"] == "เชียงใหม่"
    # Languages the file has no names in get the file's own.
    assert dict(rules.subdivision_choices(region, "TH", "zh-hans"))["50"] == "Chiang Mai"
    # Malaysia's are named once, in Malay, whatever the language.
    assert dict(rules.subdivision_choices(region, "MY", "th"))["02"] == "Kedah"


# --- the address rules ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "state", "stored"),
    [
        (US_ADDRESS, "NY", "NY"),
        (US_ADDRESS, "us-ny", "NY"),
        (US_ADDRESS, "New York", "NY"),
        (US_ADDRESS, "  new   YORK ", "NY"),
        (US_ADDRESS, "District of Columbia", "DC"),
        (MX_ADDRESS, "NLE", "NLE"),
        (MX_ADDRESS, "Nuevo León", "NLE"),
        (MX_ADDRESS, "nuevo leon", "NLE"),
        (MX_ADDRESS, "Ciudad de Mexico", "CMX"),
        (TH_ADDRESS, "50", "50"),
        (TH_ADDRESS, "Chiang Mai", "50"),
        (TH_ADDRESS, "เชียงใหม่", "50"),
    ],
)
def test_a_listed_state_is_taken_by_code_or_name_and_stored_by_code(address, state, stored):
    region = home_region(address["country"])
    assert rules.address_errors({**address, "state": state}, region=region) == {}
    assert rules.clean_address({**address, "state": state})["state"] == stored


@pytest.mark.parametrize(
    ("address", "state"),
    [
        (US_ADDRESS, "Nowhere"),
        (US_ADDRESS, "PR"),  # not in the list (nor in the tax table)
        (US_ADDRESS, "York"),
        # Mexico has no state table in tax_rates.toml: its states used to be taken as typed.
        (MX_ADDRESS, "XX"),
        (MX_ADDRESS, "Texas"),
        (TH_ADDRESS, "Pattaya"),
    ],
)
def test_a_state_the_data_does_not_list_is_a_field_error(address, state):
    region = home_region(address["country"])
    assert rules.address_errors({**address, "state": state}, region=region) == {"state": [INVALID_STATE]}


@pytest.mark.parametrize("address", [US_ADDRESS, MX_ADDRESS, TH_ADDRESS])
def test_a_state_is_required_where_the_address_data_says(address):
    region = home_region(address["country"])
    assert rules.address_errors({**address, "state": " "}, region=region) == {"state": [REQUIRED]}


def test_a_quote_taxes_a_state_named_by_name_as_its_code():
    region = load_region("us-east")
    assert rules.address_state(region, "US", "new york") == "NY"
    assert rules.address_state(region, "US", "US-NY") == "NY"
    # A country whose states are not listed keeps what was sent.
    assert rules.address_state(load_region("ap-southeast"), "SG", "central") == "CENTRAL"


# --- the API ----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("state", "stored", "rate"), [("New York", "NY", "8.53"), ("district of columbia", "DC", "6")])
def test_api_takes_a_us_state_by_its_name_and_taxes_it(client, stocked, state, stored, rate):
    r = api_checkout(client, stocked, "state-by-name", {**US_ADDRESS, "state": state}, key="state-by-name-01")
    assert r.status_code == 201, r.json()
    order = Order.objects.get()
    assert order.address["state"] == stored
    assert order.tax_rate == rate and not order.prices_include_tax


@pytest.mark.django_db
def test_api_refuses_an_unknown_state_on_the_field_and_writes_nothing(client, stocked):
    r = api_checkout(client, stocked, "state-unknown", {**US_ADDRESS, "state": "Nowhere"}, key="state-unknown-01")
    assert r.status_code == 400, r.json()
    assert r.json()["error"]["code"] == "invalid_address"
    assert r.json()["error"]["fields"] == {"state": [INVALID_STATE]}
    assert not Order.objects.exists()


# --- the checkout page ------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("region", "country", "language", "option"),
    [
        ("us-east", "US", "en", '<option value="NY">New York</option>'),
        ("us-east", "MX", "es", '<option value="NLE">Nuevo León</option>'),
        ("us-east", "CA", "en", '<option value="QC">Quebec</option>'),
        ("us-east", "BR", "pt", '<option value="SP">São Paulo</option>'),
        ("ap-southeast", "TH", "th", '<option value="10">กรุงเทพมหานคร</option>'),
        ("ap-southeast", "TH", "en", '<option value="10">Bangkok</option>'),
    ],
)
def test_the_page_offers_the_states_in_a_select(shopper_in, stocked, region, country, language, option):
    client = shopper_in(region, country, language)
    variant = stocked(f"state-select-{country}-{language}", 5, price_minor=2500)
    assert client.post("/cart/add", {"variant": variant.pk, "quantity": 1}).status_code == 302
    page = client.get("/checkout/").content.decode()
    assert '<select name="state" required' in page
    assert '<input name="state"' not in page
    assert option in page
