"""The order page and checkout read right in Arabic and before a state is chosen.

An order's reference is isolated left-to-right (an Arabic heading would split "LM-" from its
digits); a discount is the locale's own negative amount, its minus inside the amount's bidi marks
(a minus sign put in front lands on the wrong side in a right-to-left line); a US shopper who has not
chosen a state yet is told the tax comes with the state, not "Tax (0%) $0.00".
Django's test client on real PostgreSQL and Redis.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from apps.accounts import services as accounts
from apps.money import services as money
from apps.money.formatting import format_money
from apps.orders import rules, services
from tests.money.factories import todays_provider
from tests.orders.conftest import ADDRESSES, cart_with, checkout, shopper_for

pytestmark = pytest.mark.django_db

ARABIC_INDIC = re.compile("[\u0660-\u0669]")


def _cell(html: str, testid: str) -> str:
    found = re.search(rf'data-testid="{testid}">(.*?)</t[dh]>', html, re.S)
    assert found, f"no {testid} on the page"
    return found.group(1)


def _coupon(code: str, percent_off: int = 10) -> None:
    now = timezone.now()
    services.coupon_create(
        code=code,
        percent_off=percent_off,
        valid_from=now - dt.timedelta(hours=1),
        valid_until=now + dt.timedelta(days=1),
    )


def _saudi_shopper(client, region):
    user = accounts.user_create(
        region=region, email="layla@example.test", password="a-long-test-password", country="SA", language="ar"
    )
    client.force_login(user)
    return user


# --- 1. the reference is one left-to-right word ---------------------------------------------------


def test_the_arabic_order_page_and_my_orders_isolate_the_reference(client, use_region, stocked, tmp_path):
    region = use_region("me-south")
    money.fx_rates_update(provider=todays_provider(tmp_path / "rates.xml"))
    user = _saudi_shopper(client, region)
    order = checkout(
        cart_with(stocked("rtl-reference", 5), user=user, country="SA"),
        user=user,
        shopper=shopper_for(country="SA"),
        address=ADDRESSES["SA"],
    )
    isolated = f'<bdi dir="ltr" class="order-reference" data-testid="order-reference">{order.reference}</bdi>'

    page = client.get(f"/orders/{order.reference}/", headers={"Accept-Language": "ar"}).content.decode()
    heading = re.search(r"<h1>(.*?)</h1>", page, re.S).group(1)
    assert isolated in heading
    assert heading.replace(isolated, "").strip()  # the words around it are still said

    mine = client.get("/orders/", headers={"Accept-Language": "ar"}).content.decode()
    link = f'<a href="/orders/{order.reference}/">{order.reference}</a>'
    assert f'<bdi dir="ltr" class="order-reference" data-testid="order-reference">{link}</bdi>' in mine


# --- 2. a discount is the locale's negative amount --------------------------------------------------


def test_the_saudi_checkout_writes_the_discount_as_a_negative_amount_inside_its_marks(
    client, use_region, stocked, settings, tmp_path
):
    use_region("me-south")
    money.fx_rates_update(provider=todays_provider(tmp_path / "rates.xml"))
    settings.TRUSTED_COUNTRY_HEADER = "CF-IPCountry"
    headers = {"Accept-Language": "ar", "CF-IPCountry": "SA"}
    client.post(
        "/cart/add", {"variant": stocked("rtl-discount", 5, price_minor=9800).pk, "quantity": 1}, headers=headers
    )
    _coupon("RTL-TEN")

    page = client.get("/checkout/", {"coupon": "RTL-TEN"}, headers=headers)

    assert page.wsgi_request.shopper.locale == "ar_SA"
    quote = page.context["quote"]
    assert quote.discount_minor > 0
    cell = _cell(page.content.decode(), "discount")
    assert cell == format_money(-quote.discount_minor, quote.currency, "ar_SA")
    # CLDR's Arabic negative pattern: the minus after the opening RLM, before the digits, all inside the marks.
    assert cell.startswith("\u200f-") and cell.endswith("\u200f")
    assert ARABIC_INDIC.search(cell) and "\u2212" not in cell


def test_the_order_page_writes_the_discount_as_a_negative_amount(client, use_region, stocked, tmp_path):
    region = use_region("me-south")
    money.fx_rates_update(provider=todays_provider(tmp_path / "rates.xml"))
    user = _saudi_shopper(client, region)
    _coupon("RTL-ORDER")
    order = checkout(
        cart_with(stocked("rtl-order-discount", 5, price_minor=9800), user=user, country="SA"),
        user=user,
        shopper=shopper_for(country="SA"),
        address=ADDRESSES["SA"],
        coupon_code="RTL-ORDER",
    )
    assert order.discount_minor > 0

    page = client.get(f"/orders/{order.reference}/", headers={"Accept-Language": "ar"})

    assert page.wsgi_request.shopper.locale == "ar_SA"
    cell = _cell(page.content.decode(), "discount")
    assert cell == format_money(-order.discount_minor, order.currency, "ar_SA")
    assert cell.startswith("\u200f-") and ARABIC_INDIC.search(cell) and "\u2212" not in cell


def test_an_english_discount_keeps_its_minus_in_front(client, stocked, make_user):
    user = make_user(email="discount-en@example.test")
    client.force_login(user)
    _coupon("EN-TEN")
    order = checkout(cart_with(stocked("en-discount", 5, price_minor=2000), user=user), user=user, coupon_code="EN-TEN")

    html = client.get(f"/orders/{order.reference}/").content.decode()

    assert _cell(html, "discount") == "-$2.00"


# --- 3. the tax waits for the state that decides it --------------------------------------------------


def test_a_us_checkout_without_a_state_says_the_tax_comes_with_the_state(client, stocked, make_user):
    client.force_login(make_user(email="no-state@example.test"))
    client.post("/cart/add", {"variant": stocked("tax-pending", 5, price_minor=2000).pk, "quantity": 1})

    page = client.get("/checkout/")

    assert page.context["quote"].tax_awaits_state
    html = page.content.decode()
    assert re.search(r'data-testid="tax-label">(.*?)</td>', html).group(1) == "Tax: calculated once you choose a state"
    assert _cell(html, "tax") == "—"

    chosen = client.get("/checkout/", {"state": "NY"})

    assert not chosen.context["quote"].tax_awaits_state
    html = chosen.content.decode()
    assert re.search(r'data-testid="tax-label">(.*?)</td>', html).group(1).startswith("Tax (")
    assert _cell(html, "tax").startswith("$")


def test_a_country_taxed_alike_everywhere_shows_its_rate_without_a_state(client, use_region, stocked, settings):
    use_region("me-south")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.post("/cart/add", {"variant": stocked("tax-flat", 5).pk, "quantity": 1})

    page = client.get("/checkout/")

    assert not page.context["quote"].tax_awaits_state
    assert "calculated once you choose a state" not in page.content.decode()


def test_the_tax_table_says_which_countries_wait_for_a_state():
    # US states tax at their own rates (none without a state); Canada's provinces add to its GST;
    # Germany and the UAE have one rate for the whole country.
    assert rules.tax_varies_by_state("US") and rules.tax_varies_by_state("CA")
    assert not rules.tax_varies_by_state("DE") and not rules.tax_varies_by_state("AE")
