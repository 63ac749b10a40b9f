"""Coupons cannot be saved wrong in the admin, and checkout refuses a wrong stored one clearly.

Amounts are minor units above zero in the region's currencies, countries are ones the
region serves, a coupon is a percentage or amounts off (one of the two). A minimum spend
only counts in the currencies it lists; a coupon not started yet says when it starts.
"""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.utils import timezone

from apps.orders.models import Coupon, Order
from tests.orders.conftest import api_place, coupon_stored

pytestmark = pytest.mark.django_db


def _admin_form(operator, changes: dict[str, str]):
    """The coupon admin's own form, bound to what an operator typed."""
    request = RequestFactory().get("/admin/orders/coupon/add/")
    request.user = operator
    form_class = admin.site._registry[Coupon].get_form(request)
    now = timezone.now()
    data = {
        "code": "SPRING",
        "percent_off": "",
        "amounts_off": '{"USD": 500}',
        "min_spend": "{}",
        "countries": "[]",
        "valid_from_0": now.strftime("%Y-%m-%d"),
        "valid_from_1": "00:00:00",
        "valid_until_0": (now + dt.timedelta(days=30)).strftime("%Y-%m-%d"),
        "valid_until_1": "00:00:00",
        "is_active": "on",
        "max_redemptions": "",
    }
    data.update(changes)
    return form_class(data)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amounts_off": '{"USD": "5.00"}'}, "amounts_off"),
        ({"amounts_off": '{"USD": -500}'}, "amounts_off"),
        ({"amounts_off": '{"USD": 0}'}, "amounts_off"),
        ({"amounts_off": '{"USD": 5.5}'}, "amounts_off"),
        ({"amounts_off": '{"USD": true}'}, "amounts_off"),
        ({"amounts_off": '{"EUR": 500}'}, "amounts_off"),
        ({"amounts_off": '{"USD": 500, "usd": 400}'}, "amounts_off"),
        ({"amounts_off": "[500]"}, "amounts_off"),
        ({"min_spend": '{"USD": "100.00"}'}, "min_spend"),
        ({"min_spend": '{"JPY": 1000}'}, "min_spend"),
        ({"min_spend": '{"USD": -1}'}, "min_spend"),
        ({"countries": '["DE"]'}, "countries"),
        ({"countries": '["USA"]'}, "countries"),
        ({"countries": '"US"'}, "countries"),
        ({"countries": "[1]"}, "countries"),
        ({"countries": "[{}]"}, "countries"),
        ({"amounts_off": "{}"}, "percent_off"),
        ({"percent_off": "10"}, "amounts_off"),
        ({"valid_until_0": "2001-01-01"}, "valid_until"),
    ],
)
def test_a_wrong_coupon_is_refused_by_the_admin_form_on_its_field(operator, changes, field):
    form = _admin_form(operator, changes)
    assert not form.is_valid()
    assert field in form.errors, form.errors
    assert not Coupon.objects.exists()


def test_the_admin_form_stores_codes_in_upper_case(operator):
    form = _admin_form(operator, {"amounts_off": '{"usd": 500, "CAD": 700}', "countries": '["us", " ca", "US"]'})
    assert form.is_valid(), form.errors
    coupon = form.save()
    coupon.refresh_from_db()
    assert coupon.amounts_off == {"USD": 500, "CAD": 700}
    assert coupon.countries == ["CA", "US"]


def test_empty_maps_in_the_admin_form_are_stored_empty(operator):
    form = _admin_form(operator, {"percent_off": "10", "amounts_off": "", "min_spend": "", "countries": ""})
    assert form.is_valid(), form.errors
    coupon = form.save()
    coupon.refresh_from_db()
    assert (coupon.percent_off, coupon.amounts_off, coupon.min_spend, coupon.countries) == (10, {}, {}, [])


def test_the_admin_form_says_what_the_maps_take(operator, region):
    form = _admin_form(operator, {})
    assert ", ".join(region.currencies) in str(form.fields["amounts_off"].help_text)
    assert f'["{region.default_country}"]' in str(form.fields["countries"].help_text)


