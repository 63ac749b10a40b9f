"""Address rules by country, from apps/orders/data/addresses.toml: Malaysia's state is required; the
UAE and Qatar have no postal codes (not asked, one sent is dropped); the Gulf's optional postal codes
are checked when given; every country a region serves is listed. Through the API and the checkout
page (Django's test client on real PostgreSQL and Redis, settlement currencies: no FX)."""

from __future__ import annotations

import re
import tomllib

import pytest
from django.utils import translation

from apps.orders import rules
from apps.orders.models import Order
from regions import all_regions, load_region
from tests.orders.conftest import api_checkout

ADDRESSES_TOML = rules.DATA_DIR / "addresses.toml"
REQUIRED = "This field is required."
INVALID_POSTAL_CODE = "This is not a valid postal code for the country."

MY_ADDRESS = {"name": "Siti Aminah", "line1": "12 Jalan Tunku", "city": "Alor Setar", "postal_code": "05000"}
AE_ADDRESS = {"name": "Aisha", "line1": "Sheikh Zayed Rd 1", "city": "Dubai", "phone": "+971 50 123 4567"}
KW_ADDRESS = {"name": "Fahad", "line1": "Block 3, Street 12, House 7", "city": "Salmiya"}
US_ADDRESS = {"name": "Ann", "line1": "1 Main St", "city": "Albany", "state": "NY", "postal_code": "12207"}


def _said(response, msgid: str) -> str:
    """``msgid`` in the language the response was given in."""
    with translation.override(response.wsgi_request.LANGUAGE_CODE):
        return translation.gettext(msgid)


# --- the data ---------------------------------------------------------------------------------


def test_every_country_a_region_serves_has_address_rules():
    listed = tomllib.loads(ADDRESSES_TOML.read_text())["countries"]
    served = {country.code for region in all_regions() for country in region.countries}
    assert served - set(listed) == set(), "countries served with no address rules"


def test_each_country_has_a_postal_code_pattern_or_none_and_only_known_keys():
    for code, rule in tomllib.loads(ADDRESSES_TOML.read_text())["countries"].items():
        assert set(rule) <= {"postal_code", "postal_code_optional", "state_required"}, code
        pattern = rule["postal_code"]
        assert pattern is False or (isinstance(pattern, str) and pattern.startswith("^") and pattern.endswith("$")), (
            code
        )
        if pattern:
            re.compile(pattern)
        else:
            assert "postal_code_optional" not in rule, code


@pytest.mark.parametrize(
    ("country", "good", "bad"),
    [
        ("KW", ["13001", ""], ["ABC-123", "1300"]),
        ("BH", ["317", "1216", ""], ["ABC-123", "12"]),
        ("OM", ["112", ""], ["ABC-123", "1120"]),
        ("SA", ["11564", "11564-2345"], ["ABC-123", ""]),
        ("PL", ["00-950", "00950"], ["0-950", ""]),
        ("PT", ["1000-001"], ["1000", ""]),
        ("LV", ["LV-1050", "1050"], ["LV1050", ""]),
        ("SE", ["114 55", "11455"], ["1145", ""]),
        ("MT", ["VLT 1117"], ["1117", ""]),
        ("MY", ["05000"], ["ABC-123", ""]),
    ],
)
def test_postal_codes_are_checked_against_the_countrys_pattern(country, good, bad):
    region = next(r for r in all_regions() if r.serves(country))
    # A state the region lists, for the countries that need one (Malaysia): only the postal code is at issue.
    state = next((code for code, _name in rules.subdivision_choices(region, country)), "")
    address = {**MY_ADDRESS, "country": country, "state": state}
    for code in good:
        assert "postal_code" not in rules.address_errors({**address, "postal_code": code}, region=region), code
    for code in bad:
        expected = [REQUIRED] if not code else [INVALID_POSTAL_CODE]
        assert rules.address_errors({**address, "postal_code": code}, region=region).get("postal_code") == expected, (
            code
        )


