"""Only currencies that can be priced now are offered; a shopper whose currency cannot be is
shown the settlement currency with a notice, and keeps their choice for when rates return."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from apps.accounts import services as accounts
from apps.accounts.models import User
from apps.catalog import services as catalog
from apps.money.middleware import UNAVAILABLE_HEADER
from apps.money.models import RateSnapshot
from apps.money.selectors import currencies_priced_now, utc_today
from apps.money.services import fx_rates_update
from livemall.demo import demo_rates_load
from tests.catalog.factories import make_product
from tests.money.factories import RATES, SHIPPED_DATE, file_provider, todays_provider, write_ecb_file

pytestmark = pytest.mark.django_db

ENGLISH = {"Accept-Language": "en"}
NOTICE = "Prices are shown in AED: SAR is not available right now."


@pytest.fixture
def gulf(use_region, merchant):
    """me-south, one product at AED 25.00 with units in stock."""
    use_region("me-south")
    variant = make_product(merchant, "mug", price_minor=2500).variants.get()
    warehouse = catalog.warehouse_create(merchant=merchant, code="dxb", name="Dubai", country="AE")
    catalog.stock_set(variant=variant, warehouse=warehouse, quantity=10)
    return variant


@pytest.fixture
def load_rates(django_capture_on_commit_callbacks, tmp_path):
    """``load_rates("fresh" | "stale")``: store rates as the daily task does (its commit bumps the generation)."""

    def load(kind: str) -> None:
        if kind == "fresh":
            provider = todays_provider(tmp_path / "today.xml")
        else:
            old = utc_today() - dt.timedelta(days=settings.FX_STALE_AFTER_DAYS + 2)
            provider = file_provider(write_ecb_file(tmp_path / "old.xml", {old: RATES}))
        with django_capture_on_commit_callbacks(execute=True):
            fx_rates_update(provider=provider)

    return load


def _menu(response) -> list[str]:
    select = re.search(r'<select name="currency".*?</select>', response.content.decode(), re.S).group(0)
    return re.findall(r'<option value="([A-Z]{3})"', select)


def _selected(response) -> str:
    select = re.search(r'<select name="currency".*?</select>', response.content.decode(), re.S).group(0)
    return re.search(r'<option value="([A-Z]{3})" selected', select).group(1)


def _sar_shopper(variant) -> Client:
    """A guest who chose SAR and put two mugs in the cart."""
    client = Client(headers=ENGLISH)
    client.post(reverse("accounts:preferences"), {"currency": "SAR", "next": "/"})
    added = client.post("/api/v1/cart/lines", {"variant": variant.pk, "quantity": 2}, content_type="application/json")
    assert added.status_code == 201, added.content
    return client


@pytest.mark.parametrize("rates", ["none", "stale"])
def test_without_usable_rates_only_aed_is_offered_and_a_sar_shopper_sees_aed_with_a_notice(gulf, load_rates, rates):
    if rates == "stale":
        load_rates("stale")
    assert currencies_priced_now() == ("AED",)
    shopper = _sar_shopper(gulf)

    page = shopper.get("/cart/")
    assert page.status_code == 200
    body = page.content.decode()
    assert body.count('data-testid="cart-line"') == 1
    assert _menu(page) == ["AED"] and _selected(page) == "AED"
    assert NOTICE in body and "50.00" in body  # two mugs at AED 25.00
    assert page[UNAVAILABLE_HEADER] == "SAR"
    assert shopper.get("/checkout/").status_code == 200

    api = shopper.get("/api/v1/cart")
    assert api.status_code == 200
    assert api.json()["currency"] == "AED" and api.json()["subtotal_minor"] == 5000
    assert [line["quantity"] for line in api.json()["lines"]] == [2]
    assert api[UNAVAILABLE_HEADER] == "SAR"
    price = shopper.get("/api/v1/products/").json()["results"][0]["price_from"]
    assert (price["currency"], price["amount_minor"]) == ("AED", 2500)
    # The choice itself is kept, for when rates come back.
    assert shopper.session[settings.CURRENCY_COOKIE_NAME] == "SAR"


def test_fresh_rates_offer_sar_and_the_stored_choice_comes_back(gulf, load_rates):
    load_rates("stale")
    shopper = _sar_shopper(gulf)
    assert NOTICE in shopper.get("/cart/").content.decode()

    load_rates("fresh")
    assert currencies_priced_now() == ("AED", "SAR")
    page = shopper.get("/cart/")
    body = page.content.decode()
    assert page.status_code == 200 and body.count('data-testid="cart-line"') == 1
    assert _menu(page) == ["AED", "SAR"] and _selected(page) == "SAR"
    assert NOTICE not in body and UNAVAILABLE_HEADER not in page
    api = shopper.get("/api/v1/cart").json()
    # AED 50.00 at the pegs (3.6725 AED = 3.75 SAR = 1 USD) is SAR 51.06.
    assert (api["currency"], api["subtotal_minor"]) == ("SAR", 5106)


def test_a_shared_listing_page_carries_the_notice_only_for_whom_it_is_true(gulf, load_rates):
    load_rates("stale")
    plain = Client(headers=ENGLISH)
    first = plain.get(reverse("catalog:products"))
    sar = _sar_shopper(gulf)
    shared = sar.get(reverse("catalog:products"))  # the same cached page: same country, language, AED
    again = plain.get(reverse("catalog:products"))
    assert first.status_code == shared.status_code == again.status_code == 200
    assert NOTICE in shared.content.decode()
    assert NOTICE not in first.content.decode() and NOTICE not in again.content.decode()
    assert _menu(shared) == _menu(again) == ["AED"]


def test_a_signed_in_profile_choice_falls_back_and_is_kept(gulf, load_rates):
    load_rates("stale")
    user = accounts.user_create(
        region=settings.REGION, email="sara@example.test", password="a-long-test-password", currency="SAR"
    )
    client = Client(headers=ENGLISH)
    client.force_login(user)
    api = client.get("/api/v1/cart")
    assert api.status_code == 200 and api.json()["currency"] == "AED" and api[UNAVAILABLE_HEADER] == "SAR"
    user.refresh_from_db()
    assert user.currency == "SAR"


def test_a_currency_missing_from_fresh_rates_is_not_offered(
    gulf, load_rates, tmp_path, django_capture_on_commit_callbacks
):
    # A day whose file lacks USD: the pegs (SAR through USD) cannot be reached.
    without_usd = {code: rate for code, rate in RATES.items() if code != "USD"}
    with django_capture_on_commit_callbacks(execute=True):
        fx_rates_update(provider=file_provider(write_ecb_file(tmp_path / "no-usd.xml", {utc_today(): without_usd})))
    assert currencies_priced_now() == ("AED",)


def test_a_single_currency_region_never_reads_rates(use_region, django_assert_num_queries):
    region = use_region("me-south")
    single = type(region)(**{**region.__dict__, "currencies": (region.settlement_currency,)})
    with django_assert_num_queries(0):
        assert currencies_priced_now(single) == ("AED",)


def test_the_offered_currencies_cost_no_query_once_known(gulf, load_rates, django_assert_num_queries):
    # Without rates nothing is cached to read: the answer itself is memoised, every request reads it.
    assert currencies_priced_now() == ("AED",)
    with django_assert_num_queries(0):
        assert currencies_priced_now() == ("AED",)
    load_rates("fresh")
    assert currencies_priced_now() == ("AED", "SAR")
    with django_assert_num_queries(0):
        assert currencies_priced_now() == ("AED", "SAR")


def test_the_demo_loads_the_shipped_rates_as_they_are(use_region):
    region = use_region("me-south")
    said = demo_rates_load(region=region)
    (snapshot,) = RateSnapshot.objects.all()
    assert (snapshot.source, snapshot.rate_date) == ("ecb", SHIPPED_DATE)  # not re-dated
    assert f"ecb of {SHIPPED_DATE.isoformat()}" in said
    if utc_today() - SHIPPED_DATE > dt.timedelta(days=settings.FX_STALE_AFTER_DAYS):
        assert currencies_priced_now() == ("AED",) and "shown in AED only" in said
    else:
        assert currencies_priced_now() == ("AED", "SAR") and "AED, SAR" in said
    # seed_demo prints the same line; a second load stores nothing.
    out = io.StringIO()
    call_command("fx_rates_update", stdout=out)
    assert "0 new rates" in out.getvalue()


def test_signing_up_while_sar_cannot_be_priced_keeps_sar_in_the_profile(gulf, load_rates):
    load_rates("stale")
    shopper = _sar_shopper(gulf)
    signed_up = shopper.post(
        "/accounts/signup/", {"email": "sami@example.test", "display_name": "Sami", "password": "a-long-password-9"}
    )
    assert signed_up.status_code == 302
    assert User.objects.get(email="sami@example.test").currency == "SAR"
    # And the header's form, sent with the currency shown (AED), does not overwrite it.
    shopper.post(reverse("accounts:preferences"), {"language": "ar", "currency": "AED", "next": "/"})
    assert User.objects.get(email="sami@example.test").currency == "SAR"
