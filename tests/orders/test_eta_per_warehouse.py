"""Delivery dates count each warehouse's own handling days: a quote promises the slowest warehouse
that could pack each line, the placed order the ones that will, and each parcel its own."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse

from apps.catalog import services as catalog
from apps.catalog.models import Warehouse
from apps.money.formatting import format_day
from apps.orders import rules, services
from apps.orders.models import Order
from apps.orders.selectors import Shopper, checkout_quote, local_today
from tests.catalog.factories import make_product
from tests.catalog.test_admin import form_data
from tests.orders.conftest import cart_with, checkout, shopper_for

pytestmark = pytest.mark.django_db

DUBAI = ZoneInfo("Asia/Dubai")


def _warehouse(merchant, code: str, handling_days: int, *, country: str = "US") -> Warehouse:
    warehouse = catalog.warehouse_create(merchant=merchant, code=code, name=code.title(), country=country)
    warehouse.handling_days = handling_days
    warehouse.save(update_fields=["handling_days"])
    return warehouse


def _stocked_in(merchant, slug: str, *warehouses: Warehouse, units: int = 5):
    variant = make_product(merchant, slug, price_minor=2000).variants.get()
    for warehouse in warehouses:
        catalog.stock_set(variant=variant, warehouse=warehouse, quantity=units)
    return variant


def _eta_from_today(time_zone: str, handling_days: int) -> dt.date:
    """When a standard delivery to New York packed in ``handling_days`` arrives, ordered today in ``time_zone``."""
    return rules.delivery_eta(
        region=settings.REGION,
        option=rules.shipping_option("standard"),
        ordered_on=local_today(time_zone),
        country="US",
        subdivision="NY",
        handling_days=handling_days,
    )


@pytest.mark.parametrize(
    ("country", "ordered", "one_day", "three_days"),
    [
        # The UAE rests Saturday-Sunday: from Thu 5 Nov 2026, express (1 carrier day) packed in 1 day
        # arrives Fri 6, (Sat, Sun), Mon 9; packed in 3: Fri 6, Mon 9, Tue 10, then Wed 11.
        ("AE", dt.datetime(2026, 11, 5, 10, tzinfo=DUBAI), dt.date(2026, 11, 9), dt.date(2026, 11, 11)),
        # Kuwait keeps the region's Friday-Saturday: from Wed 4 Nov, Thu 5, (Fri, Sat), Sun 8; packed
        # in 3: Thu 5, Sun 8, Mon 9, then Tue 10.
        ("KW", dt.datetime(2026, 11, 4, 10, tzinfo=DUBAI), dt.date(2026, 11, 8), dt.date(2026, 11, 10)),
    ],
)
def test_a_warehouse_that_packs_in_three_days_moves_the_quote_by_working_days(
    use_region, merchant, country, ordered, one_day, three_days
):
    region = use_region("me-south")
    warehouse = _warehouse(merchant, "gulf", 1, country=country)
    variant = _stocked_in(merchant, f"dates-{country.lower()}", warehouse)
    cart = cart_with(variant, country=country)
    shopper = Shopper(country=country, currency="AED", time_zone="Asia/Dubai")

    def quoted() -> dt.date:
        return checkout_quote(cart=cart, shopper=shopper, shipping_option="express", region=region, now=ordered).eta

    assert quoted() == one_day
    warehouse.handling_days = 3
    warehouse.save(update_fields=["handling_days"])
    assert quoted() == three_days


def test_a_cart_from_a_fast_and_a_slow_warehouse_is_promised_the_slow_date(merchant):
    fast, slow = _warehouse(merchant, "fast", 1), _warehouse(merchant, "slow", 3)
    cart = cart_with(_stocked_in(merchant, "fast-mug", fast))
    services.cart_line_add(cart=cart, variant_id=_stocked_in(merchant, "slow-lamp", slow).pk, quantity=1, country="US")
    shopper = dataclasses.replace(shopper_for(), state="NY")

    quote = checkout_quote(cart=cart, shopper=shopper)

    assert quote.eta == _eta_from_today(shopper.time_zone, 3)
    assert quote.eta > _eta_from_today(shopper.time_zone, 1)


def test_an_order_packed_all_in_the_fast_warehouse_gets_the_fast_date(merchant):
    # The slow warehouse also holds the mug, so the quote promises its date; the order's units are
    # reserved in the fast one (in the destination country, reserved from first) and it is dated so.
    fast = _warehouse(merchant, "fast", 1, country="US")
    slow = _warehouse(merchant, "slow", 3, country="CA")
    cart = cart_with(_stocked_in(merchant, "either-mug", fast, slow))
    shopper = dataclasses.replace(shopper_for(), state="NY")
    assert checkout_quote(cart=cart, shopper=shopper).eta == _eta_from_today(shopper.time_zone, 3)

    order = checkout(cart)

    assert {r.stock.warehouse_id for r in order.reservations.select_related("stock")} == {fast.pk}
    assert order.eta == _eta_from_today(order.time_zone, 1)
    assert Order.objects.get(pk=order.pk).eta == order.eta


def test_an_order_from_two_warehouses_has_two_parcels_each_with_its_date_on_the_page(
    merchant, make_user, client, operator, on_commit
):
    fast, slow = _warehouse(merchant, "fast", 1), _warehouse(merchant, "slow", 3)
    user = make_user(email="ann@example.test")
    cart = cart_with(_stocked_in(merchant, "fast-mug", fast), user=user)
    services.cart_line_add(cart=cart, variant_id=_stocked_in(merchant, "slow-lamp", slow).pk, quantity=1, country="US")
    order = checkout(cart, user=user)
    on_commit(services.order_pay, order=order)
    order = Order.objects.get(pk=order.pk)
    fast_day, slow_day = _eta_from_today(order.time_zone, 1), _eta_from_today(order.time_zone, 3)
    assert order.eta == slow_day

    parcels = services.order_fulfil(order=order, actor=operator)

    assert [(p.warehouse_id, p.eta) for p in parcels] == [(fast.pk, fast_day), (slow.pk, slow_day)]
    client.force_login(user)
    html = client.get(f"/orders/{order.reference}/").content.decode()
    shown = re.findall(r'data-testid="parcel-eta">([^<]*)<', html)
    assert shown == [format_day(fast_day, "en_US"), format_day(slow_day, "en_US")]
    assert fast_day != slow_day


def test_an_order_in_one_parcel_says_its_date_once(merchant, make_user, client, operator, on_commit):
    user = make_user(email="ann@example.test")
    order = checkout(cart_with(_stocked_in(merchant, "one-box", _warehouse(merchant, "slow", 3)), user=user), user=user)
    on_commit(services.order_pay, order=order)
    (parcel,) = services.order_fulfil(order=Order.objects.get(pk=order.pk), actor=operator)
    assert parcel.eta == order.eta == _eta_from_today(order.time_zone, 3)
    client.force_login(user)
    html = client.get(f"/orders/{order.reference}/").content.decode()
    assert 'data-testid="eta"' in html and 'data-testid="parcel-eta"' not in html


@pytest.mark.parametrize("days", [-1, 31])
def test_handling_days_out_of_range_are_refused_by_the_model(merchant, days):
    warehouse = Warehouse(merchant=merchant, code="odd", name="Odd", country="US", handling_days=days)
    with pytest.raises(ValidationError) as refused:
        warehouse.full_clean()
    assert refused.value.message_dict["handling_days"] == ["Handling takes 0 to 30 working days."]


def test_handling_days_out_of_range_are_refused_in_the_admin(operator_client, merchant):
    add = reverse("admin:catalog_warehouse_add")
    page = operator_client.get(add)
    assert "handling_days" in page.context["adminform"].form.fields
    data = form_data(page, merchant=merchant.pk, code="slowest", name="Slowest", country="US", handling_days=31)
    response = operator_client.post(add, data)
    assert response.context["adminform"].form.errors["handling_days"] == ["Handling takes 0 to 30 working days."]
    assert not Warehouse.objects.filter(code="slowest").exists()

    operator_client.post(add, {**data, "handling_days": 30})
    assert Warehouse.objects.get(code="slowest").handling_days == 30