@pytest.mark.parametrize("country", ["AE", "QA"])
def test_a_country_without_postal_codes_takes_none_and_drops_one_sent(country):
    region = load_region("me-south")
    address = {**AE_ADDRESS, "country": country}
    assert not rules.postal_code_asked(country) and not rules.postal_code_required(country)
    assert rules.address_errors(address, region=region) == {}
    assert rules.address_errors({**address, "postal_code": "ABC-123"}, region=region) == {}
    assert rules.clean_address({**address, "postal_code": "ABC-123"})["postal_code"] == ""
    # Where postal codes exist, the one given is kept.
    assert rules.clean_address({**address, "country": "KW", "postal_code": "13001"})["postal_code"] == "13001"


def test_a_malaysian_address_without_a_state_is_refused_on_the_state():
    region = load_region("ap-southeast")
    assert rules.address_errors({**MY_ADDRESS, "country": "MY"}, region=region) == {"state": [REQUIRED]}
    assert rules.address_errors({**MY_ADDRESS, "country": "MY", "state": "10"}, region=region) == {}


# --- the API ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_refuses_a_malaysian_address_without_a_state_and_writes_nothing(shopper_in, stocked, settings):
    client = shopper_in("ap-southeast", "MY")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ms"
    r = api_checkout(client, stocked, "addr-my-api", {**MY_ADDRESS, "country": "MY"}, key="addr-my-api-01")
    assert r.status_code == 400, r.json()
    assert r.json()["error"]["code"] == "invalid_address"
    # In the shopper's language: Malay.
    assert r.json()["error"]["fields"] == {"state": ["Medan ini diperlukan."]}
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_api_places_a_malaysian_order_with_its_state(shopper_in, stocked):
    client = shopper_in("ap-southeast", "MY")
    address = {**MY_ADDRESS, "country": "MY", "state": "MY-10"}
    r = api_checkout(client, stocked, "addr-my-ok", address, key="addr-my-ok-001")
    assert r.status_code == 201, r.json()
    assert Order.objects.get().address["state"] == "10"


@pytest.mark.django_db
def test_api_places_a_uae_order_without_a_postal_code(shopper_in, stocked):
    client = shopper_in("me-south", "AE")
    r = api_checkout(client, stocked, "addr-ae-api", {**AE_ADDRESS, "country": "AE"}, key="addr-ae-api-01")
    assert r.status_code == 201, r.json()
    assert Order.objects.get().address["postal_code"] == ""


@pytest.mark.django_db
def test_api_drops_a_postal_code_sent_for_the_uae(shopper_in, stocked):
    client = shopper_in("me-south", "AE")
    address = {**AE_ADDRESS, "country": "AE", "postal_code": "ABC-123"}
    r = api_checkout(client, stocked, "addr-ae-sent", address, key="addr-ae-sent-1")
    assert r.status_code == 201, r.json()
    assert Order.objects.get().address["postal_code"] == ""


@pytest.mark.django_db
def test_api_checks_kuwaits_optional_postal_code_when_given(shopper_in, stocked):
    client = shopper_in("me-south", "KW")
    bad = api_checkout(
        client, stocked, "addr-kw-bad", {**KW_ADDRESS, "country": "KW", "postal_code": "ABC-123"}, key="addr-kw-bad-01"
    )
    assert bad.status_code == 400, bad.json()
    assert bad.json()["error"]["fields"] == {"postal_code": [_said(bad, INVALID_POSTAL_CODE)]}
    assert not Order.objects.exists()
    body = {**KW_ADDRESS, "country": "KW"}
    r = client.post(
        "/api/v1/checkout",
        {
            "email": "fahad@example.test",
            "address": body,
            "shipping_option": "standard",
            "payment_provider": "test",
            "payment_method": "test",
        },
        content_type="application/json",
        headers={"Idempotency-Key": "addr-kw-none-1"},
    )
    assert r.status_code == 201, r.json()
    assert Order.objects.get().address["postal_code"] == ""