# --- at checkout, through the API ---------------------------------------------------------


def _post(client, url, data, **headers):
    return client.post(url, data, content_type="application/json", headers=headers)


def _checkout_with(client, variant, coupon: str, key: str = "coupon-rules-0001"):
    added = _post(client, "/api/v1/cart/lines", {"variant": variant.pk, "quantity": 1})
    assert added.status_code == 201, added.json()
    return api_place(client, key=key, coupon=coupon)


@pytest.mark.parametrize(
    "stored",
    [
        {"percent_off": None, "amounts_off": {"USD": "5.00"}},
        {"percent_off": None, "amounts_off": {"USD": -500}},
        {"percent_off": None, "amounts_off": {"USD": True}},
        {"percent_off": None, "amounts_off": [500]},
        {"percent_off": None, "amounts_off": {}},
        {"percent_off": 10, "amounts_off": {"USD": 500}},
        {"min_spend": {"USD": "100"}},
        {"min_spend": [100]},
        {"countries": "US"},
        {"countries": [1]},
    ],
)
def test_a_wrong_stored_coupon_is_refused_clearly_and_logged(client, stocked, caplog, stored):
    variant = stocked("rules-mug", 5, price_minor=2000)
    coupon_stored("STORED", **stored)
    with caplog.at_level(logging.ERROR, logger="apps.orders.selectors"):
        r = _checkout_with(client, variant, "STORED")
    assert r.status_code == 400, r.content
    error = r.json()["error"]
    assert error["code"] == "coupon_not_valid_here" and error["fields"] == {"coupon": ["STORED"]}
    assert any("STORED" in record.getMessage() for record in caplog.records)
    assert not Order.objects.exists()


def test_stored_lower_case_countries_still_apply(client, stocked):
    variant = stocked("rules-cup", 5, price_minor=2000)
    coupon_stored("STORED", countries=["us"])
    r = _checkout_with(client, variant, "STORED")
    assert r.status_code == 201, r.json()
    assert r.json()["discount_minor"] == 200


def test_a_minimum_spend_in_other_currencies_refuses_the_coupon(client, stocked, settings, tmp_path):
    from apps.money import services as money
    from tests.money.factories import todays_provider

    money.fx_rates_update(provider=todays_provider(tmp_path / "rates.xml"))
    variant = stocked("rules-lamp", 5, price_minor=2000)
    coupon_stored("STORED", min_spend={"USD": 100000})
    client.cookies[settings.CURRENCY_COOKIE_NAME] = "CAD"
    r = _checkout_with(client, variant, "STORED")
    assert r.status_code == 400, r.json()
    assert r.json()["error"]["code"] == "coupon_not_valid_here"
    assert r.json()["error"]["message"] == "This coupon cannot be used in your currency."
    assert not Order.objects.exists()


def test_the_minimum_spend_refusal_gives_the_amount(client, stocked):
    variant = stocked("rules-vase", 5, price_minor=2000)
    coupon_stored("STORED", min_spend={"USD": 100000})
    r = _checkout_with(client, variant, "STORED")
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "coupon_min_spend"
    assert error["message"] == "Spend at least $1,000.00 to use this coupon."


@pytest.mark.parametrize(
    ("starts", "shown"),
    [
        # 03:00 UTC is still the evening before in New York, the shopper's time zone.
        (dt.datetime(2030, 3, 1, 3, 0, tzinfo=dt.UTC), "Feb 28, 2030, 10:00\u202fPM"),
        # Midnight in New York: the date says it all.
        (dt.datetime(2030, 3, 1, 5, 0, tzinfo=dt.UTC), "Mar 1, 2030"),
    ],
)
def test_a_coupon_not_started_says_from_when(client, stocked, starts, shown):
    variant = stocked("rules-rug", 5, price_minor=2000)
    coupon_stored("STORED", valid_from=starts, valid_until=starts + dt.timedelta(days=7))
    r = _checkout_with(client, variant, "STORED")
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "coupon_not_started"
    assert error["message"] == f"This coupon can be used from {shown}."
    assert not Order.objects.exists()
