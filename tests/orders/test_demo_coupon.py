"""The demo seed's coupon: one per region, made once however often the seed runs, printed with the
logins, and taking its percentage off at checkout once the minimum spend is reached.
Real PostgreSQL and Redis; the seed through its management command, checkout through the API."""

from __future__ import annotations

import datetime as dt
import io
import zoneinfo

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.catalog.models import Variant
from apps.money.types import currency_digits
from apps.orders.models import Coupon, Order
from livemall.demo import DEMO_COUPON_CODE
from tests.orders.conftest import API_CHECKOUT

pytestmark = pytest.mark.django_db


def _seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def _post(client, url: str, data: dict, **headers):
    return client.post(url, data, content_type="application/json", headers=headers)


@pytest.mark.parametrize("code", ["us-east", "eu-west", "ap-southeast", "me-south"])
def test_the_seed_makes_one_demo_coupon_in_every_region_and_prints_it(use_region, code):
    region = use_region(code)
    printed = _seed()
    first = list(Coupon.objects.values_list())
    assert DEMO_COUPON_CODE in _seed()
    assert list(Coupon.objects.values_list()) == first  # the second run wrote nothing

    coupon = Coupon.objects.get()
    assert coupon.code == DEMO_COUPON_CODE and coupon.percent_off == 10 and coupon.is_active
    assert coupon.countries == sorted(region.country_codes)
    settlement = region.settlement_currency
    assert coupon.min_spend[settlement] == 40 * 10 ** currency_digits(settlement)
    assert set(coupon.min_spend) == set(region.currencies)
    zone = zoneinfo.ZoneInfo(region.time_zone)
    today = timezone.now().astimezone(zone).date()
    assert coupon.valid_from.astimezone(zone) == dt.datetime.combine(today, dt.time(0, 0), tzinfo=zone)
    assert coupon.valid_until.astimezone(zone).date() == today.replace(year=today.year + 1)
    coupon_line = next(line for line in printed.splitlines() if DEMO_COUPON_CODE in line)
    assert "10% off" in coupon_line and today.replace(year=today.year + 1).isoformat() in coupon_line, coupon_line


def test_a_checkout_with_the_demo_coupon_takes_its_percentage_off(client, use_region):
    use_region("us-east")
    _seed()
    scarf = Variant.objects.get(sku="SCARF-SILK-IVORY")
    mug = Variant.objects.get(sku="MUG-250")
    assert _post(client, "/api/v1/cart/lines", {"variant": mug.pk, "quantity": 1}).status_code == 201

    # A mug alone is under the minimum spend: refused, and the shopper is told how much.
    refused = _post(
        client, "/api/v1/checkout", {**API_CHECKOUT, "coupon": "demo10"}, **{"Idempotency-Key": "demo-coupon-0001"}
    )
    assert refused.status_code == 400, refused.json()
    assert refused.json()["error"]["code"] == "coupon_min_spend"
    assert refused.json()["error"]["message"] == "Spend at least $40.00 to use this coupon."

    assert _post(client, "/api/v1/cart/lines", {"variant": scarf.pk, "quantity": 1}).status_code == 201
    placed = _post(
        client, "/api/v1/checkout", {**API_CHECKOUT, "coupon": "demo10"}, **{"Idempotency-Key": "demo-coupon-0002"}
    )
    assert placed.status_code == 201, placed.json()
    subtotal = scarf.price_minor + mug.price_minor
    assert placed.json()["discount_minor"] == subtotal // 10
    order = Order.objects.get(reference=placed.json()["reference"])
    assert order.coupon.code == DEMO_COUPON_CODE and order.discount_minor == subtotal // 10