@pytest.mark.django_db
@pytest.mark.parametrize(("postal_code", "message"), [("", REQUIRED), ("ABC-123", INVALID_POSTAL_CODE)])
def test_api_still_refuses_a_missing_or_ill_formed_us_postal_code(client, stocked, postal_code, message):
    address = {**US_ADDRESS, "country": "US", "postal_code": postal_code}
    r = api_checkout(client, stocked, "addr-us-api", address, key="addr-us-api-01")
    assert r.status_code == 400, r.json()
    assert r.json()["error"]["fields"] == {"postal_code": [_said(r, message)]}
    assert not Order.objects.exists()


# --- the checkout page --------------------------------------------------------------------------


def _form(client, stocked, slug: str, **fields) -> dict:
    variant = stocked(slug, 5, price_minor=2500)
    assert client.post("/cart/add", {"variant": variant.pk, "quantity": 1}).status_code == 302
    page = client.get("/checkout/")
    assert page.status_code == 200
    return {
        "email": "buyer@example.test",
        "shipping_option": "standard",
        "payment": "test/test",
        "idempotency_key": page.context["idempotency_key"],
        "expected_total_minor": page.context["quote"].total_minor,
        **fields,
    }


@pytest.mark.django_db
def test_the_page_requires_a_malaysian_state_and_writes_nothing_without_it(shopper_in, stocked, settings):
    client = shopper_in("ap-southeast", "MY")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    form = _form(client, stocked, "addr-my-page", **MY_ADDRESS)
    assert '<select name="state" required' in client.get("/checkout/").content.decode()

    page = client.post("/checkout/", form)

    assert page.status_code == 400
    assert page.context["errors"] == {"state": [REQUIRED]}
    assert f'data-testid="state-error">{REQUIRED}<' in page.content.decode()
    assert page.context["first_error"] == "state"
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_the_page_does_not_ask_a_uae_shopper_for_a_postal_code(shopper_in, stocked, on_commit):
    client = shopper_in("me-south", "AE")
    form = _form(client, stocked, "addr-ae-page", **AE_ADDRESS)
    page = client.get("/checkout/")
    assert 'name="postal_code"' not in page.content.decode()

    placed = on_commit(client.post, "/checkout/", form)

    assert placed.status_code == 302, placed.context and placed.context["errors"]
    order = Order.objects.get()
    assert order.address["country"] == "AE" and order.address["postal_code"] == ""


@pytest.mark.django_db
def test_the_page_drops_a_postal_code_posted_for_the_uae(shopper_in, stocked, on_commit):
    client = shopper_in("me-south", "AE")
    form = _form(client, stocked, "addr-ae-post", **AE_ADDRESS, postal_code="ABC-123")
    placed = on_commit(client.post, "/checkout/", form)
    assert placed.status_code == 302, placed.context and placed.context["errors"]
    assert Order.objects.get().address["postal_code"] == ""


@pytest.mark.django_db
def test_the_page_shows_kuwaits_postal_code_as_optional(shopper_in, stocked):
    client = shopper_in("me-south", "KW")
    _form(client, stocked, "addr-kw-page", **KW_ADDRESS)
    field = re.search(r"<input name=\"postal_code\"[^>]*>", client.get("/checkout/").content.decode())
    assert field and " required" not in field.group(0)


@pytest.mark.django_db
@pytest.mark.parametrize(("postal_code", "message"), [("", REQUIRED), ("ABC-123", INVALID_POSTAL_CODE)])
def test_the_page_still_refuses_a_missing_or_ill_formed_us_postal_code(client, stocked, postal_code, message):
    form = _form(client, stocked, "addr-us-page", **{**US_ADDRESS, "postal_code": postal_code})
    page = client.post("/checkout/", form)
    assert page.status_code == 400
    assert page.context["errors"] == {"postal_code": [_said(page, message)]}
    assert not Order.objects.exists()
