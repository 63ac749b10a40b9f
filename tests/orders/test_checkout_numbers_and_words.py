"""Numbers and words on the checkout and order pages, in the shopper's language.

The tax rate is a percentage as the shopper's locale writes it (French ``20 %``, Arabic ``٪``),
with every digit of the rate; quantities are in the digits of the prices next to them; free
shipping is "Free" on the order page as at checkout; the button says "Place order" for a method
paid on delivery; a returning signed-in shopper's form starts from their last address here.
Django's test client on real PostgreSQL and Redis.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts import services as accounts
from apps.money import services as money
from apps.money.formatting import format_count, format_rate
from apps.orders.models import Order
from tests.money.factories import todays_provider
from tests.orders.conftest import ADDRESSES, cart_with, checkout, shopper_for

pytestmark = pytest.mark.django_db

PAY_LABEL = "Place order and pay"
PLACE_LABEL = "Place order"


def _text(html: str, testid: str) -> str:
    found = re.search(rf'data-testid="{testid}">(.*?)</', html, re.S)
    assert found, f"no {testid} on the page"
    return found.group(1)


def _input_value(html: str, name: str) -> str:
    found = re.search(rf'<input[^>]*\bname="{name}" value="([^"]*)"', html)
    assert found, f"no {name} field on the page"
    return found.group(1)


def _signed_in(client, *, region, email: str, country: str, language: str):
    user = accounts.user_create(
        region=region, email=email, password="a-long-test-password", country=country, language=language
    )
    client.force_login(user)
    return user


# --- 1. the tax rate as the shopper writes a percentage -----------------------------------------


def test_the_rate_is_written_as_each_locale_writes_a_percentage():
    assert format_rate("20", "fr_FR") == "20\xa0%"  # CLDR's French: a no-break space before the sign
    assert format_rate("20", "en_US") == "20%"
    # Arabic: the UAE's Latin digits keep the sign left-to-right; Saudi Arabia's Arabic-Indic digits take ٪.
    assert format_rate("15", "ar_AE") == "15\u200e%\u200e"
    assert format_rate("15", "ar_SA") == "\u0661\u0665\u066a\u061c"
    # A rate is stated, never rounded to the pattern's whole percent.
    assert format_rate("8.875", "en_US") == "8.875%"
    assert format_rate("14.975", "fr_CA") == "14,975\xa0%"
    assert format_rate("8.53", "ar_SA") == "\u0668\u066b\u0665\u0663\u066a\u061c"
    assert format_rate("20.00", "en_US") == "20%"


def test_the_french_checkout_and_order_page_write_twenty_percent_the_french_way(client, use_region, stocked, settings):
    region = use_region("eu-west")
    settings.TRUSTED_COUNTRY_HEADER = "CF-IPCountry"
    user = _signed_in(client, region=region, email="claire@example.test", country="FR", language="fr")
    headers = {"Accept-Language": "fr", "CF-IPCountry": "FR"}
    client.post(
        "/cart/add", {"variant": stocked("numbers-fr", 5, price_minor=12000).pk, "quantity": 1}, headers=headers
    )

    page = client.get("/checkout/", headers=headers)

    assert page.status_code == 200 and page.wsgi_request.shopper.locale == "fr_FR"
    assert page.context["quote"].tax_rate == 20
    label = _text(page.content.decode(), "tax-label")
    assert label.endswith("(20\xa0%)"), label
    address = {"name": "Claire", "line1": "1 rue de Rivoli", "city": "Paris", "postal_code": "75001", "country": "FR"}
    order = checkout(
        cart_with(stocked("numbers-fr-order", 5), user=user, country="FR"), user=user, country="FR", address=address
    )
    label = _text(client.get(f"/orders/{order.reference}/", headers=headers).content.decode(), "tax-label")
    assert label.endswith("(20\xa0%)"), label


def test_a_saudi_order_page_writes_the_rate_and_quantity_in_arabic_digits(
    client, use_region, stocked, settings, tmp_path
):
    region = use_region("me-south")
    money.fx_rates_update(provider=todays_provider(tmp_path / "rates.xml"))
    user = _signed_in(client, region=region, email="layla@example.test", country="SA", language="ar")
    variant = stocked("numbers-sa", 5, price_minor=3000)
    order = checkout(
        cart_with(variant, 2, user=user, country="SA"),
        user=user,
        shopper=shopper_for(country="SA"),
        address=ADDRESSES["SA"],
    )
    assert order.tax_rate == "15"

    html = client.get(f"/orders/{order.reference}/", headers={"Accept-Language": "ar"}).content.decode()

    assert "(\u0661\u0665\u066a\u061c)" in _text(html, "tax-label")  # fifteen, the Arabic percent sign
    assert _text(html, "line-quantity") == "\u0662" == format_count(2, "ar_SA")  # Arabic-Indic two


def test_a_rate_with_three_decimals_keeps_them_on_the_order_page(client, stocked, make_user):
    user = make_user(email="nyc@example.test")
    client.force_login(user)
    order = checkout(cart_with(stocked("numbers-nyc", 5), user=user), user=user)
    # New York City's combined rate, as an order placed with it stores it.
    Order.objects.filter(pk=order.pk).update(tax_rate="8.875", prices_include_tax=False)

    html = client.get(f"/orders/{order.reference}/").content.decode()

    assert _text(html, "tax-label") == "Tax (8.875%)"


def test_the_checkout_quantity_is_in_the_shoppers_digits(client, use_region, stocked, settings, tmp_path):
    use_region("me-south")
    money.fx_rates_update(provider=todays_provider(tmp_path / "rates.xml"))
    settings.TRUSTED_COUNTRY_HEADER = "CF-IPCountry"
    headers = {"Accept-Language": "ar", "CF-IPCountry": "SA"}
    client.post("/cart/add", {"variant": stocked("numbers-sa-cart", 5).pk, "quantity": 3}, headers=headers)

    page = client.get("/checkout/", headers=headers)

    assert page.wsgi_request.shopper.locale == "ar_SA"
    assert _text(page.content.decode(), "line-quantity") == "\u0663"  # ٣


# --- 3. free shipping is "Free" on both pages ---------------------------------------------------


def test_free_shipping_says_free_at_checkout_and_on_the_order_page(client, stocked, make_user):
    user = make_user(email="free@example.test")
    client.force_login(user)
    variant = stocked("numbers-free", 5, price_minor=6000)  # over standard's free-from 50.00
    client.post("/cart/add", {"variant": variant.pk, "quantity": 1})

    page = client.get("/checkout/", {"state": "NY"})

    assert page.context["quote"].shipping_minor == 0
    assert _text(page.content.decode(), "shipping") == "Free"
    order = checkout(cart_with(stocked("numbers-free-order", 5, price_minor=6000), user=user), user=user)
    assert order.shipping_minor == 0
    assert _text(client.get(f"/orders/{order.reference}/").content.decode(), "shipping") == "Free"


def test_paid_shipping_is_still_an_amount(client, stocked, make_user):
    user = make_user(email="paid-shipping@example.test")
    client.force_login(user)
    order = checkout(cart_with(stocked("numbers-shipping", 5, price_minor=2000), user=user), user=user)
    assert order.shipping_minor == 500
    assert _text(client.get(f"/orders/{order.reference}/").content.decode(), "shipping") == "$5.00"


# --- 4. the button says what pressing it does -----------------------------------------------------


def test_cash_on_delivery_places_the_order_without_saying_pay(client, use_region, stocked, settings):
    use_region("me-south")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    variant = stocked("numbers-cod", 5)
    client.post("/cart/add", {"variant": variant.pk, "quantity": 1})
    page = client.get("/checkout/")
    html = page.content.decode()
    methods = [f"{m.provider}/{m.method}" for m in page.context["methods"]]
    assert {"cash_on_delivery/cash_on_delivery", "test/test"} <= set(methods)
    # Each method's radio carries the words the button takes when it is chosen (checkout.js).
    labels = dict(re.findall(r'name="payment" value="([^"]+)"[^>]*data-place-label="([^"]*)"', html))
    assert labels == {m: PLACE_LABEL if m.startswith("cash_on_delivery/") else PAY_LABEL for m in methods}
    assert _text(html, "place-order") == labels[page.context["chosen_payment"]]

    # The form shown again (a field to correct) says what pressing it does with the method chosen.
    form = {"email": "layla@example.test", "name": "Layla", "line1": "", "city": "Dubai", "phone": "050 123 4567"}
    form |= {"shipping_option": "standard"}
    for chosen, words in (("cash_on_delivery/cash_on_delivery", PLACE_LABEL), ("test/test", PAY_LABEL)):
        again = client.post("/checkout/", {**form, "payment": chosen})
        assert again.status_code == 400 and not Order.objects.exists()
        assert _text(again.content.decode(), "place-order") == words, chosen


# --- 5. a returning shopper's address -------------------------------------------------------------


def test_a_returning_shopper_starts_from_their_last_address_here(client, stocked, make_user):
    user = make_user(email="back@example.test")
    older = {**ADDRESSES["US"], "name": "Ann Old", "line1": "9 Old Rd"}
    checkout(cart_with(stocked("numbers-back-1", 5), user=user), user=user, address=older)
    newest = {**ADDRESSES["US"], "line2": "Apt 4", "phone": "+1 518 555 0100"}
    stored = checkout(cart_with(stocked("numbers-back-2", 5), user=user), user=user, address=newest).address
    client.force_login(user)
    client.post("/cart/add", {"variant": stocked("numbers-back-3", 5).pk, "quantity": 1})

    page = client.get("/checkout/")

    html = page.content.decode()
    for name in ("name", "line1", "line2", "city", "postal_code", "phone"):
        assert _input_value(html, name) == stored[name], name  # as the order keeps it (the phone normalised)
    assert stored["line2"] == "Apt 4"
    assert re.search(r'<option value="NY" selected>', html)
    # The state the form holds is the one the totals are for (New York's sales tax).
    assert page.context["quote"].tax_minor > 0


def test_an_order_in_another_region_is_not_where_the_form_starts(client, stocked, make_user):
    user = make_user(email="travels@example.test")
    here = {**ADDRESSES["US"], "line1": "1 Here St"}
    checkout(cart_with(stocked("numbers-region-1", 5), user=user), user=user, address=here)
    elsewhere = checkout(cart_with(stocked("numbers-region-2", 5), user=user), user=user)
    Order.objects.filter(pk=elsewhere.pk).update(region="eu-west")
    client.force_login(user)
    client.post("/cart/add", {"variant": stocked("numbers-region-3", 5).pk, "quantity": 1})

    assert _input_value(client.get("/checkout/").content.decode(), "line1") == "1 Here St"


def test_the_last_address_in_another_country_is_not_offered(client, stocked, make_user):
    user = make_user(email="moved@example.test")
    order = checkout(cart_with(stocked("numbers-moved-1", 5), user=user), user=user)
    Order.objects.filter(pk=order.pk).update(country="CA", address={**ADDRESSES["US"], "country": "CA", "state": "ON"})
    client.force_login(user)
    client.post("/cart/add", {"variant": stocked("numbers-moved-2", 5).pk, "quantity": 1})

    page = client.get("/checkout/")

    assert page.wsgi_request.shopper.country == "US"
    html = page.content.decode()
    assert _input_value(html, "name") == _input_value(html, "line1") == _input_value(html, "city") == ""


def test_a_guest_gets_an_empty_form_without_looking_for_orders(client, stocked, make_user):
    user = make_user(email="someone@example.test")
    checkout(cart_with(stocked("numbers-guest-1", 5), user=user), user=user)
    client.post("/cart/add", {"variant": stocked("numbers-guest-2", 5).pk, "quantity": 1})

    with CaptureQueriesContext(connection) as queries:
        page = client.get("/checkout/")

    html = page.content.decode()
    assert _input_value(html, "name") == _input_value(html, "line1") == ""
    assert not [q["sql"] for q in queries if '"orders_order"."address"' in q["sql"]]
